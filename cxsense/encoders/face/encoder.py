"""The face encoder: detect, align, crop to 48x48 grey, classify the expression.

Pipeline (each a small named stage):

1. :class:`~cxsense.encoders.face.detect.FaceDetector` finds faces (BlazeFace full range, OpenCV DNN).
2. :func:`face_align` crops a square framed like the
   FER-2013 training crops (the framing was measured by running the detector on FER-2013 dev crops).
3. :class:`~cxsense.encoders.face.net.FaceNet` maps the standardised crop (and, for the whole model, its mirror
   image and zoomed views) to an embedding; its head gives logits; a temperature fitted on the dev split
   calibrates them. Base's early exit lets a small stage-1 network answer alone when it is sure enough.
4. Valence and arousal come from the probabilities through the circumplex
   (:func:`cxsense.emotions.circumplex_va`); stress through :func:`cxsense.emotions.stress_from_va`.

Quality is 0 (no usable signal) when no face is found or the crop is blank; otherwise it is the
detector's score, reduced for faces smaller than 40 pixels and for low-contrast crops.
"""

from __future__ import annotations

import json
import math
import threading

import numpy as np

from ...emotions import EMOTIONS, circumplex_va, stress_from_va
from ...inputs.image import Image
from ...registry import model_entry, model_path
from ..base import Encoder, ModalityResult
from .detect import FaceDetection, FaceDetector
from .quality import crop_quality

__all__ = ["FaceEncoder", "face_align", "CROP"]

CROP = 48
# Framing of FER-2013 crops relative to a BlazeFace box (medians over 286 dev crops the detector
# found): the crop side is the box side / 0.892 and the crop centre sits at the box centre offset by
# (+0.013, -0.016) crop sides. See docs/face.md.
_SIDE_PER_BOX = 1.0 / 0.892
_CENTRE_OFFSET = (0.5 - (0.041 + 0.892 / 2), 0.5 - (0.070 + 0.892 / 2))
#: Whether the encoder rotates faces upright on their eye line before classifying them. No: the network
#: was trained on FER-2013 crops, which keep their heads' tilt, and levelling the eyes cost 0.7-1.0 point
#: of dev accuracy on both detection framings (docs/face.md, "Alignment and framing").
ROTATE_UPRIGHT = False


def face_align(gray: np.ndarray, det: FaceDetection, size: int = CROP, rotate: bool = True) -> np.ndarray:
    """FER-framed square crop of one detected face, rotated upright on its eye line if ``rotate``.

    Parameters
    ----------
    gray : np.ndarray [shape=(H, W)], uint8
    det : FaceDetection
    size : int, side of the output crop in pixels
    rotate : bool, level the eyes (the encoder itself passes :data:`ROTATE_UPRIGHT`, False)

    Returns
    -------
    np.ndarray [shape=(size, size)], uint8. Parts outside the image are filled by edge replication.
    """
    import cv2

    x, y, w, h = det.box
    side = max(w, h) * _SIDE_PER_BOX
    eyes = det.keypoints[:2]
    left, right = (eyes[0], eyes[1]) if eyes[0][0] <= eyes[1][0] else (eyes[1], eyes[0])
    angle = math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))
    if abs(angle) > 60 or not rotate:  # not asked, or an implausible eye line (profile, bad keypoints)
        angle = 0.0
    cx, cy = x + w / 2, y + h / 2
    # offset in the face's own (rotated) frame
    t = math.radians(angle)
    dx, dy = _CENTRE_OFFSET[0] * side, _CENTRE_OFFSET[1] * side
    cx += dx * math.cos(t) - dy * math.sin(t)
    cy += dx * math.sin(t) + dy * math.cos(t)
    scale = size / side
    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[0, 2] += size / 2 - cx
    m[1, 2] += size / 2 - cy
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(gray, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def zoom_crops(crops: np.ndarray, scale: float) -> np.ndarray:
    """Crops ``(n, h, w)`` uint8 zoomed by ``scale`` about their centre (bilinear, edges replicated): the
    multi-scale views of :class:`FaceEncoder` (``tta_scales`` in a model file's config)."""
    import cv2

    h, w = crops.shape[1:]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0, float(scale))
    return np.stack([cv2.warpAffine(c, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                     for c in crops])


def _pixel_std(crop: np.ndarray) -> float:
    """Standard deviation of a uint8 crop's pixels (population, as ``crop.std()``; OpenCV's is 10 times faster)."""
    import cv2

    return float(cv2.meanStdDev(np.ascontiguousarray(crop))[1][0, 0])


def _resize_crop(gray: np.ndarray, size: int = CROP) -> np.ndarray:
    import cv2

    interp = cv2.INTER_AREA if min(gray.shape) > size else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interp)


