"""Tests of jaxaxon/validation.py: field metadata, the generic validator, unknown keys."""

from __future__ import annotations

import dataclasses

import pytest

from jaxaxon.validation import NON_NEGATIVE, POSITIVE, Bound, check_keys, interval, param, unknown_choice, validate


class ToyError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Inner:
    x: int = 0


def _small_enough(toy: "Toy") -> str | None:
    return f"size: {toy.size} does not fit {toy.limit}" if toy.size > toy.limit else None


@dataclasses.dataclass(frozen=True)
class Toy:
    size: int = param(4, "a size", bounds=(POSITIVE, Bound(2, 64)), unit="pixels")
    limit: int = param(64, bounds=NON_NEGATIVE)
    rate: float = param(0.5, bounds=Bound(0, 1, high_open=True), what="a rate")
    share: float = param(10.0, percent=True)
    lo: float = param(1.0, bounds=NON_NEGATIVE)
    hi: float = param(2.0, not_below="lo")
    top: float = param(50.0, percent=True, not_below="share", margin=2)
    flag: bool = False
    mode: str = param("fast", choices=("fast", "slow"))
    span: tuple[float, float] = param((1.0, 2.0), bounds=Bound(0, 10, low_open=True))
    names: tuple[str, ...] = param(("a",), choices=("a", "b"))
    note: str | None = None
    inner: Inner = dataclasses.field(default_factory=Inner)
    maybe: Inner | None = None

    def __post_init__(self) -> None:
        validate(self, ToyError, prefix="toy.", rules=(_small_enough,))


def _message(**changes) -> str:
    with pytest.raises(ToyError) as info:
        Toy(**changes)
    return str(info.value)


# --- Bound --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bound, inside, outside",
    [
        (POSITIVE, [1e-9, 5], [0, -1]),
        (NON_NEGATIVE, [0, 3], [-1e-9]),
        (Bound(0, 1), [0, 1, 0.5], [-0.1, 1.1]),
        (Bound(0, 1, low_open=True, high_open=True), [0.5], [0, 1]),
        (Bound(high=4), [-100, 4], [4.5]),
        (Bound(high=4, high_open=True), [3.9], [4]),
    ],
)
def test_bound_holds(bound, inside, outside):
    assert all(bound.holds(x) for x in inside)
    assert not any(bound.holds(x) for x in outside)


@pytest.mark.parametrize(
    "bound, text",
    [
        (POSITIVE, "a positive integer"),
        (NON_NEGATIVE, "a non-negative integer"),
        (Bound(1), "an integer >= 1 px"),
        (Bound(1, low_open=True), "an integer > 1 px"),
        (Bound(high=9), "an integer <= 9 px"),
        (Bound(1, 8), "an integer in 1..8 px"),
        (Bound(0, 1, low_open=True, high_open=True), "an integer strictly between 0 and 1 px"),
        (Bound(0.0, 10.0, low_open=True), "an integer in (0.0, 10.0] px"),
        (Bound(0, 45, high_open=True), "an integer in [0, 45) px"),
    ],
)
def test_bound_describe(bound, text):
    assert bound.describe("an integer", "px") == text


# --- types and coercion -------------------------------------------------------------------------


def test_defaults_are_valid_and_json_spellings_are_coerced():
    toy = Toy(size=8.0, rate=0, flag=1, span=3, names="b", hi=5)
    assert toy.size == 8 and type(toy.size) is int
    assert toy.rate == 0.0 and type(toy.rate) is float
    assert toy.flag is True
    assert toy.span == (3.0, 3.0)
    assert toy.names == ("b",)
    assert Toy(names=["a", "b"]).names == ("a", "b")
    assert Toy(span=[1, 2]) == Toy()  # coerced values compare (and hash) equal
    assert hash(Toy(span=[1, 2])) == hash(Toy())


@pytest.mark.parametrize(
    "changes, text",
    [
        ({"size": "8"}, "toy.size: expected an integer, got str '8'"),
        ({"size": 2.5}, "toy.size: expected an integer, got 2.5"),
        ({"size": True}, "toy.size: expected an integer, got bool True"),
        ({"rate": "x"}, "toy.rate: expected a number, got str 'x'"),
        ({"rate": float("inf")}, "toy.rate: expected a rate in [0, 1), got inf"),
        ({"lo": float("nan")}, "toy.lo: expected a non-negative number, got nan"),
        ({"hi": float("inf")}, "toy.hi: expected a finite number, got inf"),  # no bounds of its own
        ({"flag": 2}, "toy.flag: expected 0/1 or true/false, got 2"),
        ({"mode": 3}, "toy.mode: expected a string, got int 3"),
        ({"span": [1, 2, 3]}, "toy.span: expected a number or a [min, max] pair, got [1, 2, 3]"),
        ({"span": [3, 2]}, "toy.span: min > max in range [3.0, 2.0]"),
        ({"names": ["a", ""]}, "toy.names: expected a list of non-empty strings"),
        ({"note": 5}, "toy.note: expected a string, got int 5"),
        ({"inner": {"x": 1}}, "toy.inner: expected an Inner, got dict"),
        ({"maybe": 3}, "toy.maybe: expected an Inner, got int"),
    ],
)
def test_wrong_types_name_the_field(changes, text):
    assert text in _message(**changes)


