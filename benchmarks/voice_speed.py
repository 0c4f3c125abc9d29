"""Speed of :meth:`VoiceEncoder.encode`: median milliseconds per second of audio, one core, warm.

    OMP_NUM_THREADS=1 nice -n 10 python3 -m benchmarks.voice_speed [--data DIR] [--repeats 15]

Inputs: RAVDESS dev recordings (actors 19-20) concatenated to 1, 3.7 (one file), 10 and 30 s, given as
16-kHz :class:`Audio` (``load_audio`` excluded) and, for the 3.7-s file, also as a 48-kHz tuple (resampling
included). One torch thread; the encoder is created (and warmed up) before timing. Reports the median over
``--repeats`` calls of both the wall-clock time and the process CPU time (on a shared machine the
CPU time is the figure to compare with the floor), and the one-time construction cost.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from benchmarks.metrics import machine
    from cxsense.inputs.audio import Audio, load_audio
    from training.common.data import data_root
    from training.common.ravdess import load_ravdess, read_wav

    t0 = time.perf_counter()
    from cxsense.encoders.voice.encoder import VoiceEncoder

    enc = VoiceEncoder()
    t_init = time.perf_counter() - t0
    rows = load_ravdess(data_root(args.data), "dev")
    w = np.concatenate([read_wav(r["path"]) for r in rows[:12]]).astype(np.float32)
    one = read_wav(rows[40]["path"]).astype(np.float32)
    print("== voice-tone speed (VoiceEncoder.encode)")
    print("split: RAVDESS dev recordings (actors 19-20)")
    print(f"machine: {machine()}; torch threads {torch.get_num_threads()}")
    print(f"construction incl. warm-up (numba compilation, weights SHA-256): {t_init:.1f} s")
    from scipy.signal import resample_poly

    cases = [("1.0 s", Audio(w[:16000], 16000)), (f"{len(one) / 16000:.1f} s (one file)", Audio(one, 16000)),
             ("10 s", Audio(w[:160000], 16000)), ("30 s", Audio(w[:480000], 16000)),
             (f"{len(one) / 16000:.1f} s at 48 kHz via load_audio", (resample_poly(one, 3, 1).clip(-1, 1).astype(np.float32), 48000))]
    out = {}
    for name, x in cases:
        dur = (len(x.samples) / 16000) if isinstance(x, Audio) else len(x[0]) / x[1]
        enc.encode(x if isinstance(x, Audio) else load_audio(x))
        ts, cs = [], []
        for _ in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            enc.encode(x if isinstance(x, Audio) else load_audio(x))
            ts.append(time.perf_counter() - t)
            cs.append(time.process_time() - c)
        med, cmed = float(np.median(ts)), float(np.median(cs))
        out[name] = {"wall_ms_per_s": round(1000 * med / dur, 3), "cpu_ms_per_s": round(1000 * cmed / dur, 3)}
        print(f"{name:>40}: median wall {1000 * med:7.2f} ms per call = {1000 * med / dur:6.2f} ms per s of audio; "
              f"median CPU time {1000 * cmed / dur:6.2f} ms per s of audio")
    print("floor: <= 10 ms per second of audio")
    print("JSON " + json.dumps({"title": "voice-tone speed", "ms_per_audio_second": out, "init_s": round(t_init, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
