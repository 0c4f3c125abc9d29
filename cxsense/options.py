"""Per-modality options: small frozen objects, checked once when they are made.

:func:`cxsense.assess` takes explicit keyword arguments and turns them into one options object per
modality given; encoders receive that object with the cleaned input (``Encoder.encode(x, options)``) and
never parse options themselves. :func:`cxsense.encoders.get_encoder` keys its shared instances on
:meth:`encoder_key`, the part of the options that changes which weights are loaded.

>>> from cxsense.options import FaceOptions
>>> FaceOptions(model="small").encoder_key()
(('model', 'small'), ('early_exit', 'auto'), ('precision', 'auto'))
>>> FaceOptions(early_exit=2.0)  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
cxsense.errors.InputError: The 'face_early_exit' parameter must be 'auto', None or a threshold in (0, 1]. ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Iterator, Literal, Union

import numpy as np

from .errors import InputError

__all__ = ["FaceOptions", "VoiceOptions", "PhysioOptions", "OPTIONS", "FACE_MODELS", "early_exit_from_text"]

class _Aliases(Mapping):
    """The user-facing choices of one modality (``"base"`` -> ``"face-expression"``), read from the ``aliases``
    of ``models/registry.json`` (``"face:base"``) on first use, so that importing cxsense reads no file."""

    def __init__(self, modality: str):
        self._prefix = modality + ":"
        self._names: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._names is None:
            from .registry import aliases

            self._names = {k[len(self._prefix):]: v for k, v in aliases().items() if k.startswith(self._prefix)}
        return self._names

    def __getitem__(self, key: str) -> str:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return repr(self._load())


#: ``face_model`` names -> registry names of the expression model (``{"base": "face-expression", "small":
#: "face-expression-small"}``, from the registry's ``aliases``).
FACE_MODELS: Mapping[str, str] = _Aliases("face")

EarlyExit = Union[float, Literal["auto"], None]
#: ``face_cues`` values: the face mesh with the iris network, the same after a second mesh pass (small faces), the mesh
#: alone, or no mesh.
CUE_MODES = ("full", "refined", "fast", "off")


def _check_early_exit(value: Any, parameter: str = "face_early_exit") -> EarlyExit:
    allowed = "'auto', None or a threshold in (0, 1]"
    if value is None or value is False:
        return None
    if isinstance(value, str):
        if value == "auto":
            return "auto"
        raise InputError(parameter, allowed, repr(value))
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise InputError(parameter, allowed, repr(value))
    threshold = float(value)
    if not 0.0 < threshold <= 1.0:  # also refuses NaN
        raise InputError(parameter, allowed, repr(value))
    return threshold


def early_exit_from_text(text: str) -> EarlyExit | str:
    """``"auto"``, ``"off"`` or a number as typed on a command line -> the value it means (other text is
    returned unchanged for :class:`FaceOptions` to refuse with its message)."""
    if text in ("auto", "off"):
        return {"auto": "auto", "off": None}[text]
    try:
        return float(text)
    except ValueError:
        return text


class _Options:
    """Shared behaviour: ``encoder_key`` and a readable ``replace``."""

    #: fields that change which weights an encoder loads (the shared-instance key)
    _instance_fields: tuple[str, ...] = ()

    def encoder_key(self) -> tuple:
        """The part of the options that selects an encoder instance (hashable)."""
        return tuple((f, getattr(self, f)) for f in self._instance_fields)

    def replace(self, **changes):
        """A copy with ``changes`` applied (checked again)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        values.update(changes)
        return type(self)(**values)


