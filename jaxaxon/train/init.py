"""Initialising a model from another run's checkpoint (pre-training and fine-tuning).

- From an autoencoder into a U-Net (the original study's protocol): the encoder is copied
  (its structure, and hence its parameter paths, are shared: `jaxaxon.models.layers.Encoder`);
  the decoder and the heads start fresh.
- From a U-Net into a U-Net (fine-tuning): everything is copied; a head whose shape differs
  (other heads) starts fresh.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
from flax import nnx

from jaxaxon.train.checkpoint import CheckpointError
from jaxaxon.train.config import RunConfig
from jaxaxon.train.inference import load_model

__all__ = ["init_from", "copy_matching"]


def _flatten(tree: Any, prefix: tuple = ()) -> dict[tuple, Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, prefix + (key,)))
        else:
            out[prefix + (key,)] = value
    return out


def _unflatten_into(tree: Any, flat: dict[tuple, Any], prefix: tuple = ()) -> Any:
    return {
        key: _unflatten_into(value, flat, prefix + (key,)) if isinstance(value, dict) else flat[prefix + (key,)]
        for key, value in tree.items()
    }


def copy_matching(target: nnx.Module, source: nnx.Module, only: str | None = None) -> dict[str, list[str]]:
    """Copies every variable of ``source`` into ``target`` whose path and shape agree.

    Args:
      target, source: models.
      only: copy only paths under this top-level attribute (e.g. ``"encoder"``).

    Returns:
      ``{"copied": [...], "kept": [...]}`` lists of ``a/b/c`` paths of ``target``.
    """
    tgt_state = nnx.state(target)
    tgt = _flatten(nnx.to_pure_dict(tgt_state))
    src = _flatten(nnx.to_pure_dict(nnx.state(source)))
    report: dict[str, list[str]] = {"copied": [], "kept": []}
    new = {}
    for path, value in tgt.items():
        name = "/".join(map(str, path))
        other = src.get(path)
        allowed = only is None or path[0] == only
        if allowed and other is not None and np.shape(other) == np.shape(value):
            new[path] = other
            report["copied"].append(name)
        else:
            new[path] = value
            report["kept"].append(name)
    pure = _unflatten_into(nnx.to_pure_dict(tgt_state), new)
    if hasattr(nnx, "replace_by_pure_dict"):  # flax >= 0.12
        nnx.replace_by_pure_dict(tgt_state, pure)
    else:
        tgt_state.replace_by_pure_dict(pure)
    nnx.update(target, tgt_state)
    return report


def init_from(
    model: nnx.Module, rc: RunConfig, source: str | os.PathLike, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Initialises ``model`` (built from ``rc``) from the checkpoint at ``source`` (its newest
    readable one; ``log`` gets the note on skipped ones, see `load_model`).

    Raises:
      CheckpointError: missing or corrupt checkpoint, or an encoder whose structure
        differs from ``rc.model``'s.

    Returns:
      A report: source path and kind, and the copied and kept parameter paths.
    """
    src_model, src_rc = load_model(source, log=log)
    mine, theirs = rc.model.encoder_signature(), src_rc.model.encoder_signature()
    if mine != theirs:
        diff = ", ".join(f"{k}: {theirs[k]} vs {mine[k]}" for k in mine if mine[k] != theirs[k])
        raise CheckpointError(
            f"--init-from {source}: its network ({src_rc.model.kind}) does not match this run's "
            f"({rc.model.kind}): {diff} (checkpoint vs this run)"
        )
    only = None if src_rc.model.kind == rc.model.kind else "encoder"
    report = copy_matching(model, src_model, only=only)
    if not any(p.startswith("encoder/") for p in report["copied"]):
        raise CheckpointError(f"--init-from {source}: no encoder weights could be copied")
    if src_rc.normalise != rc.normalise:
        report["warning"] = (
            f"the source run normalised inputs with {src_rc.normalise.to_dict()}, this run uses {rc.normalise.to_dict()}"
        )
    report["source"] = str(source)
    report["source_kind"] = src_rc.model.kind
    return report
