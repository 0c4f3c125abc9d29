"""The one call for app developers, :func:`assess`; :func:`assess_faces` for group scenes; :func:`warm_up`.

Every call runs the same stages: the keyword arguments become one options object per modality
(:mod:`cxsense.options`, checked once), every input becomes its one clean form (:mod:`cxsense.inputs`, bad input
fails here, before any model runs), each encoder reads its clean input (:func:`cxsense.encoders.get_encoder`),
and :func:`cxsense.fusion.fuse` makes the :class:`~cxsense.Assessment`.
"""

from __future__ import annotations

from typing import Any

from .assessment import Assessment
from .encoders import get_encoder
from .encoders.base import ModalityResult
from .errors import InputError
from .fusion import fuse
from .options import EarlyExit, FaceOptions, PhysioOptions, VoiceOptions

__all__ = ["assess", "assess_faces", "warm_up", "encode_inputs"]


def refuse_unknown(unknown: dict, allowed: list[str]) -> None:
    """An :class:`InputError` naming unexpected keyword arguments (so a typo is not silently ignored)."""
    if unknown:
        raise InputError(", ".join(sorted(unknown)), "one of the keyword arguments " + ", ".join(allowed),
                         "an unknown keyword argument")


def _clean_list(value, loader, parameter: str) -> list | None:
    """A baseline given as one input or a list of them, each cleaned by ``loader`` (errors name the item)."""
    if value is None:
        return None
    many = isinstance(value, list)
    items = value if many else [value]
    if not items:
        raise InputError(parameter, "one input or a non-empty list of inputs", "an empty list")
    return [loader(v, parameter=f"{parameter}[{i}]" if many else parameter) for i, v in enumerate(items)]


def _prepare(face, voice, physio, face_opts: FaceOptions, physio_opts: PhysioOptions,
             baselines: dict) -> dict[str, tuple[Any, Any, Any]]:
    """modality -> (clean input, options, clean baseline or None); bad input fails here, before any model."""
    if face is None and voice is None and physio is None:
        raise InputError("face, voice, physio", "at least one input", "none of the three")
    items: dict[str, tuple[Any, Any, Any]] = {}
    if face is not None:
        from .inputs.image import load_image

        items["face"] = (load_image(face, parameter="face"), face_opts,
                         _clean_list(baselines.get("face"), load_image, "face_baseline"))
    if voice is not None:
        from .inputs.audio import load_audio

        items["voice"] = (load_audio(voice, parameter="voice"), VoiceOptions(),
                          _clean_list(baselines.get("voice"), load_audio, "voice_baseline"))
    if physio is not None:
        from .inputs.physio import load_physio

        kw = {"sampling_rate": physio_opts.sampling_rate, "nan_policy": physio_opts.nan_policy}
        base = baselines.get("physio")
        base = None if base is None else load_physio(base, parameter="physio_baseline", **kw)
        items["physio"] = (load_physio(physio, parameter="physio", **kw), physio_opts, base)
    return items


def encode_inputs(items: dict[str, tuple[Any, Any, Any]]) -> dict[str, ModalityResult]:
    """Each modality's :class:`ModalityResult` from ``{modality: (clean input, options, clean baseline)}``.

    A baseline is read once here (``Encoder.prepare_baseline``) and used for this call only.
    """
    results: dict[str, ModalityResult] = {}
    for modality, (x, options, baseline) in items.items():
        enc = get_encoder(modality, options)
        prepared = None if baseline is None else enc.prepare_baseline(baseline, options)
        results[modality] = enc.encode(x, options, baseline=prepared)
    return results


def _without_modality(given: dict[str, bool], modality: str) -> None:
    extra = [name for name, is_set in given.items() if is_set]
    if extra:
        raise InputError(", ".join(extra), f"used only together with {modality}", f"{modality}=None")


