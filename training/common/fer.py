"""FER-2013 (``<data>/face/fer2013``): the cleaned train and dev splits, and their lossless packed copy.

Used by the face recipe, the fusion and the benchmarks. Data is read where it lies and never copied into the
project; the packed copy (:func:`pack`, made by ``python -m training.face.pack_data``) is a transport format for
a remote accelerator, in a git-ignored folder, and :func:`load_fer` reads it with a check of its pixels.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from training.common.data import REPO, data_root

__all__ = ["REPO", "data_root", "load_fer", "pack", "unpack", "pixel_hash", "MOSAIC"]


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
    if packed.exists():  # a lossless transport copy made by training/face/pack_data.py
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


MOSAIC = 10  # faces per mosaic side


def pack(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lossless WebP mosaics of ``MOSAIC**2`` faces ``(n, 48, 48)`` uint8: one byte blob and the offsets into it."""
    import cv2

    n = len(images)
    per = MOSAIC * MOSAIC
    chunks, offsets = [], [0]
    for i in range(0, n, per):
        block = np.zeros((per, 48, 48), np.uint8)
        part = images[i : i + per]
        block[: len(part)] = part
        mosaic = block.reshape(MOSAIC, MOSAIC, 48, 48).transpose(0, 2, 1, 3).reshape(MOSAIC * 48, MOSAIC * 48)
        ok, buf = cv2.imencode(".webp", mosaic, [cv2.IMWRITE_WEBP_QUALITY, 101])  # >100: lossless
        if not ok:
            raise RuntimeError("WebP encoding failed")
        chunks.append(buf.ravel())
        offsets.append(offsets[-1] + buf.size)
    return np.concatenate(chunks), np.asarray(offsets, np.int64)


def unpack(blob: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` faces ``(n, 48, 48)`` uint8 of :func:`pack`'s blob and offsets."""
    import cv2

    per = MOSAIC * MOSAIC
    out = []
    for a, b in zip(offsets[:-1], offsets[1:]):
        m = cv2.imdecode(blob[a:b], cv2.IMREAD_GRAYSCALE)
        out.append(m.reshape(MOSAIC, 48, MOSAIC, 48).transpose(0, 2, 1, 3).reshape(per, 48, 48))
    return np.concatenate(out)[:n]


def pixel_hash(images: np.ndarray, labels: np.ndarray) -> str:
    """Hex SHA-256 of the pixels and the labels (int64), to check a packed copy."""
    return hashlib.sha256(np.ascontiguousarray(images).tobytes() + np.asarray(labels, np.int64).tobytes()).hexdigest()
