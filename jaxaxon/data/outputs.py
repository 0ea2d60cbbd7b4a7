"""Generator outputs as stored arrays: which generator makes a dataset kind, the per-example
shapes and dtypes of its outputs, and their conversion to the stored dtypes on the device."""

from __future__ import annotations

import dataclasses
import functools
import importlib
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp

from jaxaxon.config import GeneratorConfig
from jaxaxon.data.layout import ArraySpec, DatasetError

__all__ = ["GENERATORS", "output_shapes", "outputs_dict", "resolve_generator", "storage_plan", "to_storage"]

# kind -> (module, function) of the generator that makes it; resolved lazily.
GENERATORS: dict[str, tuple[str, str]] = {
    "images": ("jaxaxon.synth.image", "generate"),
    "series": ("jaxaxon.synth.series", "generate_series"),
}


def resolve_generator(kind: str, generator: Callable | None) -> tuple[Callable, str]:
    """The generator function and its recorded name: ``generator`` itself, else the one
    `GENERATORS` names for ``kind``."""
    if generator is not None:
        return generator, f"{generator.__module__}.{getattr(generator, '__qualname__', generator.__name__)}"
    if kind not in GENERATORS:
        raise DatasetError(f"unknown dataset kind {kind!r} (choose one of {', '.join(GENERATORS)})")
    module, name = GENERATORS[kind]
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise DatasetError(
            f"the {kind!r} generator ({module}.{name}) is not available in this version of jaxaxon"
        ) from None
    return fn, f"{module}.{name}"


def outputs_dict(out: Any) -> dict[str, Any]:
    """A generator result (dataclass such as `jaxaxon.Batch`, or mapping) as a dict."""
    if isinstance(out, Mapping):
        return dict(out)
    if dataclasses.is_dataclass(out):
        return {f.name: getattr(out, f.name) for f in dataclasses.fields(out)}
    raise DatasetError(f"the generator returned {type(out).__name__}, expected a dataclass or a mapping of arrays")


def output_shapes(fn: Callable, config: GeneratorConfig, batch_size: int) -> dict[str, tuple[tuple[int, ...], Any]]:
    """Per-example (shape, dtype) of every generator output (traced, not run)."""
    try:
        out = jax.eval_shape(lambda key, start: fn(key, config, batch_size, start), jax.random.key(0), 0)
    except TypeError as err:
        raise DatasetError(f"the generator must accept (key, config, batch_size, start_index): {err}") from None
    shapes = {}
    for name, value in outputs_dict(out).items():
        if len(value.shape) == 0 or value.shape[0] != batch_size:
            raise DatasetError(f"generator output {name!r} has shape {value.shape}, expected a leading batch axis")
        shapes[name] = (tuple(value.shape[1:]), value.dtype)
    return shapes


def storage_plan(specs: Sequence[ArraySpec], config: GeneratorConfig) -> tuple:
    """Hashable description of the device-side conversion of the image arrays."""
    maxima = {"intensity": config.maxIntensity, "label": config.MaxNbBouton, "mask": 1}
    return tuple((s.source, s.name, s.dtype, s.role, maxima[s.role]) for s in specs if s.is_image)


@functools.partial(jax.jit, static_argnames=("plan",))
def to_storage(outputs: dict[str, jax.Array], plan: tuple) -> tuple[dict[str, jax.Array], jax.Array]:
    """Converts the image outputs to their stored dtypes on the device (4x less to copy).

    Returns:
      (stored arrays by array name, bool scalar: every value was exactly representable).
    """
    stored, exact = {}, jnp.bool_(True)
    for source, name, dtype, role, maximum in plan:
        x = outputs[source]
        if role == "mask":
            stored[name] = (x != 0).astype(jnp.uint8)
            continue
        exact &= jnp.all((x == jnp.round(x)) & (x >= 0) & (x <= maximum))
        stored[name] = x.astype(dtype)
    return stored, exact
