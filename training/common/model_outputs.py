"""What every shipped model computes on a fixed set of inputs, saved and compared bit for bit.

A metadata rewrite (a new schema, a migration of an older file) must not change any number the models compute
with. Run this before the rewrite (``--save``) and after it (``--compare``): every output array must be
byte-identical (same dtype, shape and bits; NaN where NaN was).

    python -m training.common.model_outputs --save training/runs/outputs_before.npz
    python -m training.common.model_outputs --compare training/runs/outputs_before.npz

The models are reached through the library as a user reaches them (:func:`cxsense.encoders.get_encoder`, the
fusion in use), with the registry's SHA-256 check. Inputs: the example portrait and FER-2013 dev crops (face,
base and small, each in float32 and int8, early exit on and off), synthetic and RAVDESS dev speech, wideband
and telephone band (voice, both models, and the speech/music decision), fixed feature rows (the speech/music
classifier), Stress-Predict windows with and without a baseline (physio: trees and
shape network), and fusion rows and results (late fusion). Data folders that are missing are skipped, and the
comparison then says so: the same inputs must be present on both sides.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SR = 16000


def _speech(seconds: float, f0=(120.0, 180.0), seed: int = 0) -> np.ndarray:
    """Vowel-like syllables with fricative bursts (16 kHz float32)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f = f0[0] + (f0[1] - f0[0]) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    ph = 2 * np.pi * np.cumsum(f) / SR
    y = sum(np.sin(k * ph) / k for k in range(1, 8))
    cycle = (t % 0.26) / 0.26
    y = y * np.where(cycle < 0.77, np.sin(np.pi * np.minimum(cycle / 0.77, 1.0)) ** 0.5, 0.0)
    hiss = np.where((cycle > 0.8) & (cycle < 0.95), 1.0, 0.0) * rng.standard_normal(len(t))
    from scipy.signal import butter, sosfilt

    hiss = sosfilt(butter(4, 4000, "high", fs=SR, output="sos"), hiss)
    y = 0.3 * y / np.max(np.abs(y)) + 0.05 * hiss + 1e-4 * rng.standard_normal(len(t))
    return y.astype(np.float32)


def _telephone(w: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, resample_poly, sosfiltfilt

    y = resample_poly(sosfiltfilt(butter(4, [300, 3400], "band", fs=SR, output="sos"), w), 1, 2)
    return np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)


def _data_root() -> Path | None:
    root = Path(os.environ.get("CXSENSE_DATA") or REPO.parent / "shared" / "data")
    return root if root.is_dir() else None


def _result_arrays(prefix: str, r, out: dict) -> None:
    out[f"{prefix}.embedding"] = np.asarray(r.embedding)
    out[f"{prefix}.scalars"] = np.array([np.nan if v is None else v
                                         for v in (r.quality, r.valence, r.arousal, r.stress)], np.float64)
    if r.probabilities is not None:
        out[f"{prefix}.probabilities"] = r.probability_vector()
    for k, v in sorted((r.details.get("scores") or {}).items()):
        out[f"{prefix}.score.{k}"] = np.float64(v)
    if "sound" in r.details:  # the speech/music/noise decision of the voice encoder
        out[f"{prefix}.sound"] = np.array([r.details["sound"][c] for c in ("speech", "music", "noise")], np.float64)


def _numbers(prefix: str, d, out: dict) -> None:
    """Every number in a nested dict/list (``details``, cues), keyed by its path."""
    if isinstance(d, Mapping):
        for k in sorted(d):
            _numbers(f"{prefix}.{k}", d[k], out)
    elif isinstance(d, (list, tuple)):
        for i, v in enumerate(d):
            _numbers(f"{prefix}.{i}", v, out)
    elif isinstance(d, (bool, np.bool_)):
        out[prefix] = np.array(bool(d))
    elif isinstance(d, (int, float, np.number)):
        out[prefix] = np.float64(d)


def mesh_outputs(out: dict, notes: list, image) -> None:
    """The face mesh, iris and canonical geometry (where this cxsense has them): the portrait's cues."""
    try:
        from cxsense.encoders.face.cues import canonical_geometry
    except ImportError:
        return
    import cxsense

    out["face.canonical_geometry"] = canonical_geometry()
    a = cxsense.assess(face=image)
    _numbers("face.portrait.assess.cues", getattr(a, "cues", None) or {}, out)
    _numbers("face.portrait.assess.details", a.modalities["face"].details, out)
    notes.append("face mesh and iris: the portrait's cues")


