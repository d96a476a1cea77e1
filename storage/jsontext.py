"""JSON objects kept as text columns (conversation data, event and message payloads)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def encode_json_object(what: str, data: Mapping[str, Any]) -> str:
    """JSON text of ``data``; tuples come back as lists, and keys must be strings.

    Raises ``TypeError`` (or ``ValueError`` for NaN and infinities) for what JSON cannot hold.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"{what} must be a mapping, not {type(data).__name__}")
    if not all(isinstance(key, str) for key in data):
        raise TypeError(f"{what} keys must be strings")
    return json.dumps(dict(data), ensure_ascii=False, sort_keys=True, allow_nan=False)


def decode_json_object(what: str, text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{what} is not a JSON object")
    return data
