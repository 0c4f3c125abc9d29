"""Train the face-expression CNN on FER-2013 (train split; PublicTest as dev).

Seeded, CPU-friendly (bf16 autocast, channels-last), checkpointed every epoch so that a stop
loses nothing: run the same command again and it resumes.

    python -m training.face.train --out training/runs/face_a --epochs 36 --seed 0

On an accelerator, ``--device cuda`` keeps the data and the augmentation on the GPU (same recipe, same
schedule); ``training/face/gpu.py`` runs several such trainings side by side on one GPU.

Distillation (the small model): ``--teacher FILE`` reads a shipped face model (safetensors), computes its
flip-averaged logits on the training images once (offline knowledge distillation; cached in the run
folder) and trains on ``(1 - kd_alpha) * cross-entropy + kd_alpha * T^2 * KL(teacher_T || student_T)``:

    python -m training.face.train --out training/runs/face_small --widths 24,48,96,192 --epochs 30 \
        --teacher models/face/face_expression.safetensors --kd-alpha 0.7 --kd-temperature 2 --seed 0

Online distillation from several runs: ``--teacher-runs RUN[:WHICH] ...`` averages the teachers' logits on
the very augmented batch the student sees (consistent views, Beyer et al. 2022), every step.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from cxsense.encoders.face.net import FaceNet, standardize
from training.common.fer import data_root, load_fer
from training.face.nets import augment, evaluate, load_run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="data folder (default: $CXSENSE_DATA or ../shared/data)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, log, final weights")
    p.add_argument("--epochs", type=int, default=36)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--wd", type=float, default=5e-4)
    p.add_argument("--widths", default="48,96,192,384")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--class-weight-power", type=float, default=0.3,
                   help="class weights proportional to count**-power (0: unweighted)")
    p.add_argument("--teacher", default=None, help="safetensors face model to distil from (offline KD)")
    p.add_argument("--kd-alpha", type=float, default=0.7)
    p.add_argument("--kd-temperature", type=float, default=2.0)
    p.add_argument("--teacher-runs", nargs="+", default=None, metavar="RUN[:WHICH]",
                   help="online distillation: the averaged logits of these runs (last-raw unless WHICH) "
                        "on the student's own augmented batch")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--init", default=None, metavar="RUN",
                   help="start from the last raw weights of this run (a warm restart: a new one-cycle from there)")
    p.add_argument("--max-steps", type=int, default=0,
                   help="calibration: time this many training steps, print the median step time, save nothing")
    p.add_argument("--limit-train", type=int, default=0, help=argparse.SUPPRESS)  # smoke tests only
    a = p.parse_args(argv)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True

    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    root = data_root(a.data)
    xtr, ytr, dtr = load_fer(root, "train")
    if a.limit_train:
        keep = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(0))[: a.limit_train].numpy()
        xtr, ytr = xtr[keep], ytr[keep]
    try:
        xdv, ydv, ddv = load_fer(root, "dev")
    except (FileNotFoundError, SystemExit):  # a packed copy may carry the train split only
        xdv, ydv, ddv = None, None, "none (not in this data folder; evaluate the run elsewhere)"
    print(f"train: {dtr}\ndev:   {ddv}", flush=True)
    xtr = torch.from_numpy(xtr).float().div_(255).unsqueeze(1).to(dev)
    ytr = torch.from_numpy(ytr).to(dev)
    if xdv is not None:
        xdv = torch.from_numpy(xdv).float().div_(255).unsqueeze(1).to(dev)
        ydv = torch.from_numpy(ydv).to(dev)

    teacher_logits = None
    if a.teacher:
        tl_path = out / "teacher_logits.pt"
        if tl_path.exists():
            teacher_logits = torch.load(tl_path)
        else:
            from safetensors.torch import load_file

            from cxsense.encoders.face.net import build_from_config
            from cxsense.modelmeta import read_meta

            # one network or an ensemble (its logits averaged)
            teacher = build_from_config(read_meta(a.teacher).architecture)
            teacher.load_state_dict({k: v.float() for k, v in load_file(a.teacher).items()
                                     if not k.startswith("stage1.")})  # a separate stage-1 network is no teacher
            teacher = teacher.to(dev).to(memory_format=torch.channels_last)
            t0 = time.time()
            with torch.inference_mode():
                _, teacher_logits = evaluate(teacher, xtr, ytr, tta=True)
            torch.save(teacher_logits.cpu(), tl_path)
            print(f"teacher logits on train: {time.time() - t0:.0f} s, teacher train accuracy "
                  f"{(teacher_logits.argmax(1) == ytr).float().mean():.4f}", flush=True)
        teacher_logits = teacher_logits.to(dev)

    teachers = []
    if a.teacher_runs:
        for spec in a.teacher_runs:
            run, _, which = spec.partition(":")
            # runs older than session 5 keep no widths in their checkpoint: they are base networks
            net, ep = load_run(run, which or "last-raw")
            teachers.append(net.to(dev).to(memory_format=torch.channels_last).eval())
            print(f"teacher {spec}: epoch {ep}", flush=True)

    torch.manual_seed(a.seed)
    widths = tuple(int(w) for w in a.widths.split(","))
    model = FaceNet(widths=widths).to(memory_format=torch.channels_last)
    ema = FaceNet(widths=widths).to(memory_format=torch.channels_last)
    if a.init:
        init = torch.load(Path(a.init) / "checkpoint.pt", map_location="cpu", weights_only=False)
        model.load_state_dict(init["model"])
        print(f"initialised from {a.init} (epoch {init['epoch']}, raw weights)", flush=True)
    model.to(dev)
    ema.to(dev)
    ema.load_state_dict(model.state_dict())
    for q in ema.parameters():
        q.requires_grad_(False)
    counts = torch.bincount(ytr, minlength=7).float()
    cw = counts.pow(-a.class_weight_power)
    cw = (cw / (cw * counts).sum() * counts.sum()).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, nesterov=True, weight_decay=a.wd)
    steps_per_epoch = len(xtr) // a.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.epochs * steps_per_epoch, pct_start=0.15)
    g = torch.Generator(device=dev).manual_seed(a.seed)
    start, best = 0, 0.0
    ck = out / "checkpoint.pt"
    if ck.exists():
        s = torch.load(ck, weights_only=False, map_location=dev)
        model.load_state_dict(s["model"]); ema.load_state_dict(s["ema"]); opt.load_state_dict(s["opt"])
        g.set_state(s["gen"].cpu()); torch.set_rng_state(s["torch_rng"].cpu())
        start, best = s["epoch"], s["best"]
        # replay the schedule up to where we are (also right when --epochs changed between sittings)
        for _ in range(start * steps_per_epoch):
            sched.step()
        if s.get("epochs") != a.epochs:
            print(f"schedule changed from {s.get('epochs')} to {a.epochs} epochs", flush=True)
        print(f"resumed after epoch {start}", flush=True)

    decay = 0.999
    ema_p, model_p = list(ema.parameters()), list(model.parameters())
    ema_b, model_b = list(ema.buffers()), list(model.buffers())
    step_times = []
    for epoch in range(start, a.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xtr), generator=g, device=dev)
        tot = torch.zeros((), device=dev)
        for i in range(steps_per_epoch):
            ts = time.perf_counter()
            idx = perm[i * a.batch : (i + 1) * a.batch]
            x = standardize(augment(xtr[idx], g)).contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                logits = model(x)
                if teachers:
                    with torch.no_grad():
                        t_logits = torch.stack([t(x).float() for t in teachers]).mean(0)
            loss = F.cross_entropy(logits.float(), ytr[idx], weight=cw, label_smoothing=0.1)
            if teacher_logits is not None or teachers:
                T = a.kd_temperature
                target = t_logits if teachers else teacher_logits[idx]
                kd = F.kl_div(F.log_softmax(logits.float() / T, 1), F.softmax(target / T, 1),
                              reduction="batchmean") * T * T
                loss = (1 - a.kd_alpha) * loss + a.kd_alpha * kd
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.detach()
            with torch.no_grad():
                d = min(decay, (1 + epoch * steps_per_epoch + i) / (10 + epoch * steps_per_epoch + i))
                torch._foreach_mul_(ema_p, d)
                torch._foreach_add_(ema_p, [q.detach() for q in model_p], alpha=1 - d)
                for be, bm in zip(ema_b, model_b):
                    be.copy_(bm)
            if a.max_steps:
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                step_times.append(time.perf_counter() - ts)
                if len(step_times) >= a.max_steps:
                    st = sorted(step_times[len(step_times) // 3 :])  # past the warm-up
                    print(json.dumps(dict(calibration_steps=len(step_times), median_step_s=st[len(st) // 2],
                                          steps_per_epoch=steps_per_epoch)), flush=True)
                    return
        tot = tot.item()
        if xdv is not None:
            acc, _ = evaluate(model, xdv, ydv, tta=False)
            acc_e, _ = evaluate(ema, xdv, ydv, tta=False)
            acc_et, _ = evaluate(ema, xdv, ydv, tta=True)
        else:
            acc = acc_e = acc_et = float("nan")
        rec = dict(epoch=epoch + 1, loss=tot / steps_per_epoch, dev_acc=acc, dev_acc_ema=acc_e,
                   dev_acc_ema_flip=acc_et, lr=sched.get_last_lr()[0], seconds=time.time() - t0)
        print(json.dumps(rec), flush=True)
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        if acc_et > best:  # never true without a dev split (NaN)
            best = acc_et
            torch.save({"ema": ema.state_dict(), "epoch": epoch + 1, "dev_acc_ema_flip": acc_et, "widths": widths}, out / "best.pt")
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "gen": g.get_state(), "torch_rng": torch.get_rng_state(),
                    "epoch": epoch + 1, "epochs": a.epochs, "best": best, "widths": widths}, out / "checkpoint.tmp")
        (out / "checkpoint.tmp").replace(ck)
    torch.save({"ema": ema.state_dict(), "epoch": a.epochs, "widths": widths}, out / "final.pt")
    print("done", flush=True)


if __name__ == "__main__":
    main()
