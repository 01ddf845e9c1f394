"""Inference with OpenVINO on the CPU (``pip install -e ".[openvino]"``).

The graph is vivid's ONNX export (``onnx_runtime``: BatchNorm folded, the sub-pixel tail),
converted to OpenVINO. Measured on a 2-core AMD EPYC with AVX512-BF16 (bf16, 270x480 input):
the sub-pixel tail runs in 2.9 s against 4.1 s for the plain tail; the ONNX route converts
in 4.5 s against 18 s for ``openvino.convert_model`` on the torch module, and its graph is
as fast. The converted model is kept as OpenVINO IR in the user's cache directory
(``engine.cache_dir``), named by the SHA-256 of the weights file (a video model's graphs: of
their tensors, ``frame_engines``), so conversion is paid once per model; the newest
``IR_KEEP`` models are kept.

It is compiled once per ``OpenVinoNetwork`` (a ``CompiledGraph``) with dynamic batch, height
and width (the compile time is kept in ``compile_seconds``); OpenVINO's CPU plugin then builds
and caches the kernels of each input shape on that shape's first call (``shape_seconds``: each
shape's first call, kernels included), so images with few tile shapes pay that once per shape.
Measured on the same machine: as fast as a compile specialised to each tile shape (350-366 px
tiles, alternating shapes: 11.65 s against 11.67 s for 8 tiles; 128x128 and 160x200 inputs,
interleaved: the dynamic model 0.9x the static one's time), while each specialised compile
holds its own ~350 MB of buffers (a 2000x2000 image has 4 tile shapes). Precision: bf16
(``INFERENCE_PRECISION_HINT``) where the CPU has native bf16, else f32; the same rule as the
torch path (``vivid.device.resolve_precision``). Threads: torch's (``torch.get_num_threads``).

A call hands the LR tensor's memory to OpenVINO (``share_inputs``) and gets the output as an
array of its own (``share_outputs=False``: the request's buffer is overwritten by the next
call), as a direct ``infer`` call does; ``run_tile`` returns the request's buffer itself.
The request keeps its working buffers between calls; ``release_memory`` frees them
(``Upscaler`` does after an image that needed tiles).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io as stdio
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from vivid._version import __version__
from vivid.errors import VividError
from vivid.inference.engine import cache_dir, working_bytes
from vivid.inference.onnx_runtime import onnx_bytes
from vivid.nets.weights_file import resolve_weights

log = logging.getLogger(__name__)

IR_KEEP = 8  # converted models kept in the cache
_HINTS = {torch.bfloat16: "bf16", torch.float32: "f32"}
# Peak memory above the process's own of a call, per LR pixel, x4 64-channel generator (VmHWM,
# 64x64 and 128x128 inputs, OpenVINO 2026.4, AMD EPYC): 3.4 KiB in bf16, 6.4-7.5 KiB in f32;
# +5%.
PAPER_BYTES_PER_PIXEL = {torch.bfloat16: 3_700, torch.float32: 8_000}


def openvino_available() -> bool:
    """True when the ``openvino`` package is installed (without importing it)."""
    return importlib.util.find_spec("openvino") is not None


@functools.cache
def _core() -> Any:
    """The process's one ``openvino.Core``, made on first use. A second ``Core`` in the same
    process corrupts memory in OpenVINO 2026 (openvinotoolkit/openvino#35338; ultralytics
    PR #25864): with a new ``Core`` per model load, the pytest run crashed with a segfault in
    an unrelated later test."""
    return _openvino().Core()


def _openvino() -> ModuleType:
    try:
        import openvino
    except ImportError as error:
        raise VividError('--runtime openvino needs OpenVINO: run pip install -e ".[openvino]" '
                         "in the vivid folder") from error
    return openvino


def _ir_path(digest: str, openvino_version: str) -> Path:
    release = openvino_version.split("-")[0]
    return cache_dir() / "openvino" / f"{digest}-vivid{__version__}-ov{release}.xml"


def _save_ir(ov: ModuleType, model: Any, target: Path) -> None:
    """Write ``target`` (.xml) and its .bin under temporary names, then rename (.xml last)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.stem}.{os.getpid()}.xml")
    try:
        ov.save_model(model, str(temp), compress_to_fp16=False)
        os.replace(temp.with_suffix(".bin"), target.with_suffix(".bin"))
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        temp.with_suffix(".bin").unlink(missing_ok=True)
        raise
    older = sorted(target.parent.glob("*.xml"), key=lambda p: p.stat().st_mtime)[:-IR_KEEP]
    for stale in older:
        stale.with_suffix(".bin").unlink(missing_ok=True)
        stale.unlink(missing_ok=True)