#: ``face_model`` names accepted by :func:`cxsense.assess` -> registry names of the expression model.
FACE_MODELS = {"base": "face-expression", "small": "face-expression-small"}


def bf16_supported() -> bool:
    """True when this CPU runs bfloat16 convolutions natively (AVX512-BF16 or AMX), so they are fast."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - older or unusual builds
        return False


def _load_facenet(name: str = "face-expression"):
    from safetensors import safe_open

    from .net import build_from_config, fold_batchnorm

    path = model_path(name)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("stage1.")}  # see _load_stage1
    entry = model_entry(name)
    if meta.get("format_version") != "1":
        from ...errors import ModelError

        raise ModelError(f"{path}: weights format version {meta.get('format_version')!r}, this cxsense reads '1'")
    cfg = json.loads(meta["config"])
    net = build_from_config(cfg, n_classes=len(EMOTIONS))
    net.load_state_dict({k: v.float() for k, v in state.items()})
    net = fold_batchnorm(net.eval())
    info = {"name": name, "version": entry.get("version"), "sha256": entry["sha256"]}
    if "int8" in meta:  # activation scales for the int8 path (training/quantize_face.py)
        try:
            cfg["int8_qparams"] = json.loads(meta["int8"])["qparams"]
        except (ValueError, KeyError, TypeError) as e:
            from ...errors import ModelError

            raise ModelError(f"{path}: unreadable int8 scales in the metadata ({e})") from e
    return net, cfg, info


def _load_stage1(name: str, cfg: dict):
    """The separate stage-1 network of an ensemble file (``stage1`` in its config, tensors ``stage1.*``), folded
    and in float32; None when the file's early exit reads one of the members instead."""
    spec = cfg.get("stage1")
    if spec is None:
        return None
    from safetensors import safe_open

    from ...errors import ModelError
    from .net import FaceNet, fold_batchnorm

    path = model_path(name)
    try:
        net = FaceNet(widths=tuple(int(w) for w in spec["widths"]), embed_dim=int(spec["embed_dim"]),
                      n_classes=len(EMOTIONS))
        with safe_open(str(path), framework="pt") as f:
            state = {k[len("stage1."):]: f.get_tensor(k).float() for k in f.keys() if k.startswith("stage1.")}
        net.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ModelError(f"{path}: unreadable stage-1 network ({e})") from e
    return fold_batchnorm(net.eval())


def _split_qparams(qparams: dict) -> tuple[dict, dict]:
    """A file's int8 scales split into the ensemble's and the separate stage-1 network's (prefix ``stage1.``)."""
    stage1 = {k[len("stage1."):]: v for k, v in qparams.items() if k.startswith("stage1.")}
    return {k: v for k, v in qparams.items() if not k.startswith("stage1.")}, stage1


def _choose_precision(precision: str, has_int8: bool) -> str:
    from .net import int8_available

    if precision == "auto":
        if has_int8 and int8_available():
            return "int8"
        return "bf16" if bf16_supported() else "fp32"
    if precision == "int8" and not (has_int8 and int8_available()):
        import torch

        from ...errors import NotAvailableError

        why = ("this model file carries no int8 scales" if not has_int8 else
               f"PyTorch's quantized engine here is {torch.backends.quantized.engine!r}, not x86 or fbgemm")
        raise NotAvailableError(f"precision='int8' is not available: {why}; use 'auto', 'bf16' or 'fp32'")
    return precision


