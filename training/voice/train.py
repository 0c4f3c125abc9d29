"""Train the voice-tone model on RAVDESS actors 01-18 and choose on actors 19-20; calibration is separate.

The shipped model, voice-tone 1.2.0 (see models/voice/MODEL_CARD.md), was made by:

    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1
    C="--cache-dir training/runs/voice_n85 --cache-seed 0 --variants 5 --epochs 320 --cmn --pitch-tempo --noise-p 0.85"
    nice -n 10 python3 -m training.voice.train --out training/runs/voice_n85_320_N $C --seed N --no-export  # N = 0 .. 4
    nice -n 10 python3 -m training.voice.train --out training/runs/voice_n85cv3_320_fK_sS $C --seed S \
        --cv-folds 3 --cv-fold K                                                             # K = 0 .. 2, S = 0, 1
    cp -r training/runs/voice_n85_320_0 training/runs/voice_n85_320_join
    nice -n 10 python3 -m training.voice.train --out training/runs/voice_n85_320_join $C --seed 0 \
        --ensemble training/runs/voice_n85_320_{1,2,3,4} --export training/runs/voice_n85_320_join/voice5.safetensors
    python3 -m training.voice.calibrate --weights training/runs/voice_n85_320_join/voice5.safetensors \
        --oof training/runs/voice_n85cv3_320_f{0,1,2}_s{0,1} --out models/voice/voice_tone_v1.safetensors --version 1.2.0

(the first run builds the feature cache, ``cache_train_v5_s0_pt_n85.npz``; the ``--cv-folds`` runs write
out-of-fold logits of the training actors, on which :mod:`training.voice.calibrate` fits the temperature and the
prior correction). The previous files' commands are in the model card; the defaults still reproduce them.

Stages (each resumable; a run whose checkpoint is at the last epoch only re-fits T and exports):

1. Feature cache (``cache_train_v{variants}_s{seed}.npz``, ``cache_dev.npz``): every training file once clean
   and ``--variants - 1`` times augmented at waveform level (:func:`training.common.ravdess.augment`: gain,
   noise (``--noise-p``, default 0.6), reverberation, recording-chain equalisation; with ``--pitch-tempo`` also
   the phase-vocoder pitch shift and time stretch, cache ``cache_train_v{variants}_s{seed}_pt.npz``), each through the
   encoder's own signal stages (:func:`cxsense.encoders.voice.features.voice_process`). Dev files clean.
2. Training of :class:`cxsense.encoders.voice.net.VoiceNet` on one random variant of each file per epoch:
   random crops of 1-3 s, tempo 0.85-1.15 (frame interpolation), a mel-axis shift of +-1.5 bands with an f0
   offset of +-2 semitones, SpecAugment (2 frequency masks <= 8 bands, 2 time masks <= 20 frames), a
   +-3 dB level offset and noise on the statistics (``--no-feature-warp`` skips the tempo and mel/f0 shifts;
   ``--balanced`` weights the loss by inverse class frequency). With ``--cmn`` each recording's mean log-mel (per band,
   over its kept frames) is subtracted first. AdamW, one-cycle schedule, label smoothing 0.05; the
   exponential moving average of the weights (decay 0.99) is evaluated (every 3 epochs) and shipped.
3. Temperature fitted on dev (:func:`cxsense.metrics.fit_temperature`; the shipped file then replaces it
   through ``training.voice.calibrate``) on logits computed exactly as at inference (each dev file through
   ``load_audio``, the current signal stages and :func:`training.voice.calibrate.encoder_logits`, members
   averaged), not on the cached features (which may come from older code); safetensors export with the metadata
   block of :func:`training.common.model_metadata.voice_meta` (architecture, feature normalisation, labels,
   temperature, cmn, the command and runs) to ``models/voice/voice_tone_v1.safetensors`` and the ``voice-tone``
   entry of ``models/registry.json``. ``--ensemble RUN ...`` adds other runs' weights as members.

Seeded (``--seed``), one thread.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from cxsense.metrics import fit_temperature, softmax
from training.common.data import REPO
from training.common.model_metadata import provenance, register, voice_meta, write_safetensors

VOICE_LICENCE = "CC BY-NC-SA 4.0 (weights derived from RAVDESS; non-commercial use only)"


def build_cache(rows, variants: int, seed: int, path: Path, log, pitch_tempo: bool = False,
                telephone: float = 0.0, noise_p: float = 0.6) -> None:
    from cxsense.encoders.voice.features import voice_process
    from training.common.ravdess import augment, read_wav

    mels, stats, labels, speakers, file_idx, quality, ops = [], [], [], [], [], [], []
    t0 = time.time()
    for i, r in enumerate(rows):
        y0 = read_wav(r["path"])
        for v in range(variants):
            rng = np.random.default_rng([seed, i, v])
            if v == 0:
                y, op = y0, ["clean"]
            else:
                y, op = augment(y0, rng, pitch_tempo=pitch_tempo, telephone=telephone, noise_p=noise_p)
            f = voice_process(y)
            if f.quality <= 0:
                continue
            mels.append(f.logmel.astype(np.float16))
            stats.append(f.stats)
            labels.append(r["label"])
            speakers.append(r["speaker"])
            file_idx.append(i)
            quality.append(f.quality)
            ops.append("+".join(op))
        if (i + 1) % 100 == 0:
            log(f"  features {i + 1}/{len(rows)} files, {len(mels)} items, {time.time() - t0:.0f} s")
    lengths = np.array([m.shape[1] for m in mels])
    np.savez(path, mel=np.concatenate(mels, 1), lengths=lengths, stats=np.stack(stats), labels=np.array(labels),
             speakers=np.array(speakers), file_idx=np.array(file_idx), quality=np.array(quality), ops=np.array(ops))


def load_cache(path: Path) -> dict:
    z = np.load(path)
    offs = np.concatenate([[0], np.cumsum(z["lengths"])])
    mel = z["mel"]
    d = {k: z[k] for k in z.files if k != "mel"}
    d["mels"] = [mel[:, offs[i]:offs[i + 1]] for i in range(len(offs) - 1)]
    return d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default=str(REPO / "training" / "runs" / "voice_a"))
    ap.add_argument("--variants", type=int, default=2, help="clean + augmented copies per training file")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--export", default=str(REPO / "models" / "voice" / "voice_tone_v1.safetensors"))
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--cache-dir", default=None, help="read/write the feature caches here (default: --out)")
    ap.add_argument("--cache-seed", type=int, default=None, help="seed of the augmented cache (default: --seed)")
    ap.add_argument("--cmn", action="store_true",
                    help="subtract each recording's mean log-mel (per band, over its kept frames) before normalising")
    ap.add_argument("--pitch-tempo", action="store_true",
                    help="augmented cache copies also get the waveform pitch shift (+-2.5 semitones, p=0.4) and "
                         "time stretch (0.85-1.15, p=0.3) of training.common.ravdess.augment; cache file *_pt.npz")
    ap.add_argument("--telephone", type=float, default=0.0,
                    help="probability that an augmented cache copy also goes through a telephone line "
                         "(training.common.ravdess.telephone_channel); cache file *_tel<percent>.npz")
    ap.add_argument("--noise-p", type=float, default=0.6,
                    help="probability that an augmented cache copy gets background noise (3-30 dB SNR); "
                         "cache file *_n<percent>.npz when not 0.6")
    ap.add_argument("--no-feature-warp", action="store_true",
                    help="skip the feature-level tempo and mel-axis/f0 shifts in training (for use with --pitch-tempo)")
    ap.add_argument("--balanced", action="store_true",
                    help="weight the loss by inverse class frequency (neutral incl. calm is 1.5 times as frequent)")
    ap.add_argument("--cv-folds", type=int, default=0,
                    help="actor-grouped cross-validation inside the training actors: with --cv-fold i, train on the "
                         "other folds' actors and write the held-out actors' clean logits to OUT/oof_logits.npz "
                         "(no export); used to calibrate on ~1000 files instead of the 120 dev files")
    ap.add_argument("--cv-fold", type=int, default=0)
    ap.add_argument("--ensemble", nargs="*", default=[],
                    help="other finished run folders whose EMA weights join this run's in the exported model")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    from cxsense.emotions import EMOTIONS
    from cxsense.encoders.voice.features import N_MELS, N_STATS, STAT_NAMES
    from cxsense.encoders.voice.net import ARCH, VoiceNet
    from training.common.data import data_root
    from training.common.ravdess import load_ravdess

    F0_LEVEL_STATS = [STAT_NAMES.index(n) for n in ("f0_mean_st", "f0_p10_st", "f0_p90_st")]

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logf = open(out / "train.log", "a")

    def log(msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    t_start = time.time()
    log("command: " + " ".join([sys.executable.split("/")[-1], "-m", "training.voice.train"] + (argv or sys.argv[1:])))
    root = data_root(args.data)
    train_rows, dev_rows = load_ravdess(root, "train"), load_ravdess(root, "dev")
    log(f"train: {len(train_rows)} files, speakers {sorted({r['speaker'] for r in train_rows})}")
    log(f"dev: {len(dev_rows)} files, speakers {sorted({r['speaker'] for r in dev_rows})}")
    cdir = Path(args.cache_dir) if args.cache_dir else out
    cdir.mkdir(parents=True, exist_ok=True)
    cseed = args.seed if args.cache_seed is None else args.cache_seed
    pt = ("_pt" if args.pitch_tempo else "") + (f"_tel{round(100 * args.telephone)}" if args.telephone > 0 else "")
    pt += f"_n{round(100 * args.noise_p)}" if args.noise_p != 0.6 else ""
    ctr, cdev = cdir / f"cache_train_v{args.variants}_s{cseed}{pt}.npz", cdir / "cache_dev.npz"
    if not ctr.exists():
        log(f"building training feature cache ({args.variants} variants per file, pitch_tempo={args.pitch_tempo})")
        build_cache(train_rows, args.variants, cseed, ctr, log, pitch_tempo=args.pitch_tempo,
                    telephone=args.telephone, noise_p=args.noise_p)
    if not cdev.exists():
        build_cache(dev_rows, 1, cseed, cdev, log)
    tr, dv = load_cache(ctr), load_cache(cdev)
    if args.cv_folds:  # hold out every cv_folds-th training actor (sorted), starting at cv_fold
        actors = sorted({str(a_) for a_ in tr["speakers"]})
        held = set(actors[args.cv_fold::args.cv_folds])
        spk = np.array([str(a_) for a_ in tr["speakers"]])
        out_mask = np.isin(spk, sorted(held))
        dv_mask = out_mask & (np.array(tr["ops"]) == "clean")
        dv = {k: (v[dv_mask] if isinstance(v, np.ndarray) and len(v) == len(spk) else v) for k, v in tr.items()}
        dv["mels"] = [m for m, k_ in zip(tr["mels"], dv_mask) if k_]
        tr = {k: (v[~out_mask] if isinstance(v, np.ndarray) and len(v) == len(spk) else v) for k, v in tr.items()}
        tr["mels"] = [m for m, k_ in zip(tr["mels"], ~out_mask) if k_]
        log(f"cross-validation fold {args.cv_fold}/{args.cv_folds}: held-out actors {sorted(held)} "
            f"({int(dv_mask.sum())} clean files); training on {int((~out_mask).sum())} items")
    log(f"cache: {len(tr['mels'])} training items, {len(dv['mels'])} dev items; features took "
        f"{time.time() - t_start:.0f} s so far")

    if args.cmn:
        tr["mels"] = [m.astype(np.float32) - m.astype(np.float32).mean(1, keepdims=True) for m in tr["mels"]]
        dv["mels"] = [m.astype(np.float32) - m.astype(np.float32).mean(1, keepdims=True) for m in dv["mels"]]
    clean = [m for m, o in zip(tr["mels"], tr["ops"]) if o == "clean"]
    allc = np.concatenate(clean, 1).astype(np.float64)
    mel_mean, mel_std = allc.mean(1), allc.std(1) + 1e-3
    st_mean, st_std = tr["stats"].mean(0), tr["stats"].std(0) + 1e-3
    norm = dict(mel_mean=mel_mean.tolist(), mel_std=mel_std.tolist(), stats_mean=st_mean.tolist(),
                stats_std=st_std.tolist())

    def prep(mel):
        return ((mel.astype(np.float32) - mel_mean[:, None]) / mel_std[:, None]).astype(np.float32)

    trm = [prep(m) for m in tr["mels"]]
    trs = ((tr["stats"] - st_mean) / st_std).astype(np.float32)
    dvm = [prep(m) for m in dv["mels"]]
    dvs = ((dv["stats"] - st_mean) / st_std).astype(np.float32)
    ytr, ydv = tr["labels"].astype(np.int64), dv["labels"].astype(np.int64)
    by_file: dict[int, list[int]] = {}
    for j, fi in enumerate(tr["file_idx"]):
        by_file.setdefault(int(fi), []).append(j)
    files = sorted(by_file)

    rng = np.random.default_rng(args.seed)
    model = VoiceNet(n_mels=N_MELS, n_stats=N_STATS)
    ema = VoiceNet(n_mels=N_MELS, n_stats=N_STATS)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    steps_per_epoch = math.ceil(len(files) / args.batch)
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total, pct_start=0.1)
    cls_w = None
    if args.balanced:
        cnt = np.bincount(ytr[[by_file[f][0] for f in files]], minlength=len(EMOTIONS)).astype(np.float64)
        cls_w = torch.tensor(cnt.sum() / (len(EMOTIONS) * cnt), dtype=torch.float32)
        log("class weights " + " ".join(f"{w:.2f}" for w in cls_w.tolist()))
    lossf = torch.nn.CrossEntropyLoss(weight=cls_w, label_smoothing=0.05)
    ck = out / "checkpoint.pt"
    start_epoch = 0
    if ck.exists():
        s = torch.load(ck, weights_only=False)
        model.load_state_dict(s["model"]); ema.load_state_dict(s["ema"]); opt.load_state_dict(s["opt"])
        sched.load_state_dict(s["sched"]); rng = s["rng"]; start_epoch = s["epoch"] + 1
        torch.set_rng_state(s["torch_rng"])
        log(f"resumed from epoch {start_epoch}")
    log(f"model {ARCH}: {sum(p.numel() for p in model.parameters())} parameters; {steps_per_epoch} steps/epoch")

    def batch(idx):
        L = int(rng.integers(100, 301))
        xs = np.zeros((len(idx), N_MELS, L), np.float32)
        ms = np.zeros((len(idx), L), np.float32)
        st = trs[idx] + rng.normal(0, 0.1, size=trs[idx].shape).astype(np.float32)
        for b, j in enumerate(idx):
            m = trm[j]
            if not args.no_feature_warp and rng.random() < 0.3:  # tempo 0.85-1.15 by linear interpolation of frames
                r = rng.uniform(0.85, 1.15)
                n_new = max(20, int(round(m.shape[1] / r)))
                pos = np.linspace(0, m.shape[1] - 1, n_new)
                i0 = np.floor(pos).astype(int); i1 = np.minimum(i0 + 1, m.shape[1] - 1); w = (pos - i0)[None]
                m = (1 - w) * m[:, i0] + w * m[:, i1]
            if not args.no_feature_warp and rng.random() < 0.4:  # vocal-tract-like shift of the mel axis (+-1.5 bands) and an f0 offset
                sh = rng.uniform(-1.5, 1.5)
                src = np.clip(np.arange(N_MELS) - sh, 0, N_MELS - 1)
                k0 = np.floor(src).astype(int); k1 = np.minimum(k0 + 1, N_MELS - 1); w = (src - k0)[:, None]
                m = (1 - w) * m[k0] + w * m[k1]
                semis = rng.uniform(-2.0, 2.0)
                for c in F0_LEVEL_STATS:
                    st[b, c] += semis / st_std[c]
            if m.shape[1] > L:
                s0 = int(rng.integers(0, m.shape[1] - L + 1))
                m = m[:, s0:s0 + L]
            m = m + rng.uniform(-3, 3) / mel_std[:, None].astype(np.float32)  # level offset of +-3 dB
            n = m.shape[1]
            m = m.copy()
            for _ in range(2):
                w = int(rng.integers(0, 9)); f0 = int(rng.integers(0, N_MELS - w + 1)); m[f0:f0 + w] = 0
                w = int(rng.integers(0, 21)); t0 = int(rng.integers(0, max(1, n - w + 1))); m[:, t0:t0 + w] = 0
            xs[b, :, :n] = m
            ms[b, :n] = 1
        return torch.from_numpy(xs), torch.from_numpy(ms), torch.from_numpy(st), torch.from_numpy(ytr[idx])

    def evaluate(net):
        net.eval()
        logits = []
        with torch.no_grad():
            for m, s in zip(dvm, dvs):
                x = torch.from_numpy(m)[None]
                lg, e = net(x, torch.ones(1, m.shape[1]), torch.from_numpy(s)[None])
                logits.append(lg[0].numpy())
        return np.stack(logits)

    def metrics(logits, y, T=1.0):
        from cxsense.metrics import classification_report

        return classification_report(softmax(logits / T), y, EMOTIONS)

    for epoch in range(start_epoch, args.epochs):
        model.train()
        te = time.time()
        picks = np.array([by_file[f][int(rng.integers(0, len(by_file[f])))] for f in files])
        rng.shuffle(picks)
        tot_loss = 0.0
        for k in range(steps_per_epoch):
            idx = picks[k * args.batch:(k + 1) * args.batch]
            x, m, s, y = batch(idx)
            logits, _ = model(x, m, s)
            loss = lossf(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += float(loss.detach()) * len(idx)
            with torch.no_grad():
                for pe, pm in zip(ema.state_dict().values(), model.state_dict().values()):
                    if pe.dtype.is_floating_point:
                        pe.mul_(0.99).add_(pm, alpha=0.01)
                    else:
                        pe.copy_(pm)
        if (epoch + 1) % 3 and epoch + 1 != args.epochs:
            log(f"epoch {epoch + 1}/{args.epochs} loss {tot_loss / len(picks):.4f}  {time.time() - te:.0f} s")
            continue
        r = metrics(evaluate(ema), ydv)
        log(f"epoch {epoch + 1}/{args.epochs} loss {tot_loss / len(picks):.4f}  dev(EMA) acc {r['accuracy']:.4f} "
            f"F1 {r['macro_f1']:.4f} NLL {r['nll']:.4f} ECE {r['ece']:.4f}  {time.time() - te:.0f} s")
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "rng": rng, "epoch": epoch, "torch_rng": torch.get_rng_state()},
                   ck)

    if args.cv_folds:
        np.savez(out / "oof_logits.npz", logits=evaluate(ema), labels=ydv, speakers=np.array(dv["speakers"]),
                 file_idx=np.array(dv["file_idx"]))
        log(f"wrote {out / 'oof_logits.npz'}; total time {time.time() - t_start:.0f} s")
        return 0
    # temperature on dev for the final EMA weights (averaged logits of the ensemble members, if any)
    members = [ema]
    for run in args.ensemble:
        other = VoiceNet(n_mels=N_MELS, n_stats=N_STATS)
        other.load_state_dict(torch.load(Path(run) / "checkpoint.pt", weights_only=False)["ema"])
        members.append(other)
    member_logits = [evaluate(m) for m in members]
    for i, l in enumerate(member_logits):
        r = metrics(l, ydv)
        log(f"member {i}: dev acc {r['accuracy']:.4f} F1 {r['macro_f1']:.4f} (cached dev features)")
    lg_cache = np.mean(member_logits, 0)
    r1 = metrics(lg_cache, ydv)
    log(f"cached dev features ({len(members)} member(s)): acc {r1['accuracy']:.4f} F1 {r1['macro_f1']:.4f}; "
        f"T=1 ECE {r1['ece']:.4f} NLL {r1['nll']:.4f}")
    recipe = {"seed": args.seed, "epochs": args.epochs, "variants": args.variants, "cmn": args.cmn}
    if args.pitch_tempo:  # only then, so that the earlier models' commands still write the same facts
        recipe["pitch_tempo"] = True
    if args.telephone > 0:
        recipe["telephone"] = args.telephone
    if args.noise_p != 0.6:
        recipe["noise_p"] = args.noise_p
    command = " ".join(["python", "-m", "training.voice.train"] + (argv if argv is not None else sys.argv[1:]))
    runs = [{"run": str(out), "role": "member 0"}] + [{"run": str(r), "role": f"member {i + 1}"}
                                                      for i, r in enumerate(args.ensemble)]
    meta = voice_meta(
        "voice-tone", "1.0.0", members=len(members), normalisation=norm, temperature=1.0,
        logit_bias=[0.0] * len(EMOTIONS), class_prior="training", cmn=args.cmn,
        fitted="temperature NLL-fitted on the dev actors 19-20 through the encoder (replace it with "
               "training.voice.calibrate)",
        provenance=provenance("RAVDESS speech actors 01-18 (calm merged into neutral); temperature fitted on "
                              "actors 19-20", VOICE_LICENCE, command, runs, recipe=recipe))
    sd = {f"m{i}.{k}": v.detach().contiguous() for i, m in enumerate(members) for k, v in m.state_dict().items()}
    # The temperature is fitted on logits computed exactly as at inference: every dev file read from disk,
    # through load_audio and the encoder's own signal stages (current VAD), segment pooling and member
    # averaging (training.voice.calibrate.encoder_logits), not on the cached features, which may come from
    # older code.
    from cxsense.encoders.voice.model import VoiceModel
    from cxsense.inputs.audio import load_audio
    from training.common.ravdess import read_wav
    from training.voice.calibrate import encoder_logits

    model = VoiceModel(sd, meta)
    enc_logits, keep = [], []
    for r_ in dev_rows:
        l_ = encoder_logits(model, load_audio((read_wav(r_["path"]).astype(np.float32), 16000)))
        keep.append(l_ is not None)
        if l_ is not None:
            enc_logits.append(l_)
    enc_logits = np.stack(enc_logits)  # (files, members, 7)
    ydv_enc = ydv[np.array(keep)]
    for i in range(enc_logits.shape[1]):
        r = metrics(enc_logits[:, i], ydv_enc)
        log(f"member {i}: dev acc {r['accuracy']:.4f} F1 {r['macro_f1']:.4f} NLL {r['nll']:.4f} (through the encoder)")
    lg = enc_logits.mean(1)
    T = fit_temperature(lg, ydv_enc)
    r1, rT = metrics(lg, ydv_enc), metrics(lg, ydv_enc, T)
    log(f"final EMA dev through the encoder ({len(members)} member(s), {int(sum(keep))} files with signal): "
        f"acc {r1['accuracy']:.4f} F1 {r1['macro_f1']:.4f}; T=1 ECE {r1['ece']:.4f} NLL {r1['nll']:.4f}; "
        f"T={T:.3f} ECE {rT['ece']:.4f} NLL {rT['nll']:.4f}")
    took = time.time() - t_start
    log(f"total time {took:.0f} s")
    if args.no_export:
        return 0
    meta = meta.replace(calibration=dict(meta.calibration, temperature=T), provenance=dict(
        meta.provenance, dev_accuracy=round(rT["accuracy"], 4), run_seconds=round(took)))
    exp = write_safetensors(args.export, sd, meta)
    if not exp.resolve().is_relative_to((REPO / "models").resolve()):
        log(f"exported {exp} ({exp.stat().st_size} bytes); outside models/, so the registry was not changed")
        return 0
    register("voice-tone", exp, meta, licence=VOICE_LICENCE, card="voice/MODEL_CARD.md")
    log(f"exported {exp} ({exp.stat().st_size} bytes) and registered 'voice-tone'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
