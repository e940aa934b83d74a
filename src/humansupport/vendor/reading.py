"""Reading vendor JSON: one behaviour for every plugin, so an odd value reads the same everywhere.

Each `as_*` takes whatever a JSON field held (or None when it was missing) and returns the wanted type or None;
none raises. Booleans are never numbers or text (`True` is not the id "1"); numbers that are whole (`3.0`) read
as integers and ids; NaN and infinities read as nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from humansupport.models import to_utc

__all__ = ["as_bool", "as_dict", "as_float", "as_id", "as_int", "as_list", "as_str", "as_strings", "as_time"]


def _whole(value: Any) -> int | None:
    """An int, or a float that is a whole finite number, as an int; anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def as_str(value: Any) -> str | None:
    """Text: a non-empty string as it is, a whole number as its digits (ids sent as numbers); else None."""
    if isinstance(value, str):
        return value or None
    whole = _whole(value)
    return str(whole) if whole is not None else None


def as_id(value: Any) -> str | None:
    """An id: like `as_str`, stripped, and 0 / "0" read as "none" (how several vendors say unassigned)."""
    text = as_str(value)
    if text is None:
        return None
    text = text.strip()
    return None if text in ("", "0") else text


def as_int(value: Any) -> int | None:
    """An integer: a whole number, or a string of digits with an optional sign; else None."""
    whole = _whole(value)
    if whole is not None:
        return whole
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit() and text.count("-") + text.count("+") <= 1:
            return int(text)
    return None


def as_float(value: Any) -> float | None:
    """A finite number, or a string holding one; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_bool(value: Any) -> bool | None:
    """A JSON boolean; anything else (strings, 0/1) None: a vendor that sends "false" is not guessed at."""
    return value if isinstance(value, bool) else None


def as_time(value: Any) -> datetime | None:
    """A timezone-aware UTC time from ISO 8601 text (`Z` or an offset; naive means UTC) or epoch seconds."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        return to_utc(value)
    except (ValueError, TypeError, OverflowError, OSError):
        return None


def as_list(value: Any) -> list[Any]:
    """A JSON array as a list; anything else an empty list."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON object as a dict; anything else an empty dict."""
    return dict(value) if isinstance(value, Mapping) else {}


def as_strings(value: Any) -> list[str]:
    """The non-empty strings of a JSON array (tags, event names); anything else an empty list."""
    return [item for item in as_list(value) if isinstance(item, str) and item]
