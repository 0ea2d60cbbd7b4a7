"""Mixing labelled real images into the training batches, on the device.

``jaxaxon train --real DIR --real-share F`` (`RunConfig.real`, a `RealMixing`) makes
``R = round(F * batch_size)`` of every step's examples random crops of real images and the
other ``batch_size - R`` the usual synthetic tiles:

1. Once, when the run starts (`prepare_real`): the images are read (any labelled format of
   `jaxaxon.data.images`: ``images/`` + ``masks/``, ``NAME.npz`` volumes sliced, a
   ``bouton_boxes.json``), checked, normalised with the run's own normalisation per whole
   image (as `jaxaxon.train.predict` does at inference), turned into per-head targets and
   loss weights, and put on the device as one `RealBank` (all pixels in one flat buffer, so
   images of different sizes cost no padding).
2. In every jitted step (`jaxaxon.train.step.step_batch`): real example ``i`` of step ``s`` draws its image
   (with probability proportional to the image's number of crop positions, i.e. uniformly
   over the data), crop position, flips and 90-degree rotation from
   ``fold_in(fold_in(step_key, REAL_STREAM), i)`` where ``step_key = fold_in(data_key, s)``
   is the key the synthetic images of step ``s`` derive from: a resumed run sees the same
   crops, and every device of a sharded step draws its own slice by global index. A crop
   is one gather from the bank (flips and rotations are folded into the gather's indices), so
   the step never waits for the host.

The synthetic part of a mixed step is a prefix of the synthetic-only step's stream: the
first ``batch_size - R`` tiles of images ``s * n .. s * n + ceil((batch_size - R) / tiles per
image) - 1``. Real crops come last in the batch.

Targets and loss weights (per example and head, `jaxaxon.train.losses`):

- ``axon`` head: the image's mask (weight 1), or weight 0 for an image without a mask (e.g.
  ``bass2017``: boxes only), so its axon pixels are neither counted as background nor as
  foreground.
- ``bouton`` head: with ``bouton_targets="disc"`` / ``"gaussian"``, a disc / a Gaussian of
  peak 1 at each box centre ``((row0 + row1 - 1) / 2, (col0 + col1 - 1) / 2)`` (radius, and
  twice the Gaussian's sigma, ``bouton_radius`` or a quarter of the box's shorter side) with
  weight 1 for every image that has boxes (an image listed with ``[]`` is labelled and trains
  "no bouton here"); weight 0 otherwise and with ``bouton_targets="none"``.
- Synthetic tiles weigh 1 for every head.

Images with no label for any trained head are left out (with a note); real data that labels
none of the trained heads, images smaller than the crop, bouton targets without any boxes
and changed data on ``--resume`` are errors.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import math
import warnings
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxaxon.data.images import Sample, load_samples
from jaxaxon.train.config import RealMixing, RunConfig, RunConfigError
from jaxaxon.train.normalise import normalise

__all__ = [
    "REAL_STREAM",
    "RealBank",
    "RealDataError",
    "bouton_target",
    "build_bank",
    "crop_size",
    "load_real_samples",
    "prepare_real",
    "real_crops",
    "transform_codes",
]

# fold_in tag of the real crops' key within a step key (synthetic example keys fold in the
# global image index s * n + i, far below this)
REAL_STREAM = 0xFFFFFFFF
# codes of the 8 crop transforms: bit 0 flips rows, bit 1 flips columns, bit 2 transposes
# (after the flips); np.rot90 by k = 1, 2, 3 are codes 5, 3, 6
_ROTATIONS = (0, 5, 3, 6)
_FLIPS = (0, 1, 2, 3)


class RealDataError(RunConfigError):
    """Real data that cannot be mixed into training (the message names the file or option)."""


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class RealBank:
    """The real images of a run on the device (M images, P pixels in all, C heads).

    Attributes:
      pixels: ``[P]`` float32, every image normalised and flattened (row-major), one after another.
      targets: ``[P, C]`` uint8, the heads' targets times 255 (masks 0/255; Gaussians quantised).
      offsets: ``[M]`` int32, where each image starts in ``pixels``.
      sizes: ``[M, 2]`` int32, ``(H, W)`` of each image.
      weights: ``[M, C]`` float32, loss weight of each image's heads (1 labelled, 0 not).
      log_p: ``[M]`` float32, log-probability of drawing each image (proportional to its
        number of crop positions).
    """

    pixels: jax.Array
    targets: jax.Array
    offsets: jax.Array
    sizes: jax.Array
    weights: jax.Array
    log_p: jax.Array

    @property
    def n_images(self) -> int:
        return int(self.offsets.shape[0])


# --------------------------------------------------------------------------- loading (host)


def load_real_samples(real: RealMixing) -> list[Sample]:
    """The samples of ``real.paths`` (in order), restricted to ``real.include`` patterns.

    Raises:
      RealDataError: unreadable or inconsistent data (`jaxaxon.data.images.ImageDataError`'s
        message), or patterns matching nothing.
    """
    from jaxaxon.data.images import ImageDataError

    samples: list[Sample] = []
    for path in real.paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # .npz files that are not volumes are skipped
                samples.extend(load_samples(path))
        except ImageDataError as err:
            raise RealDataError(f"--real {path}: {err}") from None
    if real.include:
        names = [s.name for s in samples]
        samples = [s for s in samples if any(fnmatch.fnmatchcase(s.name, p) for p in real.include)]
        if not samples:
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            raise RealDataError(
                f"--real-include {','.join(real.include)}: matches none of the {len(names)} real images ({shown})"
            )
    return samples


def crop_size(rc: RunConfig) -> tuple[int, int]:
    """``(h, w)`` of the training examples: the tile, or the generated image for whole-image runs."""
    return (rc.crop, rc.crop) if rc.crop else tuple(rc.generator.shape)


def transform_codes(real: RealMixing, square: bool) -> tuple[int, ...]:
    """The crop transforms drawn from (see ``_ROTATIONS``): all 8 symmetries of the square
    with flips and rotations; without rotations (or for non-square crops) the 4 flips; rotations
    alone are the 4 rotations (only 180 degrees for non-square crops)."""
    rot = real.rot90 and square
    if real.flips and rot:
        return tuple(range(8))
    if real.flips:
        return _FLIPS
    if real.rot90:
        return _ROTATIONS if square else (0, 3)
    return (0,)


def bouton_target(boxes: np.ndarray, shape: tuple[int, int], kind: str, radius: float = 0.0) -> np.ndarray:
    """A bouton target map from boxes: a disc or a Gaussian (peak 1) at each box centre.

    Args:
      boxes: ``[K, 4]`` (row0, col0, row1, col1), 0-based, half-open.
      shape: ``(H, W)``.
      kind: ``"disc"`` or ``"gaussian"``.
      radius: disc radius (and twice the Gaussian's sigma) in pixels; 0 uses a quarter of
        each box's shorter side.

    Returns:
      ``[H, W]`` float32 in 0..1 (overlaps take the maximum).
    """
    out = np.zeros(shape, np.float32)
    rows = np.arange(shape[0], dtype=np.float32)[:, None]
    cols = np.arange(shape[1], dtype=np.float32)[None, :]
    for row0, col0, row1, col1 in np.asarray(boxes).reshape(-1, 4):
        cr, cc = (row0 + row1 - 1) / 2.0, (col0 + col1 - 1) / 2.0
        r = radius if radius > 0 else min(row1 - row0, col1 - col0) / 4.0
        d2 = (rows - cr) ** 2 + (cols - cc) ** 2
        if kind == "disc":
            blob = (d2 <= r * r).astype(np.float32)
        elif kind == "gaussian":
            blob = np.exp(-d2 / (2.0 * (r / 2.0) ** 2)).astype(np.float32)
        else:
            raise ValueError(f"bouton target kind must be 'disc' or 'gaussian', got {kind!r}")
        np.maximum(out, blob, out=out)
    return out


def _labels(sample: Sample, heads: Sequence[str], real: RealMixing) -> tuple[list[np.ndarray | None], list[float]]:
    targets: list[np.ndarray | None] = []
    weights: list[float] = []
    for head in heads:
        if head == "axon" and sample.mask is not None:
            targets.append(sample.mask.astype(np.float32))
        elif head == "bouton" and real.bouton_targets != "none" and sample.boxes is not None:
            targets.append(bouton_target(sample.boxes, sample.shape, real.bouton_targets, real.bouton_radius))
        else:
            targets.append(None)
        weights.append(0.0 if targets[-1] is None else 1.0)
    return targets, weights


def _no_labels_message(samples: Sequence[Sample], heads: Sequence[str], real: RealMixing) -> str:
    n_mask = sum(s.mask is not None for s in samples)
    n_boxes = sum(s.boxes is not None for s in samples)
    where = ", ".join(real.paths)
    msg = (
        f"--real {where}: none of the {len(samples)} real images has labels for the trained heads "
        f"({', '.join(heads)}): {n_mask} have axon masks, {n_boxes} have bouton boxes"
    )
    if n_boxes:
        if "bouton" not in heads:
            msg += "; to train a bouton head from the boxes use --heads axon,bouton --real-bouton-targets disc"
        elif real.bouton_targets == "none":
            msg += "; to train the bouton head from the boxes use --real-bouton-targets disc (or gaussian)"
    elif "axon" in heads:
        msg += " (axon masks come from masks/NAME.png or a 'mask' array in NAME.npz)"
    return msg


def fingerprint(samples: Sequence[Sample]) -> str:
    """SHA-256 of names, sizes, pixel values and labels of ``samples`` (in order)."""
    h = hashlib.sha256()
    for s in samples:
        h.update(f"{s.name}|{s.shape}|".encode())
        h.update(np.ascontiguousarray(s.image, np.float32).tobytes())
        h.update(b"m" + (b"-" if s.mask is None else np.packbits(s.mask).tobytes()))
        h.update(b"b" + (b"-" if s.boxes is None else np.asarray(s.boxes, np.int64).tobytes()))
    return h.hexdigest()


def build_bank(
    samples: Sequence[Sample], rc: RunConfig, log: Callable[[str], None] | None = None
) -> tuple[RealBank, list[Sample]]:
    """Normalises real samples, builds their targets and weights, and packs them on the device.

    Args:
      samples: real samples (`load_real_samples`).
      rc: the run (heads, normalisation, crop size, ``rc.real``'s target options).
      log: where a note about left-out images goes.

    Returns:
      ``(bank, used)``: the `RealBank` (on the default device) and the samples in it
      (those with a label for at least one trained head), in order.

    Raises:
      RealDataError: no image labelled for the trained heads, bouton targets requested but no
        boxes, an image smaller than the crop, or too many pixels for int32 indices.
    """
    real = rc.real
    if real is None:
        raise RunConfigError("build_bank: the run has no real data (RunConfig.real is None)")
    heads = rc.model.heads
    h, w = crop_size(rc)
    if real.bouton_targets != "none" and not any(s.boxes is not None for s in samples):
        raise RealDataError(
            f"--real-bouton-targets {real.bouton_targets}: none of the {len(samples)} real images in "
            f"{', '.join(real.paths)} has bouton boxes (bouton_boxes.json)"
        )
    small = [s for s in samples if s.shape[0] < h or s.shape[1] < w]
    if small:
        listed = ", ".join(f"{s.name} ({s.shape[0]}x{s.shape[1]})" for s in small[:5])
        raise RealDataError(
            f"--real: {len(small)} real image(s) smaller than the {h}x{w} training crop: {listed}"
            + (", ..." if len(small) > 5 else "")
            + " (use a smaller --set crop=..., or leave these images out with --real-include)"
        )
    used, pixels, targets, weights, offsets, sizes, log_w = [], [], [], [], [], [], []
    skipped = []
    offset = 0
    for s in samples:
        t, wt = _labels(s, heads, real)
        if not any(wt):
            skipped.append(s.name)
            continue
        x = np.asarray(normalise(jnp.asarray(s.image), rc.normalise), np.float32)
        y = np.stack([np.zeros(s.shape, np.float32) if ti is None else ti for ti in t], axis=-1)
        used.append(s)
        pixels.append(x.reshape(-1))
        targets.append(np.round(np.clip(y, 0, 1) * 255).astype(np.uint8).reshape(-1, len(heads)))
        weights.append(wt)
        offsets.append(offset)
        sizes.append(s.shape)
        log_w.append(math.log((s.shape[0] - h + 1) * (s.shape[1] - w + 1)))
        offset += x.size
    if not used:
        raise RealDataError(_no_labels_message(samples, heads, real))
    if offset >= 2**31:
        raise RealDataError(f"--real: {offset} real pixels in all; at most 2**31 - 1 fit the crop indices")
    if skipped and log is not None:
        shown = ", ".join(skipped[:8]) + (", ..." if len(skipped) > 8 else "")
        log(f"real data: left out {len(skipped)} image(s) without labels for the heads {', '.join(heads)}: {shown}")
    log_w = np.asarray(log_w, np.float64)
    log_p = log_w - (log_w.max() + np.log(np.exp(log_w - log_w.max()).sum()))
    bank = RealBank(
        pixels=np.concatenate(pixels),
        targets=np.concatenate(targets),
        offsets=np.asarray(offsets, np.int32),
        sizes=np.asarray(sizes, np.int32),
        weights=np.asarray(weights, np.float32),
        log_p=log_p.astype(np.float32),
    )
    return jax.tree.map(jnp.asarray, bank), used


def prepare_real(
    rc: RunConfig, *, resumed: bool = False, log: Callable[[str], None] = print
) -> tuple[RunConfig, RealBank | None]:
    """Loads and checks a run's real data before training.

    A new run gets the data's paths made absolute and its image count and fingerprint
    recorded in ``rc.real`` (and so in ``config.json``); a resumed run must find the same
    data (same fingerprint), else its crops would differ from the interrupted run's.

    Returns:
      ``(rc, bank)``: the (updated) run configuration and the `RealBank`, or None when the
      run mixes no real crops (no real data, or share 0: the data are still checked).

    Raises:
      RealDataError: see `load_real_samples` and `build_bank`; changed data on resume.
    """
    real = rc.real
    if real is None:
        return rc, None
    if not resumed:
        missing = [p for p in real.paths if not Path(p).exists()]
        if missing:
            raise RealDataError(f"--real {missing[0]}: no such file or folder")
        real = dataclasses.replace(real, paths=tuple(str(Path(p).resolve()) for p in real.paths))
    samples = load_real_samples(real)
    bank, used = build_bank(samples, rc.replace(real=real), log)
    fp = fingerprint(used)
    if resumed:
        if real.fingerprint and real.fingerprint != fp:
            raise RealDataError(
                f"--resume: the real data ({', '.join(real.paths)}) changed since the run started "
                f"(fingerprint {fp[:12]}, recorded {real.fingerprint[:12]}); the resumed run would see other crops. "
                "Restore the data or start a new run"
            )
    else:
        real = dataclasses.replace(real, n_images=len(used), fingerprint=fp)
        rc = rc.replace(real=real)
    n = rc.real_per_step
    labelled = {head: int((np.asarray(bank.weights)[:, c] > 0).sum()) for c, head in enumerate(rc.model.heads)}
    log(
        f"real data: {len(used)} images from {', '.join(real.paths)}; {n} of {rc.batch_size} examples per step "
        f"are real crops (share {real.share:g}); images labelled per head: "
        + ", ".join(f"{k} {v}" for k, v in labelled.items())
    )
    return rc, (bank if n > 0 else None)


# --------------------------------------------------------------------------- crops (device)


def _one_crop(bank: RealBank, key: jax.Array, hw: tuple[int, int], codes: jax.Array):
    h, w = hw
    k_img, k_row, k_col, k_t = jax.random.split(key, 4)
    m = jax.random.categorical(k_img, bank.log_p)
    height, width = bank.sizes[m, 0], bank.sizes[m, 1]
    r = jax.random.randint(k_row, (), 0, height - h + 1)
    c = jax.random.randint(k_col, (), 0, width - w + 1)
    t = codes[jax.random.randint(k_t, (), 0, codes.shape[0])]
    a = jnp.arange(h)[:, None]
    b = jnp.arange(w)[None, :]
    a = jnp.where((t & 1) != 0, h - 1 - a, a)
    b = jnp.where((t & 2) != 0, w - 1 - b, b)
    i, j = jnp.broadcast_arrays(a, b)
    transpose = (t & 4) != 0  # square crops only
    i, j = jnp.where(transpose, j, i), jnp.where(transpose, i, j)
    idx = bank.offsets[m] + (r + i) * width + (c + j)
    x = bank.pixels[idx]
    y = bank.targets[idx].astype(jnp.float32) / 255.0
    return x, y, bank.weights[m]


def real_crops(
    bank: RealBank,
    key: jax.Array,
    count: int,
    hw: tuple[int, int],
    codes: Sequence[int] = tuple(range(8)),
    first: jax.Array | int = 0,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Crops ``first .. first + count - 1`` of the bank's images (jittable; ``count``, ``hw``
    and ``codes`` static).

    Crop ``i`` uses ``fold_in(key, i)`` only (a device of a sharded step draws its slice).

    Returns:
      ``x [count, h, w]`` float32 normalised pixels, ``y [count, h, w, C]`` float32 targets,
      ``w [count, C]`` float32 loss weights.
    """
    if (hw[0] != hw[1]) and any(c & 4 for c in codes):
        raise ValueError(f"rotations by 90 degrees need square crops, got {hw[0]}x{hw[1]}")
    index = jnp.asarray(first, jnp.uint32) + jnp.arange(count, dtype=jnp.uint32)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(index)
    codes_arr = jnp.asarray(codes, jnp.int32)
    return jax.vmap(lambda k: _one_crop(bank, k, hw, codes_arr))(keys)