@dataclass(frozen=True)
class FaceOptions(_Options):
    """Options of the face encoder.

    Parameters
    ----------
    model : {"base", "small"}
        ``"base"``: two networks and a stage-1 network with early exit (the most accurate); ``"small"``:
        one network, always one pass.
    early_exit : "auto", float in (0, 1] or None
        Base only: the stage-1 network answers alone when its top probability reaches the threshold;
        ``"auto"`` takes the model file's threshold (0.65 for base v1.4.0); ``None`` sends every face through
        the whole model.
    detect : bool
        ``True``: detect faces and assess the largest; ``False``: the whole image is one face crop.
    precision : {"auto", "int8", "bf16", "fp32"}
        The network's arithmetic (see :class:`~cxsense.encoders.face.encoder.FaceEncoder`); ``"auto"`` picks the
        fastest this CPU runs with the same dev accuracy.
    cues : {"full", "refined", "fast", "off"}
        The face mesh (docs/cues.md): it confirms that a detection is a face (detections it does not confirm get
        quality 0) and gives ``Assessment.cues``. ``"full"`` also runs the iris network (gaze and eye openness that
        follow the eyes, and the upper lids' raise in ``brow_raise``; about 10 ms per face), ``"fast"`` reads the
        eyes from the mesh alone (about 4 ms; eyes that close are barely seen, ``brow_raise`` reads the brows
        alone), ``"off"`` runs no mesh: no cues and no confirmation. ``"refined"`` is ``"full"`` with a second mesh
        pass on the crop the first pass's points give (MediaPipe's video crop; about 1.3 ms more per face): steadier
        lips and brows on faces the camera sees small (docs/cues.md, "Refined").
    """

    model: str = "base"
    early_exit: EarlyExit = "auto"
    detect: bool = True
    precision: str = "auto"
    cues: str = "full"
    _instance_fields = ("model", "early_exit", "precision")

    def __post_init__(self):
        if not isinstance(self.model, str) or self.model not in FACE_MODELS:
            raise InputError("face_model", "one of " + ", ".join(map(repr, FACE_MODELS)), repr(self.model))
        object.__setattr__(self, "early_exit", _check_early_exit(self.early_exit))
        if self.precision not in ("auto", "int8", "bf16", "fp32"):
            raise InputError("precision", "'auto', 'int8', 'bf16' or 'fp32'", repr(self.precision))
        if not isinstance(self.detect, (bool, np.bool_)):
            raise InputError("detect_face", "True or False", repr(self.detect))
        if self.cues not in CUE_MODES:
            raise InputError("face_cues", "one of " + ", ".join(map(repr, CUE_MODES)), repr(self.cues))
        object.__setattr__(self, "detect", bool(self.detect))


@dataclass(frozen=True)
class VoiceOptions(_Options):
    """Options of the voice encoder. None yet: the encoder picks the wideband or the telephone-band model
    from the audio itself. The class exists so that every modality has the same ``encode(x, options)``."""


_NAN_POLICIES = ("raise", "interpolate")


@dataclass(frozen=True)
class PhysioOptions(_Options):
    """Options of the physiology input and encoder.

    Parameters
    ----------
    sampling_rate : float, optional
        Hz of a pandas DataFrame given as ``physio`` (a mapping carries each channel's own rate).
    nan_policy : {"raise", "interpolate"}
        ``"raise"``: NaN samples are an :class:`~cxsense.InputError`; ``"interpolate"``: gaps up to 2 s are
        filled linearly (at most 10 % of a channel).
    """

    sampling_rate: float | None = None
    nan_policy: str = "raise"

    def __post_init__(self):
        sr = self.sampling_rate
        if sr is not None:
            if isinstance(sr, (bool, np.bool_)) or not isinstance(sr, (int, float, np.number)) \
                    or not math.isfinite(float(sr)) or float(sr) <= 0:
                raise InputError("sampling_rate", "a positive number of Hz, or None", repr(sr))
            object.__setattr__(self, "sampling_rate", float(sr))
        if self.nan_policy not in _NAN_POLICIES:
            raise InputError("nan_policy", "'raise' or 'interpolate'", repr(self.nan_policy))


#: modality -> its options class (a fourth modality adds one entry).
OPTIONS: dict[str, type] = {"face": FaceOptions, "voice": VoiceOptions, "physio": PhysioOptions}
