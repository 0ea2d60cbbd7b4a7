"""Dataset integrity: which stored chunks are missing or damaged, and one-line reports naming the examples.

In a format-2 dataset (`jaxaxon.data.layout.FORMAT_VERSION`) every stored piece of data ends
with a crc32c checksum (each inner chunk of the sharded image arrays, each shard index, each
metadata chunk), so flipped or lost bytes are detected when they are read, and every chunk
is stored, even one equal to the fill value, so a chunk file missing below the completion
record is damage, not zeros. Format-1 datasets (no checksums, chunks equal to the fill value
not stored) are checked only for chunks that cannot be decoded.

`scan` reads chunks and locates damage to the example: an image array's chunk that fails to
read is read again example by example (one inner chunk each); a metadata chunk is reported
whole. Nothing here writes.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from jaxaxon.data.layout import ArraySpec, DatasetError, insert_n

__all__ = [
    "Damage",
    "VerifyReport",
    "chunk_file",
    "damage_error",
    "describe_examples",
    "is_disk_full",
    "missing_chunks",
    "problem_of",
    "scan",
    "write_error",
]

MISSING = "chunk file missing"
CHECKSUM = "checksum mismatch"
TRUNCATED = "truncated"
UNREADABLE = "unreadable"

_SHOWN_EXAMPLES = 12  # example ranges listed in one line; the rest are counted


@dataclasses.dataclass(frozen=True)
class Damage:
    """Damage found in one stored chunk of one array.

    Attributes:
      array: the array's path inside the dataset (``images``, ``metadata/centerlines``, ...).
      chunk: chunk index along N (examples ``chunk * chunk_size ...``).
      examples: the damaged examples, ascending.
      problem: ``chunk file missing``, ``checksum mismatch``, ``truncated`` or ``unreadable``.
    """

    array: str
    chunk: int
    examples: tuple[int, ...]
    problem: str

    def line(self) -> str:
        return f"array {self.array!r} chunk {self.chunk}: {self.problem}, {_phrase(self.examples)}"


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """The result of checking a dataset (`jaxaxon.data.verify_dataset`).

    Attributes:
      path: the dataset.
      format_version: its format (1: no checksums, only undecodable chunks are found).
      checked_examples: examples checked (those recorded complete).
      num_examples: examples the dataset holds when complete.
      damage: what was found, by array and chunk.
    """

    path: Path
    format_version: int
    checked_examples: int
    num_examples: int
    damage: tuple[Damage, ...]

    @property
    def ok(self) -> bool:
        return not self.damage

    @property
    def damaged_examples(self) -> tuple[int, ...]:
        """Every example with damage in any array, ascending."""
        return tuple(sorted({i for d in self.damage for i in d.examples}))

    @property
    def damaged_chunks(self) -> dict[int, frozenset[str]]:
        """Chunk index -> paths of the arrays damaged in it."""
        out: dict[int, set[str]] = collections.defaultdict(set)
        for d in self.damage:
            out[d.chunk].add(d.array)
        return {k: frozenset(v) for k, v in sorted(out.items())}

    def lines(self) -> list[str]:
        """Human-readable lines: one per damaged chunk and array, then a summary."""
        out = [f"{self.path}: {d.line()}" for d in self.damage]
        state = "" if self.checked_examples == self.num_examples else (
            f" (incomplete: {self.checked_examples} of {self.num_examples} examples written)"
        )
        if self.ok:
            checks = "checksums, chunk files" if self.format_version >= 2 else "decoding only (format 1: no checksums)"
            out.append(f"{self.path}: {self.checked_examples} examples intact{state}; checked {checks}")
        else:
            bad = self.damaged_examples
            out.append(
                f"{self.path}: {len(bad)} of {self.checked_examples} examples damaged ({describe_examples(bad)})"
                f"{state}; re-run the `jaxaxon generate` command that wrote it to rewrite them"
            )
        return out


def describe_examples(examples: Sequence[int]) -> str:
    """``0-3, 7, 9-10`` (ranges; at most a dozen shown, the rest counted)."""
    runs: list[list[int]] = []
    for i in sorted(set(int(e) for e in examples)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs[:_SHOWN_EXAMPLES])
    if len(runs) > _SHOWN_EXAMPLES:
        text += f" and {sum(b - a + 1 for a, b in runs[_SHOWN_EXAMPLES:])} more"
    return text


def _phrase(examples: Sequence[int]) -> str:
    return f"example{'s' if len(set(examples)) > 1 else ''} {describe_examples(examples)}"


def chunk_file(root: Path, spec: ArraySpec, chunk: int) -> Path | None:
    """The file of chunk ``chunk`` of an array (zarr v3 default keys ``c/k/0/...``; ``c/0/k/0/...``
    for an array stored with the example axis second); None for an array with an empty
    per-example dimension (it stores no chunks)."""
    if any(d == 0 for d in spec.shape):
        return None
    return root.joinpath(spec.path, "c", *insert_n(["0"] * len(spec.shape), str(chunk), spec.n_axis))


def missing_chunks(
    root: Path, specs: Iterable[ArraySpec], chunks: Iterable[int], chunk_size: int, n: int
) -> list[Damage]:
    """Damage records for the chunk files of ``chunks`` that do not exist (format 2 stores them all)."""
    out = []
    chunks = list(chunks)
    for spec in specs:
        for k in chunks:
            path = chunk_file(root, spec, k)
            if path is not None and not path.is_file():
                out.append(Damage(spec.path, k, tuple(range(k * chunk_size, min(n, (k + 1) * chunk_size))), MISSING))
    return out


def problem_of(err: BaseException) -> str:
    """The kind of damage a tensorstore read error shows, in plain words."""
    text = str(err)
    if "shard index" in text:
        return "truncated or overwritten shard"
    if "Digest mismatch" in text:
        return CHECKSUM
    if "byte range" in text or text.startswith(("OUT_OF_RANGE", "FAILED_PRECONDITION")):
        return TRUNCATED
    return UNREADABLE


def damage_error(root: Path, damage: Sequence[Damage]) -> DatasetError:
    """One line naming the dataset, the damaged arrays and examples, and what to do."""
    by_array: dict[str, list[Damage]] = collections.defaultdict(list)
    for d in damage:
        by_array[d.array].append(d)
    parts = []
    for array, items in by_array.items():
        problems = sorted({d.problem for d in items})
        examples = [i for d in items for i in d.examples]
        parts.append(f"array {array!r} {_phrase(examples)}: {', '.join(problems)}")
    return DatasetError(
        f"damaged dataset {root}: {'; '.join(parts)}. Run `jaxaxon verify {root}` to list all damage; "
        "re-running the `jaxaxon generate` command that wrote it rewrites the damaged chunks"
    )


def is_disk_full(err: BaseException) -> bool:
    """True for a full disk or an exceeded quota (an OSError, or tensorstore's RESOURCE_EXHAUSTED)."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(err, ValueError) and str(err).startswith("RESOURCE_EXHAUSTED")


def write_error(root: Path, err: BaseException) -> DatasetError:
    """One line for a failed write into ``root``: a full disk, or tensorstore's reason in one line."""
    if is_disk_full(err):
        return DatasetError(f"no space left on device writing {root}; free space and re-run the same command to resume")
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return DatasetError(f"cannot write {root}: {reason[:300]}; re-run the same command to resume")


def _examples(k: int, chunk_size: int, n: int) -> range:
    return range(k * chunk_size, min(n, (k + 1) * chunk_size))


def scan(
    root: Path,
    arrays: Mapping[str, Any],
    specs: Mapping[str, ArraySpec],
    chunks: Iterable[int],
    chunk_size: int,
    num_examples: int,
    *,
    check_files: bool,
    window: int = 4,
    on_chunk: Callable[[int], None] | None = None,
) -> list[Damage]:
    """Reads chunks of arrays and reports the damage found.

    Args:
      root: the dataset (for file checks and messages).
      arrays: array name -> opened tensorstore (read).
      specs: array name -> its spec (the arrays scanned are those of ``arrays``).
      chunks: chunk indices to check (each whole).
      chunk_size: examples per chunk.
      num_examples: N (the last chunk may be partial).
      check_files: also report chunk files that do not exist (format 2).
      window: chunks whose reads are in flight at once.
      on_chunk: called with each chunk index once it is checked.

    Returns:
      Damage records ordered by chunk, then array.
    """
    names = list(arrays)
    found: list[Damage] = []
    pending: collections.deque = collections.deque()

    def settle() -> None:
        k, futures = pending.popleft()
        for name, future in futures.items():
            try:
                future.result()
            except Exception as err:  # tensorstore raises ValueError subclasses with a status code
                found.extend(_locate(arrays[name], specs[name], k, chunk_size, num_examples, err))
        if on_chunk is not None:
            on_chunk(k)

    for k in chunks:
        rows = _examples(k, chunk_size, num_examples)
        missing = missing_chunks(root, [specs[n] for n in names], [k], chunk_size, num_examples) if check_files else []
        found.extend(missing)
        skip = {d.array for d in missing}
        futures = {n: arrays[n][rows.start : rows.stop].read() for n in names if specs[n].path not in skip}
        pending.append((k, futures))
        if len(pending) >= window:
            settle()
    while pending:
        settle()
    order = {specs[n].path: i for i, n in enumerate(names)}
    return sorted(found, key=lambda d: (d.chunk, order[d.array]))


def _locate(array: Any, spec: ArraySpec, k: int, chunk_size: int, n: int, err: BaseException) -> list[Damage]:
    """The damaged examples of a chunk whose read failed: per example for the sharded image
    arrays (one inner chunk each; an unreadable shard index fails them all), the whole chunk
    for metadata arrays."""
    rows = _examples(k, chunk_size, n)
    if not spec.is_image:
        return [Damage(spec.path, k, tuple(rows), problem_of(err))]
    futures = {i: array[i].read() for i in rows}
    problems: dict[str, list[int]] = collections.defaultdict(list)
    for i, future in futures.items():
        try:
            future.result()
        except Exception as one:
            problems[problem_of(one)].append(i)
    if not problems:  # the chunk read failed, every example reads: report the chunk as it failed
        problems[problem_of(err)] = list(rows)
    return [Damage(spec.path, k, tuple(ex), problem) for problem, ex in problems.items()]
