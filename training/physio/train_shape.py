"""Train the physiology shape network (a small 1-D CNN on within-window series) and its ensemble with the trees.

The tree model (``training/physio/train.py``) reads levels, and levels differ between people. The shape
network reads each window's 4-Hz series centred on their own means (:mod:`cxsense.encoders.physio.sequences`),
so a person's offsets cancel. At run time the stress probability is the tree model's raw score (the window
model, or the baseline model when a resting baseline is given) and the network's, each divided by its
out-of-fold spread, summed, then Platt-calibrated on out-of-fold scores (one calibration for each tree model;
:mod:`cxsense.encoders.physio.shape_model`).

Data: Stress-Predict, the 25 ``train`` subjects; dev = S04, S09, S14 (check only). The network trains on
60-s windows with a 10-s hop (three times the 30-s-hop set, overlapping) and is scored on the protocol's
30-s-hop windows. Series are computed by the library's own code (``extract`` then ``shape``), cached in
``training/runs/physio/`` (ignored by git).

    OMP_NUM_THREADS=1 python -m training.physio.train_shape --seed 0           # about 5 min on 2 cores
    OMP_NUM_THREADS=1 python -m training.physio.train_shape --seed 0 --loso    # + LOSO figures (about 15 min more)

Recipe: Conv(6->32, k7)-BN-ReLU-MaxPool2, Conv(32->64, k5)-BN-ReLU-MaxPool2, Conv(64->64, k5)-BN-ReLU, mean and
max over time, dropout 0.3, linear. AdamW (lr 3e-3 one-cycle, weight decay 0.01), batch 128, 12 epochs,
class-balanced BCE, each input channel zeroed with probability 0.15 (so that a missing channel is a state the
network has seen). Torch threads: 2.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from training.common.data import REPO, data_root
from training.common.model_metadata import STRESS_LICENCE, physio_shape_meta, provenance, register, write_safetensors
from training.common.stress_predict import CACHE, load_features, subjects, windows

VERSION = "1.1.0"
OUT = REPO / "models" / "physio" / "physio_shape_v1.safetensors"
TRAIN_HOP_S = 10
EPOCHS = 12
WIDTH = 32
CHANNEL_DROP = 0.15
LR = 3e-3
WEIGHT_DECAY = 1e-2
BATCH = 128
TORCH_THREADS = 2


def build_sequences(root: Path | None = None, hop_s: int = TRAIN_HOP_S, verbose: bool = True) -> dict:
    """Every subject's 60-s windows at ``hop_s`` as series ``[n, C, 240]`` (the run-time computation)."""
    from cxsense.encoders.physio.pipeline import extract, shape
    from cxsense.inputs.physio import load_physio

    path = CACHE / f"shape_seq_h{hop_s}.npz"
    if path.is_file():
        d = np.load(path)
        return {k: d[k] for k in d.files}
    seqs, ys, subs, starts = [], [], [], []
    t0 = time.time()
    for sub in subjects(root):
        for s, y, _, m in windows(sub, root, hop_s=hop_s):
            x = load_physio(m)
            seqs.append(shape(x, extract(x)))
            ys.append(y), subs.append(sub), starts.append(s)
        if verbose:
            print(f"{sub}: {sum(1 for u in subs if u == sub)} windows, {time.time() - t0:.0f} s", flush=True)
    out = {"seq": np.stack(seqs).astype(np.float32), "y": np.array(ys, np.int64), "subject": np.array(subs),
           "start_s": np.array(starts, np.int64)}
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    return out


def _net(cin: int, w: int = WIDTH, aux_classes: int = 0):
    """The network; with ``aux_classes`` it also has an auxiliary head (training screens only, never exported)
    and ``forward`` returns ``(stress logit, auxiliary logits)``."""
    import torch.nn as nn

    class ShapeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv1d(cin, w, 7, padding=3), nn.BatchNorm1d(w)
            self.conv2, self.bn2 = nn.Conv1d(w, 2 * w, 5, padding=2), nn.BatchNorm1d(2 * w)
            self.conv3, self.bn3 = nn.Conv1d(2 * w, 2 * w, 5, padding=2), nn.BatchNorm1d(2 * w)
            self.pool = nn.MaxPool1d(2)
            self.drop = nn.Dropout(0.3)
            self.head = nn.Linear(4 * w, 1)
            if aux_classes:  # created last, so the default network's initialisation is unchanged
                self.aux = nn.Linear(4 * w, aux_classes)

        def forward(self, x):
            import torch

            h = self.pool(self.bn1(self.conv1(x)).relu())
            h = self.pool(self.bn2(self.conv2(h)).relu())
            h = self.bn3(self.conv3(h)).relu()
            e = self.drop(torch.cat([h.mean(-1), h.amax(-1)], 1))
            z = self.head(e).squeeze(1)
            return (z, self.aux(e)) if aux_classes else z

    return ShapeNet()


