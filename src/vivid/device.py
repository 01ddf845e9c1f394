"""The one device and precision policy, shared by inference, evaluation and training.

``resolve_device``: ``auto`` picks CUDA, then Apple MPS, then the CPU; ``auto`` and ``cuda``
mean this rank's GPU (``cuda:$LOCAL_RANK``) under torchrun; ``cpu``, ``cuda``, ``cuda:N`` and
``mps`` are checked against the machine. Both functions also accept a ``torch.device`` /
``torch.dtype``, so API users can pass either.

``resolve_precision``: ``auto`` is fp16 on a GPU (CUDA; MPS for inference only), bf16 on CPUs
with native bf16 (AVX512-BF16 or AMX, where bf16 convolutions run about twice as fast as fp32;
elsewhere bf16 is emulated and slower), else fp32. fp16 needs a GPU.
"""

from __future__ import annotations

import os

import torch

from vivid.errors import VividError

DEVICE_HELP = "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
PRECISION_NAMES = {dtype: name for name, dtype in DTYPES.items()}
CPU = torch.device("cpu")


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bf16 dot-product instructions (AVX512-BF16 or AMX)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def parse_device(device: str | torch.device) -> torch.device | None:
    """The device a name means (None for ``auto``); a one-line error for a name that is not one.
    Checks the spelling only, not the machine (``resolve_device`` does both)."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return None
    try:
        parsed = torch.device(device)
    except RuntimeError:
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda", "mps") or (
            parsed.type != "cuda" and parsed.index not in (None, 0)):
        raise VividError(f"--device {device}: not a device ({DEVICE_HELP})")
    return parsed


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The ``torch.device`` to run on; see the module docstring."""
    parsed = parse_device(device)
    if parsed is None:
        if torch.cuda.is_available():
            return torch.device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}")
        return torch.device("mps" if _mps_available() else "cpu")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise VividError(f"--device {device}: CUDA is not available on this machine")
        if parsed.index is None:  # this rank's GPU under torchrun
            parsed = torch.device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise VividError(f"--device {device}: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    if parsed.type == "mps" and not _mps_available():
        raise VividError(f"--device {device}: Apple MPS is not available on this machine")
    return parsed


def resolve_precision(precision: str | torch.dtype, device: torch.device,
                      training: bool = False) -> torch.dtype:
    """The compute dtype for ``device``; see the module docstring. ``training``: MPS trains in
    fp32 (its autocast is incomplete)."""
    if isinstance(precision, torch.dtype):
        precision = PRECISION_NAMES.get(precision, str(precision))
    if precision not in PRECISIONS:
        raise VividError(f"--precision {precision}: choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda" or (device.type == "mps" and not training):
            return torch.float16
        if device.type == "cpu" and cpu_has_native_bf16():
            return torch.bfloat16
        return torch.float32
    if precision == "fp16" and device.type == "cpu":
        raise VividError("precision fp16 needs a GPU; use bf16 or fp32 on the CPU")
    return DTYPES[precision]
