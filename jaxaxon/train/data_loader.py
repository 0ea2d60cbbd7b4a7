"""Training from a dataset on disk: per-step batches of a ``jaxaxon generate`` dataset, read
with a Grain pipeline through tensorstore (`jaxaxon.data.open_dataset`).

``jaxaxon train --data PATH.zarr`` feeds the jitted step (`jaxaxon.train.step`) with a
dataset's images instead of generating them inside the step; everything after the batch
(normalisation, tiles, loss, update) is the same code.

The order of the examples is a Grain ``MapDataset`` (`step_indices`)::

    MapDataset.range(N).shuffle(seed).repeat().batch(b)

whose element ``s`` holds the ``b`` example indices of step ``s``: the epochs' permutations
(a new one each epoch: Grain seeds epoch ``e`` with ``seed + e``) laid end to end and cut
into consecutive batches. Every example is seen once per epoch, none is dropped and every
batch is full (a batch may straddle two epochs). Batch ``s`` is a pure function of (seed,
s), read by random access without iterator state: a run resumed at step ``s`` reads the
same batches as an uninterrupted one, on any number of devices or hosts.

Per-host sharding: each process reads only the rows of every global batch that its own
devices hold (`process_rows`, from ``jax.process_index()``'s devices in the mesh), and the
global array is assembled with `jax.make_array_from_process_local_data`. Reading runs in
Grain's threads (``grain.ReadOptions``), a few steps ahead of the training step.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import jax
import numpy as np

from jaxaxon.parallel import DATA_AXIS, data_sharding
from jaxaxon.train.config import RunConfig, RunConfigError, TrainingData

__all__ = [
    "DataFeed",
    "DatasetSource",
    "StepBatches",
    "array_names",
    "data_note",
    "dataset_generator",
    "dataset_fingerprint",
    "even_rows",
    "fed_images_per_step",
    "make_feed",
    "open_training_data",
    "prepare_data",
    "process_rows",
    "resolve_steps",
    "shuffle_seed",
    "step_indices",
    "steps_for_epochs",
]

HEAD_ARRAYS = {"axon": "axon_masks", "bouton": "bouton_masks"}
READ_THREADS = 2  # Grain threads reading batches (tensorstore decodes on its own threads too)
PREFETCH = 4  # batches read ahead of the training step


# --------------------------------------------------------------------------- sizes and seeds


def fed_images_per_step(rc: RunConfig) -> int:
    """Dataset images read per step: enough for the step's ``batch_size - real_per_step``
    tiles (``tiles_per_image`` per image; extra tiles of a last image are dropped)."""
    return -(-(rc.batch_size - rc.real_per_step) // rc.tiles_per_image)


def steps_for_epochs(epochs: float, examples: int, images_per_step: int) -> int:
    """``ceil(epochs * examples / images_per_step)``: the steps that show every image
    ``epochs`` times (computed exactly: ``2.5`` is 5/2)."""
    if not (isinstance(epochs, (int, float)) and math.isfinite(epochs) and epochs > 0):
        raise RunConfigError(f"--epochs: expected a positive number, got {epochs!r}")
    return max(1, math.ceil(Fraction(str(epochs)) * examples / images_per_step))


def resolve_steps(rc: RunConfig, steps: int | None, epochs: float | None) -> int | None:
    """The run's total steps from ``--steps`` and ``--epochs`` (None: neither given).

    Raises:
      RunConfigError: ``epochs`` without a dataset, or ``steps`` and ``epochs`` that disagree.
    """
    if epochs is None:
        return steps
    if rc.data is None:
        raise RunConfigError(
            "--epochs counts passes over a dataset on disk: give --data PATH.zarr (on-the-fly training has no "
            "epochs; use --steps)"
        )
    n, b = rc.data.examples, fed_images_per_step(rc)
    total = steps_for_epochs(epochs, n, b)
    if steps is not None and steps != total:
        raise RunConfigError(
            f"--steps {steps} and --epochs {epochs:g} disagree: {epochs:g} epochs of {n} images at {b} images per "
            f"step are {total} steps (give one of them)"
        )
    return total


def shuffle_seed(seed: int) -> int:
    """The Grain shuffle seed of a run seed (32 bits, hashed: Grain seeds epoch ``e`` with
    ``seed + e``, so consecutive run seeds must not give consecutive shuffle seeds)."""
    return int(np.random.SeedSequence([int(seed), 0x67726169]).generate_state(1)[0])


def array_names(rc: RunConfig) -> tuple[str, ...]:
    """The dataset arrays a run reads: ``images`` and the trained heads' masks (U-Net), or
    the clean images (denoising autoencoder)."""
    if rc.segmentation:
        return ("images", *(HEAD_ARRAYS[h] for h in rc.model.heads))
    return ("images",) if rc.ae_target == "image" else ("images", "clean_images")


# --------------------------------------------------------------------------- the dataset


def dataset_fingerprint(attrs: Mapping[str, Any]) -> str:
    """SHA-256 of a dataset's generation record: kind, generator function, seed, parameters
    and number of examples (its content is a function of these; `jaxaxon verify` checks the
    bytes)."""
    gen = attrs.get("generator") or {}
    record = {
        "kind": attrs.get("kind"),
        "function": gen.get("function"),
        "seed": gen.get("seed"),
        "config": gen.get("config"),
        "num_examples": attrs.get("num_examples"),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def dataset_generator(path: str | Path):
    """The generator parameters a dataset was written with (a new run on it validates on
    images generated with them).

    Raises:
      RunConfigError: not a readable dataset.
    """
    from jaxaxon.data import DatasetError, open_dataset

    try:
        return open_dataset(Path(path).expanduser(), allow_incomplete=True).config
    except DatasetError as err:
        raise RunConfigError(f"--data: {err}") from None


def open_training_data(path: str | Path, rc: RunConfig, expected: TrainingData | None = None):
    """Opens a dataset to train ``rc`` on and checks it.

    Args:
      path: the dataset directory.
      rc: the run (image size, heads).
      expected: the dataset a resumed run started with (its fingerprint must match).

    Returns:
      ``(dataset, record)``: the open `jaxaxon.data.dataset.Dataset` and its `TrainingData`.

    Raises:
      RunConfigError: not a dataset, a half-written one, time series, missing arrays, images
        of another size than the run's, or another dataset than ``expected``; one line each.
    """
    from jaxaxon.data import DatasetError, open_dataset

    root = Path(path).expanduser().absolute()
    try:
        ds = open_dataset(root, allow_incomplete=True)
    except DatasetError as err:
        raise RunConfigError(f"--data: {err}") from None
    attrs = ds.attrs
    total = attrs.get("num_examples", len(ds))
    if not ds.complete:
        raise RunConfigError(
            f"--data {root}: the dataset is half-written ({len(ds)} of {total} images complete); finish it by "
            "running its `jaxaxon generate` command again"
        )
    if attrs.get("kind", "images") != "images":
        raise RunConfigError(
            f"--data {root}: a dataset of {attrs.get('kind')}; training reads single images (jaxaxon generate "
            "without --series)"
        )
    names = array_names(rc)
    missing = [n for n in names if n not in ds.image_names]
    if missing:
        raise RunConfigError(f"--data {root}: no {', '.join(missing)} arrays (it has {', '.join(ds.image_names)})")
    shape = tuple(int(v) for v in ds.read(0, ["images"])["images"].shape)
    want = tuple(rc.generator.shape)
    if shape != want:
        scaled = f" (axon_width {rc.axon_width:g} rescales the run's generator)" if rc.axon_width else ""
        raise RunConfigError(
            f"--data {root}: its images are {shape[0]}x{shape[1]}, the run's are {want[0]}x{want[1]}{scaled}; "
            f"the model trains and validates at one size: use a dataset of {want[0]}x{want[1]} images"
        )
    record = TrainingData(path=str(root), examples=len(ds), image_size=shape, fingerprint=dataset_fingerprint(attrs))
    if expected is not None and record.fingerprint != expected.fingerprint:
        raise RunConfigError(
            f"--data {root}: another dataset than the run's ({record.examples} images, fingerprint "
            f"{record.fingerprint[:12]}; the run started on {expected.path}: {expected.examples} images, fingerprint "
            f"{expected.fingerprint[:12]}); resume with the run's dataset or start a new run"
        )
    return ds, record


def prepare_data(
    rc: RunConfig, path: str | Path | None = None, *, resumed: bool = False, log: Callable[[str], None] = print
):
    """Opens and checks a run's dataset before training (like `jaxaxon.train.mixing.prepare_real`).

    A new run given ``path`` gets its `TrainingData` recorded in ``rc.data`` (and so in
    ``config.json``). A resumed run reads ``rc.data`` (or ``path``, a moved copy, which
    then replaces the recorded path) and refuses another dataset.

    Returns:
      ``(rc, dataset)``: the (updated) run configuration and the open dataset, or None for a
      run on images generated on the fly.

    Raises:
      RunConfigError: see `open_training_data`; ``path`` given to resume an on-the-fly run.
    """
    if rc.data is None and path is None:
        return rc, None
    if resumed and rc.data is None:
        raise RunConfigError(
            "--data: this run trains on images generated on the fly; a resumed run cannot switch to a dataset "
            "(start a new run with --data)"
        )
    ds, record = open_training_data(path if path is not None else rc.data.path, rc, rc.data if resumed else None)
    if rc.data is not None and record.path != rc.data.path:
        log(f"training data: the run's dataset {rc.data.path} is read from {record.path}")
    return rc.replace(data=record), ds


def data_note(rc: RunConfig) -> str:
    """One line on a run's dataset: size, images per step, epochs."""
    data, b = rc.data, fed_images_per_step(rc)
    return (
        f"training data: {data.examples} images of {data.image_size[0]}x{data.image_size[1]} from {data.path}; "
        f"{b} per step, an epoch is {data.examples / b:g} steps; {rc.steps} steps are "
        f"{rc.steps * b / data.examples:.4g} epochs"
    )