def face_outputs(out: dict, notes: list) -> dict:
    """Both face models in float32 and int8, early exit on and off, on crops and on the example portrait."""
    from cxsense.encoders import get_encoder
    from cxsense.inputs.image import load_image
    from cxsense.options import FaceOptions

    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (4, 48, 48), dtype=np.uint8)]
    root = _data_root()
    if root is not None and (root / "face" / "fer2013" / "fer2013_val_publictest.npz").is_file():
        with np.load(root / "face" / "fer2013" / "fer2013_val_publictest.npz") as z:
            crops.append(np.ascontiguousarray(z["images"][:: 300][:12]))
        notes.append("face: 12 FER-2013 PublicTest crops")
    crops = np.concatenate(crops)
    image = load_image(REPO / "examples" / "astronaut.jpg")
    results = {}
    for model in ("base", "small"):
        for precision in ("fp32", "int8"):
            for early_exit in ("auto", None):
                opts = FaceOptions(model=model, precision=precision, early_exit=early_exit)
                enc = get_encoder("face", opts)
                z, p, passes = enc.crops_embed(crops, return_passes=True)
                key = f"face.{model}.{precision}.{early_exit or 'off'}"
                out[key + ".z"], out[key + ".p"], out[key + ".passes"] = z, p, np.asarray(passes)
                r = enc.encode(image, opts)
                _result_arrays(key + ".portrait", r, out)
                out[key + ".portrait.box"] = np.asarray(r.details["box"], np.float64)
                results[key] = r
    mesh_outputs(out, notes, REPO / "examples" / "astronaut.jpg")
    return results["face.base.int8.auto"]


