"""The one call for app developers: :func:`assess`; and :func:`assess_faces` for group scenes."""

from __future__ import annotations

from typing import Any

import numpy as np

from .assessment import Assessment
from .emotions import EMOTIONS
from .encoders import get_encoder
from .encoders.base import ModalityResult
from .errors import InputError
from .fusion import get_fusion

__all__ = ["assess", "assess_faces"]

_OPTIONS = {
    "sampling_rate": "physio: the sampling rate in Hz of a pandas DataFrame given as physio",
    "baseline": "physio: a resting recording of the same person, in any form physio accepts",
    "nan_policy": "physio: 'raise' (default: NaN samples are an InputError) or 'interpolate' (gaps up to 2 s)",
    "face_model": "face: 'base' (default, the most accurate) or 'small' (one network, always one pass: faster on hard faces)",
    "face_early_exit": "face, base model: 'auto' (default: what the model file says, 0.65 for base v1.4.0), None (off) or a "
                       "threshold in (0, 1]: the stage-1 network answers alone when it is at least this sure",
}


def _check_options(options: dict) -> None:
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise InputError("options", "one of " + ", ".join(sorted(_OPTIONS)), ", ".join(repr(u) for u in unknown))


def _normalise(face, voice, physio, detect_face, options) -> dict[str, Any]:
    """Every input form to its one clean form, before any model runs (bad input fails fast)."""
    if not isinstance(detect_face, (bool, np.bool_)):
        raise InputError("detect_face", "True or False", repr(detect_face))
    _check_options(options)
    if face is None and voice is None and physio is None:
        raise InputError("face, voice, physio", "at least one input", "none of the three")
    inputs: dict[str, Any] = {}
    for name in ("face_model", "face_early_exit"):
        if name in options and face is None:
            raise InputError("options", f"{name} only together with face", f"{name} without face")
    if face is not None:
        from .encoders.face.encoder import check_face_options

        check_face_options(options.get("face_model", "base"), options.get("face_early_exit", "auto"))
    if face is not None:
        from .inputs.image import load_image

        inputs["face"] = load_image(face, parameter="face")
    if voice is not None:
        from .inputs.audio import load_audio

        inputs["voice"] = load_audio(voice, parameter="voice")
    if physio is not None:
        from .inputs.physio import load_physio

        kw = {"sampling_rate": options.get("sampling_rate"), "nan_policy": options.get("nan_policy", "raise")}
        inputs["physio"] = load_physio(physio, parameter="physio", **kw)
        if options.get("baseline") is not None:
            options = dict(options, baseline=load_physio(options["baseline"], parameter="baseline", **kw))
    elif set(options) & {"sampling_rate", "baseline", "nan_policy"}:
        raise InputError("options", "sampling_rate, baseline and nan_policy only together with physio",
                         ", ".join(sorted(set(options) & {"sampling_rate", "baseline", "nan_policy"})))
    return inputs, options


def _encode(inputs: dict[str, Any], detect_face: bool, options: dict) -> dict[str, ModalityResult]:
    results: dict[str, ModalityResult] = {}
    for modality, x in inputs.items():
        enc = (get_encoder("face", model=options.get("face_model", "base"), early_exit=options.get("face_early_exit", "auto"))
               if modality == "face" else get_encoder(modality))
        if modality == "face":
            results[modality] = enc.encode(x, detect_face=bool(detect_face))
        elif modality == "physio":
            results[modality] = enc.encode(x, baseline=options.get("baseline"))
        else:
            results[modality] = enc.encode(x)
    return results


def _assessment(results: dict[str, ModalityResult]) -> Assessment:
    fused = get_fusion().fuse(results)
    p = np.asarray(fused.probabilities, dtype=np.float64)
    p = p / p.sum()
    top = p.max()
    tied = [i for i in range(len(EMOTIONS)) if top - p[i] < 1e-12]
    idx = EMOTIONS.index("neutral") if EMOTIONS.index("neutral") in tied else tied[0]
    return Assessment(
        emotion=EMOTIONS[idx],
        probabilities={e: float(v) for e, v in zip(EMOTIONS, p)},
        valence=fused.valence,
        arousal=fused.arousal,
        stress=fused.stress,
        confidence=fused.confidence,
        modalities=results,
        fusion=fused.info,
        incongruence=float(fused.info.get("incongruence", {}).get("score", 0.0)),
    )


