"""`jaxaxon evaluate` and `jaxaxon predict`: a trained checkpoint on labelled data or new images.

Inference is fully convolutional at each image's own size: the run's input normalisation
is applied to the whole image first (so tiles see the same scale), then the network runs
on the whole image or, for images too large, on overlapping windows blended smoothly
(`jaxaxon.eval.inference.predict_image`). Scoring is the toolkit's
(`jaxaxon.eval.report.evaluate_predictions`): the original's 200-threshold sweep, clDice
for axons, bouton detection against boxes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxaxon.data.images import BOXES_FILE, ImageDataError, Sample, load_samples, read_pixel_size, to_float32
from jaxaxon.data.inventory import Inventory, load_inputs, take_inventory
from jaxaxon.eval.inference import TilingConfig, predict_image
from jaxaxon.eval.metrics import boxes_from_label
from jaxaxon.eval.prediction_files import prediction_files, write_prediction
from jaxaxon.eval.report import evaluate_baselines, evaluate_predictions, write_json
from jaxaxon.eval.scale import ScaleError, Zoom, check_scale_value, resample, resample_back, resolve_zoom
from jaxaxon.outpaths import check_output_folder

__all__ = [
    "model_tiling", "probability_maps", "input_zooms", "scale_record", "load_labelled", "load_labelled_inputs",
    "evaluate_checkpoint", "predict_folder", "predict_outputs", "output_pixel_sizes", "bouton_min_areas",
    "DEFAULT_BOUTON_MIN_AREA",
]  # fmt: skip

DEFAULT_BOUTON_MIN_AREA = 4
"""Smallest bouton-map component counted as a detection (pixels of the input) when the run's
generator draws boutons of relative size (no ``bouton_radius``)."""


def bouton_min_areas(run_config, zooms: Sequence[float]) -> list[int]:
    """Per image, the smallest component of the bouton map (> 0.5) counted as a bouton, in
    pixels of that image.

    When the run's generator draws boutons of absolute radii (``bouton_radius``, as a
    calibrated parameter file does), a detection must be at least as large as the smallest
    bouton the network was trained on: a disc of radius ``bouton_radius[0]`` (pixels of the
    training grid), i.e. ``pi r^2 / zoom^2`` pixels of an image resampled by ``zoom``.
    Otherwise `DEFAULT_BOUTON_MIN_AREA`.

    Args:
      run_config: the run's `RunConfig`.
      zooms: per image, the factor it was resampled by before the network.
    """
    radius = float(run_config.generator.bouton_radius[0])
    if radius <= 0:
        return [DEFAULT_BOUTON_MIN_AREA] * len(zooms)
    return [max(1, round(math.pi * radius**2 / float(z) ** 2)) for z in zooms]


def model_tiling(run_config, max_whole_pixels: int = 2048 * 2048) -> TilingConfig:
    """Tiling matched to a network: sizes a multiple of its downsampling, context beyond its
    receptive-field radius."""
    model = run_config.model
    divisor = 2**model.depth
    half = (model.kernel_size - 1) // 2
    # receptive-field radius: every convolution at level l (encoder and decoder side; the
    # bottleneck once) adds half a kernel at that level's scale 2**l, every pooling 2**l
    radius = sum(
        (2 if level < model.depth else 1) * model.convs_per_level * half * 2**level + (2**level if level < model.depth else 0)
        for level in range(model.depth + 1)
    )
    context = -(-radius // divisor) * divisor
    tile = max(512, -(-(4 * context) // divisor) * divisor)
    return TilingConfig(divisor=divisor, context=context, tile=tile, overlap=divisor * 4, max_whole_pixels=max_whole_pixels)


def _forward(model, run_config) -> Callable[[np.ndarray], np.ndarray]:
    """``[B, h, w]`` already-normalised windows -> ``[B, h, w, C]`` probabilities."""
    from flax import nnx

    @nnx.jit
    def probs(m, x):
        return jax.nn.sigmoid(m(x, train=False))

    return lambda batch: np.asarray(probs(model, jnp.asarray(batch, jnp.float32)))


def probability_maps(
    model,
    run_config,
    images: Sequence[np.ndarray],
    tiling: TilingConfig | None = None,
    zooms: Sequence[float] | None = None,
    names: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Per-image probability maps ``[H, W, C]`` (one channel per head) at each image's own size.

    Images of any real dtype are brought to float32 by `jaxaxon.data.images.to_float32` (a power
    of two where their magnitude would overflow the normalisation) before they are resampled
    and normalised.

    Args:
      model: the network.
      run_config: its `RunConfig` (normalisation, model layout).
      images: ``[H, W]`` images of any size.
      tiling: override the automatic tiling.
      zooms: per image, the factor it is resampled by before normalisation and the network
        (`jaxaxon.eval.scale.resample`); the maps are resampled back to ``[H, W]``. None: no
        resampling.
      names: per image, its name in error messages (default: its index).

    Raises:
      ImageDataError: an image holds NaN or infinite values.
      CheckpointError: the network's output for an image is not finite.
    """
    from jaxaxon.train.inference import require_finite
    from jaxaxon.train.normalise import normalise

    tiling = model_tiling(run_config) if tiling is None else tiling
    forward = _forward(model, run_config)
    zooms = [1.0] * len(images) if zooms is None else list(zooms)
    names = [f"image {i}" for i in range(len(images))] if names is None else list(names)
    if not len(zooms) == len(names) == len(images):
        raise ValueError(f"probability_maps: {len(zooms)} zooms and {len(names)} names for {len(images)} images")
    out = []
    for image, zoom, name in zip(images, zooms, names):
        image = to_float32(np.asarray(image), name)[0]
        zoomed = resample(image, zoom)
        x = np.asarray(normalise(jnp.asarray(zoomed)[None], run_config.normalise))[0]
        prob = predict_image(forward, x, tiling)
        prob = prob if prob.ndim == 3 else prob[..., None]
        out.append(require_finite(model, resample_back(prob, image.shape), name))
    return out