class DatasetSource:
    """Random access to a dataset's arrays (Grain's data source protocol: ``len`` and ``[]``).

    Args:
      dataset: an open `jaxaxon.data.dataset.Dataset`.
      names: the arrays to read.
    """

    def __init__(self, dataset: Any, names: Sequence[str]):
        self.dataset, self.names = dataset, tuple(names)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: Any) -> dict[str, np.ndarray]:
        """The arrays of example ``index`` (``[H, W]``) or of an index array (``[k, H, W]``,
        in its order), by one tensorstore read per array."""
        if isinstance(index, (int, np.integer)):
            return self.dataset.read(int(index), self.names)
        return self.dataset.read(np.asarray(index, np.int64), self.names)


# --------------------------------------------------------------------------- the batches


def step_indices(examples: int, images_per_step: int, seed: int):
    """The example indices of every step (Grain ``MapDataset``; element ``s``: int64
    ``[images_per_step]``), see the module notes."""
    import grain

    return grain.MapDataset.range(examples).shuffle(seed=seed).repeat().batch(images_per_step)


def even_rows(images: int, process: int, processes: int) -> slice:
    """The rows of a global batch of ``images`` that process ``process`` of ``processes``
    reads when the processes' devices are in process order (equal contiguous blocks)."""
    if images % processes:
        raise RunConfigError(f"the {images} images of a step do not split over {processes} processes")
    k = images // processes
    return slice(process * k, (process + 1) * k)