def voice_outputs(out: dict, notes: list):
    """Both voice models (wideband speech and the same speech through a telephone band)."""
    from cxsense.encoders import get_encoder
    from cxsense.inputs.audio import load_audio

    enc = get_encoder("voice")
    clips = [_speech(2.0, seed=0), _speech(6.5, f0=(180, 260), seed=1)]
    root = _data_root()
    if root is not None and (root / "voice" / "ravdess" / "labels.csv").is_file():
        import csv

        import soundfile as sf

        folder = root / "voice" / "ravdess"
        with open(folder / "labels.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["split"] == "dev"][::40]
        for r in rows:
            y, sr = sf.read(folder / r["file"], dtype="float64", always_2d=True)
            clips.append(y.mean(1).astype(np.float32))
        notes.append(f"voice: {len(rows)} RAVDESS dev files")
    first = None
    for i, w in enumerate(clips):
        for band, x in (("wide", (w, SR)), ("tel", (_telephone(w), 8000))):
            r = enc.encode(load_audio(x))
            _result_arrays(f"voice.{i}.{band}", r, out)
            first = first or r
    return first


def sound_outputs(out: dict, notes: list) -> None:
    """The speech/music/noise classifier on fixed feature rows (where this cxsense has one)."""
    try:
        from cxsense.encoders.voice.speech import N_FEATURES, SoundClassifier
    except ImportError:
        return
    sc = SoundClassifier()
    X = np.random.default_rng(4).normal(size=(16, N_FEATURES)) * 2
    out["sound.predict"], out["sound.threshold"] = sc.predict(X), np.float64(sc.threshold)
    notes.append("speech-music: 16 fixed feature rows")


def baseline_outputs(out: dict, notes: list) -> None:
    """The face neutral-baseline correction and the voice speaker-baseline head on fixed inputs (where this
    cxsense has them)."""
    try:
        from cxsense.encoders.face.baseline import FaceBaseline, NeutralCorrection
        from cxsense.encoders.voice.baseline import BaselineHead
    except ImportError:
        return
    rng = np.random.default_rng(5)
    corr = NeutralCorrection.load()
    p, rest = rng.dirichlet(np.ones(7), 8), rng.dirichlet(np.ones(7))
    out["baseline.face"] = corr.apply(p, FaceBaseline(rest, 2, 2))
    head = BaselineHead.load()
    out["baseline.voice"] = head.logits(rng.normal(size=(8, len(head.mean))))
    notes.append("baselines: fixed inputs")


def physio_outputs(out: dict, notes: list):
    """Stress-Predict windows (or synthetic signals) with and without a baseline."""
    from cxsense.encoders import get_encoder
    from cxsense.inputs.physio import load_physio

    enc = get_encoder("physio")
    root = _data_root()
    path = None if root is None else root / "physio" / "stress_predict" / "S01.npz"
    if path is not None and path.is_file():
        with np.load(path) as z:
            sig = {k: (z[k], float(z[f"{k}_fs"])) for k in ("bvp", "eda", "temp", "acc")}
        notes.append("physio: Stress-Predict S01")
    else:
        import neurokit2 as nk

        sig = {"bvp": (nk.ppg_simulate(duration=1800, sampling_rate=64, heart_rate=72, random_state=0), 64.0),
               "eda": (nk.eda_simulate(duration=1800, sampling_rate=4, scr_number=60, random_state=0) + 2, 4.0)}

    def cut(t0: float, seconds: float):
        return load_physio({k: (np.asarray(v)[int(t0 * fs):int((t0 + seconds) * fs)], fs) for k, (v, fs) in sig.items()})

    base = enc.prepare_baseline(cut(0, 180))
    first = None
    for t0 in (200.0, 900.0, 1500.0):
        for with_base in (False, True):
            r = enc.encode(cut(t0, 60), baseline=base if with_base else None)
            _result_arrays(f"physio.{int(t0)}.{'baseline' if with_base else 'window'}", r, out)
            first = first or r
    return first


def fusion_outputs(out: dict, face, voice, physio) -> None:
    """The late fusion on random rows and on the results above, alone and together."""
    from cxsense.fusion import fuse, get_fusion

    fusion = get_fusion()
    rng = np.random.default_rng(3)
    X = np.zeros((32, 16))
    for j0 in (0, 8):
        X[:, j0] = rng.random(32) * (rng.random(32) > 0.3)
        p = rng.dirichlet(np.ones(7), 32)
        X[:, j0 + 1:j0 + 8] = p
    out["fusion.rows"] = fusion.predict_rows(X)
    for name, results in {"fv": {"face": face, "voice": voice}, "fvp": {"face": face, "voice": voice, "physio": physio},
                          "p": {"physio": physio}, "v": {"voice": voice}}.items():
        a = fuse(results)
        out[f"fusion.{name}"] = np.array([*(a.probabilities[e] for e in sorted(a.probabilities)), a.valence,
                                          a.arousal, a.stress, a.confidence, a.incongruence], np.float64)


def collect() -> tuple[dict, list]:
    """Every output array, keyed, and notes on which data was read."""
    import torch

    torch.set_num_threads(1)
    out: dict = {}
    notes: list = []
    face = face_outputs(out, notes)
    voice = voice_outputs(out, notes)
    sound_outputs(out, notes)
    baseline_outputs(out, notes)
    physio = physio_outputs(out, notes)
    fusion_outputs(out, face, voice, physio)
    return out, notes


def compare(before: dict, after: dict) -> list[str]:
    """Keys whose arrays differ in dtype, shape or any bit (and keys on one side only)."""
    bad = [f"{k}: only before" for k in sorted(set(before) - set(after))]
    bad += [f"{k}: only after" for k in sorted(set(after) - set(before))]
    for k in sorted(set(before) & set(after)):
        a, b = np.asarray(before[k]), np.asarray(after[k])
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            diff = np.nanmax(np.abs(a.astype(np.float64) - b.astype(np.float64))) if a.shape == b.shape else "shape"
            bad.append(f"{k}: differs ({a.dtype}{a.shape} vs {b.dtype}{b.shape}, max abs {diff})")
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", metavar="NPZ")
    g.add_argument("--compare", metavar="NPZ")
    a = ap.parse_args(argv)
    out, notes = collect()
    print(f"{len(out)} output arrays ({sum(np.asarray(v).size for v in out.values())} numbers); " + "; ".join(notes))
    if a.save:
        Path(a.save).parent.mkdir(parents=True, exist_ok=True)
        np.savez(a.save, **out)
        print(f"saved {a.save}")
        return 0
    with np.load(a.compare) as z:
        before = {k: z[k] for k in z.files}
    bad = compare(before, out)
    for line in bad:
        print("DIFFERS " + line)
    print(f"bit for bit: {len(before) - len(bad)} of {len(before)} arrays identical" + ("" if bad else " (all)"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
