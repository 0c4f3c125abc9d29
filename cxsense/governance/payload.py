"""What may enter the result store: pseudonymous ids and JSON results (no media, no raw signals, no NaN)."""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

from ..errors import InputError

__all__ = ["MAX_PAYLOAD", "MAX_NUMBERS", "check_id", "clean", "payload"]

_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
MAX_PAYLOAD = 16 * 1024 * 1024  # bytes of JSON
MAX_NUMBERS = 4096  # a longer run of numbers (outside "embedding") looks like a raw signal


def check_id(value, parameter: str) -> str:
    """A session or person id as a string; an int >= 0 is accepted. Anything else is an InputError."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not _ID.match(value):
        raise InputError(parameter, "a pseudonymous id of 1-128 letters, digits or _ . : - (or an int >= 0)",
                         repr(value)[:200])
    return value


def clean(x, keep_embeddings: bool, path: str = "payload"):
    """JSON types only (no NaN), embeddings removed unless kept, no long runs of numbers (raw signals)."""
    if isinstance(x, Mapping):
        out = {}
        for k, v in x.items():
            if not isinstance(k, str):
                raise InputError(path, "a mapping with string keys", f"key {k!r}")
            if k == "embedding" and not keep_embeddings:
                continue
            out[k] = clean(v, keep_embeddings, f"{path}.{k}") if k != "embedding" else _numbers(v, f"{path}.{k}")
        return out
    if isinstance(x, (list, tuple)):
        if len(x) > MAX_NUMBERS and all(isinstance(v, (int, float)) for v in x[:MAX_NUMBERS + 1]):
            raise InputError(path, f"results, not raw signals: at most {MAX_NUMBERS} numbers in a list",
                             f"a list of {len(x)} numbers")
        return [clean(v, keep_embeddings, f"{path}[{i}]") for i, v in enumerate(x)]
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            raise InputError(path, "finite numbers", repr(x))
        return x
    if hasattr(x, "item") and getattr(x, "shape", None) == ():  # numpy scalar
        return clean(x.item(), keep_embeddings, path)
    raise InputError(path, "JSON values only (dict, list, str, number, bool, None): no arrays, bytes or media",
                     type(x).__name__)


def _numbers(v, path: str) -> list:
    if hasattr(v, "tolist"):
        v = v.tolist()
    if not isinstance(v, (list, tuple)) or not all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in v):
        raise InputError(path, "a list of finite numbers", type(v).__name__)
    return [float(a) for a in v]


def payload(result) -> tuple[str, Any]:
    """(kind, JSON-able value) of an Assessment, a dict, or a timeline (a sequence of those)."""
    if hasattr(result, "to_dict") and callable(result.to_dict):
        return "assessment", result.to_dict()
    if isinstance(result, Mapping):
        return "result", dict(result)
    if isinstance(result, (list, tuple)) and all(isinstance(r, Mapping) or hasattr(r, "to_dict") for r in result):
        return "timeline", [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in result]
    raise InputError("result", "an Assessment, a dict, or a timeline (a list of Assessments or dicts)",
                     type(result).__name__)