def check_face_options(face_model: str = "base", face_early_exit=None) -> None:
    """An :class:`InputError` naming ``face_model`` or ``face_early_exit`` when either value is not allowed
    (what ``assess``, sessions and the CLI accept)."""
    from ...errors import InputError

    if not isinstance(face_model, str) or face_model not in FACE_MODELS:
        raise InputError("face_model", "one of " + ", ".join(repr(m) for m in FACE_MODELS), repr(face_model))
    FaceEncoder._check_early_exit(face_early_exit, "face_early_exit")


def early_exit_from_text(text: str):
    """``"auto"``, ``"off"`` or a number, as typed on a command line, to the ``early_exit`` value it means
    (other text is returned unchanged, for :func:`check_face_options` to refuse)."""
    if text in ("auto", "off"):
        return {"auto": "auto", "off": None}[text]
    try:
        return float(text)
    except ValueError:
        return text


class FaceEncoder(Encoder):
    """Face expression encoder (see module docstring).

    ``encode(image, detect_face=True)`` assesses the largest face; ``encode_all(image)`` every face.

    Parameters
    ----------
    model : {"base", "small"}, default "base"
        The expression network: ``"base"`` (two 3.5 M-parameter networks, the most accurate; its whole model
        averages both over the crop, its mirror image and the zoomed views ``tta_scales`` of its file; a
        1.8 M-parameter stage-1 network answers the easy faces alone, see ``early_exit``) or
        ``"small"`` (one of them run once; see models/face/MODEL_CARD.md for both figures).
    precision : {"auto", "int8", "bf16", "fp32"}, default "auto"
        ``"auto"`` runs the network in int8 where PyTorch's x86 quantized engine is present (x86 CPUs; the
        model file ships its activation scales): on the development machine base ran a crop 1.7 times faster
        than in bfloat16 and 3.4 times faster than in float32, with the same dev accuracy (docs/face.md).
        Elsewhere it runs in bfloat16 (channels-last) where the CPU does bfloat16 natively (AVX512-BF16 or
        AMX), else in float32. ``"int8"`` where it is not available raises :class:`~cxsense.NotAvailableError`.
        Results are deterministic on one machine; the precisions differ in the second or third decimal of a
        probability.
    early_exit : "auto", float in (0, 1], or None, default "auto"
        Adaptive compute for an ensemble model (docs/face.md, "Early exit"): a stage-1 network reads the crop
        once (base v1.4.0: a separate network of half the width, pruned from a member and distilled from the
        whole model; older files: one of the members), calibrated with its own temperature; when its top
        probability reaches the threshold the answer is stage 1's, otherwise the whole ensemble runs over all
        its views (reusing stage 1's pass when stage 1 is a member). Easy faces then cost one small pass instead
        of eight. ``"auto"`` uses the threshold the model file ships (``early_exit`` in its metadata; none means
        off; base v1.4.0 ships 0.65), ``None`` turns it off, a float sets it. With early exit on, the embedding
        is stage 1's (its ``embed_dim``, 256) for every crop, so that it does not depend on which path a crop
        took; ``details["passes"]`` says how many network passes ran (stage 1's counted as one). A model that
        is a single network ignores it.
    """

    modality = "face"
    embedding_dim = 256

    def __init__(self, model: str = "base", precision: str = "auto", early_exit: float | str | None = "auto"):
        import torch

        from ...errors import InputError

        if model not in FACE_MODELS:
            raise InputError("face_model", "one of " + ", ".join(repr(m) for m in FACE_MODELS), repr(model))
        if precision not in ("auto", "int8", "bf16", "fp32"):
            raise InputError("precision", "'auto', 'int8', 'bf16' or 'fp32'", repr(precision))
        self._check_early_exit(early_exit)
        self._net, self._cfg, self._net_info = _load_facenet(FACE_MODELS[model])
        self._stage1 = _load_stage1(FACE_MODELS[model], self._cfg)  # None: stage 1 is one of the members
        self.model = model
        chosen = _choose_precision(precision, "int8_qparams" in self._cfg)
        self._bf16 = chosen == "bf16"
        if chosen == "int8":
            from .net import quantize_int8

            q_net, q_stage1 = _split_qparams(self._cfg["int8_qparams"])
            try:
                self._net, _ = quantize_int8(self._net, qparams=q_net)
                if self._stage1 is not None:
                    self._stage1, _ = quantize_int8(self._stage1, qparams=q_stage1)
            except ValueError as e:
                from ...errors import ModelError

                raise ModelError(f"{self._net_info['name']}: {e}") from e
            for net in getattr(self._net, "members", [self._net]) + [self._stage1]:
                if net is not None:
                    net.compile_plan()  # direct kernel calls, same outputs (Int8FaceNet.compile_plan)
        if self._bf16:  # weights stored in bf16 once (autocast would cast them at every call); head stays fp32
            nets = getattr(self._net, "members", [self._net]) + ([self._stage1] if self._stage1 is not None else [])
            for member in nets:
                member.features.to(dtype=torch.bfloat16, memory_format=torch.channels_last)
                member.pre_logits.to(dtype=torch.bfloat16)
        self._net_info["precision"] = chosen
        self.embedding_dim = int(self._cfg["embed_dim"])
        self.temperature = float(self._cfg["temperature"])
        self._tta = bool(self._cfg.get("flip_tta", True))
        self._scales = tuple(float(v) for v in self._cfg.get("tta_scales", ()))
        if not all(0.5 <= v <= 2.0 for v in self._scales):
            from ...errors import ModelError

            raise ModelError(f"{self._net_info['name']}: implausible tta_scales {self._scales} in the metadata")
        self._exit = self._early_exit_config(early_exit)
        if self._exit is not None:
            self.embedding_dim = int(self._stage_net().embed_dim)
        det_path = model_path("face-detector")
        det_entry = model_entry("face-detector")
        self._detector = FaceDetector(det_path)
        self._det_info = {"name": "face-detector", "version": det_entry.get("version"), "sha256": det_entry["sha256"]}
        self._lock = threading.Lock()

    @staticmethod
    def _check_early_exit(early_exit, parameter: str = "early_exit") -> float | None:
        """The threshold asked for (None: off or "auto"); bad values are an :class:`InputError` naming
        ``parameter``."""
        from ...errors import InputError

        allowed = "'auto', None or a threshold in (0, 1]"
        if early_exit is None or early_exit is False or (isinstance(early_exit, str) and early_exit == "auto"):
            return None
        if isinstance(early_exit, (str, bool, np.bool_)) or not isinstance(early_exit, (int, float, np.number)):
            raise InputError(parameter, allowed, repr(early_exit))
        threshold = float(early_exit)
        if not (0.0 < threshold <= 1.0):  # also rejects NaN
            raise InputError(parameter, allowed, repr(early_exit))
        return threshold

    def _stage_net(self):
        """The network that reads every crop first when the early exit is on: the file's separate stage-1
        network, or ``members[member]`` of the ensemble."""
        if self._exit.get("member") is None:
            return self._stage1
        return self._net.members[self._exit["member"]]

    def _early_exit_config(self, early_exit) -> dict | None:
        """``{"member", "temperature", "threshold"}`` of the early exit (``"network": "stage1"`` and
        ``"widths"`` instead of ``"member"`` when the file carries a separate stage-1 network), or None when it
        is off."""
        from ...errors import InputError, ModelError

        threshold = self._check_early_exit(early_exit)
        if early_exit is None or early_exit is False:
            return None
        spec = self._cfg.get("early_exit")
        members = getattr(self._net, "members", None)
        if members is None or len(members) < 2:
            return None  # one network: nothing to skip
        if spec is None:
            if threshold is None:
                return None  # "auto" and the file ships no early exit
            raise InputError("early_exit", "'auto' or None for a model file without an early-exit calibration "
                             f"({self._net_info['name']} {self._net_info['version']})", repr(early_exit))
        try:
            separate = spec.get("network") == "stage1"
            if separate and self._stage1 is None:
                raise ValueError("early_exit reads a stage-1 network that the file does not carry")
            member = None if separate else int(spec["member"])
            temperature = float(spec["temperature"])
            default = None if spec.get("threshold") is None else float(spec["threshold"])
            if not ((separate or 0 <= member < len(members)) and temperature > 0
                    and (default is None or 0 < default <= 1)):
                raise ValueError(spec)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ModelError(f"{self._net_info['name']}: unreadable early_exit metadata ({e!r})") from e
        threshold = default if threshold is None else threshold
        if threshold is None:
            return None  # "auto", and the file ships the calibration with the exit off by default
        if separate:
            return {"network": "stage1", "widths": [int(w) for w in self._cfg["stage1"]["widths"]],
                    "temperature": temperature, "threshold": threshold}
        return {"member": member, "temperature": temperature, "threshold": threshold}

    def info(self) -> dict:
        info = {"expression": dict(self._net_info), "detector": dict(self._det_info)}
        if self._exit is not None:
            info["expression"]["early_exit"] = dict(self._exit)
        return info

    # -- stages ------------------------------------------------------------------------------
    def detect(self, image: Image, tiled: bool | str = "auto") -> list[FaceDetection]:
        """All faces, largest first (see :meth:`FaceDetector.detect` for ``tiled``)."""
        return self._detector.detect(np.asarray(image.rgb), tiled=tiled)

    def _features(self, net, x):
        """``net.forward_features`` on standardised float crops, in the encoder's precision (float32 out)."""
        import torch

        if self._bf16:
            x = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
            return net.forward_features(x).float()
        return net.forward_features(x)

    def _views(self, x, crops):
        """The views the whole model reads, stacked: the standardised crops ``x``, their mirror images (flip
        averaging) and the crops zoomed by each of ``tta_scales`` (multi-scale views), in that order."""
        import torch

        from .net import standardize

        views = [x] + ([torch.flip(x, dims=[3])] if self._tta else [])
        for scale in self._scales:
            z = torch.from_numpy(zoom_crops(crops, scale).astype(np.float32) / 255.0).unsqueeze(1)
            views.append(standardize(z))
        return (torch.cat(views) if len(views) > 1 else x), len(views)

    def _full(self, x, crops, z_first=None):
        """Embeddings (averaged over the model's views) and calibrated probabilities of the whole model for the
        standardised crops ``x`` (``crops``: the same as uint8, for the zoomed views); ``z_first``: the features
        of ``members[self._exit["member"]]`` on ``x`` (unflipped), already computed. The heads are linear, so
        averaging the embedding over the views equals averaging their logits."""
        import torch

        n = len(x)
        xx, n_views = self._views(x, crops)
        if z_first is None:
            z = self._features(self._net, xx)
        else:  # the ensemble, with stage 1's pass on the unflipped crops reused
            k = self._exit["member"]  # z_first is only given when stage 1 is one of the members
            parts = [torch.cat([z_first, self._features(m, xx[n:])]) if i == k else self._features(m, xx)
                     for i, m in enumerate(self._net.members)]
            z = torch.cat(parts, dim=1)
        z = z.reshape(n_views, n, -1).mean(0)
        logits = self._net.forward_head(z).double() / self.temperature
        return z, torch.softmax(logits, dim=1)

    def crops_embed(self, crops: np.ndarray, return_passes: bool = False):
        """Embeddings and calibrated probabilities of 48x48 uint8 crops ``(n, 48, 48)``.

        With ``return_passes=True`` also the number of network passes each crop took (early exit: 1 when stage 1
        was sure enough, otherwise the whole model's, stage 1's pass being one of them).
        """
        import torch

        from .net import standardize

        x = torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32) / 255.0).unsqueeze(1)
        crops = np.ascontiguousarray(crops, dtype=np.uint8)
        n_members = len(getattr(self._net, "members", [self._net]))
        full_passes = n_members * ((2 if self._tta else 1) + len(self._scales))
        with torch.inference_mode():
            x = standardize(x)
            if self._exit is None:
                z, p = self._full(x, crops)
                passes = np.full(len(crops), full_passes)
            else:
                stage = self._stage_net()
                reuse = self._exit.get("member") is not None  # stage 1's pass is one of the whole model's
                z = self._features(stage, x)
                p = torch.softmax(stage.forward_head(z).double() / self._exit["temperature"], dim=1)
                rest = (p.max(dim=1).values < self._exit["threshold"]).numpy()
                passes = np.where(rest, full_passes + (0 if reuse else 1), 1)
                if rest.any():
                    idx = torch.from_numpy(np.flatnonzero(rest))
                    _, p_full = self._full(x[idx], crops[rest], z_first=z[idx] if reuse else None)
                    p[idx] = p_full
        z, p = z.numpy().astype(np.float32), p.numpy()
        return (z, p, passes) if return_passes else (z, p)

    def _result(self, crop: np.ndarray, det: FaceDetection | None, image_shape) -> ModalityResult:
        model = self.info()
        std = _pixel_std(crop)
        if std < 2.0:
            return ModalityResult.no_signal("face", self.embedding_dim, "blank or uniform face crop",
                                            details=self._details(det, image_shape), model=model)
        z, p, passes = self.crops_embed(crop[None], return_passes=True)
        p = p[0]
        p = p / p.sum()
        v, a = circumplex_va(p)
        q = crop_quality(crop, det, probabilities=p, detector=self._detector, std=std)
        return ModalityResult(
            modality="face",
            probabilities={e: float(pi) for e, pi in zip(EMOTIONS, p)},
            embedding=z[0],
            quality=q,
            valence=v,
            arousal=a,
            stress=stress_from_va(v, a),
            details=dict(self._details(det, image_shape), passes=int(passes[0])),
            model=model,
        )

    def _details(self, det, image_shape) -> dict:
        d = {"image_size": [int(image_shape[1]), int(image_shape[0])],
             "method": "blazeface-full-range + FER framing + facenet" if det is not None else "whole image as crop + facenet"}
        if det is not None:
            d.update(det.to_dict())
        return d

    # -- the interface -------------------------------------------------------------------------
    def encode(self, image: Image, *, detect_face: bool = True) -> ModalityResult:
        """Assess the largest face (``detect_face=True``) or the whole image as one crop."""
        gray = image.gray
        if not detect_face:
            return self._result(_resize_crop(gray), None, gray.shape)
        dets = self.detect(image)
        if not dets:
            return ModalityResult.no_signal("face", self.embedding_dim, "no face detected",
                                            details={"image_size": [int(gray.shape[1]), int(gray.shape[0])], "faces": 0},
                                            model=self.info())
        r = self._result(face_align(gray, dets[0], rotate=ROTATE_UPRIGHT), dets[0], gray.shape)
        return r

    def encode_all(self, image: Image, tiled: bool | str = True) -> list[ModalityResult]:
        """One result per detected face, largest first (empty list when there is none).

        ``tiled``: as for :meth:`detect`; ``True`` (default) also looks for small faces in tiles (group
        scenes), ``"auto"`` only when the whole-image pass finds none (what video sessions use).
        """
        gray = image.gray
        return [self._result(face_align(gray, d, rotate=ROTATE_UPRIGHT), d, gray.shape)
                for d in self.detect(image, tiled=tiled)]
