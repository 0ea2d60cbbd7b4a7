"""Tests of jaxaxon/echo.py: values cut in error messages."""

from __future__ import annotations

from jaxaxon.echo import ECHO_LIMIT, brief


def test_short_values_are_their_repr():
    assert brief("abc") == "'abc'"
    assert brief(1e308) == "1e+308"
    assert brief("abc", quote=False) == "abc"


def test_a_long_string_is_cut_with_its_length():
    text = brief("x" * 50_000_000)
    assert text.endswith("... (50,000,000 characters)")
    assert len(text) < ECHO_LIMIT + 40


def test_a_long_list_and_a_huge_integer_are_cut():
    assert brief(list(range(1000))).endswith("... (4,890 characters)")
    assert brief(10**5000) == "an integer of about 5,001 digits"  # str() itself refuses it
    assert brief(-(10**400)) == "a negative integer of about 401 digits"
