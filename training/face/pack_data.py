"""Pack the cleaned FER-2013 splits losslessly, to carry them to a remote accelerator machine.

The raw npz files (71 MB) do not fit the 64 MiB a remote run may carry beside the repository. This
writes the *cleaned* splits that :func:`training.datasets.load_fer` returns as lossless WebP mosaics of
100 faces (about 46 MB for train) with their labels and a SHA-256 of the pixels, into a folder that git
ignores. ``load_fer`` reads such a folder (``--data FOLDER``) and checks the hash, so a run on the packed
copy sees exactly the same pixels. The packed copy is a transport format, never committed.

    python -m training.pack_fer --out .facedata            # train only (46 MB)
    python -m training.pack_fer --out .facedata --dev      # and dev (+5 MB)
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import cv2
import numpy as np

from training.datasets import data_root, load_fer

MOSAIC = 10  # faces per mosaic side


def pack(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lossless WebP mosaics of ``MOSAIC**2`` faces: one byte blob and the offsets into it."""
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
    per = MOSAIC * MOSAIC
    out = []
    for a, b in zip(offsets[:-1], offsets[1:]):
        m = cv2.imdecode(blob[a:b], cv2.IMREAD_GRAYSCALE)
        out.append(m.reshape(MOSAIC, 48, MOSAIC, 48).transpose(0, 2, 1, 3).reshape(per, 48, 48))
    return np.concatenate(out)[:n]


def pixel_hash(images: np.ndarray, labels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images).tobytes() + np.asarray(labels, np.int64).tobytes()).hexdigest()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--dev", action="store_true", help="pack the dev split too")
    a = p.parse_args(argv)
    root = data_root(a.data)
    out = Path(a.out) / "face" / "fer2013"
    out.mkdir(parents=True, exist_ok=True)
    for split in ["train"] + (["dev"] if a.dev else []):
        x, y, desc = load_fer(root, split)
        blob, offsets = pack(x)
        assert np.array_equal(unpack(blob, offsets, len(x)), x), "lossless round trip failed"
        np.savez(out / f"packed_{split}.npz", blob=blob, offsets=offsets, n=len(x), labels=y.astype(np.int64),
                 desc=desc, sha256=pixel_hash(x, y))
        print(f"{split}: {desc}; {blob.nbytes / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
