"""What may be stored or sent as JSON: metadata and context values are filtered through here before they reach
the store's JSON columns, the result cache or another machine's wire format, so a stray object (a PIL image, a
threading.Event, a callback) is dropped instead of failing the whole write."""

from __future__ import annotations

import json


def jsonable(value) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def jsonable_only(values: dict | None) -> dict:
    """The entries of `values` whose value serialises to JSON."""
    return {key: value for key, value in (values or {}).items() if jsonable(value)}
