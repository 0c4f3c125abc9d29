"""What base's multi-scale views and its early exit do, on dev crops and on the same crops perturbed.

    python -m benchmarks.face_views [--data DIR] [--seeds 0 1] [--precision int8|bf16|fp32|auto]

Four configurations of the shipped base file through :class:`~cxsense.encoders.face.encoder.FaceEncoder`:
the whole model with the flip alone (what base v1.2.1 computed; its temperature 0.9198) or with the flip and the
file's zoomed views (``tta_scales``, its own temperature), each with the early exit off or at the file's default
threshold. Rows: the de-duplicated FER-2013 dev split as it is, and the same crops through the training
augmentation (rotation, scale, shift, gamma, erasing) with each ``--seeds`` value: a stand-in for faces framed and
lit unlike the dev crops, which chose the views and the temperatures.
"""

from __future__ import annotations

import argparse
import copy
import json

import numpy as np

#: the whole model's temperature over the flip alone (base v1.2.1 and v1.2.2)
FLIP_ONLY_TEMPERATURE = 0.9197931885719299


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1], help="augmentation seeds (none: dev only)")
    ap.add_argument("--precision", default="auto", choices=["auto", "int8", "bf16", "fp32"])
    a = ap.parse_args(argv)
    import torch

    from benchmarks.metrics import machine
    from cxsense.metrics import classification_report
    from cxsense.emotions import EMOTIONS
    from cxsense.encoders.face.encoder import FaceEncoder
    from training.common.fer import data_root, load_fer
    from training.face.train import augment

    torch.set_num_threads(2)
    x, y, split = load_fer(data_root(a.data), "dev")
    off = FaceEncoder("base", early_exit=None, precision=a.precision)
    auto = FaceEncoder("base", precision=a.precision)  # the file's default early exit
    exit_info = auto.info()["expression"].get("early_exit")
    scales = off._scales
    print(f"machine: {machine()}\nsplit: {split}; also the same crops through the training augmentation, "
          f"seeds {a.seeds}")
    print(f"base {off.info()['expression']['version']} in {off.info()['expression']['precision']}; views "
          f"{list(scales)}; default early exit {exit_info}")
    configs = {
        "flip only, no exit (v1.2.1)": (off, (), FLIP_ONLY_TEMPERATURE),
        "flip + zooms, no exit": (off, scales, off.temperature),
        "flip only, default exit": (auto, (), FLIP_ONLY_TEMPERATURE),
        "flip + zooms, default exit (shipped)": (auto, scales, off.temperature),
    }
    sets = [("dev", x)]
    for seed in a.seeds:
        g = torch.Generator().manual_seed(seed)
        xa = augment(torch.from_numpy(x).float().div(255).unsqueeze(1), g)
        sets.append((f"dev, augmented (seed {seed})", xa.squeeze(1).mul(255).round().clamp(0, 255).to(torch.uint8).numpy()))
    for name, data in sets:
        for label, (enc, views, temperature) in configs.items():
            e = copy.copy(enc)
            e._scales, e.temperature = views, temperature
            out = [e.crops_embed(data[i : i + 256], return_passes=True) for i in range(0, len(data), 256)]
            p, passes = np.concatenate([o[1] for o in out]), np.concatenate([o[2] for o in out])
            r = classification_report(p, y, EMOTIONS)
            print(f"{name:26s} {label:38s} accuracy {r['accuracy']:.4f} macro-F1 {r['macro_f1']:.4f} "
                  f"ECE {r['ece']:.4f}  one pass {np.mean(passes == 1):.3f}")
            print("JSON " + json.dumps({"crops": name, "config": label, "accuracy": r["accuracy"],
                                        "macro_f1": r["macro_f1"], "ece": r["ece"],
                                        "one_pass_share": float(np.mean(passes == 1))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
