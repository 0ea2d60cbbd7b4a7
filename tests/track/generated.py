"""A generated time series shared by the tracker tests (one config, one compilation), its
ground-truth frame-0 -> frame-t transforms and the registrations found from its frames."""

from __future__ import annotations

import functools

import jax
import numpy as np

import jaxaxon
from jaxaxon.track.register import Registration, register_series

from ..conftest import SMALL

# 128 x 128 (64 x 64 frames hold too little structure to register reliably), 8 boutons
SERIES_CFG = SMALL.replace(
    width=128, height=128, NbImages=4, maxRotAngle=4, MinNbBouton=8, MaxNbBouton=8, probBoutonInFirstImage=0.5
)
BATCH = 3
SEED = 3


@functools.lru_cache(maxsize=1)
def series() -> dict[str, np.ndarray]:
    """``generate_series(key(SEED), SERIES_CFG, BATCH)`` as numpy arrays."""
    s = jaxaxon.generate_series(jax.random.key(SEED), SERIES_CFG, BATCH)
    names = ("image", "clean", "bouton_centers", "bouton_valid", "bouton_visible", "rotation_deg", "shift")
    return {name: np.asarray(getattr(s, name)) for name in names}


@functools.lru_cache(maxsize=2)
def registrations(field: str) -> tuple[tuple[Registration, ...], ...]:
    """``register_series`` of every series of `series()[field]` ("image" or "clean")."""
    return tuple(tuple(register_series(frames)) for frames in series()[field])


def true_registration(b: int, t: int) -> Registration:
    """Frame-0 -> frame-t transform of series ``b`` from the generator's geometry.

    Frame t holds the view rotated by ``rotation_deg[t]`` about its centre ``cv`` (the
    canvas centre), cropped at ``shift[t]``: ``q_t = R (q_0 + shift_0 - cv) + cv - shift_t``,
    i.e. ``R (q_0 - c) + c + R d_0 - d_t`` with ``d_k = shift_k + c - cv`` and ``c`` the
    frame centre.
    """
    s, cfg = series(), SERIES_CFG
    c = (np.array(cfg.shape, float) - 1.0) / 2.0
    cv = (np.array([cfg.height + cfg.rowshift - 1, cfg.width + cfg.colshift - 1], float) - 1.0) / 2.0
    d0, dt = s["shift"][b, 0] + c - cv, s["shift"][b, t] + c - cv
    rot = Registration(float(s["rotation_deg"][b, t]), np.zeros(2), c).matrix
    return Registration(float(s["rotation_deg"][b, t]), rot @ d0 - dt, c)
