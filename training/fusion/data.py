"""Per-modality encoder outputs for fitting and checking the late fusion (issue 5).

No public dataset pairs face, voice and body signals with emotion labels, so the fusion is fitted on
**pseudo-pairs**: a face sample and a voice sample drawn independently with the same label. This module
runs each shipped encoder, exactly as :func:`cxsense.assess` does, over its own labelled data and caches
what the fusion reads (calibrated probabilities, quality, embedding, label, group):

- face: FER-2013 de-duplicated PublicTest (dev, all 3,292) and a seeded, class-stratified subset of
  the de-duplicated Training split, crops through ``FaceEncoder.encode`` with ``FaceOptions(detect=False)``;
- voice: RAVDESS actors 19-20 (dev, 120 clips) clean and with white noise at 10 dB SNR (a degraded
  voice), and actors 01-18 (train, 1,080 clips), through ``VoiceEncoder.encode``.

The cache (``training/runs/fusion/outputs_<face sha>_<voice sha>.npz``, git-ignored) is keyed by the
SHA-256 of the shipped weights, so a new model gets new outputs. Pairing happens in
:mod:`training.fusion.fit` and :mod:`benchmarks.fusion_accuracy`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from training.common.fer import REPO, data_root, load_fer

CACHE = REPO / "training" / "runs" / "fusion"


def _key() -> str:
    from cxsense.registry import model_entry as entry

    return f"{entry('face-expression')['sha256'][:8]}_{entry('voice-tone')['sha256'][:8]}"


def _face_outputs(x: np.ndarray) -> dict:
    from cxsense.encoders import get_encoder
    from cxsense.inputs.image import load_image
    from cxsense.options import FaceOptions

    options = FaceOptions(detect=False)
    enc = get_encoder("face", options)
    P, Q, E = [], [], []
    for im in x:
        r = enc.encode(load_image(im, parameter="face"), options)
        P.append(r.probability_vector() if r.quality > 0 else np.full(7, 1 / 7))
        Q.append(r.quality)
        E.append(r.embedding)
    return {"p": np.array(P, np.float32), "q": np.array(Q, np.float32), "e": np.array(E, np.float16)}


def _voice_outputs(wavs: list[np.ndarray]) -> dict:
    from cxsense.encoders import get_encoder
    from cxsense.inputs.audio import Audio

    enc = get_encoder("voice")
    P, Q, E = [], [], []
    for w in wavs:  # 16-kHz mono already; noisy copies may exceed full scale, as the voice benchmark allows
        r = enc.encode(Audio(w.astype(np.float32), 16000))
        P.append(r.probability_vector() if r.quality > 0 else np.full(7, 1 / 7))
        Q.append(r.quality)
        E.append(r.embedding)
    return {"p": np.array(P, np.float32), "q": np.array(Q, np.float32), "e": np.array(E, np.float16)}


def _faces(root, face_train_n, seed, verbose) -> dict:
    out = {}
    t = time.time()
    xf, yf, desc = load_fer(root, "dev")
    for k, v in _face_outputs(xf).items():
        out[f"face_dev_{k}"] = v
    out["face_dev_y"] = yf.astype(np.int64)
    if verbose:
        print(f"face dev: {desc}, {time.time() - t:.0f} s", flush=True)
    t = time.time()
    xt, yt, desc = load_fer(root, "train")
    rng = np.random.default_rng(seed)
    per = face_train_n // 7
    idx = np.concatenate([rng.permutation(np.flatnonzero(yt == c))[:per] for c in range(7)])
    for k, v in _face_outputs(xt[idx]).items():
        out[f"face_train_{k}"] = v
    out["face_train_y"] = yt[idx].astype(np.int64)
    if verbose:
        print(f"face train: {len(idx)} of {desc}, {time.time() - t:.0f} s", flush=True)
    return out


def build(root: Path | None = None, face_train_n: int = 7000, seed: int = 0, verbose: bool = True) -> dict:
    """Run the shipped face and voice encoders over their train and dev data (see the module docstring)."""
    from training.common.ravdess import add_noise, load_ravdess, read_wav

    root = data_root(root)
    out: dict[str, np.ndarray] = {}
    partial = CACHE / f"face_{_key().split('_')[0]}.npz"
    if partial.is_file():
        out.update(dict(np.load(partial)))
    else:
        out.update(_faces(root, face_train_n, seed, verbose))
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(partial, **out)
    for split in ("dev", "train"):
        t = time.time()
        rows = load_ravdess(root, split)
        wavs = [read_wav(r["path"]) for r in rows]
        for k, v in _voice_outputs(wavs).items():
            out[f"voice_{split}_{k}"] = v
        out[f"voice_{split}_y"] = np.array([r["label"] for r in rows], np.int64)
        out[f"voice_{split}_speaker"] = np.array([int(str(r["speaker"]).split("_")[-1]) for r in rows], np.int64)
        if split == "dev":
            noisy = [add_noise(w, 10.0, np.random.default_rng([7, i]), "white") for i, w in enumerate(wavs)]
            for k, v in _voice_outputs(noisy).items():
                out[f"voice_devnoise_{k}"] = v
        if verbose:
            print(f"voice {split}: {len(rows)} clips, {time.time() - t:.0f} s", flush=True)
    return out


def load_outputs(root: Path | None = None, rebuild: bool = False) -> dict:
    """The cached encoder outputs for the shipped weights (built on first use, a few minutes)."""
    path = CACHE / f"outputs_{_key()}.npz"
    if path.is_file() and not rebuild:
        d = np.load(path)
        return {k: d[k] for k in d.files}
    out = build(root)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    return out


def make_pairs(face: dict, voice: dict, rng: np.random.Generator, mode: str = "both") -> dict:
    """Pseudo-pairs: each face sample with a voice sample of the same label drawn at random.

    Parameters
    ----------
    face, voice : dicts with ``p`` (n, 7), ``q`` (n,), ``y`` (n,)
    mode : "both", "face" (voice absent), "voice" (face absent) or "mix" (each row one of the three
        with probabilities 0.6 / 0.2 / 0.2; what the fusion is fitted on, so that every subset is learnt)

    Returns
    -------
    dict with ``X`` (n, N_FEATURES) fusion rows, ``y`` (n,), ``face_i``, ``voice_i`` (indices) and
    ``mode`` per row.
    """
    from cxsense.fusion.features import block_row

    by_label = {c: np.flatnonzero(voice["y"] == c) for c in range(7)}
    rows, ys, fi, vi, modes = [], [], [], [], []
    for i, c in enumerate(face["y"]):
        pool = by_label.get(int(c))
        if pool is None or len(pool) == 0:
            continue
        j = int(rng.choice(pool))
        m = mode if mode != "mix" else str(rng.choice(["both", "face", "voice"], p=[0.6, 0.2, 0.2]))
        fb = block_row(face["p"][i], face["q"][i]) if m in ("both", "face") else block_row(None, 0.0)
        vb = block_row(voice["p"][j], voice["q"][j]) if m in ("both", "voice") else block_row(None, 0.0)
        rows.append(np.concatenate([fb, vb]))
        ys.append(int(c)); fi.append(i); vi.append(j); modes.append(m)
    return {"X": np.array(rows), "y": np.array(ys), "face_i": np.array(fi), "voice_i": np.array(vi),
            "mode": np.array(modes)}


def part(d: dict, modality: str, split: str, idx: np.ndarray | None = None) -> dict:
    """``{"p", "q", "y"}`` of one modality and split from :func:`load_outputs` (optionally a subset)."""
    out = {k: d[f"{modality}_{split}_{k}"] for k in ("p", "q")}
    out["y"] = d[f"{modality}_{split.replace('noise', '')}_y"]
    if idx is not None:
        out = {k: v[idx] for k, v in out.items()}
    return out


def main(argv=None) -> int:
    """``python -m training.fusion.data [--data DIR]``: (re)build the cached encoder outputs and list them."""
    import argparse

    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    d = load_outputs(data_root(a.data), rebuild=True)
    for k, v in d.items():
        print(k, v.shape, v.dtype)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
