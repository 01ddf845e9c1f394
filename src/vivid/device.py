"""Facts about the machine that pick defaults (kept apart so training and inference agree)."""

from __future__ import annotations

import torch


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bf16 dot-product instructions (AVX512-BF16 or AMX), where bf16
    convolutions run about twice as fast as fp32; elsewhere bf16 is emulated and slower."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
