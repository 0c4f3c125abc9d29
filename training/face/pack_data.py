"""Pack the cleaned FER-2013 splits losslessly, to carry them to a remote accelerator machine.

The raw npz files (71 MB) do not fit the 64 MiB a remote run may carry beside the repository. This
writes the *cleaned* splits that :func:`training.common.fer.load_fer` returns as lossless WebP mosaics of
100 faces (about 46 MB for train) with their labels and a SHA-256 of the pixels, into a folder that git
ignores. ``load_fer`` reads such a folder (``--data FOLDER``) and checks the hash, so a run on the packed
copy sees exactly the same pixels. The packed copy is a transport format, never committed.

    python -m training.face.pack_data --out .facedata            # train only (46 MB)
    python -m training.face.pack_data --out .facedata --dev      # and dev (+5 MB)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from training.common.fer import data_root, load_fer, pack, pixel_hash, unpack


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
