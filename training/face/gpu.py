"""Train several face networks side by side on one GPU, then distil their ensemble, inside a time budget.

A lent accelerator comes for minutes, not hours; this script plans its work to fit them:

1. **Teachers.** ``--teachers`` runs of ``training.face.train`` (the shipped recipe, base architecture,
   seeds ``--seed0``, ``--seed0 + 1``...) train at once, one process each. A short calibration times their
   steps while they all run, and the number of epochs is chosen so that they end in their share of the
   budget. The one-cycle schedule then runs to its end, as on the CPU.
2. **Students.** Each ``--students`` entry (``ARCH:ALPHA:T``; ARCH ``base`` or ``small``) trains with online
   distillation from the teachers' averaged logits on its own augmented batch (``--teacher-runs``), again
   with its epochs fitted to what is left.
3. **Packing.** The raw weights of the last epoch (float16, as shipped) go to ``--out`` after each phase, so
   a stop still returns the teachers. ``--unpack`` turns those files back into run folders for
   ``training.face.export --run``.

Every run's exact ``training.face.train`` command, with the epochs chosen, is printed and packed beside its weights:
the command alone reproduces it (bar GPU nondeterminism). The data is read from ``--data`` (for a remote
machine, the packed copy that ``training.common.fer`` makes).

    python -m training.face.gpu --data .facedata --work /tmp/fg --out $OUT --budget 470
    python -m training.face.gpu --unpack DIR --runs training/runs      # back on the CPU machine
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

WIDTHS = {"base": "48,96,192,384", "small": "24,48,96,192"}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _cmd(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "training.face.train", *args]


def _launch(work: Path, name: str, args: list[str]) -> subprocess.Popen:
    logf = open(work / f"{name}.log", "w")
    return subprocess.Popen(_cmd(args), stdout=logf, stderr=subprocess.STDOUT)


def _wait(procs: dict[str, subprocess.Popen], until: float) -> None:
    """Wait for the processes; past ``until`` stop them (their last checkpoint stays)."""
    while any(p.poll() is None for p in procs.values()):
        if time.time() > until:
            for name, p in procs.items():
                if p.poll() is None:
                    _log(f"{name}: out of time, stopped")
                    p.kill()
            break
        time.sleep(1)
    for p in procs.values():
        p.wait()


def _calibrate(work: Path, specs: dict[str, list[str]], steps: int, timeout: float) -> tuple[float, list[str]]:
    """Run every spec at once for ``steps`` steps: the slowest epoch time (seconds) and the specs that ran."""
    procs = {n: _launch(work, f"cal_{n}", [*a, "--out", str(work / f"cal_{n}"), "--max-steps", str(steps)])
             for n, a in specs.items()}
    _wait(procs, time.time() + timeout)
    worst, ok, steps_per_epoch = 0.0, [], 1
    for n in procs:
        text = (work / f"cal_{n}.log").read_text()
        lines = [ln for ln in text.splitlines() if ln.startswith("{")]
        rec = json.loads(lines[-1]) if lines else {}
        if "median_step_s" not in rec:
            _log(f"{n}: calibration failed, left out:\n{text[-2000:]}")
            continue
        ok.append(n)
        worst = max(worst, rec["median_step_s"])
        steps_per_epoch = rec["steps_per_epoch"]
    _log(f"calibration: slowest median step {worst * 1000:.1f} ms, {steps_per_epoch} steps per epoch")
    return worst * steps_per_epoch, ok


def _pack(out: Path, fname: str, runs: dict[str, dict]) -> None:
    import torch

    blob = {}
    for name, info in runs.items():
        ck_path = Path(info["dir"]) / "checkpoint.pt"
        if not ck_path.exists():
            _log(f"{name}: no checkpoint, nothing to pack")
            continue
        ck = torch.load(ck_path, map_location="cpu", weights_only=False)
        blob[name] = dict(state={k: (v.half() if v.dtype.is_floating_point else v) for k, v in ck["model"].items()},
                          widths=info["widths"], epoch=ck["epoch"], epochs=ck["epochs"], command=info["command"],
                          log=(Path(info["dir"]) / "log.jsonl").read_text() if (Path(info["dir"]) / "log.jsonl").exists() else "")
    torch.save(blob, out / fname)
    _log(f"packed {sorted(blob)} into {fname} ({(out / fname).stat().st_size / 1e6:.1f} MB)")


def unpack(src: Path, runs: Path) -> None:
    """Packed files back into run folders that ``training.face.export --run DIR:last-raw`` reads."""
    import torch

    for f in sorted(src.glob("*.pt")):
        for name, info in torch.load(f, map_location="cpu", weights_only=False).items():
            d = runs / name
            d.mkdir(parents=True, exist_ok=True)
            state = {k: (v.float() if v.dtype.is_floating_point else v) for k, v in info["state"].items()}
            torch.save(dict(model=state, ema=state, epoch=info["epoch"], epochs=info["epochs"],
                            widths=tuple(int(w) for w in info["widths"].split(","))), d / "checkpoint.pt")
            (d / "log.jsonl").write_text(info["log"])
            (d / "command.txt").write_text(info["command"] + "\n")
            print(f"{d}: epoch {info['epoch']} of {info['epochs']}; {info['command']}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None)
    p.add_argument("--work", default="/tmp/face_gpu")
    p.add_argument("--out", default=None, help="folder for the packed weights")
    p.add_argument("--budget", type=float, default=470, help="seconds for everything, from the start")
    p.add_argument("--teachers", type=int, default=6)
    p.add_argument("--seed0", type=int, default=10)
    p.add_argument("--teacher-share", type=float, default=0.55, help="share of the training time for the teachers")
    p.add_argument("--max-epochs", type=int, default=160)
    p.add_argument("--students", default="base:0.7:2,base:0.9:1,small:0.7:2,small:0.9:1")
    p.add_argument("--device", default="cuda")
    p.add_argument("--calibration-steps", type=int, default=60)
    p.add_argument("--limit-train", type=int, default=0, help=argparse.SUPPRESS)  # smoke tests
    p.add_argument("--unpack", default=None, metavar="DIR", help="unpack DIR's files into --runs and stop")
    p.add_argument("--runs", default="training/runs")
    a = p.parse_args(argv)
    if a.unpack:
        unpack(Path(a.unpack), Path(a.runs))
        return
    t_start = time.time()
    deadline = t_start + a.budget
    work, out = Path(a.work), Path(a.out or a.work)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    common = ["--device", a.device] + (["--data", a.data] if a.data else []) + (
        ["--limit-train", str(a.limit_train)] if a.limit_train else [])

    # 1. teachers
    tspecs = {f"t{i}": [*common, "--seed", str(a.seed0 + i), "--widths", WIDTHS["base"]] for i in range(a.teachers)}
    epoch_s, ok = _calibrate(work, tspecs, a.calibration_steps, timeout=150)
    tspecs = {n: tspecs[n] for n in ok}
    if not tspecs:
        raise SystemExit("no teacher could start")
    epoch_s = epoch_s * 1.12 + 0.3
    reserve = 75.0  # student calibration, packing, slack
    t_teach = (deadline - time.time() - reserve) * a.teacher_share
    e_t = max(1, min(a.max_epochs, math.floor(t_teach / epoch_s)))
    _log(f"teachers: {len(tspecs)} runs x {e_t} epochs (about {epoch_s:.2f} s each, {t_teach:.0f} s planned)")
    truns, procs = {}, {}
    for n, args in tspecs.items():
        args = [*args, "--epochs", str(e_t), "--out", str(work / n)]
        truns[n] = dict(dir=str(work / n), widths=WIDTHS["base"], command=" ".join(["python -m training.face.train", *args]))
        _log(truns[n]["command"])
        procs[n] = _launch(work, n, args)
    _wait(procs, min(time.time() + t_teach * 1.3 + 30, deadline - 60))
    _log("teachers done")
    _pack(out, "teachers_a.pt", {k: truns[k] for k in list(truns)[0::3]})
    _pack(out, "teachers_b.pt", {k: truns[k] for k in list(truns)[1::3]})
    _pack(out, "teachers_c.pt", {k: truns[k] for k in list(truns)[2::3]})

    # 2. students, taught by every teacher that finished its schedule
    done = []
    for n, info in truns.items():
        lines = (Path(info["dir"]) / "log.jsonl").read_text().splitlines() if (Path(info["dir"]) / "log.jsonl").exists() else []
        if lines and json.loads(lines[-1])["epoch"] == e_t:
            done.append(info["dir"] + ":last-raw")
    if not done:
        raise SystemExit("no teacher finished")
    sspecs = {}
    for j, spec in enumerate(a.students.split(",")):
        arch, alpha, temp = spec.split(":")
        sspecs[f"s{j}_{arch}"] = [*common, "--seed", str(a.seed0 + 50 + j), "--widths", WIDTHS[arch],
                                  "--kd-alpha", alpha, "--kd-temperature", temp, "--teacher-runs", *done]
    epoch_s, ok = _calibrate(work, sspecs, max(20, a.calibration_steps // 2), timeout=120)
    sspecs = {n: sspecs[n] for n in ok}
    epoch_s = epoch_s * 1.12 + 0.3
    t_stud = deadline - time.time() - 30
    e_s = max(1, min(a.max_epochs, math.floor(t_stud / epoch_s)))
    _log(f"students: {len(sspecs)} runs x {e_s} epochs (about {epoch_s:.2f} s each, {t_stud:.0f} s left), "
         f"{len(done)} teachers")
    sruns, procs = {}, {}
    for n, args in sspecs.items():
        args = [*args, "--epochs", str(e_s), "--out", str(work / n)]
        sruns[n] = dict(dir=str(work / n), widths=WIDTHS[n.split("_")[1]],
                        command=" ".join(["python -m training.face.train", *args]))
        _log(sruns[n]["command"])
        procs[n] = _launch(work, n, args)
    _wait(procs, deadline - 12)
    _pack(out, "students_base.pt", {k: v for k, v in sruns.items() if k.endswith("base")})
    _pack(out, "students_small.pt", {k: v for k, v in sruns.items() if k.endswith("small")})
    _log(f"all done in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
