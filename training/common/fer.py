"""Readers for the labelled data in ``../shared/data`` (or ``$CXSENSE_DATA``, or ``--data``).

Used by the training scripts and the benchmarks. Data is read where it lies and never
copied into the project.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def data_root(path: str | os.PathLike | None = None) -> Path:
    """The data folder: ``path``, else ``$CXSENSE_DATA``, else ``../shared/data`` beside the repo."""
    if path is None:
        path = os.environ.get("CXSENSE_DATA") or (REPO.parent / "shared" / "data")
    root = Path(path)
    if not root.is_dir():
        raise SystemExit(f"data folder not found: {root} (set CXSENSE_DATA or pass --data)")
    return root


def _hash(img: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(img).tobytes()).hexdigest()


def load_fer(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """FER-2013 images ``(n, 48, 48) uint8`` and labels, cleaned, with a description of the split.

    ``split="train"``: the Training split minus exact duplicates, conflicting-label groups and
    near-blank images. ``split="dev"``: PublicTest minus its internal duplicates, near-blank images and
    every image pixel-identical to any Training image (de-duplicated against train).
    """
    folder = root / "face" / "fer2013"
    packed = folder / f"packed_{split}.npz"
    if packed.exists():  # a lossless transport copy made by training/pack_fer.py
        from training.pack_fer import pixel_hash, unpack

        z = np.load(packed)
        x, y = unpack(z["blob"], z["offsets"], int(z["n"])), z["labels"]
        if pixel_hash(x, y) != str(z["sha256"]):
            raise SystemExit(f"{packed}: pixels do not match their SHA-256")
        return x, y, str(z["desc"]) + " (packed copy)"
    tr = np.load(folder / "fer2013_train.npz")
    if split == "train":
        keep = ~(tr["exact_duplicate_of_earlier"] | tr["duplicate_with_conflicting_label"] | tr["near_blank"])
        desc = f"FER-2013 Training, de-duplicated: {keep.sum()} of {len(keep)} images"
        return tr["images"][keep], tr["labels"][keep], desc
    if split == "dev":
        va = np.load(folder / "fer2013_val_publictest.npz")
        train_hashes = {_hash(im) for im in tr["images"]}
        in_train = np.array([_hash(im) in train_hashes for im in va["images"]])
        keep = ~(va["exact_duplicate_of_earlier"] | va["duplicate_with_conflicting_label"] | va["near_blank"] | in_train)
        desc = (f"FER-2013 PublicTest, de-duplicated against Training and within itself: "
                f"{keep.sum()} of {len(keep)} images")
        return va["images"][keep], va["labels"][keep], desc
    raise ValueError(f"unknown FER split {split!r}; expected 'train' or 'dev'")