def input_zooms(
    run_config, samples: Sequence[Sample], *, pixel_size: float | None = None, scale: float | None = None
) -> list[Zoom]:
    """Per sample, the zoom of `jaxaxon.eval.scale.resolve_zoom`: the flags, else the pixel size
    in the sample's TIFF metadata (`read_pixel_size`), else the run's ``image_scale``."""
    found: dict[str, float | None] = {}
    zooms = []
    for sample in samples:
        file_px = None
        if pixel_size is None and scale is None and sample.source:
            if sample.source not in found:
                found[sample.source] = read_pixel_size(sample.source)
            file_px = found[sample.source]
        zooms.append(resolve_zoom(run_config, pixel_size=pixel_size, scale=scale, file_pixel_size=file_px))
    return zooms


def scale_record(run_config, samples: Sequence[Sample], zooms: Sequence[Zoom]) -> dict:
    """The ``input_scale`` entry of ``metrics.json`` / ``predictions.json``: the zoom used and why.

    ``zoom`` and ``source`` are those shared by every image (``None`` and ``"mixed"`` when they
    differ); ``per_image`` lists them by name with the image pixel size used (um, or None).
    """
    values = {z.zoom for z in zooms}
    sources = {z.source for z in zooms}
    return {
        "zoom": values.pop() if len(values) == 1 else None,
        "source": sources.pop() if len(sources) == 1 else "mixed",
        "run_pixel_size": float(run_config.generator.pixel_size),
        "run_image_scale": float(run_config.generator.image_scale),
        "per_image": {
            s.name: {"zoom": z.zoom, "source": z.source, "pixel_size": z.pixel_size} for s, z in zip(samples, zooms)
        },
    }


def _is_dataset(path: Path) -> bool:
    """A directory with a ``zarr.json``: read as a dataset (`open_dataset` says what is damaged, if anything)."""
    return (path / "zarr.json").is_file()


def load_labelled(path: str | os.PathLike, *, limit: int | None = None) -> list[Sample]:
    """Labelled samples from a ``jaxaxon generate`` dataset (axon masks and, from the
    bouton labels, one box per bouton), a labelled folder, a volume file or one image."""
    path = Path(path)
    if not path.exists():
        raise ImageDataError(f"{path}: no such file or folder")
    if path.is_dir() and _is_dataset(path):
        from jaxaxon.data.dataset import open_dataset

        ds = open_dataset(path)
        n = len(ds) if limit is None else min(limit, len(ds))
        if n == 0:
            raise ImageDataError(f"{path}: the dataset holds no images")
        part = ds[0:n]
        if part["images"].ndim != 3:
            raise ImageDataError(f"{path}: a time-series dataset; evaluate single-image datasets")
        samples = []
        for i in range(n):
            samples.append(
                Sample(
                    name=f"{path.stem}_{i:06d}",
                    image=part["images"][i].astype(np.float32),
                    mask=part["axon_masks"][i].astype(bool),
                    boxes=boxes_from_label(part["bouton_labels"][i]),
                    source=str(path),
                    dtype=str(part["images"].dtype),
                )
            )
        return samples
    samples = load_samples(path)
    return samples if limit is None else samples[:limit]


