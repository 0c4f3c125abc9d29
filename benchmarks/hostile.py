"""Peak memory and time of the hostile set: small inputs that claim, or cost, far more than they hold.

    python benchmarks/hostile.py [--repo PATH] [--cases a,b] [--cap-mb 3500] [--timeout 150] [--cheap]

Each case runs in its own subprocess with ``PYTHONPATH=<repo>`` (default: this repository; give
``--repo /path/to/another/checkout`` to measure another version with the same cases). The child first makes one
benign call of the case's modality (so the models are loaded and the baseline is warm), then the hostile call.
Printed per case: the outcome (the result's quality, or the exception's type and the start of its message), the
hostile call's wall time, the child's peak resident memory (``VmHWM``) and the call's growth: the peak during the
call (VmHWM reset just before it) over the resident memory just before it, with the input already made. The
parent polls the child and stops it above ``--cap-mb`` of resident memory or after ``--timeout`` seconds; such a
case is printed as ``stopped`` with the figure it had reached (a lower bound). Files are made in a temporary folder
that is removed at the end; nothing else is written. No data folder is needed.

Split: none (synthetic inputs made here). Run it as a script, not with ``-m``: the child must import ``cxsense``
from ``--repo`` only. The cases are the ones of issue 29 that ``cxsense/inputs`` and the face detector own.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import struct
import subprocess
import sys
import tempfile
import time
import wave
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]

#: name -> (modality, description, cheap): cheap cases finish in a few seconds after the fixes (the test runs them).
CASES = {
    "png_8x7999999": ("face", "8 x 7,999,999 blank PNG (detector tiling)", True),
    "png_blank_8000": ("face", "blank 8000 x 8000 PNG", False),
    "jpeg_header_8000x7999": ("face", "333-byte JPEG whose header says 8000 x 7999", False),
    "png16_8000_nodetect": ("face", "16-bit 8000 x 8000 PNG, detect_face=False", False),
    "broadcast_20000": ("face", "np.broadcast_to(uint8 0, (20000, 20000))", True),
    "broadcast_100000": ("face", "np.broadcast_to(uint8 0, (100000, 100000))", True),
    "jpeg_exif_mutated": ("face", "JPEG whose EXIF block does not survive a rewrite (struct.error)", True),
    "tiff_nframes_mutated": ("face", "3-frame TIFF with a mutated IFD (TypeError in n_frames)", True),
    "wav_1hz": ("voice", "6 KB WAV whose header says 1 Hz", True),
    "wav_4e7hz": ("voice", "WAV whose header says 40,000,000 Hz", True),
    "wav_1e9hz": ("voice", "WAV whose header says 1,000,000,000 Hz", True),
    "flac_2h_silence": ("voice", "FLAC of 2 h of silence at 48 kHz", False),
    "flac_50min_8ch": ("voice", "FLAC of 50 min, 8 channels of silence at 48 kHz", False),
    "array_59min": ("voice", "59 min of a synthetic voice as a float32 array at 16 kHz (226 MB)", False),
    "array_9min": ("voice", "9.5 min of a synthetic voice as a float32 array at 16 kHz (the longest allowed)", False),
    "flac_9min_8ch": ("voice", "FLAC of 9.5 min, 8 channels of a synthetic voice at 48 kHz", False),
    "ppg_x1e200": ("physio", "60 s of PPG multiplied by 1e200", True),
    "ppg_x1e306": ("physio", "60 s of PPG multiplied by 1e306", True),
    "physio_10h": ("physio", "10 h window: PPG 64 Hz, EDA 4 Hz", False),
}


# ----------------------------------------------------------------------------------------------- makers

def png_bytes(width: int, height: int, bit_depth: int = 8, value: int = 0, rows_at_once: int = 4096) -> bytes:
    """A grey PNG of one value, compressed row block by row block (never the whole image in memory)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    bpp = bit_depth // 8
    row = b"\x00" + (value.to_bytes(bpp, "big") * width)
    comp = zlib.compressobj(9)
    parts = []
    left = height
    while left:
        n = min(rows_at_once, left)
        parts.append(comp.compress(row * n))
        left -= n
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A 16x16 grey JPEG whose frame header is changed to claim ``width`` x ``height``."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buf, "JPEG", quality=50)
    d = bytearray(buf.getvalue())
    i = d.find(b"\xff\xc0")
    struct.pack_into(">HH", d, i + 5, height, width)
    return bytes(d)