def channel_scale(seq: np.ndarray) -> np.ndarray:
    """Divisor per channel: the SD of the centred series over the training windows (1 for ``hr_valid``)."""
    sc = seq.std(axis=(0, 2)).astype(np.float64)
    sc[-1] = 1.0
    return np.where(sc > 1e-6, sc, 1.0)


def fit(seq: np.ndarray, y: np.ndarray, seed: int, epochs: int = EPOCHS, width: int = WIDTH,
        aux: np.ndarray | None = None, aux_weight: float = 0.0):
    """Train one network; returns ``(net, channel_scale)``. ``aux`` (integer classes per window) adds an
    auxiliary class-balanced cross-entropy with weight ``aux_weight`` (``training/experiments/screen_physio_shape.py``)."""
    import torch

    torch.set_num_threads(TORCH_THREADS)  # part of the recipe: results depend (slightly) on the thread count
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    sc = channel_scale(seq)
    x = (seq / sc[None, :, None]).astype(np.float32)
    n_aux = int(aux.max()) + 1 if aux is not None else 0
    net = _net(x.shape[1], width, n_aux)
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    n = len(y)
    steps = epochs * (n // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=steps)
    pw = torch.tensor((y == 0).sum() / max(1, (y == 1).sum()), dtype=torch.float32)
    lossf = torch.nn.BCEWithLogitsLoss(pos_weight=pw)
    yt = torch.tensor(y, dtype=torch.float32)
    if n_aux:
        cw = torch.tensor(len(aux) / (n_aux * np.maximum(np.bincount(aux, minlength=n_aux), 1)), dtype=torch.float32)
        loss_aux, at = torch.nn.CrossEntropyLoss(weight=cw), torch.tensor(aux)
    net.train()
    hr = 3  # index of "hr"; "hr_valid" (last) is dropped with it
    for _ in range(epochs):
        perm = rng.permutation(n)
        for i in range(0, n - BATCH + 1, BATCH):
            b = perm[i:i + BATCH]
            xb = x[b].copy()
            keep = (rng.random((len(b), x.shape[1] - 1)) >= CHANNEL_DROP).astype(np.float32)
            xb[:, :-1] *= keep[:, :, None]
            xb[:, -1] *= keep[:, hr:hr + 1]
            opt.zero_grad()
            if n_aux:
                zb, ab = net(torch.from_numpy(xb))
                loss = lossf(zb, yt[b]) + aux_weight * loss_aux(ab, at[b])
            else:
                loss = lossf(net(torch.from_numpy(xb)), yt[b])
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    return net, sc


def scores(model, seq: np.ndarray) -> np.ndarray:
    import torch

    net, sc = model
    with torch.inference_mode():
        z = net(torch.from_numpy((seq / sc[None, :, None]).astype(np.float32)))
    return (z[0] if isinstance(z, tuple) else z).numpy().astype(np.float64)


def folded_tensors(model) -> dict:
    """Conv weights with their batch norms folded in, and the head (float32 arrays)."""
    net, _ = model
    out = {}
    for i in (1, 2, 3):
        conv, bn = getattr(net, f"conv{i}"), getattr(net, f"bn{i}")
        g = (bn.weight / (bn.running_var + bn.eps).sqrt()).detach().numpy()
        out[f"conv{i}.weight"] = (conv.weight.detach().numpy() * g[:, None, None]).astype(np.float32)
        out[f"conv{i}.bias"] = ((conv.bias.detach().numpy() - bn.running_mean.numpy()) * g
                                + bn.bias.detach().numpy()).astype(np.float32)
    out["head.weight"] = net.head.weight.detach().numpy().astype(np.float32)
    out["head.bias"] = net.head.bias.detach().numpy().astype(np.float32)
    return out


def _protocol(d: dict) -> np.ndarray:
    """Windows on the protocol's 30-s hop."""
    return d["start_s"] % 30 == 0


def grouped_shape_scores(d: dict, subs_in: list[str], folds: int, seed: int, log=print,
                         aux: np.ndarray | None = None, **fit_kw) -> dict:
    """Out-of-fold network scores on the 30-s windows of ``subs_in`` (the folds of training.physio.train.grouped_scores:
    sorted subject ids, round robin; ``folds=len(subs_in)`` is leave-one-subject-out). ``aux`` (one class per
    series window) and ``fit_kw`` go to :func:`fit`. Returns ``{(subject, start_s): score}``."""
    subs = sorted(subs_in)
    fold_of = {u: i % folds for i, u in enumerate(subs)}
    s = d["subject"]
    inside = np.isin(s, subs)
    f = np.array([fold_of.get(u, -1) for u in s])
    out = {}
    t0 = time.time()
    for k in range(folds):
        trn = inside & (f != k)
        te = inside & (f == k) & _protocol(d)
        m = fit(d["seq"][trn], d["y"][trn], seed, aux=None if aux is None else aux[trn], **fit_kw)
        for u, st, z in zip(s[te], d["start_s"][te], scores(m, d["seq"][te])):
            out[(str(u), int(st))] = float(z)
        log(f"shape fold {k + 1}/{folds} ({time.time() - t0:.0f} s)")
    return out


def aligned(table: dict, subject: np.ndarray, start: np.ndarray) -> np.ndarray:
    return np.array([table[(str(u), int(t))] for u, t in zip(subject, start)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--loso", action="store_true", help="also leave-one-subject-out figures (25 more fits)")
    ap.add_argument("--calib-folds", type=int, default=5)
    a = ap.parse_args()
    from cxsense.encoders.physio.encoder import PhysioEncoder
    from training.physio.train import (baseline_features, baseline_masks, evaluate, grouped_scores, loso_calibrated,
                                       loso_scores, platt, sigmoid, with_delta)

    t0 = time.time()
    log = lambda m: print(f"[{time.time() - t0:6.0f} s] {m}", flush=True)
    root = data_root(a.data)
    sp = subjects(root)
    train_subs = sorted(u for u, v in sp.items() if v == "train")
    dev_subs = sorted(u for u, v in sp.items() if v == "dev")
    d = build_sequences(root)
    f = load_features(root)
    X, y, s, st = f["X"], f["y"], f["subject"], f["start_s"]
    tr = np.isin(s, train_subs)
    dv = np.isin(s, dev_subs)
    prev = float(y[tr].mean())
    log(f"series: {len(d['y'])} windows at a {TRAIN_HOP_S}-s hop; protocol windows: train {tr.sum()}, dev {dv.sum()}")

    # out-of-fold scores of both models on the same subject-grouped folds -> ensemble scales and Platt
    zt = grouped_scores(X[tr], y[tr], s[tr], a.seed, a.calib_folds, "hgb")
    zs = aligned(grouped_shape_scores(d, train_subs, a.calib_folds, a.seed, log), s[tr], st[tr])
    tree_scale, shape_scale = float(np.std(zt)), float(np.std(zs))
    ze = zt / tree_scale + zs / shape_scale
    pa, pb = platt(ze, y[tr])
    log(f"OOF spreads: trees {tree_scale:.4f}, shape {shape_scale:.4f}; ensemble Platt a={pa:.4f} b={pb:.4f}")
    # the with-baseline trees (features + differences from the resting mean) with the same shape scores
    is_base, after = baseline_masks(f)
    XD = with_delta(X, baseline_features(X, s, is_base))
    zb = grouped_scores(XD[tr], y[tr], s[tr], a.seed, a.calib_folds, "gb")
    base_scale = float(np.std(zb))
    zeb = zb / base_scale + zs / shape_scale
    pa_b, pb_b = platt(zeb, y[tr])
    log(f"with baseline: OOF spread {base_scale:.4f}; ensemble Platt a={pa_b:.4f} b={pb_b:.4f}")

    def calibrated(z):
        ca, cb = platt(z, y[tr])
        return sigmoid(ca * z + cb)

    report = {"oof_trees": evaluate(calibrated(zt), y[tr], prev),
              "oof_shape": evaluate(calibrated(zs), y[tr], prev),
              "oof_ensemble": evaluate(sigmoid(pa * ze + pb), y[tr], prev)}
    ma = after[tr]
    report["oof_baseline_ensemble_after_baseline_period"] = evaluate(sigmoid(pa_b * zeb[ma] + pb_b), y[tr][ma], prev)
    for k in ("oof_trees", "oof_shape", "oof_ensemble", "oof_baseline_ensemble_after_baseline_period"):
        log(f"{k} ({a.calib_folds} subject-grouped folds, train): BA {report[k]['balanced_accuracy']:.4f} "
            f"AUC {report[k]['auc']:.4f}")

    if a.loso:
        zl_t = loso_scores(X[tr], y[tr], s[tr], a.seed, None, "hgb")
        zl_s = aligned(grouped_shape_scores(d, train_subs, len(train_subs), a.seed, log), s[tr], st[tr])
        for name, z in (("loso_trees", zl_t), ("loso_shape", zl_s),
                        ("loso_ensemble", zl_t / tree_scale + zl_s / shape_scale)):
            report[name] = evaluate(loso_calibrated(z, y[tr], s[tr]), y[tr], prev, s[tr])
            log(f"{name} (LOSO, 25 train subjects): BA {report[name]['balanced_accuracy']:.4f} "
                f"AUC {report[name]['auc']:.4f} ECE {report[name]['ece']:.4f}")
        zl_b = loso_scores(XD[tr], y[tr], s[tr], a.seed, None, "gb")
        for name, z in (("loso_baseline_trees", zl_b), ("loso_baseline_ensemble", zl_b / base_scale + zl_s / shape_scale)):
            report[name] = evaluate(loso_calibrated(z, y[tr], s[tr])[ma], y[tr][ma], prev, s[tr][ma])
            log(f"{name} (LOSO, windows after the baseline period): BA {report[name]['balanced_accuracy']:.4f} "
                f"AUC {report[name]['auc']:.4f} ECE {report[name]['ece']:.4f}")

    m = fit(d["seq"][np.isin(d["subject"], train_subs)], d["y"][np.isin(d["subject"], train_subs)], a.seed)
    rule = "p = sigmoid(a * (tree / tree_scale + shape / shape_scale) + b)"
    meta = physio_shape_meta(
        VERSION, layers="Conv(6->32,k7)-BN-ReLU-MaxPool2, Conv(32->64,k5)-BN-ReLU-MaxPool2, Conv(64->64,k5)-BN-ReLU, "
                        "mean+max over time, linear (batch norms folded)",
        channels=["eda", "temp", "activity", "hr", "ppg_amp", "hr_valid"], fs=4.0, channel_scale=m[1].tolist(),
        ensemble={"tree_scale": tree_scale, "shape_scale": shape_scale, "a": pa, "b": pb,
                  "tree_model": "physio-stress window model", "rule": rule},
        ensemble_baseline={"tree_scale": base_scale, "shape_scale": shape_scale, "a": pa_b, "b": pb_b,
                           "tree_model": "physio-stress baseline model", "rule": rule},
        figures=report, provenance=provenance(
            "Stress-Predict (Iqbal et al. 2022), 25 train subjects, wrist E4, MIT licence", STRESS_LICENCE,
            f"OMP_NUM_THREADS=1 python -m training.physio.train_shape --seed {a.seed}",
            [{"run": str(CACHE.relative_to(REPO)), "role": "feature and series cache"}],
            recipe={"windows": f"60 s, {TRAIN_HOP_S}-s hop, majority label", "epochs": EPOCHS, "lr": LR,
                    "weight_decay": WEIGHT_DECAY, "batch": BATCH, "channel_drop": CHANNEL_DROP, "seed": a.seed}))
    path = write_safetensors(a.out, folded_tensors(m), meta)
    log(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    if path.resolve() == OUT.resolve():
        register("physio-shape", path, meta, card="physio/MODEL_CARD.md", licence=STRESS_LICENCE)
        # dev subjects through the encoder, window by window, no baseline
        enc = PhysioEncoder()
        from cxsense.inputs.physio import load_physio

        P, Y, S = [], [], []
        for u in dev_subs:
            for _, lab, _, mp in windows(u, root):
                r = enc.encode(load_physio(mp))
                P.append(r.stress if r.stress is not None else prev), Y.append(lab), S.append(u)
        report["dev_encoder"] = evaluate(np.array(P), np.array(Y), prev, np.array(S))
        log(f"dev (S04, S09, S14) through PhysioEncoder, no baseline: BA {report['dev_encoder']['balanced_accuracy']:.4f} "
            f"AUC {report['dev_encoder']['auc']:.4f} ECE {report['dev_encoder']['ece']:.4f}")
    print("JSON " + json.dumps(report))


if __name__ == "__main__":
    main()
