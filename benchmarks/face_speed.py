"""Speed of the face path on one core: medians of warm calls, and cold start.

    python -m benchmarks.face_speed [--face-model base|small] [--precision auto|int8|bf16|fp32]

- crop: ``assess(face=crop48, detect_face=False)`` on a 48x48 grey crop;
- frame: ``assess(face=frame)`` on a 640x480 RGB frame with one face (the shipped example, scaled to
  200x200 and placed in the frame), end to end (detection, alignment, expression, Assessment);
- each timing in ``--blocks`` interleaved blocks (default 5): the median of all warm calls, and each block's
  median, which shows how much a shared machine drifts between minutes;
- cold start: a fresh interpreter importing cxsense and assessing the example once (median of 3).
One thread for torch and OpenCV (``torch.set_num_threads(1)``, ``cv2.setNumThreads(1)``). The face network
runs in int8 on x86 (``precision="auto"``, the default), else in bfloat16 where the CPU has it natively, else
in float32; ``--precision int8|bf16|fp32`` measures one path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cxsense.encoders.face.encoder import FACE_MODELS

REPO = Path(__file__).resolve().parents[1]


def times_ms(fn, n=200, warm=10) -> np.ndarray:
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return np.asarray(ts) * 1e3


def median_ms(fn, n=200, warm=10) -> float:
    return float(np.median(times_ms(fn, n, warm)))


def blocks_ms(fns: dict, blocks: int, per_block: dict) -> dict:
    """Each timing in ``blocks`` interleaved blocks: the median of all calls and the median of each block.

    On a shared virtual machine the speed drifts by tens of percent from one minute to the next; block medians
    show that spread instead of hiding it in one number.
    """
    per = {k: [] for k in fns}
    for _ in range(blocks):
        for k, fn in fns.items():
            per[k].append(times_ms(fn, per_block[k], warm=3))
    return {k: (float(np.median(np.concatenate(v))), [float(np.median(b)) for b in v]) for k, v in per.items()}


def main(argv=None):
    import argparse

    import cv2
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--face-model", default="base", choices=list(FACE_MODELS))
    ap.add_argument("--precision", default="auto", choices=["auto", "int8", "bf16", "fp32"])
    ap.add_argument("--blocks", type=int, default=5,
                    help="interleaved blocks of 200 crop and 100 frame calls; medians per block are printed too")
    a = ap.parse_args(argv)

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    import cxsense
    from benchmarks.metrics import machine

    from PIL import Image

    rgb = np.asarray(Image.open(REPO / "examples" / "astronaut.jpg").convert("RGB"))
    crop = cv2.resize(cv2.cvtColor(rgb[60:190, 160:290], cv2.COLOR_RGB2GRAY), (48, 48))
    frame = np.full((480, 640, 3), 110, np.uint8)
    frame[140:340, 220:420] = cv2.resize(rgb, (200, 200), interpolation=cv2.INTER_AREA)
    from cxsense.encoders import _instances
    from cxsense.encoders.face.encoder import FaceEncoder
    from cxsense.inputs.image import load_image

    # the encoder assess uses, with the precision asked for
    enc = FaceEncoder(a.face_model, a.precision)
    _instances[("face", ())] = _instances[("face", (("model", a.face_model),))] = enc
    kw = {"face_model": a.face_model}
    assert cxsense.assess(face=frame, **kw).modalities["face"].quality > 0
    timed = blocks_ms({"crop_ms": lambda: cxsense.assess(face=crop, detect_face=False, **kw),
                       "frame_640x480_ms": lambda: cxsense.assess(face=frame, **kw)},
                      a.blocks, {"crop_ms": 200, "frame_640x480_ms": 100})
    res = {k: v[0] for k, v in timed.items()}
    spread = {k.replace("_ms", "_block_medians_ms"): v[1] for k, v in timed.items()}
    img = load_image(frame)
    res["frame_detection_only_ms"] = median_ms(lambda: enc.detect(img), n=100)
    code = ("import time; t=time.perf_counter(); import cxsense; t1=time.perf_counter(); "
            f"cxsense.assess(face={str(REPO / 'examples' / 'astronaut.jpg')!r}, face_model={a.face_model!r}); "
            "t2=time.perf_counter(); "
            "print(t1-t, t2-t)")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    colds = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        colds.append([float(v) for v in out.stdout.split()])
    colds = np.array(colds)
    res["cold_import_s"] = float(np.median(colds[:, 0]))
    res["cold_import_plus_first_call_s"] = float(np.median(colds[:, 1]))
    print(f"== cxsense face speed (one thread), face_model={a.face_model}, precision={a.precision} "
          f"(runs in {enc._net_info['precision']})")
    print("split: none (synthetic frame with the shipped example face)")
    print(f"machine: {machine()}")
    for k, v in res.items():
        print(f"{k}: {v:.2f}")
    for k, v in spread.items():
        print(f"{k}: " + ", ".join(f"{x:.2f}" for x in v))
    print("JSON " + json.dumps({"title": "face speed", "face_model": a.face_model, "precision": a.precision,
                                "blocks": a.blocks, **res, **spread}))


if __name__ == "__main__":
    main()
