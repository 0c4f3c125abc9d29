"""The exceptions cxsense raises on purpose. All derive from :class:`CxsenseError`."""

from __future__ import annotations

__all__ = ["CxsenseError", "InputError", "NoSignalError", "ModelError", "NotAvailableError", "PolicyError", "describe"]


class CxsenseError(Exception):
    """Root of every error that cxsense raises on purpose."""


class InputError(CxsenseError, ValueError):
    """Bad input: the message names the parameter, what is allowed and what was given.

    Also a :class:`ValueError`, so ``except ValueError`` keeps working.
    """

    def __init__(self, parameter: str, allowed: str, given: str):
        self.parameter = parameter
        self.allowed = allowed
        self.given = given
        super().__init__(f"The {parameter!r} parameter must be {allowed}. Got {given} instead.")


class NoSignalError(CxsenseError):
    """None of the modalities given carries a usable signal (every quality is 0)."""


class ModelError(CxsenseError):
    """A shipped model file is missing, corrupt (SHA-256 mismatch) or of an incompatible version."""


class NotAvailableError(CxsenseError):
    """A feature that this version of cxsense does not provide (yet)."""


class PolicyError(CxsenseError):
    """A usage policy that the law forbids or that is incomplete, e.g. emotion recognition at work or in
    education without a medical or safety exemption (EU AI Act Art. 5(1)(f)). The message names the rule."""


def describe(x) -> str:
    """A short, safe description of a value for an error message: its kind and size, never its repr (which can be
    huge, or an object address such as ``<_io.BytesIO object at 0x...>``)."""
    import os

    if isinstance(x, (str, os.PathLike)):
        return repr(os.fspath(x))[:200]
    if isinstance(x, (bytes, bytearray, memoryview)):
        return f"{type(x).__name__} of {len(x)} bytes"
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if shape is not None and dtype is not None:
        return f"an array of dtype {dtype} and shape {tuple(shape)}"
    if hasattr(x, "getbuffer") and hasattr(x, "read"):  # an in-memory file
        return f"a {type(x).__name__} of {len(x.getbuffer())} bytes (pass its bytes or a path)"
    if hasattr(x, "read"):
        return f"a file object ({type(x).__name__}; pass a path or bytes)"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of length {len(x)}"
    if isinstance(x, (int, float, bool)) or x is None:
        return repr(x)
    return f"a {type(x).__name__}"
