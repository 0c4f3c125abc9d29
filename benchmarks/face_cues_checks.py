"""The checks of ``benchmarks/face_cues.py`` beyond the AUCs: pose under rotation and mirroring, the two iris
methods, face presence on faces vs generated non-faces, and speed. Run through ``python -m benchmarks.face_cues``."""

from __future__ import annotations

import json
import os
import time

import numpy as np


def _first_faces(pipe, x, n, transforms):
    """The first ``n`` dev images (in order) whose face is found in every transformed frame: their results."""
    from benchmarks.face_cues import fer_frame

    out = []
    for i in range(len(x)):
        f = fer_frame(x[i])
        rs = [pipe.run(t(f)) for t in transforms]
        if all(r is not None for r in rs):
            out.append((i, rs))
        if len(out) >= n:
            break
    return out


def geometry_checks(pipe, x, y, n):
    """Roll under +/-15 degrees of in-plane rotation (the frame rotated about its centre), yaw under mirroring."""
    import cv2

    def rot(angle):
        def f(im):
            m = cv2.getRotationMatrix2D((im.shape[1] / 2, im.shape[0] / 2), angle, 1.0)  # + is counter-clockwise
            return cv2.warpAffine(im, m, (im.shape[1], im.shape[0]), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
        return f

    mirror = lambda im: np.ascontiguousarray(im[:, ::-1])  # noqa: E731
    faces = _first_faces(pipe, x, n, [lambda im: im, rot(15), rot(-15), mirror])
    c = lambda k, j: np.array([rs[j][3][k] for _, rs in faces])  # noqa: E731
    diff = c("head_roll", 1) - c("head_roll", 2)
    ysum = c("head_yaw", 0) + c("head_yaw", 3)
    res = {"n_faces": len(faces), "roll_diff_median": float(np.median(diff)), "roll_diff_mean": float(diff.mean()),
           "roll_diff_within_30pm4": float(np.mean(np.abs(diff - 30) <= 4)),
           "roll_abs_error_median": float(np.median(np.abs(diff - 30))),
           "yaw_plus_mirror_median_abs": float(np.median(np.abs(ysum))), "yaw_plus_mirror_median": float(np.median(ysum)),
           "roll_plus_mirror_median_abs": float(np.median(np.abs(c("head_roll", 0) + c("head_roll", 3)))),
           "yaw_abs_median": float(np.median(np.abs(c("head_yaw", 0)))),
           "pitch_median": float(np.median(c("head_pitch", 0)))}
    for k in ("mouth_open", "smile", "brow_raise", "eyes_open", "gaze_on_camera"):
        res[f"{k}_mirror_abs_diff_median"] = float(np.median(np.abs(c(k, 0) - c(k, 3))))
        res[f"{k}_rotation_abs_diff_median"] = float(np.median(np.abs(c(k, 1) - c(k, 2))))
    print(f"pose on the first {len(faces)} FER-2013 dev images whose face is found upright, rotated +/-15 degrees and "
          f"mirrored: roll(+15) - roll(-15) median {res['roll_diff_median']:.2f} degrees (mean {res['roll_diff_mean']:.2f}; "
          f"{res['roll_diff_within_30pm4']:.0%} within 30 +/- 4); median |yaw + yaw_mirror| "
          f"{res['yaw_plus_mirror_median_abs']:.2f} degrees (median of the sum {res['yaw_plus_mirror_median']:+.2f})")
    print("JSON " + json.dumps({"title": "face cues: pose under rotation and mirroring (FER-2013 dev)", **res}))


def gaze_agreement(pipe, x, y, n):
    """Fast iris centres (the encoder's) vs MediaPipe's iris network on the same meshes."""
    from benchmarks.face_cues import fer_frame
    from cxsense.encoders.face.cues import face_cues
    from cxsense.encoders.face.mesh import EYE_CORNERS, fast_iris_centres

    d_fast, d_mid, g = [], [], []
    for i in range(len(x)):
        f = fer_frame(x[i])
        r = pipe.run(f, iris="network")
        if r is None or r[1].iris is None:
            continue
        m = r[1]
        fast = fast_iris_centres(f, m.landmarks)
        if fast is None:
            continue
        for k, (a, b) in enumerate(EYE_CORNERS):
            w = float(np.linalg.norm(m.landmarks[a, :2] - m.landmarks[b, :2]))
            d_fast.append(float(np.linalg.norm(fast[k] - m.iris_centres[k])) / w)
            d_mid.append(float(np.linalg.norm((m.landmarks[a, :2] + m.landmarks[b, :2]) / 2 - m.iris_centres[k])) / w)
        import dataclasses

        g.append((r[3]["gaze_on_camera"], face_cues(dataclasses.replace(m, iris=fast[:, None, :]), f.shape)["gaze_on_camera"]))
        if len(g) >= n:
            break
    g = np.array(g)
    res = {"n_faces": len(g), "fast_vs_network_eye_widths_median": float(np.median(d_fast)),
           "corner_midpoint_vs_network_eye_widths_median": float(np.median(d_mid)),
           "gaze_on_camera_abs_diff_median": float(np.median(np.abs(g[:, 0] - g[:, 1]))),
           "gaze_on_camera_corr": float(np.corrcoef(g[:, 0], g[:, 1])[0, 1])}
    print(f"iris centres on {len(g)} dev faces: fast vs network median {res['fast_vs_network_eye_widths_median']:.3f} eye "
          f"widths (the eye-corner midpoint: {res['corner_midpoint_vs_network_eye_widths_median']:.3f}); gaze_on_camera "
          f"fast vs network: median |diff| {res['gaze_on_camera_abs_diff_median']:.3f}, r = {res['gaze_on_camera_corr']:.3f}")
    print("JSON " + json.dumps({"title": "face cues: fast iris vs iris network (FER-2013 dev)", **res}))


def non_faces(n_per_kind: int = 100, seed: int = 0):
    """Generated non-face images (RGB uint8), by kind: text, shapes, logos, textures, noise."""
    import cv2

    rng = np.random.default_rng(seed)
    fonts = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
             cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_PLAIN]
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789&@%"

    def colour():
        return tuple(int(v) for v in rng.integers(0, 256, 3))

    def canvas(s):
        return np.full((s, s, 3), colour(), np.uint8)

    def text(s):
        im = canvas(s)
        for line in range(int(rng.integers(1, 4))):
            word = "".join(rng.choice(list(letters), int(rng.integers(2, 9))))
            cv2.putText(im, word, (int(rng.integers(0, s // 4)), int((line + 1) * s / 4 + rng.integers(-10, 10))),
                        fonts[int(rng.integers(len(fonts)))], float(rng.uniform(1, 4)), colour(),
                        int(rng.integers(1, 8)), cv2.LINE_AA)
        return im

    def shapes(s):
        im = canvas(s)
        for _ in range(int(rng.integers(2, 8))):
            c = (int(rng.integers(0, s)), int(rng.integers(0, s)))
            k = int(rng.integers(3))
            if k == 0:
                cv2.circle(im, c, int(rng.integers(5, s // 3)), colour(), int(rng.choice([-1, 2, 5])), cv2.LINE_AA)
            elif k == 1:
                cv2.rectangle(im, c, (int(rng.integers(0, s)), int(rng.integers(0, s))), colour(), int(rng.choice([-1, 3])))
            else:
                pts = rng.integers(0, s, (int(rng.integers(3, 7)), 2)).astype(np.int32)
                cv2.fillPoly(im, [pts], colour(), cv2.LINE_AA)
        return im

    def logo(s):
        im = canvas(s)
        c = (s // 2 + int(rng.integers(-20, 20)), s // 2 + int(rng.integers(-20, 20)))
        for r in sorted(rng.integers(s // 8, s // 2, int(rng.integers(1, 4))), reverse=True):
            cv2.circle(im, c, int(r), colour(), -1, cv2.LINE_AA)
        word = "".join(rng.choice(list(letters[:26]), int(rng.integers(1, 4))))
        scale = float(rng.uniform(1.5, 4))
        (tw, th), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_DUPLEX, scale, 6)
        cv2.putText(im, word, (c[0] - tw // 2, c[1] + th // 2), cv2.FONT_HERSHEY_DUPLEX, scale, colour(), 6, cv2.LINE_AA)
        return im

    def texture(s):
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        k = int(rng.integers(4))
        if k == 0:  # stripes
            v = np.sin(2 * np.pi * (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / rng.uniform(6, 40))
        elif k == 1:  # checkerboard
            q = int(rng.integers(6, 48))
            v = (((xx // q) + (yy // q)) % 2) * 2 - 1
        elif k == 2:  # clouds
            v = cv2.GaussianBlur(rng.standard_normal((s, s)).astype(np.float32), (0, 0), float(rng.uniform(3, 20)))
            v = v / (np.abs(v).max() + 1e-6)
        else:  # wood-like rings
            cx, cy = rng.uniform(0, s, 2)
            v = np.sin(np.hypot(xx - cx, yy - cy) / rng.uniform(3, 15))
        a, b = np.array(colour(), np.float32), np.array(colour(), np.float32)
        return np.clip((v[..., None] + 1) / 2 * (a - b) + b, 0, 255).astype(np.uint8)

    def noise(s):
        if rng.random() < 0.5:
            return rng.integers(0, 256, (s, s, 3), dtype=np.uint8)
        return np.clip(rng.normal(128, rng.uniform(10, 80), (s, s, 3)), 0, 255).astype(np.uint8)

    kinds = {"text": text, "shapes": shapes, "logos": logo, "textures": texture, "noise": noise}
    return {k: [f(int(rng.choice([192, 256, 384]))) for _ in range(n_per_kind)] for k, f in kinds.items()}


def presence_check(pipe, x, y, thresholds=(0.1, 0.3, 0.5, 0.7, 0.9)):
    """Face presence (the mesh network's output) on FER dev faces vs generated non-faces: whole-image boxes and the
    detector's own proposals at a lowered score (0.3) on the non-faces."""
    from benchmarks.face_cues import fer_frame
    from cxsense.encoders.face.detect import FaceDetector
    from cxsense.registry import model_path

    faces = []
    for i in range(len(x)):
        f = fer_frame(x[i])
        dets = pipe.det.detect(f)
        if dets:
            faces.append(pipe.mesh.presence(f, dets[0]))
    faces = np.array(faces)
    loose = FaceDetector(model_path("face-detector"), min_score=0.3)
    whole, proposals = {}, {}
    for kind, ims in non_faces().items():
        whole[kind] = np.array([_whole_presence(pipe.mesh, im) for im in ims])
        proposals[kind] = np.array([pipe.mesh.presence(im, d) for im in ims for d in loose.detect(im)])
    print(f"face presence: {len(faces)} FER-2013 dev faces found by the detector (all 3,292 dev images, framed as "
          "above) vs 500 generated non-faces (100 each of text, shapes, logos, textures, noise)")
    res = {"n_faces": len(faces), "thresholds": {}}
    for t in thresholds:
        row = {"face_miss_rate": float(np.mean(faces < t))}
        for kind in whole:
            row[f"{kind}_fp_whole"] = float(np.mean(whole[kind] >= t))
            row[f"{kind}_fp_proposals"] = float(np.mean(proposals[kind] >= t)) if len(proposals[kind]) else None
            row[f"{kind}_n_proposals"] = int(len(proposals[kind]))
        allw = np.concatenate(list(whole.values()))
        allp = np.concatenate(list(proposals.values()))
        row["non_face_fp_whole"] = float(np.mean(allw >= t))
        row["non_face_fp_proposals"] = float(np.mean(allp >= t)) if len(allp) else None
        row["n_proposals"] = int(len(allp))
        res["thresholds"][str(t)] = row
        print(f"  threshold {t:.1f}: faces missed {row['face_miss_rate']:.4f}; non-faces accepted: whole image "
              f"{row['non_face_fp_whole']:.4f}, detector proposals (score >= 0.3) "
              f"{row['non_face_fp_proposals'] if allp.size else float('nan'):.4f} of {len(allp)}")
    print("JSON " + json.dumps({"title": "face presence: FER-2013 dev faces vs generated non-faces", **res}))


def _whole_presence(mesh, im):
    from cxsense.encoders.face.detect import FaceDetection

    h, w = im.shape[:2]
    s = 0.6 * min(h, w)
    kp = np.array([[w / 2 - s / 4, h / 2 - s / 8], [w / 2 + s / 4, h / 2 - s / 8]] + [[w / 2, h / 2]] * 4, np.float32)
    return mesh.presence(im, FaceDetection(box=(w / 2 - s / 2, h / 2 - s / 2, s, s), score=1.0, keypoints=kp))


def speed_check(pipe, repeats: int = 50):
    """Median ms per face on one core: the mesh, the iris network on one and on two eyes, the cues in both modes; a
    640x480 frame with one face through ``cxsense.assess`` with ``face_cues`` "full", "fast" and "off"."""
    import cv2
    import torch
    from PIL import Image

    import cxsense
    from cxsense.encoders.face.cue_hook import cues_for
    from cxsense.encoders.face.cues import face_cues
    from cxsense.encoders.face.mesh import IRIS_INPUT

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    face = np.asarray(Image.open("examples/astronaut.jpg").convert("RGB"))
    frame = np.full((480, 640, 3), 90, np.uint8)
    small = cv2.resize(face, (300, 300), interpolation=cv2.INTER_AREA)
    frame[90:390, 170:470] = small
    det = pipe.det.detect(frame)[0]
    mesh = pipe.mesh.run(frame, det, iris=True)

    from benchmarks.face_speed import median_ms

    cpu = {}

    def med(fn, key):
        """Median wall ms; the median CPU ms of the process (one thread) goes into ``cpu[key]``: on a machine
        shared with other jobs it is the closer estimate of an idle core's time."""
        ts = []
        for _ in range(repeats):
            t = time.process_time()
            fn()
            ts.append(time.process_time() - t)
        cpu[key] = 1000 * float(np.median(ts))
        return median_ms(fn, n=repeats, warm=5)

    from cxsense.encoders.face.tflite import TFLiteNet
    from cxsense.registry import model_file

    eyes = np.random.default_rng(0).random((2, IRIS_INPUT, IRIS_INPUT, 3), np.float32)

    def iris(n):
        net = TFLiteNet(model_file("face-iris").path, (n, IRIS_INPUT, IRIS_INPUT, 3), pipe.mesh.runtime)
        return lambda: net(eyes[:n])

    res = {"mesh_only_ms": med(lambda: pipe.mesh.run(frame, det, iris=False), "mesh_only"),
           "iris_network_one_eye_ms": med(iris(1), "iris_network_one_eye"),
           "iris_network_two_eyes_ms": med(iris(2), "iris_network_two_eyes"),
           "geometry_and_pose_ms": med(lambda: face_cues(mesh, frame.shape), "geometry_and_pose"),
           "cues_fast_ms": med(lambda: cues_for(frame, det, iris="fast"), "cues_fast"),
           "cues_full_ms": med(lambda: cues_for(frame, det, iris="network"), "cues_full"),
           "cues_refined_ms": med(lambda: cues_for(frame, det, iris="network", refine=True), "cues_refined")}
    for mode in ("full", "refined", "fast", "off"):
        cxsense.assess(face=frame, face_cues=mode)
        res[f"assess_640x480_{mode}_ms"] = med(lambda: cxsense.assess(face=frame, face_cues=mode), f"assess_640x480_{mode}")
    res["cpu"] = cpu
    res["load_average_1min"] = os.getloadavg()[0]
    from benchmarks.metrics import machine

    res["runtime"] = pipe.mesh.runtime
    print(f"speed, one core ({machine()}; networks on {pipe.mesh.runtime}), medians of {repeats} warm calls on a 640x480 frame with one face (the shipped "
          f"portrait at 300x300), CPU time of this process in ms: {json.dumps({k: round(v, 2) for k, v in cpu.items()})}")
    print("  the same as wall time (ms): " + json.dumps({k: round(v, 2) for k, v in res.items() if k.endswith('_ms')})
          + f"; 1-minute load average {res['load_average_1min']:.1f} on {os.cpu_count()} cores")
    print("JSON " + json.dumps({"title": "face cues speed", "machine": machine(), **res}))