def process_rows(sharding: jax.sharding.Sharding, images: int) -> slice:
    """The contiguous rows of a ``[images, ...]`` array that this process's devices hold under
    ``sharding`` (all rows in a single-process run)."""
    spans = set()
    for index in sharding.addressable_devices_indices_map((images,)).values():
        start, stop, _ = index[0].indices(images)
        spans.add((start, stop))
    lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
    if sum(e - s for s, e in spans) != hi - lo:
        raise RunConfigError("this process's devices hold rows of the batch that are not contiguous")
    return slice(lo, hi)


class StepBatches:
    """The dataset arrays of every step, for this process's rows of each global batch.

    ``batches[s]`` reads step ``s`` (random access, a pure function of (seed, s));
    `iterate` reads steps in order, ahead of time, in Grain's threads.

    Args:
      source: the dataset (`DatasetSource`).
      images_per_step: images of a global batch.
      seed: the shuffle seed (`shuffle_seed`).
      rows: the rows of each global batch read here (default all).
    """

    def __init__(self, source: DatasetSource, images_per_step: int, seed: int, rows: slice | None = None):
        self.source, self.images_per_step, self.seed = source, images_per_step, seed
        self.rows = slice(0, images_per_step) if rows is None else rows
        self.indices = step_indices(len(source), images_per_step, seed)
        self.dataset = self.indices.map(self._read)

    def _read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        return self.source[indices[self.rows]]

    def local_indices(self, step: int) -> np.ndarray:
        """The example indices this process reads at ``step``."""
        return self.indices[int(step)][self.rows]

    def __getitem__(self, step: int) -> dict[str, np.ndarray]:
        return self.dataset[int(step)]

    def iterate(self, start: int, stop: int | None = None, *, threads: int = READ_THREADS, prefetch: int = PREFETCH):
        """Steps ``start .. stop - 1`` (None: without end) in order, read ``prefetch`` ahead."""
        import grain

        part = self.dataset[int(start) : None if stop is None else int(stop)]
        return iter(part.to_iter_dataset(grain.ReadOptions(num_threads=threads, prefetch_buffer_size=prefetch)))