def test_optional_fields_accept_none_and_their_type():
    assert Toy(note=None, maybe=None).note is None
    assert Toy(note="n", maybe=Inner(1)).maybe == Inner(1)
    with pytest.raises(ToyError, match="toy.size"):
        Toy(size=None)  # not optional


# --- choices ------------------------------------------------------------------------------------


def test_choices_with_a_suggestion():
    assert _message(mode="fsat") == "toy.mode: unknown value 'fsat' (choose one of fast, slow); did you mean 'fast'?"
    assert _message(mode="zzz") == "toy.mode: unknown value 'zzz' (choose one of fast, slow)"
    assert _message(names=("a", "c")).startswith("toy.names: unknown value 'c' (choose one of a, b)")


def test_unknown_choice_message():
    assert unknown_choice("quik", ["quick", "slow"], "preset") == (
        "unknown preset 'quik' (choose one of quick, slow); did you mean 'quick'?"
    )


# --- bounds -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, text",
    [
        ({"size": 0}, "toy.size: expected a positive integer, got 0"),  # the first bound speaks first
        ({"size": 1}, "toy.size: expected an integer in 2..64 pixels, got 1"),
        ({"size": 65}, "toy.size: expected an integer in 2..64 pixels, got 65"),
        ({"limit": -1}, "toy.limit: expected a non-negative integer, got -1"),
        ({"rate": 1}, "toy.rate: expected a rate in [0, 1), got 1"),  # the value as given
        ({"share": 101}, "toy.share: expected a percentage in 0..100, got 101"),
        ({"share": -0.5}, "toy.share: expected a percentage in 0..100, got -0.5"),
        ({"span": 0}, "toy.span: expected a range in (0, 10], got 0"),
        ({"span": [1, 11]}, "toy.span: expected a range in (0, 10], got [1, 11]"),
    ],
)
def test_bounds(changes, text):
    assert _message(**changes) == text


@pytest.mark.parametrize("changes", [{"size": 2}, {"size": 64}, {"rate": 0}, {"share": 0}, {"share": 48}, {"span": 10}])
def test_values_on_closed_ends_are_accepted(changes):
    Toy(**changes)


# --- cross-field checks -------------------------------------------------------------------------


def test_not_below_pairs():
    assert _message(lo=3, hi=2) == "toy.lo > toy.hi: 3.0 > 2.0"
    assert Toy(lo=2, hi=2).hi == 2.0
    assert _message(share=49) == "toy.top: must exceed toy.share by at least 2 (percent), got 49.0..50.0"
    assert Toy(share=48).top == 50.0


def test_rules_run_after_every_field_is_valid():
    assert _message(size=10, limit=8) == "toy.size: 10 does not fit 8"
    assert _message(size=10, limit=-1).startswith("toy.limit: expected")  # field checks come first


def test_replace_revalidates():
    toy = Toy()
    with pytest.raises(ToyError, match="toy.size"):
        dataclasses.replace(toy, size=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        toy.size = 3  # type: ignore[misc]


def test_metadata_keeps_doc_and_extra_keys():
    meta = {f.name: f.metadata for f in dataclasses.fields(Toy)}
    assert meta["size"]["doc"] == "a size"
    assert dict(param(1, "d", marker=True).metadata)["marker"] is True


# --- unknown keys -------------------------------------------------------------------------------


def test_check_keys():
    check_keys(["size", "rate"], Toy, ToyError)
    with pytest.raises(ToyError, match=r"^unknown key 'sise'; did you mean 'size'\?$"):
        check_keys(["size", "sise"], Toy, ToyError)
    with pytest.raises(ToyError, match=r"^unknown key 'SIZE'; did you mean 'size'\?$"):
        check_keys(["SIZE"], Toy, ToyError)  # case-insensitive fallback
    with pytest.raises(ToyError, match=r"^unknown option 'toy.rat'; did you mean 'toy.rate'\?$"):
        check_keys({"rat": 1}, Toy, ToyError, noun="option", prefix="toy.")
    with pytest.raises(ToyError, match=r"^unknown key 'zzz'$"):
        check_keys(["zzz"], ["a", "b"], ToyError)


# --- intervals and long values ------------------------------------------------------------------


@pytest.mark.parametrize(
    "bounds, expected",
    [
        ((), Bound()),
        ((POSITIVE, Bound(2, 64)), Bound(2, 64)),
        ((POSITIVE, Bound(0, 5)), Bound(0, 5, low_open=True)),
        ((Bound(0, 10), Bound(high=10, high_open=True)), Bound(0, 10, high_open=True)),
    ],
)
def test_interval_intersects_bounds(bounds, expected):
    assert interval(bounds) == expected


def test_long_values_are_cut_in_messages():
    message = _message(mode="x" * 1_000_000)
    assert message.startswith("toy.mode: unknown value 'xxx") and "... (1,000,000 characters)" in message
    assert len(message) < 200
    assert len(_message(note=list(range(10**5)))) < 200
    huge = "toy.size: expected an integer in 2..64 pixels, got an integer of about 5,001 digits"
    assert _message(size=10**5000) == huge
    with pytest.raises(ToyError) as info:
        check_keys(["k" * 1_000_000], Toy, ToyError)
    assert len(str(info.value)) < 200