def cached_model(digest: str, label: str, export: Callable[[], tuple[bytes, int]]
                 ) -> tuple[Any, int, float]:
    """The OpenVINO model kept in the cache under ``digest`` (24 hex digits of a hash of all
    the graph is made of), else ``export``'s ONNX graph and scale converted and kept; returns
    the model, its scale and the seconds conversion took (0 when read from the cache)."""
    ov = _openvino()
    start = time.perf_counter()
    target = _ir_path(digest, ov.__version__)
    if target.is_file() and target.with_suffix(".bin").is_file():
        os.utime(target)  # most recently used: kept longest
        model = _core().read_model(str(target))
        return model, int(model.get_rt_info(["vivid", "scale"]).astype(str)), 0.0
    data, scale = export()
    model = ov.convert_model(stdio.BytesIO(data))
    model.set_rt_info(scale, ["vivid", "scale"])
    _save_ir(ov, model, target)
    seconds = time.perf_counter() - start
    log.info("converted %s to OpenVINO in %.1f s (once; kept in %s)", label, seconds, target)
    return model, scale, seconds


def read_model(name_or_path: str | Path) -> tuple[Any, int, float]:
    """The OpenVINO model of a ``.onnx`` file or of any image weights (converted once and
    cached by the weights file's SHA-256); returns it, its scale and the conversion's
    seconds (0 when read from the cache)."""
    _openvino()
    path = Path(name_or_path)
    if path.suffix == ".onnx":
        try:
            model = _core().read_model(str(path))
            return model, int(model.get_rt_info(["framework", "scale"]).astype(str)), 0.0
        except Exception as error:  # OpenVINO raises untyped errors; no 'scale': not vivid's
            raise VividError(f"{path}: not a readable vivid ONNX model ({error})") from error
    digest = hashlib.sha256(resolve_weights(name_or_path).read_bytes()).hexdigest()[:24]
    return cached_model(digest, str(name_or_path), lambda: onnx_bytes(name_or_path))


def compile_plain(model: Any, dtype: torch.dtype) -> Any:
    """``model`` compiled for the CPU with OpenVINO's defaults and only the precision set, as
    a direct user of OpenVINO would (``vivid bench`` compares vivid against it)."""
    return _core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": _HINTS[dtype]})


def check_precision(dtype: torch.dtype) -> None:
    """A one-line error unless OpenVINO runs ``dtype`` (bf16 or fp32) on the CPU."""
    if dtype not in _HINTS:
        raise VividError(f"--runtime openvino runs bf16 or fp32 on the CPU, not {dtype}")


class CompiledGraph:
    """An OpenVINO model compiled once for the CPU at ``dtype`` (``torch.bfloat16`` or
    ``torch.float32``: OpenVINO's inference precision) for all its input shapes, with its one
    infer request (see the module docstring)."""

    def __init__(self, model: Any, dtype: torch.dtype) -> None:
        check_precision(dtype)
        self.model, self.dtype = model, dtype
        start = time.perf_counter()
        self.compiled = _core().compile_model(
            model, "CPU", {"INFERENCE_PRECISION_HINT": _HINTS[dtype],
                           "PERFORMANCE_HINT": "LATENCY",
                           "INFERENCE_NUM_THREADS": torch.get_num_threads()})
        self.request = self.compiled.create_infer_request()
        self.compile_seconds = time.perf_counter() - start
        self.shape_seconds: dict[tuple[int, ...], float] = {}  # first call per input shape

    def infer(self, inputs: Sequence[torch.Tensor], share_outputs: bool) -> list[torch.Tensor]:
        """The outputs (float32, CPU) for ``inputs`` given in the model's input order; with
        ``share_outputs`` they are the request's own buffers, valid until the next call."""
        arrays = [np.ascontiguousarray(tensor.float().cpu().numpy()) for tensor in inputs]
        start = time.perf_counter()
        result = self.request.infer(dict(enumerate(arrays)), share_inputs=True,
                                    share_outputs=share_outputs)
        if arrays[0].shape not in self.shape_seconds:
            self.shape_seconds[arrays[0].shape] = time.perf_counter() - start
        return [torch.from_numpy(result[index]) for index in range(len(self.compiled.outputs))]

    def release_memory(self) -> None:
        """Free the compiled model's working buffers (the next call allocates them again)."""
        self.compiled.release_memory()


class OpenVinoNetwork(CompiledGraph):
    """An image model compiled with OpenVINO, called like a network: LR tensor in, SR tensor
    out (CPU). ``dtype``: as ``CompiledGraph``'s."""

    def __init__(self, name_or_path: str | Path, dtype: torch.dtype = torch.float32) -> None:
        check_precision(dtype)  # before a conversion
        model, self.scale, self.convert_seconds = read_model(name_or_path)
        super().__init__(model, dtype)
        self.bytes_per_pixel = working_bytes(PAPER_BYTES_PER_PIXEL[dtype], self.scale)

    def __call__(self, lr_image: torch.Tensor) -> torch.Tensor:
        return self.infer((lr_image,), share_outputs=False)[0]

    def run_tile(self, lr_tile: torch.Tensor) -> torch.Tensor:
        """The output in the request's own buffer (no new array per tile: fresh ones of
        varying size fragment the heap), valid until the next call."""
        return self.infer((lr_tile,), share_outputs=True)[0]
