"""The modality encoders, each behind the same :class:`~cxsense.encoders.base.Encoder` interface.

``ENCODERS`` maps a modality name to the import path of its encoder class; :func:`get_encoder` returns the
shared instance for a modality and its options, created (and its weights checked) on first use. Encoders keep
no state between calls, so one instance serves every caller and thread.
"""

from __future__ import annotations

import importlib
import threading

from ..options import OPTIONS
from .base import Encoder, ModalityResult

__all__ = ["ENCODERS", "get_encoder", "Encoder", "ModalityResult"]

#: modality -> "module:Class". A fourth modality fills one more slot here (and one in cxsense.options.OPTIONS).
ENCODERS: dict[str, str] = {
    "face": "cxsense.encoders.face.encoder:FaceEncoder",
    "voice": "cxsense.encoders.voice.encoder:VoiceEncoder",
    "physio": "cxsense.encoders.physio.encoder:PhysioEncoder",
}

_instances: dict[tuple, Encoder] = {}
_lock = threading.Lock()


def get_encoder(modality: str, options=None) -> Encoder:
    """The shared encoder of ``modality`` for ``options`` (its :mod:`cxsense.options` object; None: defaults).

    Only the options' ``encoder_key()`` fields (for the face: ``model`` and ``early_exit``) select the
    instance; per-call fields (``detect``) are read by :meth:`Encoder.encode`.

    Parameters
    ----------
    modality : {"face", "voice", "physio"}
    options : FaceOptions, VoiceOptions or PhysioOptions, optional

    Returns
    -------
    Encoder

    Raises
    ------
    InputError
        An unknown modality, or options of another modality.
    ModelError
        A weights file is missing or corrupt.
    """
    from ..errors import InputError

    if modality not in ENCODERS:
        raise InputError("modality", "one of " + ", ".join(map(repr, ENCODERS)), repr(modality))
    options = OPTIONS[modality]() if options is None else options
    if not isinstance(options, OPTIONS[modality]):
        raise InputError("options", f"a {OPTIONS[modality].__name__}", type(options).__name__)
    key = (modality, options.encoder_key())
    with _lock:
        enc = _instances.get(key)
        if enc is None:
            module, cls = ENCODERS[modality].split(":")
            enc = getattr(importlib.import_module(module), cls)(**dict(options.encoder_key()))
            _instances[key] = enc
        return enc
