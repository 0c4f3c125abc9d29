"""Nothing written, no socket: face, voice, physio and a session in a fresh process under a fresh HOME.

The child installs ``sys.addaudithook`` before anything else is imported and records every ``open`` for writing
(by mode or flags), every directory made, file removed or renamed, and every ``socket.*`` event; the test then
asserts that no write lies outside the folder it owns and that no socket was made. NUMBA_CACHE_DIR points into
that folder: numba (through librosa, voice) caches compiled machine code, by default beside librosa's own files
(docs/architecture.md, "Files written"); the variable is how a caller keeps even that inside a folder of theirs.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(r'''
    import json, os, sys
    events = []
    WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & WRITE):
                events.append(["write", str(path)])
        elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.rename", "os.replace", "os.symlink", "os.link",
                       "os.truncate", "shutil.copyfile", "shutil.rmtree"):
            events.append([event, str(args[0])])
        elif event.startswith("socket."):
            events.append([event, repr(args)[:200]])

    sys.addaudithook(hook)
    import numpy as np
    import cxsense

    work = sys.argv[1]
    out = {}
    a = cxsense.assess(face=os.path.join(sys.argv[2], "examples", "astronaut.jpg"))
    out["face"] = a.modalities["face"].quality
    sys.path.insert(0, os.path.join(sys.argv[2], "benchmarks"))
    from hostile import _voice_signal

    out["voice"] = cxsense.assess(voice=(_voice_signal(3.0), 16000)).modalities["voice"].quality
    tp = np.arange(64 * 60) / 64
    ppg = np.sin(2 * np.pi * 1.2 * tp) + 0.3 * np.sin(4 * np.pi * 1.2 * tp)
    eda = 2.0 + 0.1 * np.sin(np.arange(240) / 40)
    out["physio"] = cxsense.assess(physio={"ppg": (ppg, 64), "eda": (eda, 4)}).modalities["physio"].quality
    s = cxsense.analyze_session(os.path.join(work, "tiny.mp4"))
    out["session_rows"] = len(s.timeline)
    out["modules"] = sorted(m for m in ("matplotlib", "requests", "urllib3", "neurokit2") if m in sys.modules)
    print("RESULT " + json.dumps({"out": out, "events": events}))
''')


@pytest.mark.slow
def test_nothing_written_no_socket(tmp_path, face_rgb):
    import cv2

    from cxsense.session.testing import write_video

    work = tmp_path / "work"
    home = tmp_path / "home"
    work.mkdir()
    home.mkdir()
    frame = np.full((240, 320, 3), 40, np.uint8)
    frame[20:220, 60:260] = cv2.resize(face_rgb, (200, 200))
    sys.path.insert(0, str(REPO / "benchmarks"))
    from hostile import _voice_signal

    write_video(work / "tiny.mp4", lambda i: frame, n_frames=20, fps=10, audio=_voice_signal(2.0))
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "MPL", "NUMBA_"))}
    env.update(HOME=str(home), PYTHONPATH=str(REPO), NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, str(script), str(work), str(REPO)], cwd=str(work), env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(next(line for line in r.stdout.splitlines() if line.startswith("RESULT "))[7:])
    out, events = res["out"], res["events"]
    assert out["face"] > 0 and out["voice"] > 0 and out["physio"] > 0 and out["session_rows"] >= 1
    assert out["modules"] == [], f"imported for no use: {out['modules']}"
    allowed = [os.path.realpath(work) + os.sep, os.path.realpath(tmp_path / "numba") + os.sep]
    # os.devnull is no file: LiteRT's one start-up line on stderr is sent there (cxsense/encoders/face/tflite.py)
    outside = [e for e in events if not e[0].startswith("socket.") and e[1] != os.devnull
               and not any((os.path.realpath(e[1]) + os.sep).startswith(a) for a in allowed)]
    assert outside == [], f"written outside the folders the test owns (HOME included): {outside[:10]}"
    sockets = [e for e in events if e[0].startswith("socket.")]
    assert sockets == [], f"sockets: {sockets[:5]}"
    assert not any(home.iterdir()), f"HOME got {sorted(p.name for p in home.iterdir())}"
