"""Loading trained models and predicting probability maps (used by evaluate and predict).

    model, run_config = load_model("runs/quick")          # a training directory or checkpoint
    probs = predict(model, run_config, images)            # [B, H, W] any dtype -> [B, H, W, C]

`predict` applies the run's own input normalisation (`jaxaxon.train.normalise`), pads each
image to a multiple of the network's downsampling factor (symmetric padding, cropped off
again), and runs the fully convolutional network on the whole image, so real images of
any size and dtype are handled the way training images were. Images reach the normalisation
through `jaxaxon.data.images.to_float32` (values near 1e300 in a float64 array are scaled by a
power of two, not turned into infinities), and a non-finite output is an error
(`require_finite`), never a result.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxaxon.data.images import to_float32
from jaxaxon.eval.scale import resample, resample_back, zoomed_shape
from jaxaxon.models import build_model
from jaxaxon.train.checkpoint import (
    BEST,
    LATEST,
    CheckpointError,
    SkippedCheckpoint,
    UnreadableCheckpointError,
    checkpoint_candidates,
    read_model_checkpoint,
)
from jaxaxon.train.config import RunConfig, read_run_config
from jaxaxon.train.normalise import normalise

__all__ = ["load_model", "predict", "require_finite"]


def _run_config_of(step_dir: Path, meta: dict) -> RunConfig:
    if "run_config" in meta:
        try:
            return RunConfig.from_dict(meta["run_config"])
        except Exception as err:  # RunConfigError, or a stored value of the wrong type
            raise UnreadableCheckpointError(step_dir, f"its stored run configuration is invalid: {err}") from None
    for parent in step_dir.parents:  # older layouts: the run's config.json
        if (parent / "config.json").exists():
            return read_run_config(parent / "config.json")
    raise UnreadableCheckpointError(step_dir, "it carries no run configuration and no config.json was found above it")


def _load_step(step_dir: Path) -> tuple[nnx.Module, RunConfig]:
    _, meta = read_model_checkpoint(step_dir)
    rc = _run_config_of(step_dir, meta)
    graphdef, abstract = nnx.split(nnx.eval_shape(lambda: build_model(rc.model)))
    state, _ = read_model_checkpoint(step_dir, abstract)
    return nnx.merge(graphdef, state), rc


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)


def _readable_siblings(step_dir: Path) -> list[Path]:
    """The readable checkpoints of the run a step directory belongs to (other than it)."""
    run = step_dir.parent.parent
    if step_dir.parent.name not in (BEST, LATEST) or run.name != "checkpoints":
        return []
    good = []
    for other in checkpoint_candidates(run):
        if other != step_dir:
            with contextlib.suppress(CheckpointError):
                _load_step(other)
                good.append(other)
    return good


def load_model(path: str | os.PathLike, log: Callable[[str], None] | None = None) -> tuple[nnx.Module, RunConfig]:
    """Loads a trained model and its run configuration.

    Args:
      path: a training directory (its best checkpoint, else the latest), its
        ``checkpoints`` directory, ``checkpoints/best|latest``, or a step directory.
      log: where a note goes when unreadable checkpoints were skipped (default: stderr).

    Returns:
      ``(model, run_config)``: an `nnx.Module` (`UNet` or `Autoencoder`) and the
      `RunConfig` (model hyper-parameters, heads, normalisation, generator parameters).
      A directory with several checkpoints gives the first readable one in the order of
      `checkpoint_candidates` (best, then latest, newest first); the skipped ones and the
      one used are named in a note.

    Raises:
      CheckpointError: no readable checkpoint there (each one tried is named with its problem).
    """
    log = _note if log is None else log
    root = Path(path).expanduser().absolute()
    candidates = checkpoint_candidates(root)
    skipped: list[SkippedCheckpoint] = []
    for step_dir in candidates:
        try:
            model, rc = _load_step(step_dir)
        except UnreadableCheckpointError as err:
            skipped.append(SkippedCheckpoint(err.path, err.reason))
            continue
        if skipped:
            log(
                f"skipped unreadable checkpoint{'s' if len(skipped) > 1 else ''} "
                + "; ".join(s.describe(root) for s in skipped)
                + f"; using {step_dir}"
            )
        return model, rc
    if len(candidates) == 1:
        good = _readable_siblings(candidates[0])
        extra = f"; readable checkpoints of this run: {', '.join(map(str, good))}" if good else ""
        raise UnreadableCheckpointError(skipped[0].path, skipped[0].reason, extra)
    raise CheckpointError(
        f"no readable checkpoint in {root}: " + "; ".join(s.describe(root) for s in skipped)
    )



def require_finite(model: nnx.Module, output: np.ndarray, where: str) -> np.ndarray:
    """Returns ``output`` if every value is finite, else raises.

    Args:
      model: the network that computed it (its weights are checked to word the message).
      output: the network's output for one input.
      where: the input, for the message (a file name).

    Raises:
      CheckpointError: ``output`` holds NaN or infinite values.
    """
    bad = int(np.size(output) - np.count_nonzero(np.isfinite(output)))
    if not bad:
        return output
    weights = jax.tree.leaves(nnx.state(model, nnx.Param))
    if any(not np.all(np.isfinite(np.asarray(w))) for w in weights):
        why = "the checkpoint holds NaN or infinite weights (a diverged training?); use an earlier checkpoint"
    else:
        why = "the weights are finite, so the computation overflowed (try float32 if the run uses bfloat16)"
    raise CheckpointError(
        f"the network's output for {where} is not finite ({bad} of {np.size(output)} values NaN or infinite): "
        f"{why}; nothing was written for it"
    )


def _as_float32(images: np.ndarray) -> np.ndarray:
    """``[B, H, W]`` of any real dtype as float32 (`to_float32`, per image)."""
    return np.stack([to_float32(im, f"image {i}")[0] for i, im in enumerate(images)])


@nnx.jit
def _probabilities(model: nnx.Module, x: jax.Array) -> jax.Array:
    out = model(x, train=False)
    return jax.nn.sigmoid(out) if model.config.kind == "unet" else out


def _pad_amounts(size: int, multiple: int) -> tuple[int, int]:
    extra = (-size) % multiple
    return extra // 2, extra - extra // 2


def predict(
    model: nnx.Module,
    run_config: RunConfig,
    images: np.ndarray | jax.Array | Sequence[np.ndarray],
    *,
    batch_size: int = 4,
    zoom: float | None = None,
) -> np.ndarray | list[np.ndarray]:
    """Probability maps of images.

    Args:
      model: from `load_model` (or a model built from ``run_config.model``).
      run_config: its `RunConfig` (normalisation and heads).
      images: ``[B, H, W]`` or ``[H, W]`` array of any numeric dtype, or a list of 2-D
        arrays of different sizes.
      batch_size: images per forward pass (memory bound for large images).
      zoom: resample every image by this factor before normalisation and the network, and
        the maps back to the image's size (`jaxaxon.eval.scale`; e.g.
        ``input_zoom(run_config, pixel_size=0.2)``). None: no resampling.

    Returns:
      float32 ``[B, H, W, C]`` probabilities in 0..1, one channel per head in
      ``run_config.model.heads`` order (``[H, W, C]`` for one 2-D image; a list for a
      list input). For an autoencoder, ``C = 1`` holds the reconstruction (on the
      normalised scale, not a probability).

    Raises:
      ImageDataError: an image holds NaN or infinite values.
      CheckpointError: the output is not finite (`require_finite`).
    """
    if isinstance(images, (list, tuple)):
        return [predict(model, run_config, np.asarray(im)[None], batch_size=batch_size, zoom=zoom)[0] for im in images]
    arr = np.asarray(images)
    if arr.ndim == 2:
        return predict(model, run_config, arr[None], batch_size=batch_size, zoom=zoom)[0]
    if zoom is not None and arr.ndim == 3 and zoomed_shape(arr.shape[1:], zoom) != arr.shape[1:]:
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"predict: expected numeric images, got dtype {arr.dtype}")
        small = np.stack([resample(im, zoom) for im in _as_float32(arr)])
        probs = predict(model, run_config, small, batch_size=batch_size)
        return np.stack([resample_back(p, arr.shape[1:]) for p in probs])
    if arr.ndim != 3:
        raise ValueError(f"predict: expected images [B, H, W] or [H, W], got shape {arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"predict: expected numeric images, got dtype {arr.dtype}")
    if batch_size < 1:
        raise ValueError(f"predict: batch_size must be positive, got {batch_size}")
    multiple = 2**run_config.model.depth
    (top, bottom), (left, right) = _pad_amounts(arr.shape[1], multiple), _pad_amounts(arr.shape[2], multiple)
    outs = []
    for i in range(0, arr.shape[0], batch_size):
        x = normalise(jnp.asarray(_as_float32(arr[i : i + batch_size])), run_config.normalise)
        x = jnp.pad(x, ((0, 0), (top, bottom), (left, right)), mode="symmetric")
        p = _probabilities(model, x)
        p = np.asarray(p[:, top : top + arr.shape[1], left : left + arr.shape[2]], dtype=np.float32)
        outs.append(require_finite(model, p, f"images {i}..{i + len(p) - 1}"))
    return np.concatenate(outs, axis=0)
