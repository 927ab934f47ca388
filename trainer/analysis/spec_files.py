"""The analyses' hand-written JSON inputs (senses.json, polarity.json, or a user's own): read
with every malformed file reported as one ValueError naming the file, which the probe command
turns into its one-line ``error:`` (a bad key would otherwise surface as a traceback)."""

from __future__ import annotations

import json


def read_spec(path: str, keys: tuple[str, ...]) -> dict:
    """The JSON object in ``path``; it must be valid JSON and hold every key in ``keys``."""
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: not a JSON object")
    missing = [k for k in keys if k not in spec]
    if missing:
        raise ValueError(f"{path}: lacks {', '.join(missing)}")
    return spec
