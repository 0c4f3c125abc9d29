"""Speed of the face path on one core: medians of warm calls, and cold start.

    python -m benchmarks.face_speed [--face-model base|small] [--precision auto|int8|bf16|fp32]
                                    [--early-exit auto|off|THRESHOLD] [--data DIR] [--dev-crops 1000]

- crop: ``assess(face=crop48, detect_face=False)`` on a 48x48 grey crop (the shipped example's face);
- crop over dev crops: the same call cycling through ``--dev-crops`` FER-2013 dev crops (seeded sample in random
  order; skipped when the data is not there). With early exit the time depends on the face: this row is the one to read, with
  the share of crops answered after one pass, the mean and the 90th percentile beside the median;
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

from cxsense.options import FACE_MODELS

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


WARM = 3  # warm-up calls before each block's timed calls


def blocks_ms(fns: dict, blocks: int, per_block: dict) -> dict:
    """Each timing in ``blocks`` interleaved blocks: ``{name: [times of block 1, ...]}`` in ms.

    On a shared virtual machine the speed drifts by tens of percent from one minute to the next; block medians
    show that spread instead of hiding it in one number.
    """
    per = {k: [] for k in fns}
    for _ in range(blocks):
        for k, fn in fns.items():
            per[k].append(times_ms(fn, per_block[k], warm=WARM))
    return per


def main(argv=None):
    import argparse

    import cv2
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--face-model", default="base", choices=list(FACE_MODELS))
    ap.add_argument("--precision", default="auto", choices=["auto", "int8", "bf16", "fp32"])
    ap.add_argument("--blocks", type=int, default=5,
                    help="interleaved blocks of 200 crop and 100 frame calls; medians per block are printed too")
    ap.add_argument("--early-exit", default="auto", help="auto (the model file's setting), off, or a threshold")
    ap.add_argument("--data", default=None)
    ap.add_argument("--dev-crops", type=int, default=1000, help="dev crops to cycle through (0: skip that row)")
    a = ap.parse_args(argv)
    from cxsense.options import early_exit_from_text

    ee = early_exit_from_text(a.early_exit)

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

    from cxsense.options import FaceOptions

    # the encoder assess uses (its default options), with the precision asked for
    enc = FaceEncoder(a.face_model, early_exit=ee, precision=a.precision)
    _instances[("face", FaceOptions(model=a.face_model, early_exit=ee).encoder_key())] = enc
    kw = {"face_model": a.face_model, "face_early_exit": ee}
    assert cxsense.assess(face=frame, **kw).modalities["face"].quality > 0
    fns = {"crop_ms": lambda: cxsense.assess(face=crop, detect_face=False, **kw),
           "frame_640x480_ms": lambda: cxsense.assess(face=frame, **kw)}
    per_block = {"crop_ms": 200, "frame_640x480_ms": 100}
    dev_note, passes = "", []
    if a.dev_crops > 0:
        try:
            from training.common.fer import data_root, load_fer

            xdv, _, ddv = load_fer(data_root(a.data), "dev")
        except (OSError, ValueError) as e:
            print(f"(no dev crops: {e})")
        else:
            import itertools

            # in random order: the dev file is not shuffled (runs of easy and of hard faces), and each block
            # should see the same mix (the same crops as before this order was shuffled, 2026-12-01)
            pick = xdv[np.random.default_rng(0).choice(len(xdv), min(a.dev_crops, len(xdv)), replace=False)]
            cycle = itertools.cycle(range(len(pick)))

            def dev_call():
                r = cxsense.assess(face=pick[next(cycle)], detect_face=False, **kw)
                passes.append(r.modalities["face"].details["passes"])  # warm-up calls too (see below)

            fns["crop_dev_ms"] = dev_call
            per_block["crop_dev_ms"] = max(1, len(pick) // a.blocks)
            dev_note = f"; crop_dev: {len(pick)} crops of {ddv} (seed 0, random order)"
    per = blocks_ms(fns, a.blocks, per_block)
    timed = {k: (float(np.median(np.concatenate(v))), [float(np.median(b)) for b in v]) for k, v in per.items()}
    res = {k: v[0] for k, v in timed.items()}
    spread = {k.replace("_ms", "_block_medians_ms"): v[1] for k, v in timed.items()}
    if "crop_dev_ms" in per:
        alltimes = np.concatenate(per["crop_dev_ms"])
        res["crop_dev_mean_ms"] = float(alltimes.mean())
        res["crop_dev_p90_ms"] = float(np.percentile(alltimes, 90))
        # passes of the timed calls only: each block makes 3 warm-up calls before its timed ones
        n, warm = per_block["crop_dev_ms"], WARM
        timed_passes = np.concatenate([passes[b * (warm + n) + warm:(b + 1) * (warm + n)] for b in range(a.blocks)])
        res["crop_dev_one_pass_share"] = float(np.mean(timed_passes == 1))
        if 0 < np.sum(timed_passes == 1) < len(timed_passes):  # early exit: each path's own median
            res["crop_dev_one_pass_median_ms"] = float(np.median(alltimes[timed_passes == 1]))
            res["crop_dev_whole_model_median_ms"] = float(np.median(alltimes[timed_passes > 1]))
    if enc.info()["expression"].get("early_exit"):  # the worst case: the whole model, through detection
        full = FaceEncoder(a.face_model, early_exit=None, precision=a.precision)
        _instances[("face", FaceOptions(model=a.face_model, early_exit=None).encoder_key())] = full
        res["frame_640x480_no_exit_ms"] = median_ms(lambda: cxsense.assess(face=frame, face_model=a.face_model,
                                                                            face_early_exit=None), n=100)
    img = load_image(frame)
    res["frame_detection_only_ms"] = median_ms(lambda: enc.detect(img), n=100)
    code = ("import time; t=time.perf_counter(); import cxsense; t1=time.perf_counter(); "
            f"cxsense.assess(face={str(REPO / 'examples' / 'astronaut.jpg')!r}, face_model={a.face_model!r}, "
            f"face_early_exit={ee!r}); "
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
          f"(runs in {enc.info()['expression'].get('precision')}), early exit {enc.info()['expression'].get('early_exit')}")
    print("split: none for crop and frame (synthetic frame with the shipped example face)" + dev_note)
    print(f"machine: {machine()}")
    for k, v in res.items():
        print(f"{k}: {v:.2f}")
    for k, v in spread.items():
        print(f"{k}: " + ", ".join(f"{x:.2f}" for x in v))
    print("JSON " + json.dumps({"title": "face speed", "face_model": a.face_model, "precision": a.precision,
                                "early_exit": enc.info()["expression"].get("early_exit"),
                                "blocks": a.blocks, **res, **spread}))


if __name__ == "__main__":
    main()
