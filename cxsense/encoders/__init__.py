"""The modality encoders, each behind the same :class:`~cxsense.encoders.base.Encoder` interface.

``ENCODERS`` maps a modality name to the import path of its encoder class; encoders load lazily
(on first use) and are shared, since they keep no state between calls.
"""

from __future__ import annotations

import functools
import importlib
import inspect
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
    klass, _ = _encoder_class(modality)
    key = _key(modality, config)
    with _lock:
        enc = _instances.get(key)
        if enc is None:
            enc = klass(**config)
            _instances[key] = enc
        return enc


_NO_DEFAULT = object()


def _key(modality: str, config: dict) -> tuple:
    """The shared-instance key of a modality and configuration. Settings equal to the class's defaults are
    dropped, so that ``get_encoder("face", model="base")`` and ``get_encoder("face")`` share one instance."""
    _, defaults = _encoder_class(modality)
    return (modality, tuple(sorted((k, v) for k, v in config.items() if defaults.get(k, _NO_DEFAULT) != v)))


@functools.lru_cache(maxsize=None)
def _encoder_class(modality: str):
    module, cls = ENCODERS[modality].split(":")
    klass = getattr(importlib.import_module(module), cls)
    return klass, {k: p.default for k, p in inspect.signature(klass).parameters.items()}