def load_labelled_inputs(path: str | os.PathLike, *, limit: int | None = None) -> tuple[list[Sample], Inventory]:
    """`load_labelled` with the `Inventory` of what ``path`` holds (for a dataset: of the
    images read)."""
    path = Path(path)
    if path.is_dir() and _is_dataset(path):
        samples = load_labelled(path, limit=limit)
        return samples, take_inventory(samples)
    if not path.exists():
        raise ImageDataError(f"{path}: no such file or folder")
    samples, inventory = load_inputs(path)
    return (samples if limit is None else samples[:limit]), inventory


def _found(inventory: Inventory, n: int) -> str:
    """The ``found ...`` line, with the number used when ``--limit`` cut it."""
    line = inventory.describe()
    return line if n == inventory.n_images else f"{line}; using the first {n} (--limit)"


def _check_labels(data, samples: Sequence[Sample], heads: Sequence[str]) -> None:
    """Refuses data without any label the checkpoint's heads can be scored on."""
    if any(s.mask is not None for s in samples):
        return
    has_boxes = any(s.boxes is not None for s in samples)
    if has_boxes and "bouton" in heads:
        return
    if has_boxes:
        raise ImageDataError(
            f"{data}: has bouton boxes but no axon masks, and the checkpoint has no bouton head (heads: "
            f"{', '.join(heads)}); there is nothing to score"
        )
    raise ImageDataError(
        f"{data}: no labels found (no masks/ folder, no 'mask' array in the volumes, no {BOXES_FILE}); evaluate "
        "scores labelled images -- for probability maps of unlabelled images use jaxaxon predict"
    )


def _where(sample: Sample) -> str:
    """A sample in messages: its file, or its name and file (volume slices, dataset images)."""
    if not sample.source:
        return sample.name
    return sample.source if Path(sample.source).stem == sample.name else f"{sample.name} of {sample.source}"