def assess(face=None, voice=None, physio=None, *, detect_face: bool = True, **options) -> Assessment:
    """Estimate how a person appears to feel from any non-empty subset of face, voice and body signals.

    Parameters
    ----------
    face : str, os.PathLike, bytes or np.ndarray, optional
        An image file path, encoded image bytes, or a uint8 array ``(H, W)`` grey or ``(H, W, 3)`` **RGB**.
    voice : str, os.PathLike or tuple (samples, sampling_rate), optional
        An audio file path, or a 1-D float array in [-1, 1] (int16 accepted) with its rate in Hz.
    physio : mapping or pandas.DataFrame, optional
        Channel name -> ``(samples, sampling_rate)``; channels ``ecg``, ``ppg`` (``bvp``), ``eda`` (``gsr``),
        ``rsp``, ``temp``, ``acc`` (``(N, 3)``). One window, typically 30 to 120 s.
    detect_face : bool, default True
        Assess the largest detected face; ``False`` takes the whole image as one face crop.
    **options
        ``sampling_rate`` (Hz, for a DataFrame ``physio``), ``baseline`` (a resting physio recording of the
        same person), ``nan_policy`` (``"raise"`` or ``"interpolate"`` short NaN gaps in physio),
        ``face_model`` (``"base"``, default, or ``"small"``: one network, always one pass, 2.3 points less accurate on dev),
        ``face_early_exit`` (``"auto"``, default, ``None`` or a threshold in (0, 1]: base's stage-1 network answers
        alone when its top probability reaches the threshold, else the whole model runs; ``"auto"`` is 0.65 for
        base v1.4.0, ``None`` sends every face through the whole model; see
        :class:`~cxsense.encoders.face.encoder.FaceEncoder`).

    Returns
    -------
    Assessment

    Raises
    ------
    InputError
        Bad input; the message names the parameter, what is allowed and what was given.
    NoSignalError
        None of the modalities given carries a usable signal.
    ModelError
        A shipped model file is missing or corrupt.

    Examples
    --------
    >>> import cxsense
    >>> a = cxsense.assess(face="examples/face.jpg")         # doctest: +SKIP
    >>> a.emotion, round(a.confidence, 2), a.modalities["face"].quality  # doctest: +SKIP
    ('happiness', 0.93, 0.94)
    """
    inputs, options = _normalise(face, voice, physio, detect_face, options)
    return _assessment(_encode(inputs, detect_face, options))


def assess_faces(face, **options) -> list[Assessment]:
    """One :class:`Assessment` per detected face in an image, largest face first (group scenes).

    Each Assessment's ``modalities["face"].details`` holds the face's ``box`` ``[x, y, width, height]``
    in pixels, the detector ``score`` and ``keypoints``. Faces are not identified or tracked: the list
    order is by size. An image without a face gives an empty list.

    Parameters
    ----------
    face : str, os.PathLike, bytes or np.ndarray
        As for :func:`assess`.
    **options
        ``face_model`` and ``face_early_exit``, as for :func:`assess`; no other option.
    """
    _check_options(options)
    extra = sorted(set(options) - {"face_model", "face_early_exit"})
    if extra:
        raise InputError("options", "face_model or face_early_exit for assess_faces", ", ".join(map(repr, extra)))
    from .encoders.face.encoder import check_face_options
    from .inputs.image import load_image

    face_model, early_exit = options.get("face_model", "base"), options.get("face_early_exit", "auto")
    check_face_options(face_model, early_exit)
    image = load_image(face, parameter="face")
    out = []
    for r in get_encoder("face", model=face_model, early_exit=early_exit).encode_all(image):
        if r.quality > 0:
            out.append(_assessment({"face": r}))
    return out
