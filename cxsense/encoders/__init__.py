"""The modality encoders, each behind the same :class:`~cxsense.encoders.base.Encoder` interface.

``ENCODERS`` maps a modality name to the import path of its encoder class; encoders load lazily
(on first use) and are shared, since they keep no state between calls.
"""

from __future__ import annotations

import importlib
import threading

from .base import Encoder, ModalityResult

__all__ = ["ENCODERS", "get_encoder", "Encoder", "ModalityResult"]

#: modality -> "module:Class". A fourth modality fills one more slot here.
ENCODERS: dict[str, str] = {
    "face": "cxsense.encoders.face.encoder:FaceEncoder",
    "voice": "cxsense.encoders.voice.encoder:VoiceEncoder",
    "physio": "cxsense.encoders.physio.encoder:PhysioEncoder",
}

_instances: dict[tuple, Encoder] = {}
_lock = threading.Lock()


def get_encoder(modality: str, **config) -> Encoder:
    """The shared encoder instance of a modality (and configuration, e.g. ``model="small"`` for the face),
    created (and its weights checked) on first use."""
    key = (modality, tuple(sorted(config.items())))
    with _lock:
        enc = _instances.get(key)
        if enc is None:
            module, cls = ENCODERS[modality].split(":")
            enc = getattr(importlib.import_module(module), cls)(**config)
            _instances[key] = enc
        return enc
