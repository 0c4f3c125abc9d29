"""The face expression model files: reading them (SHA-256 checked through the registry) and choosing the
arithmetic the networks run in (int8, bfloat16 or float32).

A model file (safetensors) holds the networks' tensors and, in its metadata, the config (architecture, labels,
temperature, views), the int8 activation scales and, for base, a separate stage-1 network (tensors
``stage1.*``) with its early-exit calibration. :func:`load_expression` returns an :class:`ExpressionModel`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ...emotions import EMOTIONS
from ...errors import ModelError, NotAvailableError
from ...registry import model_entry, model_path

__all__ = ["ExpressionModel", "load_expression", "bf16_supported", "choose_precision", "FORMAT_VERSION"]

#: The metadata format this cxsense reads; other files are refused naming both versions.
FORMAT_VERSION = "1"


@dataclass
class ExpressionModel:
    """The networks of one expression model file, ready to run.

    Attributes
    ----------
    net : FaceNet, FaceEnsemble or their int8 forms (batch norms folded)
    stage1 : the separate stage-1 network, or None (a single-network file)
    cfg : dict, the file's config (``embed_dim``, ``temperature``, ``flip_tta``, ``tta_scales``, ``early_exit``)
    info : dict, provenance (name, version, sha256, precision)
    bf16 : bool, the networks run in bfloat16 (channels-last)
    """

    net: object
    stage1: object
    cfg: dict
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


def _read(name: str) -> tuple[dict, dict, dict]:
    """(config, tensors by prefix "" and "stage1.", registry entry) of a registered model file."""
    from safetensors import safe_open

    path = model_path(name)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k).float() for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for a damaged header
        raise ModelError(f"cannot read the face model {path}: {e}") from e
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path}: metadata format version {meta.get('format_version')!r}; this cxsense reads "
                         f"{FORMAT_VERSION!r} (reinstall cxsense, or use the cxsense release that wrote the file)")
    try:
        cfg = json.loads(meta["config"])
        if "int8" in meta:
            cfg["int8_qparams"] = json.loads(meta["int8"])["qparams"]
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{path}: unreadable config or int8 scales in the metadata ({e!r})") from e
    if cfg.get("labels", list(EMOTIONS)) != list(EMOTIONS):
        raise ModelError(f"{path}: labels {cfg.get('labels')}, expected {list(EMOTIONS)}")
    return cfg, tensors, model_entry(name)


def _build(cfg: dict, state: dict, path_name: str):
    from .net import build_from_config, fold_batchnorm

    try:
        net = build_from_config(cfg, n_classes=len(EMOTIONS))
        net.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ModelError(f"{path_name}: tensors do not fit the architecture in the metadata ({e})") from e
    return fold_batchnorm(net.eval())


def _to_int8(model: ExpressionModel) -> None:
    from .net import quantize_int8

    q = model.cfg["int8_qparams"]
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

    cfg, tensors, entry = _read(name)
    stage1 = None
    if "stage1" in cfg:
        spec = cfg["stage1"]
        try:
            stage1 = FaceNet(widths=tuple(int(w) for w in spec["widths"]), embed_dim=int(spec["embed_dim"]),
                             n_classes=len(EMOTIONS))
            stage1.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("stage1.")})
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise ModelError(f"{name}: unreadable stage-1 network ({e})") from e
        stage1 = fold_batchnorm(stage1.eval())
    if cfg.get("early_exit") is not None and stage1 is None:
        raise ModelError(f"{name}: the early_exit metadata reads a stage-1 network that the file does not carry")
    if cfg.get("early_exit") is not None and cfg["early_exit"].get("network") != "stage1":
        raise ModelError(f"{name} {entry.get('version')}: an early exit that reads one of the members (files before "
                         "base 1.4.0); this cxsense reads base files with a separate stage-1 network (1.4.0)")
    net = _build(cfg, {k: v for k, v in tensors.items() if not k.startswith("stage1.")}, name)
    chosen = choose_precision(precision, "int8_qparams" in cfg)
    model = ExpressionModel(net=net, stage1=stage1, cfg=cfg, bf16=chosen == "bf16",
                            info={"name": name, "version": entry.get("version"), "sha256": entry["sha256"],
                                  "precision": chosen})
    if chosen == "int8":
        _to_int8(model)
    elif chosen == "bf16":
        _to_bf16(model)
    return model
