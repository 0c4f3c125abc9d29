"""Per-clip table and (sample, baseline) pairs for the voice speaker-baseline head.

Every RAVDESS clip of actors 01-20 once, clean, through the encoder's own signal stages
(:func:`cxsense.encoders.voice.features.voice_process`): the 22 statistics, the mean log-mel of the kept
frames (64 bands, loudness-normalised, before the per-recording mean subtraction) and the active-speech level.
Logits of the training actors 01-18 are **out of fold** (``train_voice --cv-folds 3`` runs: each clip predicted
by networks that never heard its speaker, seeds averaged); logits of the dev actors 19-20 are the shipped
model's, through :func:`training.voice.calibrate.encoder_logits` (members averaged), since it never heard them either.

A *baseline* of clip ``i`` is a set of other clips of the same speaker, never ``i`` itself:

* ``neutral``: the speaker's neutral and calm takes (12 per actor; 11 when ``i`` is one of them), all or ``k``
  of them at random;
* ``everyday``: ``k`` clips of the speaker drawn at random from all their takes, whatever the emotion;
* ``neutral-other-sentence``: the neutral and calm takes of the *other* sentence only (a stricter check:
  RAVDESS actors say the same two sentences in every take).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BASELINE_KINDS = ("neutral", "everyday", "neutral-other-sentence")


def clip_table(root: Path, cv_runs: list[str], cache: Path, log=print) -> dict:
    """Arrays over the 1200 clips (train rows first, then dev): ``speaker``, ``label``, ``emotion`` (RAVDESS
    name), ``statement``, ``split``, ``logits`` (n, 7; uncalibrated, members or seeds averaged), ``stats``
    (n, 22), ``mel`` (n, 64), ``level_db`` (n,), ``quality`` (n,). Cached in ``cache`` (an .npz)."""
    from training.voice.calibrate import load_oof
    from training.common.ravdess import load_ravdess

    train_rows = load_ravdess(root, "train")
    if not cache.exists():
        clip_features(root, cache, log)
    z = np.load(cache, allow_pickle=False)
    out = {k: z[k] for k in z.files}
    oof, oof_y, _, seeds = load_oof(cv_runs)
    if len(oof) != len(train_rows) or np.any(oof_y != out["label"][: len(train_rows)]):
        raise SystemExit(f"out-of-fold logits do not match the {len(train_rows)} training files")
    out["logits"] = np.concatenate([oof, out["dev_logits"]]).astype(np.float64)
    out["oof_seeds"] = np.array(seeds)
    return out


def clip_features(root: Path, cache: Path, log=print) -> None:
    """The model-independent columns of :func:`clip_table` and the shipped model's dev logits, to ``cache``."""
    from cxsense.encoders.voice.encoder import VoiceEncoder
    from cxsense.encoders.voice.features import TARGET_DBFS, voice_process
    from cxsense.inputs.audio import load_audio
    from training.common.ravdess import load_ravdess, read_wav
    from training.voice.calibrate import encoder_logits

    train_rows, dev_rows = load_ravdess(root, "train"), load_ravdess(root, "dev")
    enc = VoiceEncoder(warmup=False)
    rows = train_rows + dev_rows
    cols = {k: [] for k in ("stats", "mel", "level_db", "quality")}
    dev_logits = []
    for i, r in enumerate(rows):
        y = read_wav(r["path"])
        f = voice_process(y)
        cols["stats"].append(f.stats)
        cols["mel"].append(f.logmel.mean(1) if f.logmel.shape[1] else np.zeros(64, np.float32))
        cols["level_db"].append(TARGET_DBFS - f.info.get("gain_db", 0.0))
        cols["quality"].append(f.quality)
        if r["split"] == "dev":
            lg = encoder_logits(enc, load_audio((y.astype(np.float32), 16000)))
            dev_logits.append(np.full(7, np.nan) if lg is None else lg.mean(0))
        if (i + 1) % 200 == 0:
            log(f"  clip table {i + 1}/{len(rows)}")
    labels = np.array([r["label"] for r in rows])
    out = {
        "speaker": np.array([r["speaker"] for r in rows]), "label": labels,
        "emotion": np.array([r["emotion"] for r in rows]), "statement": np.array([int(r["statement"]) for r in rows]),
        "split": np.array([r["split"] for r in rows]),
        "dev_logits": np.stack(dev_logits).astype(np.float64),
        "stats": np.stack(cols["stats"]).astype(np.float64), "mel": np.stack(cols["mel"]).astype(np.float64),
        "level_db": np.array(cols["level_db"]), "quality": np.array(cols["quality"]),
        "dev_temperature": np.array(enc.model_for(narrowband=False).temperature),
    }
    np.savez(cache, **out)


def baseline_sets(table: dict, idx: np.ndarray, kind: str, k: int | None, rng: np.random.Generator) -> list[np.ndarray]:
    """For each clip in ``idx``, the indices of its baseline clips (same speaker, never the clip itself).

    ``k=None`` takes every eligible clip (``neutral``: all neutral and calm takes); otherwise ``k`` at random
    (fewer when fewer exist). ``kind`` is one of :data:`BASELINE_KINDS`.
    """
    spk, emo, stmt = table["speaker"], table["emotion"], table["statement"]
    out = []
    for i in idx:
        pool = (spk == spk[i]) & (np.arange(len(spk)) != i) & (table["quality"] > 0)
        if kind in ("neutral", "neutral-other-sentence"):
            pool &= np.isin(emo, ["neutral", "calm"])
        if kind == "neutral-other-sentence":
            pool &= stmt != stmt[i]
        cand = np.flatnonzero(pool)
        if k is not None and k < len(cand):
            cand = np.sort(rng.choice(cand, size=k, replace=False))
        out.append(cand)
    return out