@dataclasses.dataclass(eq=False)
class DataFeed:
    """The global batch arrays of a run's steps, sharded over the mesh's ``data`` axis
    (build with `make_feed`). ``feed(step)`` returns ``{name: [images_per_step, H, W]}``
    arrays; consecutive steps come from a prefetching iterator, any other step restarts it.

    Attributes:
      batches: this process's `StepBatches`.
      sharding: the batch sharding (`jaxaxon.parallel.data_sharding`).
      stop: the run's last step + 1 (None: no end), where reading ahead stops.
    """

    batches: StepBatches
    sharding: Any
    stop: int | None = None
    _iter: Iterator | None = None
    _next: int | None = None

    @property
    def images_per_step(self) -> int:
        return self.batches.images_per_step

    def host(self, step: int) -> dict[str, np.ndarray]:
        """This process's rows of step ``step`` (NumPy)."""
        step = int(step)
        if self._iter is None or step != self._next or (self.stop is not None and step >= self.stop):
            stop = None if self.stop is None else max(self.stop, step + 1)
            self._iter = self.batches.iterate(step, stop)
        self._next = step + 1
        return next(self._iter)

    def place(self, local: Mapping[str, np.ndarray]) -> dict[str, jax.Array]:
        """Global arrays from this process's rows."""
        return {
            k: jax.make_array_from_process_local_data(self.sharding, v, (self.images_per_step, *v.shape[1:]))
            for k, v in local.items()
        }

    def __call__(self, step: int) -> dict[str, jax.Array]:
        return self.place(self.host(step))

    def at(self, step: int) -> dict[str, jax.Array]:
        """Step ``step`` by random access (leaves the iterator alone; for inspection)."""
        return self.place(self.batches[step])


def make_feed(dataset: Any, rc: RunConfig, mesh: jax.sharding.Mesh) -> DataFeed:
    """The `DataFeed` of a run on ``dataset`` over ``mesh``.

    Raises:
      RunConfigError: the images of a step do not split over the mesh's devices.
    """
    images = fed_images_per_step(rc)
    n = mesh.shape[DATA_AXIS]
    if images % n:
        t = rc.tiles_per_image
        raise RunConfigError(
            f"--data: the {images} dataset images of a step do not split over {n} devices; choose a batch of a "
            f"multiple of {n * t} examples (--batch {n * t}, {2 * n * t}, ...)"
        )
    sharding = data_sharding(mesh)
    rows = process_rows(sharding, images)
    batches = StepBatches(DatasetSource(dataset, array_names(rc)), images, shuffle_seed(rc.seed), rows)
    return DataFeed(batches, sharding, stop=rc.steps)
