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
    from training.common.fer import pack, pixel_hash, unpack

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, size=(237, 48, 48), dtype=np.uint8)  # not a multiple of the 100-face mosaic
    labels = rng.integers(0, 7, size=237)
    blob, offsets = pack(faces)
    back = unpack(blob, offsets, len(faces))
    assert back.dtype == np.uint8 and np.array_equal(back, faces)
    assert pixel_hash(back, labels) == pixel_hash(faces, labels)
    assert pixel_hash(back, labels) != pixel_hash(back, (labels + 1) % 7)


def test_augmentation_is_seeded_and_keeps_the_range():
    from training.face.train import augment

    x = torch.rand(16, 1, 48, 48)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    c = augment(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 1 and torch.isfinite(a).all()


def test_channel_pruning_keeps_the_strongest_channels():
    """training/face/prune.py: pruning to the full widths is the identity; pruning to fewer channels keeps those
    of largest |gamma| and gives a working network of the new widths."""
    from cxsense.encoders.face.net import FaceNet
    from training.face.prune import prune

    torch.manual_seed(0)
    net = FaceNet(widths=(8, 16, 24, 32), embed_dim=16).eval()
    with torch.no_grad():  # distinct batch-norm scales and statistics, so that the choice of channels matters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.randn(m.num_features))
                m.running_mean.copy_(torch.randn(m.num_features) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features) + 0.5)
    x = torch.randn(3, 1, 48, 48)
    with torch.no_grad():
        same = prune(net, (8, 16, 24, 32))
        assert torch.allclose(same(x), net(x), atol=1e-5)
        small = prune(net, (4, 8, 12, 16))
        assert [m.out_channels for m in small.features if isinstance(m, torch.nn.Conv2d)] == [4, 4, 8, 8, 12, 12, 16, 16]
        assert small(x).shape == (3, 7) and torch.isfinite(small(x)).all()
        first_bn = next(m for m in net.features if isinstance(m, torch.nn.BatchNorm2d))
        keep = torch.sort(torch.topk(first_bn.weight.abs(), 4).indices).values
        np.testing.assert_allclose(small.features[0].weight.numpy(), net.features[0].weight[keep].numpy())
