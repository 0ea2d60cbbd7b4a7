"""Imaging models, picked by name (`GeneratorConfig.noise_model`) from `IMAGING_MODELS`.

A model is one module defining an `ImagingModel` (``MODEL``) plus one line below.
"""

from __future__ import annotations

from jaxaxon.suggest import did_you_mean
from jaxaxon.synth.imaging import microscope, original
from jaxaxon.synth.imaging.model import ImagingModel

__all__ = ["IMAGING_MODELS", "ImagingModel", "imaging_model"]

IMAGING_MODELS: dict[str, ImagingModel] = {
    "original": original.MODEL,
    "microscope": microscope.MODEL,
}


def imaging_model(name: str) -> ImagingModel:
    """The registered model called ``name``; ValueError naming the choices otherwise."""
    try:
        return IMAGING_MODELS[name]
    except KeyError:
        choices, hint = ", ".join(IMAGING_MODELS), did_you_mean(name, IMAGING_MODELS)
        raise ValueError(f"unknown imaging model {name!r} (choose one of {choices}){hint}") from None