def _check_output_names(samples: Sequence[Sample]) -> None:
    """Refuses names that differ only in letter case: their outputs would be one file on a
    case-insensitive file system (macOS, Windows)."""
    seen: dict[str, Sample] = {}
    for s in samples:
        other = seen.setdefault(s.name.casefold(), s)
        if other is not s:
            raise ImageDataError(
                f"{other.source or other.name} and {s.source or s.name}: the names {other.name!r} and {s.name!r} "
                "differ only in letter case, so their outputs would share a file on some file systems; rename one"
            )


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    baselines: bool = False,
    frangi_sigmas: Sequence[float] | None = None,
    limit: int | None = None,
    tiling: TilingConfig | None = None,
    pixel_size: float | None = None,
    scale: float | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Evaluates a checkpoint on labelled data; writes ``OUT/metrics.json``, plots, predictions.

    Each image is resampled to the run's pixel size first (`input_zooms`) and its maps back
    to its own grid, so masks and boxes are scored at the image's own resolution; the zoom
    used and why are recorded under ``input_scale``. Baselines run at the images' own size.

    Args:
      checkpoint: a training directory or checkpoint (`jaxaxon.train.inference.load_model`).
      data: a dataset from ``jaxaxon generate``, a labelled folder, a volume ``.npz`` or an image.
      out_dir: output folder.
      baselines: also run the Frangi and LoG baselines through the same evaluation
        (``OUT/baselines/``) and list them side by side in ``metrics.json``.
      frangi_sigmas: Frangi scales (default: matched to the generator's axon widths).
      limit: evaluate only the first ``limit`` images.
      tiling: override the automatic tiling.
      pixel_size: the images' pixel size in um (``--pixel-size``; needs a run of known pixel size).
      scale: resample every image by this factor (``--scale``; excludes ``pixel_size``).
      log: called with the ``found ...`` line (`jaxaxon.data.inventory.Inventory.describe`)
        before inference.

    Returns:
      The ``metrics.json`` content, with ``inputs`` (`Inventory.to_dict`).

    Raises:
      ScaleError: invalid ``pixel_size`` / ``scale`` (see `jaxaxon.eval.scale.resolve_zoom`).
      OutputPathError: ``out_dir`` is a file or cannot be created.
      ImageDataError: unreadable data, names that would share an output file, no labels.
      CheckpointError: missing or corrupt checkpoint, non-finite network output.
    """
    from jaxaxon.train.inference import load_model

    out_dir = check_output_folder(out_dir)
    _check_zoom_flags(pixel_size, scale)
    model, rc = load_model(checkpoint)
    if getattr(rc.model, "kind", "") == "autoencoder" or "axon" not in tuple(rc.model.heads):
        raise ValueError(f"{checkpoint}: not a segmentation checkpoint with an axon head (heads: {rc.model.heads})")
    samples, inventory = load_labelled_inputs(data, limit=limit)
    heads = list(rc.model.heads)
    _check_labels(data, samples, heads)
    _check_output_names(samples)
    if log is not None:
        log(_found(inventory, len(samples)))
    zooms = input_zooms(rc, samples, pixel_size=pixel_size, scale=scale)
    probs = probability_maps(
        model, rc, [s.image for s in samples], tiling, [z.zoom for z in zooms], [_where(s) for s in samples]
    )
    axon = [p[..., heads.index("axon")] for p in probs]
    bouton = [p[..., heads.index("bouton")] for p in probs] if "bouton" in heads else None
    extra = {
        "checkpoint": str(checkpoint), "data": str(data), "heads": heads,
        "input_scale": scale_record(rc, samples, zooms), "inputs": inventory.to_dict(),
    }  # fmt: skip
    metrics = evaluate_predictions(
        samples, axon, out_dir, bouton_maps=bouton, bouton_min_area=bouton_min_areas(rc, [z.zoom for z in zooms]),
        extra=extra,
    )
    if baselines:
        from jaxaxon.eval import baselines as bl

        sigmas = bl.AXON_SIGMAS if frangi_sigmas is None else tuple(frangi_sigmas)
        base = evaluate_baselines(samples, out_dir / "baselines", frangi_sigmas=sigmas)
        metrics["baselines"] = {name: _summary(m) for name, m in base.items() if m is not None}
        write_json(out_dir / "metrics.json", metrics)
    return metrics


def _check_zoom_flags(pixel_size: float | None, scale: float | None) -> None:
    """Checks ``pixel_size`` / ``scale`` before any work (`ScaleError`)."""
    if pixel_size is not None and scale is not None:
        raise ScaleError("give either a pixel size or a scale, not both")
    if pixel_size is not None:
        check_scale_value(pixel_size, "pixel size")
    if scale is not None:
        check_scale_value(scale, "scale")


_SUMMARY_KEYS = ("best_threshold", "dice", "cldice", "tpr", "fpr", "precision", "bouton_precision", "bouton_recall", "bouton_f1")


def _summary(metrics: dict) -> dict:
    return {k: metrics.get(k) for k in _SUMMARY_KEYS if k in metrics}


def output_pixel_sizes(samples: Sequence[Sample], pixel_size: float | None = None) -> list[float | None]:
    """Per sample, the pixel size (um) written into its prediction files: ``pixel_size``
    (``--pixel-size``) when given, else the one in its TIFF file's OME / ImageJ metadata
    (`read_pixel_size`), else None (unknown; also for volume slices and non-TIFF files). Unlike
    `input_zooms`, the file's size is used even when the run's pixel size is unknown or
    ``--scale`` is given: it describes the image, whatever the network was fed."""
    found: dict[str, float | None] = {}
    sizes = []
    for sample in samples:
        if pixel_size is not None:
            sizes.append(float(pixel_size))
            continue
        if sample.source and sample.source not in found:
            found[sample.source] = read_pixel_size(sample.source)
        sizes.append(found.get(sample.source) if sample.source else None)
    return sizes


def predict_outputs(
    samples: Sequence[Sample], heads: Sequence[str], out_dir: str | os.PathLike, fmt: str = "tiff"
) -> list[list[Path]]:
    """The files `predict_folder` writes per sample and head (`prediction_files`: the map, the
    mask and their PNG previews), checked to be distinct (also in letter case) and to differ
    from every input file.

    Returns:
      Per sample, per head, the probability map's path (``NAME_HEAD_prob.ome.tif`` or
      ``NAME_HEAD.ome.zarr``).

    Raises:
      ValueError: an unknown ``fmt``.
      ImageDataError: two samples would write one file, or an output would replace an input.
    """
    _check_output_names(samples)
    out_dir = Path(out_dir)
    inputs = {Path(s.source).resolve(): s for s in samples if s.source}
    owners: dict[str, Sample] = {}
    plan = []
    for sample in samples:
        row = []
        for head in heads:
            files = prediction_files(sample.name, head, fmt)
            for role, file in files.items():
                if role == "mask" and fmt == "zarr":
                    continue  # inside the prob group
                path = out_dir / file
                other = owners.setdefault(path.name.casefold(), sample)
                if other is not sample:  # unreachable with unique names; kept as the last guard
                    raise ImageDataError(f"{_where(other)} and {_where(sample)} would both write {path}")
                resolved = path.resolve()
                source = inputs.get(resolved) or next((s for p, s in inputs.items() if resolved in p.parents), None)
                if source is not None:
                    raise ImageDataError(f"{path}: is an input ({_where(source)}); choose another --out")
            row.append(out_dir / files["prob"])
        plan.append(row)
    return plan


def predict_folder(
    checkpoint: str | os.PathLike,
    input_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    threshold: float = 0.5,
    fmt: str = "tiff",
    tiling: TilingConfig | None = None,
    pixel_size: float | None = None,
    scale: float | None = None,
    log: Callable[[str], None] | None = None,
) -> list[Path]:
    """Probability maps and masks for a folder of images (PNG/TIFF/NumPy/JPEG, volumes, any size).

    Every input is accounted for (`jaxaxon.data.inventory`): the image files of the folder and
    its ``.npz`` volumes are all predicted; other entries are skipped and named in the ``found``
    line and in ``predictions.json`` (``inputs``). Writes per image and head the probability
    map (float32) and the mask (``prob > threshold``, uint8 0 / 1) as OME-TIFF
    (``NAME_HEAD_prob.ome.tif``, ``NAME_HEAD_mask.ome.tif``) or, with ``fmt="zarr"``, as one
    OME-Zarr image with the mask as its label image (``NAME_HEAD.ome.zarr``), with PNG
    previews (``NAME_HEAD_prob.png``, ``NAME_HEAD_mask.png``; `jaxaxon.eval.prediction_files`),
    plus ``predictions.json`` listing them, the inputs and the input zoom (``input_scale``).
    The image's pixel size (`output_pixel_sizes`) is written into the files when known.
    Output names are checked to be distinct before anything is written (`predict_outputs`),
    and every map is checked to be finite before the first file is written. Images are
    resampled as in `evaluate_checkpoint` (``pixel_size``, ``scale``, file metadata, the run's
    ``image_scale``); the maps are written at each image's own size.

    Args:
      fmt: ``"tiff"`` (OME-TIFF, default) or ``"zarr"`` (OME-Zarr, NGFF 0.5).
      log: called with the ``found ...`` line before inference.

    Returns:
      The written probability maps' paths (``.ome.tif`` files or ``.ome.zarr`` folders).

    Raises:
      ValueError: ``threshold`` not a finite number in 0..1, an unknown ``fmt``.
      OutputPathError: ``out_dir`` is a file or cannot be created.
      ImageDataError: unreadable inputs, names that would share an output file.
      CheckpointError: missing or corrupt checkpoint, non-finite network output.
    """
    from jaxaxon.train.inference import load_model

    if not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise ValueError(f"threshold must be a number in 0..1, got {threshold}")
    prediction_files("x", "y", fmt)  # an unknown format fails here, before any work
    out_dir = check_output_folder(out_dir)
    _check_zoom_flags(pixel_size, scale)
    model, rc = load_model(checkpoint)
    samples, inventory = load_inputs(input_dir)
    if not samples:
        raise ImageDataError(f"{input_dir}: no images found")
    heads = list(rc.model.heads)
    plan = predict_outputs(samples, heads, out_dir, fmt)
    if log is not None:
        log(inventory.describe())
    zooms = input_zooms(rc, samples, pixel_size=pixel_size, scale=scale)
    sizes = output_pixel_sizes(samples, pixel_size)
    probs = probability_maps(
        model, rc, [s.image for s in samples], tiling, [z.zoom for z in zooms], [_where(s) for s in samples]
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    written, index = [], []
    for sample, prob, paths, size in zip(samples, probs, plan, sizes):
        for c, (head, path) in enumerate(zip(heads, paths)):
            files = write_prediction(out_dir, sample.name, head, prob[..., c], threshold=threshold, fmt=fmt,
                                     pixel_size=size)  # fmt: skip
            written.append(path)
            index.append({
                "image": sample.source or sample.name, "name": sample.name, "head": head,
                **{role: str(p.relative_to(out_dir)) for role, p in files.items()}, "pixel_size": size,
            })  # fmt: skip
    record = {
        "checkpoint": str(checkpoint), "format": fmt, "threshold": threshold, "pixel_size_unit": "micrometer",
        "files": index, "input_scale": scale_record(rc, samples, zooms), "inputs": inventory.to_dict(),
    }  # fmt: skip
    write_json(out_dir / "predictions.json", record)
    return written
