"""The exceptions cxsense raises on purpose. All derive from :class:`CxsenseError`."""

from __future__ import annotations

__all__ = ["CxsenseError", "InputError", "NoSignalError", "ModelError", "NotAvailableError", "PolicyError"]


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
