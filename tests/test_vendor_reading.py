"""humansupport.vendor's JSON readers: one behaviour for odd values, never an exception."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from humansupport.vendor import as_bool, as_dict, as_float, as_id, as_int, as_list, as_str, as_strings, as_time

ODD: list[Any] = [None, True, False, {}, [], {"a": 1}, [1], math.nan, math.inf, object()]


@pytest.mark.parametrize("value", ODD)
def test_odd_values_read_as_nothing(value: Any) -> None:
    for reader in (as_str, as_id, as_int, as_float, as_time):
        assert reader(value) is None, (reader.__name__, value)


@pytest.mark.parametrize(
    ("value", "text"),
    [("abc", "abc"), ("", None), (" x ", " x "), (42, "42"), (42.0, "42"), (4.5, None), (0, "0"), (-3, "-3")],
)
def test_as_str(value: Any, text: str | None) -> None:
    assert as_str(value) == text


@pytest.mark.parametrize(
    ("value", "found"), [(" 17 ", "17"), (17, "17"), (17.0, "17"), (0, None), ("0", None), ("", None), ("  ", None)]
)
def test_as_id_strips_and_reads_zero_as_none(value: Any, found: str | None) -> None:
    assert as_id(value) == found


@pytest.mark.parametrize(
    ("value", "number"),
    [(3, 3), (3.0, 3), (3.5, None), ("12", 12), (" -4 ", -4), ("+5", 5), ("1e3", None), ("--1", None), ("x", None)],
)
def test_as_int(value: Any, number: int | None) -> None:
    assert as_int(value) == number


def test_as_float_and_as_bool() -> None:
    assert as_float(2) == 2.0 and as_float("2.5") == 2.5 and as_float("nan") is None and as_float("x") is None
    assert as_bool(True) is True and as_bool(False) is False
    assert as_bool("true") is None and as_bool(1) is None and as_bool(None) is None


@pytest.mark.parametrize(
    ("value", "when"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T04:04:05+01:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),  # naive means UTC
        (1767323045, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("not a time", None),
        ("", None),
        (10**20, None),
    ],
)
def test_as_time(value: Any, when: datetime | None) -> None:
    assert as_time(value) == when


def test_containers() -> None:
    assert as_list([1, 2]) == [1, 2] and as_list({"a": 1}) == [] and as_list(None) == []
    assert as_dict({"a": 1}) == {"a": 1} and as_dict([1]) == {} and as_dict(None) == {}
    assert as_strings(["a", "", 3, None, "b"]) == ["a", "b"] and as_strings("ab") == []