def assess(face=None, voice=None, physio=None, *, detect_face: bool = True, face_model: str = "base",
           face_early_exit: EarlyExit = "auto", face_cues: str = "full", sampling_rate: float | None = None,
           nan_policy: str = "raise", face_baseline=None, voice_baseline=None, physio_baseline=None, baseline=None,
           **unknown) -> Assessment:
    """Estimate how a person appears to feel from any non-empty subset of face, voice and body signals.

    Parameters
    ----------
    face : str, os.PathLike, bytes or np.ndarray, optional
        An image file path, encoded image bytes, or a uint8 array ``(H, W)`` grey or ``(H, W, 3)`` **RGB**.
    voice : str, os.PathLike or tuple (samples, sampling_rate), optional
        An audio file path, or a 1-D float array in [-1, 1] (int16 accepted) with its rate in Hz.
    physio : mapping or pandas.DataFrame, optional
        Channel name -> ``(samples, sampling_rate)``; channels ``ecg``, ``ppg`` (``bvp``), ``eda`` (``gsr``),
        ``rsp``, ``temp``, ``acc`` (``(N, 3)``). One window, 30 to 120 s (the model was trained on 60 s).
    detect_face : bool, default True
        Assess the largest detected face; ``False`` takes the whole image as one face crop.
    face_model : {"base", "small"}, default "base"
        ``"small"``: one network, always one pass (2.3 points less accurate on dev, faster on hard faces).
    face_early_exit : "auto", float in (0, 1] or None, default "auto"
        Base's stage-1 network answers alone when its top probability reaches the threshold, else the whole
        model runs; ``"auto"`` is the model file's threshold (0.65 for base v1.4.0), ``None`` sends every face
        through the whole model.
    face_cues : {"full", "refined", "fast", "off"}, default "full"
        The face mesh: it confirms a detection is a face and gives ``Assessment.cues`` (head pose, mouth, smile,
        brows, eyes, gaze; docs/cues.md). ``"fast"`` skips the iris network (eyes less reliable), ``"off"`` runs no
        mesh (no cues, no confirmation); ``"refined"`` adds a second mesh pass
        (about 1.3 ms per face) that steadies the mouth and brows of small faces.
    sampling_rate : float, optional
        Hz of a pandas DataFrame given as ``physio``.
    nan_policy : {"raise", "interpolate"}, default "raise"
        Physio NaN samples: an error, or gaps up to 2 s filled linearly.
    face_baseline : one image in any form ``face`` accepts, or a list of them, optional
        The same person with a neutral expression: their resting offset is removed from the face's probabilities
        (docs/face.md, "Neutral baseline"; measured only on proxies: FER-2013 has no person ids).
    voice_baseline : one recording in any form ``voice`` accepts, or a list of them, optional
        The same speaker, neutral or everyday speech (a few takes): a small head reads the take against the
        speaker's own statistics (docs/voice.md, "Speaker baseline": +1.6 to +3.4 points across the 18 training
        actors, none on the 2 dev actors).
    physio_baseline : same forms as ``physio``, optional
        A resting recording of the same person (1-5 min): the stress model then also reads each feature's
        change from it. ``baseline=`` is its older name.

        Every baseline is read once per call and dropped; nothing of it is kept, and no identity is computed.
        A baseline without its modality, or one in which no face or speech is found, is an ``InputError`` naming it.

    Returns
    -------
    Assessment

    Raises
    ------
    InputError
        Bad input or options; the message names the parameter, what is allowed and what was given.
    NoSignalError
        None of the modalities given carries a usable signal.
    ModelError
        A shipped model file is missing or corrupt.

    Examples
    --------
    >>> import cxsense
    >>> a = cxsense.assess(face="examples/astronaut.jpg")   # doctest: +SKIP
    >>> a.emotion, round(a.confidence, 2)                     # doctest: +SKIP
    ('happiness', 0.9)
    """
    refuse_unknown(unknown, ["detect_face", "face_model", "face_early_exit", "face_cues", "sampling_rate",
                             "nan_policy", "face_baseline", "voice_baseline", "physio_baseline", "baseline"])
    if baseline is not None and physio_baseline is not None:
        raise InputError("baseline", "not together with physio_baseline (baseline is its older name)", "both")
    physio_baseline = baseline if physio_baseline is None else physio_baseline
    face_opts = FaceOptions(model=face_model, early_exit=face_early_exit, detect=detect_face, cues=face_cues)
    physio_opts = PhysioOptions(sampling_rate=sampling_rate, nan_policy=nan_policy)
    if face is None:
        _without_modality({"face_model": face_model != "base", "face_early_exit": face_early_exit != "auto",
                           "face_cues": face_cues != "full", "face_baseline": face_baseline is not None}, "face")
    if voice is None:
        _without_modality({"voice_baseline": voice_baseline is not None}, "voice")
    if physio is None:
        _without_modality({"sampling_rate": sampling_rate is not None, "nan_policy": nan_policy != "raise",
                           "physio_baseline": physio_baseline is not None}, "physio")
    baselines = {"face": face_baseline, "voice": voice_baseline, "physio": physio_baseline}
    return fuse(encode_inputs(_prepare(face, voice, physio, face_opts, physio_opts, baselines)))


def assess_faces(face, *, face_model: str = "base", face_early_exit: EarlyExit = "auto", face_cues: str = "full",
                 **unknown) -> list[Assessment]:
    """One :class:`Assessment` per detected face in an image, largest face first (group scenes).

    Each Assessment's ``modalities["face"].details`` holds the face's ``box`` ``[x, y, width, height]`` in
    pixels, the detector ``score`` and ``keypoints``. Faces are not identified or tracked: the order is by size.

    Parameters
    ----------
    face : str, os.PathLike, bytes or np.ndarray
        As for :func:`assess`.
    face_model, face_early_exit, face_cues
        As for :func:`assess`; each face gets its own cues.

    Returns
    -------
    list of Assessment; empty when the image holds no usable face.
    """
    refuse_unknown(unknown, ["face_model", "face_early_exit", "face_cues"])
    from .inputs.image import load_image

    options = FaceOptions(model=face_model, early_exit=face_early_exit, cues=face_cues)
    image = load_image(face, parameter="face")
    return [fuse({"face": r}) for r in get_encoder("face", options).encode_all(image, options=options) if r.quality > 0]


def warm_up(*modalities: str, face_model: str = "base", face_early_exit: EarlyExit = "auto") -> None:
    """Load the encoders of ``modalities`` (default: face and voice) and pay their one-time costs now.

    Models load lazily on first use; the voice encoder's creation compiles librosa's numba code (1-2 s, 15-25 s
    on a fresh install). Call this before a live stream so that the first assessment does not stall.

    Parameters
    ----------
    *modalities : {"face", "voice", "physio"}
    face_model, face_early_exit
        The face options to warm up (as for :func:`assess`).
    """
    from .options import OPTIONS

    for m in modalities or ("face", "voice"):
        if m not in OPTIONS:
            raise InputError("modalities", "'face', 'voice' or 'physio'", repr(m))
        opts = FaceOptions(model=face_model, early_exit=face_early_exit) if m == "face" else OPTIONS[m]()
        get_encoder(m, opts).warm_up()