def jpeg_bad_exif() -> bytes:
    """A JPEG with an orientation tag and a Make tag renumbered as StripByteCounts (a LONG in PIL's tables) while
    its value stays text: PIL reads it, and ImageOps.exif_transpose raised struct.error writing it back."""
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 255, (64, 64, 3)).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Cam"
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", exif=exif)
    d = bytearray(buf.getvalue())
    i = d.find(b"\x01\x0f\x00\x02")  # PIL writes big-endian ("MM") EXIF: tag 0x010F, type 2 (ASCII)
    assert d[d.find(b"Exif") + 6:d.find(b"Exif") + 8] == b"MM" and i > 0
    d[i:i + 2] = b"\x01\x17"
    return bytes(d)


def tiff_bad_frames() -> bytes:
    """A 3-frame TIFF whose second IFD loses its ImageLength tag (n_frames raised TypeError 'Missing dimensions')."""
    from PIL import Image

    frames = [Image.fromarray(np.full((16, 16), i * 40, np.uint8)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:])
    d = bytearray(buf.getvalue())
    endian = "<" if d[:2] == b"II" else ">"
    first = struct.unpack_from(endian + "I", d, 4)[0]
    n = struct.unpack_from(endian + "H", d, first)[0]
    second = struct.unpack_from(endian + "I", d, first + 2 + 12 * n)[0]
    m = struct.unpack_from(endian + "H", d, second)[0]
    for k in range(m):
        at = second + 2 + 12 * k
        if struct.unpack_from(endian + "H", d, at)[0] == 257:  # ImageLength -> an unknown private tag
            struct.pack_into(endian + "H", d, at, 65000)
    return bytes(d)


def wav_claiming(rate: int, n: int = 3000) -> bytes:
    """A 16-bit mono WAV of ``n`` zero samples whose header says ``rate`` Hz."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(n, np.int16).tobytes())
    d = bytearray(buf.getvalue())
    struct.pack_into("<II", d, 24, rate, rate * 2)  # sample rate, byte rate
    return bytes(d)


def flac_silence(path: Path, seconds: float, rate: int, channels: int, value: int = 0) -> None:
    """A 16-bit FLAC of one constant ``value`` (0: silence), written a minute at a time."""
    import soundfile as sf

    block = np.full((rate * 60, channels), value, np.int16)
    left = int(seconds * rate)
    with sf.SoundFile(str(path), "w", rate, channels, format="FLAC", subtype="PCM_16") as f:
        while left:
            k = min(left, len(block))
            f.write(block[:k])
            left -= k


def flac_voice(path: Path, seconds: float, rate: int, channels: int) -> None:
    """A 16-bit FLAC of the synthetic voice (:func:`_voice_signal`) at ``rate``, the same on every channel."""
    import soundfile as sf
    from scipy.signal import resample_poly

    with sf.SoundFile(str(path), "w", rate, channels, format="FLAC", subtype="PCM_16") as f:
        for s in range(0, int(seconds), 60):
            y = resample_poly(_voice_signal(min(60, seconds - s)).astype(np.float64), rate // 16000, 1)
            f.write(np.repeat((np.clip(y, -1, 1) * 32767).astype(np.int16)[:, None], channels, axis=1))


def make_files(folder: Path, names) -> dict[str, str]:
    """The file cases among ``names``, written into ``folder``; name -> path."""
    makers = {
        "png_8x7999999": ("tall.png", lambda p: p.write_bytes(png_bytes(8, 7_999_999))),
        "png_blank_8000": ("blank.png", lambda p: p.write_bytes(png_bytes(8000, 8000))),
        "jpeg_header_8000x7999": ("claim.jpg", lambda p: p.write_bytes(jpeg_claiming(8000, 7999))),
        "png16_8000_nodetect": ("blank16.png", lambda p: p.write_bytes(png_bytes(8000, 8000, 16, 30000))),
        "jpeg_exif_mutated": ("exif.jpg", lambda p: p.write_bytes(jpeg_bad_exif())),
        "tiff_nframes_mutated": ("frames.tif", lambda p: p.write_bytes(tiff_bad_frames())),
        "wav_1hz": ("1hz.wav", lambda p: p.write_bytes(wav_claiming(1))),
        "wav_4e7hz": ("4e7.wav", lambda p: p.write_bytes(wav_claiming(40_000_000))),
        "wav_1e9hz": ("1e9.wav", lambda p: p.write_bytes(wav_claiming(1_000_000_000))),
        "flac_2h_silence": ("2h.flac", lambda p: flac_silence(p, 7200, 48000, 1)),
        "flac_50min_8ch": ("50min8.flac", lambda p: flac_silence(p, 3000, 48000, 8)),
        "flac_9min_8ch": ("9min8.flac", lambda p: flac_voice(p, 570, 48000, 8)),
    }
    out = {}
    for name in names:
        if name in makers:
            fname, make = makers[name]
            make(folder / fname)
            out[name] = str(folder / fname)
    return out


def traced_peak(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), peak bytes)``: the most that Python and NumPy held during the call beyond what they
    held before it (tracemalloc; memory that C libraries allocate themselves is not counted)."""
    import tracemalloc

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = fn(*args, **kwargs)
        return out, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


