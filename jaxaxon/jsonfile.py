"""Strict reading of the JSON files a user gives: UTF-8 text, no duplicate keys, one-line errors.

`read_json` decodes UTF-8 (a byte-order mark is accepted; UTF-16 and UTF-32 files that start
with their byte-order mark are decoded too) and refuses any other bytes, duplicate keys in any
object, numbers Python cannot hold and nesting deeper than the parser's recursion limit, each
with one message naming the file.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path
from typing import Any

from jaxaxon.echo import brief

__all__ = ["read_json", "loads_json", "decode_json_bytes"]

# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def loads_json(text: str, error: type[Exception], source: str) -> Any:
    """Parses JSON text, refusing duplicate keys.

    Args:
      text: the JSON text.
      error: the exception type raised.
      source: what messages start with (``"--set model"``).

    Raises:
      error: ``"<source>: duplicate key 'x' ..."``, ``"<source>: not valid JSON: ..."``.
    """
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as err:
        raise error(f"{source}: duplicate key {brief(err.key)} (each key may appear once per object)") from None
    except json.JSONDecodeError as err:
        raise error(f"{source}: not valid JSON: {err}") from None
    except ValueError as err:  # an integer with more digits than Python converts
        raise error(f"{source}: not valid JSON: {brief(str(err), 120, quote=False)}") from None
    except RecursionError:
        raise error(f"{source}: not valid JSON: nested too deeply") from None


def decode_json_bytes(data: bytes, error: type[Exception], source: str) -> str:
    """The text of a JSON file: UTF-8 (BOM allowed), or UTF-16/UTF-32 starting with a BOM.

    Raises:
      error: the bytes are not text in one of those encodings.
    """
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as err:
                raise error(f"{source}: not {name} text despite its byte-order mark ({err.reason})") from None
    if b"\x00" in data[:4096]:  # JSON text never holds a NUL byte
        raise error(f"{source}: not UTF-8 text (NUL bytes: UTF-16 without a byte-order mark?); save it as UTF-8 JSON")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(
            f"{source}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "save it as UTF-8 JSON"
        ) from None


def read_json(path: str | os.PathLike, error: type[Exception], what: str = "file") -> Any:
    """Reads a user's JSON file strictly (module docstring).

    Args:
      path: the file.
      error: the exception type raised.
      what: what the file is, for messages (``"parameter file"``).

    Raises:
      error: ``"cannot read <what> '<path>': <reason>"``: unreadable, not UTF-8, not JSON,
        a duplicate key.
    """
    path = Path(path)
    source = f"cannot read {what} {str(path)!r}"
    try:
        data = path.read_bytes()
    except OSError as err:
        raise error(f"{source}: {err.strerror or err}") from None
    return loads_json(decode_json_bytes(data, error, source), error, source)
