"""The one Markdown table helper."""

from __future__ import annotations

from jaxaxon.bench.table import num, table


def test_table_has_a_header_a_rule_and_one_line_per_row():
    lines = table(["a", "b", "c"], [(1, None, "x"), ("y",)])
    assert lines[0] == "| a | b | c |" and lines[1] == "|---|---|---|"
    assert lines[2] == "| 1 |  | x |"
    assert lines[3].count("|") == lines[0].count("|")  # short rows are padded
    assert len(lines) == 4


def test_num_formats_numbers_and_marks_missing_ones():
    assert num(12345.678) == "12,345.7" and num(0.5, 2) == "0.50" and num(3, 0) == "3"
    assert num(None) == "n/a" and num(None, missing="") == "" and num("text") == "text"