# ----------------------------------------------------------------------------------------------- child

def _status() -> dict:
    with open("/proc/self/status") as f:
        d = dict(line.split(":", 1) for line in f)
    return {k: int(d[k].split()[0]) // 1024 for k in ("VmHWM", "VmRSS", "VmPeak")}


def _voice_signal(seconds: float, rate: int = 16000, block_s: int = 600) -> np.ndarray:
    """Speech-like synthetic audio, float32, made block by block: vowel-like syllables (7 harmonics of a gliding
    f0, 200-ms syllables, 60-ms gaps) with a burst of high-passed noise (an /s/) in each gap (vowels alone are
    judged music by the voice encoder's speech/music check)."""
    from scipy.signal import butter, sosfilt

    out = np.empty(int(seconds * rate), np.float32)
    rng = np.random.default_rng(0)
    sos = butter(4, 4500, "high", fs=rate, output="sos")
    for s in range(0, len(out), block_s * rate):
        t = np.arange(s, min(len(out), s + block_s * rate)) / rate
        f0 = 150 + 30 * np.sin(2 * np.pi * 0.7 * t)
        ph = 2 * np.pi * np.cumsum(f0) / rate
        cycle = (t % 0.26) / 0.26
        env = np.where(cycle < 0.77, np.sin(np.pi * np.minimum(cycle / 0.77, 1.0)) ** 0.5, 0.0)
        y = sum(np.sin(k * ph) / k for k in range(1, 8)) * env
        hiss = sosfilt(sos, rng.standard_normal(len(t)))
        y = 0.3 * y / 2.6 + 0.02 * ((cycle > 0.81) & (cycle < 0.96)) * hiss / np.max(np.abs(hiss))
        out[s:s + len(t)] = y + 1e-4 * rng.standard_normal(len(t))
    return out


def _physio(seconds: float, scale: float = 1.0) -> dict:
    t = np.arange(int(seconds * 64)) / 64.0
    beat = 1.2 * t + 0.05 * np.sin(2 * np.pi * 0.1 * t)
    ppg = (np.sin(2 * np.pi * beat) + 0.3 * np.sin(4 * np.pi * beat)) * scale
    te = np.arange(int(seconds * 4)) / 4.0
    eda = 2.0 + 0.1 * np.sin(2 * np.pi * te / 40.0)
    return {"ppg": (ppg, 64), "eda": (eda, 4)} if scale == 1.0 else {"ppg": (ppg, 64)}


def child(case: str, path: str | None) -> dict:
    import cxsense

    mod = CASES[case][0]
    warm = {"face": lambda: cxsense.assess(face=str(REPO / "examples" / "astronaut.jpg")),
            "voice": lambda: cxsense.assess(voice=(_voice_signal(2.0), 16000)),
            "physio": lambda: cxsense.assess(physio=_physio(60))}
    warm[mod]()
    if case == "png16_8000_nodetect":  # the whole-image path too
        cxsense.assess(face=str(REPO / "examples" / "astronaut.jpg"), detect_face=False)
    base = _status()
    kwargs: dict = {}
    if path is not None:
        kwargs[mod] = path
    elif case.startswith("broadcast_"):
        n = int(case.split("_")[1])
        kwargs["face"] = np.broadcast_to(np.uint8(0), (n, n))
    elif case == "array_59min":
        kwargs["voice"] = (_voice_signal(59 * 60), 16000)
    elif case == "array_9min":
        kwargs["voice"] = (_voice_signal(570), 16000)
    elif case.startswith("ppg_x"):
        kwargs["physio"] = _physio(60, float("1e" + case.split("1e")[1]))
    elif case == "physio_10h":
        kwargs["physio"] = _physio(10 * 3600)
    if case == "png16_8000_nodetect":
        kwargs["detect_face"] = False
    with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM: the peak from here on is the hostile call's
        f.write("5")
    before = _status()
    t0 = time.perf_counter()
    try:
        a = cxsense.assess(**kwargs)
        q = a.modalities[mod].quality
        outcome = f"ok, {mod} quality {q:.3g}"
    except cxsense.CxsenseError as e:
        outcome = f"{type(e).__name__}: {str(e)[:150]}"
    except BaseException as e:  # noqa: BLE001 - what escapes the contract is what this measures
        outcome = f"UNTYPED {type(e).__module__}.{type(e).__name__}: {str(e)[:120]}"
    dt = time.perf_counter() - t0
    after = _status()
    return {"case": case, "outcome": outcome, "seconds": round(dt, 2), "peak_mb": max(after["VmHWM"], base["VmHWM"]),
            "warm_mb": base["VmHWM"], "input_mb": before["VmRSS"] - base["VmRSS"],
            "growth_mb": after["VmHWM"] - before["VmRSS"], "vm_peak_mb": after["VmPeak"]}


# ----------------------------------------------------------------------------------------------- parent

def _rss_mb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def run_case(case: str, path: str | None, repo: Path, cap_mb: int, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(repo), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, str(HERE), "--child", case] + (["--path", path] if path else [])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(repo), text=True)
    t0, high, why = time.monotonic(), 0, None
    while p.poll() is None:
        high = max(high, _rss_mb(p.pid))
        if high > cap_mb:
            why = f"stopped above {cap_mb} MB"
        elif time.monotonic() - t0 > timeout:
            why = f"stopped after {timeout:.0f} s"
        if why:
            p.kill()
            p.wait()
            break
        time.sleep(0.05)
    out, err = p.communicate()
    if why:
        return {"case": case, "outcome": why, "seconds": round(time.monotonic() - t0, 1), "peak_mb": high,
                "growth_mb": None, "stopped": True}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"case": case, "outcome": f"child failed (rc {p.returncode}): {err.strip().splitlines()[-1:]}",
            "seconds": None, "peak_mb": high, "growth_mb": None}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout whose cxsense is measured")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--cheap", action="store_true", help="only the cases marked cheap")
    ap.add_argument("--cap-mb", type=int, default=3500, help="stop a child above this resident memory (MB)")
    ap.add_argument("--timeout", type=float, default=150.0, help="stop a child after this many seconds")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print("RESULT " + json.dumps(child(a.child, a.path)), flush=True)
        return
    names = [c for c in (a.cases.split(",") if a.cases else CASES) if c]
    if a.cheap:
        names = [c for c in names if CASES[c][2]]
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}; one thread per child")
    print(f"split: none (synthetic hostile inputs); cxsense from {a.repo.resolve()}; cap {a.cap_mb} MB, "
          f"timeout {a.timeout:.0f} s")
    print(f"{'case':<24} {'time s':>7} {'peak MB':>8} {'growth MB':>9}  outcome")
    results = []
    with tempfile.TemporaryDirectory(prefix="cxsense-hostile-") as tmp:
        files = make_files(Path(tmp), names)
        for name in names:
            r = run_case(name, files.get(name), a.repo, a.cap_mb, a.timeout)
            r["bytes"] = os.path.getsize(files[name]) if name in files else None
            results.append(r)
            g = "-" if r.get("growth_mb") is None else str(r["growth_mb"])
            s = "-" if r.get("seconds") is None else f"{r['seconds']:.2f}"
            print(f"{name:<24} {s:>7} {r['peak_mb']:>8} {g:>9}  {r['outcome']}", flush=True)
    print("JSON " + json.dumps(results))


if __name__ == "__main__":
    main()
