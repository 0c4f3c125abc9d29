"""The cheap cases of the hostile set (benchmarks/hostile.py) under a memory cap, in a subprocess.

After warming up face, voice and physiology, the child caps its address space (``resource.RLIMIT_AS``) at what
it already maps plus 1 GiB, then runs each case. Before issue 29 several of these allocated gigabytes before
any check (a 100000^2 broadcast array, a WAV whose header says 1 Hz) and ended in an untyped MemoryError under
such a cap; now each is refused (or answered) with a typed result within it.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(r'''
    import json, resource, sys
    import numpy as np
    sys.path.insert(0, sys.argv[1] + "/benchmarks")
    import hostile as h
    import cxsense

    files = json.loads(sys.argv[2])
    cxsense.assess(face=sys.argv[1] + "/examples/astronaut.jpg")
    cxsense.assess(face=sys.argv[1] + "/examples/astronaut.jpg", detect_face=False)
    cxsense.assess(voice=(h._voice_signal(2.0), 16000))
    cxsense.assess(physio=h._physio(60))
    vm = h._status()["VmPeak"] << 20
    cap = vm + (1 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    png16 = files.pop("png16")
    cases = {name: {h.CASES[name][0]: path} for name, path in files.items()}
    cases["png16_2000_nodetect"] = {"face": png16, "detect_face": False}
    cases["broadcast_20000"] = {"face": np.broadcast_to(np.uint8(0), (20000, 20000))}
    cases["broadcast_100000"] = {"face": np.broadcast_to(np.uint8(0), (100000, 100000))}
    cases["voice_broadcast_2h"] = {"voice": (np.broadcast_to(np.float32(0), (16000 * 7200, 8)), 16000)}
    cases["ppg_x1e200"] = {"physio": h._physio(60, 1e200)}
    cases["ppg_x1e306"] = {"physio": h._physio(60, 1e306)}
    out = {}
    for name, kw in cases.items():
        try:
            cxsense.assess(**kw)
            out[name] = "ok"
        except cxsense.CxsenseError as e:
            out[name] = "typed " + type(e).__name__
        except BaseException as e:
            out[name] = "UNTYPED " + type(e).__name__ + ": " + str(e)[:100]
    print("RESULT " + json.dumps({"cap_mb": cap >> 20, "out": out}))
''')


@pytest.mark.slow
def test_cheap_hostile_cases_under_a_memory_cap(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import hostile

    names = [n for n, (_, _, cheap) in hostile.CASES.items() if cheap]
    files = hostile.make_files(tmp_path, names)
    (tmp_path / "png16.png").write_bytes(hostile.png_bytes(2000, 2000, 16, 30000))
    files["png16"] = str(tmp_path / "png16.png")
    nolen = tmp_path / "nolen.flac"  # 2 h at 8 kHz whose header does not say its length
    hostile.flac_silence(nolen, 7200, 8000, 1)
    d = bytearray(nolen.read_bytes())
    d[8 + 13] &= 0xF0
    d[8 + 14:8 + 18] = b"\0\0\0\0"
    nolen.write_bytes(bytes(d))
    files["flac_2h_silence"] = str(nolen)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    r = subprocess.run([sys.executable, str(script), str(REPO), json.dumps(files)], cwd=str(tmp_path), env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(next(line for line in r.stdout.splitlines() if line.startswith("RESULT "))[7:])
    untyped = {k: v for k, v in res["out"].items() if v.startswith("UNTYPED")}
    assert untyped == {}, f"under a cap of {res['cap_mb']} MB: {untyped}"
    assert len(res["out"]) == 13
    assert res["out"]["tiff_nframes_mutated"] in ("ok", "typed NoSignalError")
    for k in ("broadcast_20000", "broadcast_100000", "wav_1hz", "wav_4e7hz", "wav_1e9hz", "flac_2h_silence",
              "voice_broadcast_2h", "png_8x7999999", "ppg_x1e200", "ppg_x1e306"):
        assert res["out"][k] == "typed InputError", (k, res["out"][k])
