"""The `jaxaxon` command line: argument parsing and printing only; every command calls the library."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def _load_config(path: str | None):
    from jaxaxon.config import GeneratorConfig

    return GeneratorConfig() if path is None else GeneratorConfig.from_json(path)


def _cmd_preview(args: argparse.Namespace) -> int:
    import jax

    from jaxaxon.preview import save_batch_preview
    from jaxaxon.synth.image import generate

    cfg = _load_config(args.params)
    batch = generate(jax.random.key(args.seed), cfg, args.n)
    out = save_batch_preview(args.out, batch, columns=args.n)
    print(f"wrote {out} ({args.n} images of {cfg.height}x{cfg.width})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `jaxaxon` command."""
    parser = argparse.ArgumentParser(
        prog="jaxaxon",
        description="Synthetic two-photon images of cortical axons, generated with JAX, and networks trained on them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("preview", help="generate a few images and save a PNG grid with their masks")
    p.add_argument("--n", type=_positive_int, default=8, help="number of images (default 8)")
    p.add_argument("--out", default="preview.png", help="output PNG (default preview.png)")
    p.add_argument("--params", help="parameter file in the original's JSON format (default: the shipped 256x256 set)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=_cmd_preview)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `jaxaxon` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from jaxaxon.config import ConfigError

    try:
        return int(args.func(args) or 0)
    except ConfigError as err:
        print(f"jaxaxon {args.command}: invalid parameters: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jaxaxon {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
