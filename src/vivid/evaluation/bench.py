"""``vivid bench``: inference speed of the x4 generator against this machine's practical peak.

In one run, on the CPU named in the output: a 4096x4096 fp32 and bf16 matmul (the practical
peak); then the paper-size x4 generator (fixed random weights, BatchNorm included) on a
128x128 and a 480x270 input through plain fp32 eager (the network as written, the reference
every peer runs), vivid's default path (``Upscaler`` with default settings: ``--runtime
auto``, whose choice is measured again and printed), the torch path, optionally that under
``torch.compile``, OpenVINO (bf16 where the CPU has native bf16, and f32) and ONNX Runtime
(fp32) when installed. For each: seconds (best of ``repeats`` after a warm-up, the paths
timed alternately), output megapixels/s, the ratio to fp32 eager and the fraction of the
bf16 matmul peak (network FLOPs / time / peak), and the default's time over OpenVINO bf16's.
Last, the peak memory (VmHWM) of a child process upscaling a 2000x2000 photo x4 with default
settings.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vivid.device import PRECISION_NAMES, cpu_has_native_bf16, resolve_precision
from vivid.errors import VividError
from vivid.inference.runtimes import best_times, cpu_model, forget_choice
from vivid.inference.upscaler import Upscaler
from vivid.nets.srresnet import Generator
from vivid.nets.weights_file import save_generator

log = logging.getLogger(__name__)
SIZES = {"128x128": (128, 128), "480x270": (270, 480)}
_MEMORY_CHILD = """
import sys, torch
from vivid.nets.srresnet import Generator
from vivid.nets.weights_file import save_generator
from vivid.inference.upscaler import Upscaler
torch.manual_seed(0)
save_generator(sys.argv[1], Generator().eval())
Upscaler.from_pretrained(sys.argv[1])(torch.rand(1, 3, 2000, 2000))
# VmHWM: getrusage's ru_maxrss survives exec and would report the parent's size.
print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0])
"""


def best_of(function: Callable[[], Any], repeats: int) -> float:
    """Fastest of ``repeats`` timed calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_peak(dtype: torch.dtype, repeats: int) -> float:
    """FLOP/s of a 4096x4096 matmul in ``dtype``."""
    a, b = torch.rand(4096, 4096, dtype=dtype), torch.rand(4096, 4096, dtype=dtype)
    return 2 * 4096**3 / best_of(lambda: a @ b, repeats)


def generator_flops(generator: torch.nn.Module, height: int, width: int) -> float:
    """FLOPs (2 x multiply-adds) of the paper's convolutions for one input of this size."""
    total = 0

    def hook(module: torch.nn.Conv2d, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
        total += 2 * output.numel() * kernel

    handles = [m.register_forward_hook(hook) for m in generator.modules()
               if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        generator(torch.rand(1, 3, height, width))
    for handle in handles:
        handle.remove()
    return float(total)


def peak_memory_mib(folder: Path) -> float:
    """Peak resident memory of a child process upscaling a 2000x2000 image with defaults."""
    output = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(folder / "m.safetensors")],
                            capture_output=True, text=True, check=True).stdout
    return int(output.strip().splitlines()[-1]) / 1024


def _engines(weights: str) -> dict[str, Upscaler]:
    """OpenVINO (bf16 where native, f32) and ONNX Runtime, those installed."""
    engines = {"openvino bf16": ("openvino", "bf16"), "openvino fp32": ("openvino", "fp32"),
               "onnxruntime": ("onnx", "fp32")}
    if not cpu_has_native_bf16():
        del engines["openvino bf16"]
    paths = {}
    for name, (runtime, precision) in engines.items():
        try:
            paths[name] = Upscaler.from_pretrained(weights, runtime=runtime, precision=precision)
        except VividError as error:  # an optional extra ('onnx', 'openvino') is missing
            log.warning("%s left out: %s", name, error)
    return paths


def _paths(generator: Generator, folder: Path, compile: bool, say: Callable[[str], Any]
           ) -> dict[str, Callable[[torch.Tensor], Any]]:
    weights = str(folder / "g.safetensors")
    save_generator(weights, generator)
    forget_choice(weights, PRECISION_NAMES[resolve_precision("auto", torch.device("cpu"))])
    default = Upscaler.from_pretrained(weights)  # measures the auto choice again
    say(f"vivid default: {default.describe()}")
    paths: dict[str, Callable[[torch.Tensor], Any]] = {
        "fp32 eager": generator, "vivid default": default,
        "torch": Upscaler.from_pretrained(weights, runtime="torch")}
    if compile:
        paths["torch+compile"] = Upscaler.from_pretrained(weights, runtime="torch",
                                                          compile=True)
    return {**paths, **_engines(weights)}


def _rows(paths: dict[str, Callable[[torch.Tensor], Any]], size: str, shape: tuple[int, int],
          peak_seconds: float, repeats: int, say: Callable[[str], Any]
          ) -> dict[str, dict[str, float]]:
    """Every path on one input size, timed alternately (best of ``repeats`` after a warm-up);
    ``peak_seconds``: the network's FLOPs at the bf16 matmul peak."""
    lr_image = torch.rand(1, 3, *shape)
    with torch.inference_mode():
        times = best_times({name: (lambda p=path: p(lr_image)) for name, path in paths.items()},
                           repeats)
    rows = {}
    for name, seconds in times.items():
        rows[name] = {"seconds": seconds, "output_mpix_s": 16 * shape[0] * shape[1] / seconds / 1e6,
                      "ratio_to_fp32_eager": seconds / times["fp32 eager"],
                      "fraction_of_bf16_peak": peak_seconds / seconds}
        say(f"{size} {name:14s} {seconds:7.3f} s  {rows[name]['output_mpix_s']:6.2f} MP/s  "
            f"x{rows[name]['ratio_to_fp32_eager']:.2f} of fp32 eager  "
            f"{rows[name]['fraction_of_bf16_peak']:.2f} of bf16 peak")
    if "openvino bf16" in times:
        ratio = times["vivid default"] / times["openvino bf16"]
        rows["vivid default"]["ratio_to_openvino_bf16"] = ratio
        say(f"{size} vivid default / openvino bf16: {ratio:.2f}")
    return rows


def run(repeats: int = 5, memory: bool = True, compile: bool = False,
        say: Callable[[str], Any] = log.info) -> dict[str, Any]:
    """All measurements, each table line passed to ``say`` as it comes (the CLI prints them);
    returns them as a dict."""
    peak = {"fp32": matmul_peak(torch.float32, repeats),
            "bf16": matmul_peak(torch.bfloat16, repeats)}
    say(f"CPU: {cpu_model()}, {torch.get_num_threads()} threads")
    say(f"matmul 4096: fp32 {peak['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peak['bf16'] / 1e9:.0f}")
    torch.manual_seed(0)
    generator = Generator().eval()  # BatchNorm in eval mode, as a peer would run it
    results: dict[str, Any] = {"cpu": cpu_model(), "threads": torch.get_num_threads(),
                               "peak_flops": peak}
    with tempfile.TemporaryDirectory() as folder:
        paths = _paths(generator, Path(folder), compile, say)
        results["default_runtime"] = paths["vivid default"].describe()
        for size, (height, width) in SIZES.items():
            flops = generator_flops(generator, height, width)
            results[size] = _rows(paths, size, (height, width), flops / peak["bf16"], repeats,
                                  say)
        if memory:
            results["peak_memory_2000px_mib"] = peak_memory_mib(Path(folder))
            say(f"peak memory, 2000x2000 x4 with defaults: "
                f"{results['peak_memory_2000px_mib']:.0f} MiB")
    return results
