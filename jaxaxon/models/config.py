"""Model hyper-parameters: one frozen dataclass for the U-Net family and the autoencoder.

`ModelConfig()` is the original study's "nano U-Net" (spec section 3): one 5x5 convolution
per level, widths 32-64-128, two 2x2 max-poolings, nearest-neighbour upsampling with skip
concatenation, ReLU, dropout 0.3 on the bottleneck and a 1x1 sigmoid output. Every field
is a plain JSON value, so the config round-trips through ``config.json``.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Mapping

__all__ = ["ModelConfig", "HEADS", "NORMS", "KINDS", "DTYPES", "INITS"]

KINDS = ("unet", "autoencoder")
NORMS = ("none", "batch", "group", "layer")
HEADS = ("axon", "bouton")
DTYPES = ("float32", "bfloat16")
INITS = ("glorot_uniform", "he_normal")


class _Error(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture of a segmentation U-Net or of the pre-training autoencoder.

    Attributes:
      kind: ``"unet"`` (segmentation, one sigmoid channel per head) or ``"autoencoder"``
        (the same encoder, a decoder without skip connections, one output channel).
      depth: number of 2x2 max-poolings; the encoder has ``depth + 1`` levels, the last one
        being the bottleneck. Image sides must be divisible by ``2**depth``.
      base_width: channels of the first level; level ``l`` has ``base_width * 2**l``.
      convs_per_level: convolutions per encoder/decoder level (nano: 1, classic U-Net: 2).
      kernel_size: side of the square convolution kernels (nano: 5).
      norm: normalisation after each convolution: none, batch, group or layer.
      groups: number of groups of group normalisation (clipped to the channel count).
      dropout: dropout rate applied to the bottleneck features during training.
      heads: output heads of a U-Net, in channel order: ``("axon",)``, ``("bouton",)`` or
        ``("axon", "bouton")``.
      dtype: compute dtype (``"bfloat16"`` keeps float32 parameters and float32 outputs).
      kernel_init: ``"glorot_uniform"`` (Keras' default, the original's) or ``"he_normal"``.
    """

    kind: str = "unet"
    depth: int = 2
    base_width: int = 32
    convs_per_level: int = 1
    kernel_size: int = 5
    norm: str = "none"
    groups: int = 8
    dropout: float = 0.3
    heads: tuple[str, ...] = ("axon",)
    dtype: str = "float32"
    kernel_init: str = "glorot_uniform"

    def __post_init__(self) -> None:
        if not isinstance(self.heads, tuple):
            object.__setattr__(
                self, "heads", tuple(self.heads) if isinstance(self.heads, (list, tuple)) else (self.heads,)
            )
        _check_choice("kind", self.kind, KINDS)
        _check_choice("norm", self.norm, NORMS)
        _check_choice("dtype", self.dtype, DTYPES)
        _check_choice("kernel_init", self.kernel_init, INITS)
        for key, lo, hi in (
            ("depth", 1, 8),
            ("base_width", 1, 4096),
            ("convs_per_level", 1, 8),
            ("kernel_size", 1, 31),
            ("groups", 1, 4096),
        ):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"model.{key}: expected an integer in {lo}..{hi}, got {value!r}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"model.kernel_size: must be odd ('same' padding), got {self.kernel_size}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"model.dropout: expected a rate in [0, 1), got {self.dropout!r}")
        if not self.heads or len(set(self.heads)) != len(self.heads):
            raise ValueError(f"model.heads: expected distinct heads from {HEADS}, got {list(self.heads)}")
        for head in self.heads:
            _check_choice("heads", head, HEADS)

    @property
    def out_channels(self) -> int:
        """Output channels: one per head for a U-Net, one for the autoencoder."""
        return len(self.heads) if self.kind == "unet" else 1

    def widths(self) -> list[int]:
        """Channels of encoder levels ``0..depth`` (the last is the bottleneck)."""
        return [self.base_width * 2**level for level in range(self.depth + 1)]

    def encoder_signature(self) -> dict[str, Any]:
        """The fields that fix the encoder's structure (equal signatures share weights)."""
        return {
            k: getattr(self, k) for k in ("depth", "base_width", "convs_per_level", "kernel_size", "norm", "groups")
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (heads as a list)."""
        out = dataclasses.asdict(self)
        out["heads"] = list(self.heads)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        """Builds a config from a dict; unknown keys raise ValueError naming the key."""
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                raise ValueError(f"model: unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
        values = dict(data)
        if "heads" in values and isinstance(values["heads"], list):
            values["heads"] = tuple(values["heads"])
        return cls(**values)

    def replace(self, **changes: Any) -> "ModelConfig":
        """A validated copy with some fields changed."""
        return ModelConfig.from_dict({**self.to_dict(), **changes})


def _check_choice(key: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"model.{key}: unknown value {value!r} (choose one of {', '.join(choices)}){hint}")
