"""Tests of jaxaxon/jsonfile.py: strict JSON files (encodings, duplicate keys, one-line errors)."""

from __future__ import annotations

import codecs

import pytest

from jaxaxon.jsonfile import loads_json, read_json


class Bad(ValueError):
    pass


def _read(tmp_path, data: bytes):
    path = tmp_path / "p.json"
    path.write_bytes(data)
    return read_json(path, Bad, "parameter file")


@pytest.mark.parametrize(
    "data",
    [
        '{"a": "é"}'.encode("utf-8"),
        codecs.BOM_UTF8 + '{"a": "é"}'.encode("utf-8"),
        '{"a": "é"}'.encode("utf-16"),  # with its byte-order mark
        '{"a": "é"}'.encode("utf-32"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-bom", "utf-32-bom"],
)
def test_utf8_and_marked_unicode_files_are_read(tmp_path, data):
    assert _read(tmp_path, data) == {"a": "é"}


@pytest.mark.parametrize(
    "data, text",
    [
        ('{"a": "é"}'.encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 7); save it as UTF-8 JSON"),
        ('{"a": 1}'.encode("utf-16-le"), "not UTF-8 text"),  # no byte-order mark: refused
        (codecs.BOM_UTF16_LE + b"\x00\xd8", "not UTF-16 text despite its byte-order mark"),
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b'{"a": {"b": 1, "b": 1}}', "duplicate key 'b'"),
        (b'{"a": 1,, }', "not valid JSON: Expecting"),
        (b'{"a": ' + b"1" * 5000 + b"}", "not valid JSON: Exceeds the limit"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON: nested too deeply"),
    ],
    ids=["latin-1", "utf-16-no-bom", "bad-utf-16", "duplicate", "nested-duplicate", "syntax", "digits", "deep"],
)
def test_bad_files_give_one_line_naming_the_file(tmp_path, data, text):
    with pytest.raises(Bad) as info:
        _read(tmp_path, data)
    message = str(info.value)
    assert message.startswith(f"cannot read parameter file {str(tmp_path / 'p.json')!r}: ")
    assert text in message
    assert "\n" not in message and len(message) < 400


def test_missing_file(tmp_path):
    with pytest.raises(Bad, match=r"^cannot read parameter file '.*nope.json': No such file"):
        read_json(tmp_path / "nope.json", Bad, "parameter file")


def test_a_long_duplicate_key_is_cut():
    key = "k" * 10_000
    with pytest.raises(Bad) as info:
        loads_json(f'{{"{key}": 1, "{key}": 2}}', Bad, "--set x")
    assert str(info.value).startswith("--set x: duplicate key 'kkk")
    assert "(10,000 characters)" in str(info.value) and len(str(info.value)) < 200
