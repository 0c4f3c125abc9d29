"""The face expression model files: reading them (SHA-256 checked through the registry) and choosing the
arithmetic the networks run in (int8, bfloat16 or float32).

A model file (safetensors) holds the networks' tensors and cxsense's metadata block (:mod:`cxsense.modelmeta`,
checked by the registry): the architecture (``members`` or ``widths``, and for base a separate stage-1
network, tensors ``stage1.*``), the input views (``mirror``, ``zooms``), the calibration (``temperature``,
``early_exit``) and, optionally, the int8 activation scales (``quantization.int8.qparams``).
:func:`load_expression` returns an :class:`ExpressionModel`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ...emotions import EMOTIONS
from ...errors import ModelError, NotAvailableError
from ...modelmeta import ModelMeta
from ...registry import model_file

__all__ = ["ExpressionModel", "load_expression", "int8_scales", "bf16_supported", "choose_precision", "FAMILY"]

#: ``architecture.family`` of the files this module reads.
FAMILY = "cxsense-facenet"


@dataclass
class ExpressionModel:
    """The networks of one expression model file, ready to run.

    Attributes
    ----------
    net : FaceNet, FaceEnsemble or their int8 forms (batch norms folded)
    stage1 : the separate stage-1 network, or None (a single-network file)
    meta : ModelMeta, the file's metadata block (views in ``input``, ``temperature`` and ``early_exit`` in
        ``calibration``)
    info : dict, provenance (name, version, sha256, precision)
    bf16 : bool, the networks run in bfloat16 (channels-last)
    """

    net: object
    stage1: object
    meta: ModelMeta
    info: dict
    bf16: bool = False

    @property
    def members(self) -> list:
        """The networks the whole model averages (one for a single-network file)."""
        return list(getattr(self.net, "members", [self.net]))


def bf16_supported() -> bool:
    """True when this CPU runs bfloat16 convolutions natively (AVX512-BF16 or AMX), so they are fast."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - older or unusual builds
        return False


def choose_precision(precision: str, has_int8: bool) -> str:
    """The precision to run: ``"auto"`` is int8 where the file has scales and PyTorch's x86 quantized engine
    exists, else bf16 where the CPU has it natively, else fp32. An explicit ``"int8"`` that cannot run raises
    :class:`~cxsense.NotAvailableError`."""
    from .net import int8_available

    if precision == "auto":
        if has_int8 and int8_available():
            return "int8"
        return "bf16" if bf16_supported() else "fp32"
    if precision == "int8" and not (has_int8 and int8_available()):
        import torch

        why = ("this model file carries no int8 scales" if not has_int8 else
               f"PyTorch's quantized engine here is {torch.backends.quantized.engine!r}, not x86 or fbgemm")
        raise NotAvailableError(f"precision='int8' is not available: {why}; use 'auto', 'bf16' or 'fp32'")
    return precision


def _read(name: str) -> tuple[ModelMeta, dict, dict]:
    """(metadata block, tensors by name, registry entry) of a registered model file, checked against this code."""
    from safetensors import safe_open

    f = model_file(name)  # SHA-256, then the metadata block's format version and fields
    if f.meta.family != FAMILY:
        raise ModelError(f"{f.path}: architecture family {f.meta.family!r}; the face encoder reads {FAMILY!r}")
    if list(f.meta.labels) != list(EMOTIONS):
        raise ModelError(f"{f.path}: labels {list(f.meta.labels)}, expected {list(EMOTIONS)}")
    try:
        with safe_open(str(f.path), framework="pt") as h:
            tensors = {k: h.get_tensor(k).float() for k in h.keys()}
    except Exception as e:  # safetensors raises its own error types for a damaged file
        raise ModelError(f"cannot read the face model {f.path}: {e}") from e
    return f.meta, tensors, f.entry


def int8_scales(meta: ModelMeta) -> dict | None:
    """The int8 activation scales of a file (``quantization.int8.qparams``), or None when it ships none."""
    int8 = (meta.extra.get("quantization") or {}).get("int8")
    if int8 is None:
        return None
    try:
        return dict(int8["qparams"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{meta.name}: unreadable int8 scales in the metadata ({e!r})") from e


def _build(architecture: dict, state: dict, path_name: str):
    from .net import build_from_config, fold_batchnorm

    try:
        net = build_from_config(architecture, n_classes=len(EMOTIONS))
        net.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ModelError(f"{path_name}: tensors do not fit the architecture in the metadata ({e})") from e
    return fold_batchnorm(net.eval())


def _to_int8(model: ExpressionModel) -> None:
    from .net import quantize_int8

    q = int8_scales(model.meta)
    q_stage1 = {k[len("stage1."):]: v for k, v in q.items() if k.startswith("stage1.")}
    try:
        model.net, _ = quantize_int8(model.net, qparams={k: v for k, v in q.items() if not k.startswith("stage1.")})
        if model.stage1 is not None:
            model.stage1, _ = quantize_int8(model.stage1, qparams=q_stage1)
    except ValueError as e:
        raise ModelError(f"{model.info['name']}: {e}") from e
    for net in model.members + ([model.stage1] if model.stage1 is not None else []):
        net.compile_plan()  # direct kernel calls, same outputs (Int8FaceNet.compile_plan)


def _to_bf16(model: ExpressionModel) -> None:
    """Weights stored in bf16 once (autocast would cast them at every call); the heads stay fp32."""
    import torch

    for member in model.members + ([model.stage1] if model.stage1 is not None else []):
        member.features.to(dtype=torch.bfloat16, memory_format=torch.channels_last)
        member.pre_logits.to(dtype=torch.bfloat16)


def load_expression(name: str, precision: str = "auto") -> ExpressionModel:
    """Read a registered expression model file and prepare its networks in ``precision``.

    Parameters
    ----------
    name : registry name (``"face-expression"`` or ``"face-expression-small"``)
    precision : {"auto", "int8", "bf16", "fp32"}

    Raises
    ------
    ModelError
        Missing, corrupt or incompatible file (its format version, architecture or labels).
    NotAvailableError
        ``precision="int8"`` where it cannot run.
    """
    from .net import FaceNet, fold_batchnorm

    meta, tensors, entry = _read(name)
    spec = meta.require("architecture", "stage1")
    early_exit = meta.require("calibration", "early_exit")
    stage1 = None
    if spec is not None:
        try:
            stage1 = FaceNet(widths=tuple(int(w) for w in spec["widths"]), embed_dim=int(spec["embed_dim"]),
                             n_classes=len(EMOTIONS))
            stage1.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("stage1.")})
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise ModelError(f"{name}: unreadable stage-1 network ({e})") from e
        stage1 = fold_batchnorm(stage1.eval())
    if early_exit is not None and stage1 is None:
        raise ModelError(f"{name}: the early_exit metadata reads a stage-1 network that the file does not carry")
    if early_exit is not None and early_exit.get("network") != "stage1":
        raise ModelError(f"{name} {meta.version}: an early exit that reads one of the members (files before "
                         "base 1.4.0); this cxsense reads base files with a separate stage-1 network (1.4.0)")
    net = _build(meta.architecture, {k: v for k, v in tensors.items() if not k.startswith("stage1.")}, name)
    chosen = choose_precision(precision, int8_scales(meta) is not None)
    model = ExpressionModel(net=net, stage1=stage1, meta=meta, bf16=chosen == "bf16",
                            info={"name": name, "version": meta.version, "sha256": entry["sha256"],
                                  "precision": chosen})
    if chosen == "int8":
        _to_int8(model)
    elif chosen == "bf16":
        _to_bf16(model)
    return model
