"""Face training tools (repository code, not part of the package): the lossless transport copy and the
device-agnostic augmentation."""

import sys
from pathlib import Path

import numpy as np
import pytest

_REPO = str(Path(__file__).resolve().parents[1])  # training/ is repository code, not part of the package
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

torch = pytest.importorskip("torch")


def test_packed_faces_round_trip_exactly():
    from training.pack_fer import pack, pixel_hash, unpack

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, size=(237, 48, 48), dtype=np.uint8)  # not a multiple of the 100-face mosaic
    labels = rng.integers(0, 7, size=237)
    blob, offsets = pack(faces)
    back = unpack(blob, offsets, len(faces))
    assert back.dtype == np.uint8 and np.array_equal(back, faces)
    assert pixel_hash(back, labels) == pixel_hash(faces, labels)
    assert pixel_hash(back, labels) != pixel_hash(back, (labels + 1) % 7)


def test_augmentation_is_seeded_and_keeps_the_range():
    from training.train_face import augment

    x = torch.rand(16, 1, 48, 48)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    c = augment(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 1 and torch.isfinite(a).all()
