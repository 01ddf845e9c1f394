"""``vivid bench``: inference speed of the x4 generator against the raw engines and this
machine's practical peak, and the peak memory of a large upscale.

In one run, on the CPU named in the output: a 4096x4096 fp32 and bf16 matmul (the practical
peak); then the paper-size x4 generator (fixed random weights, BatchNorm included) on
128x128, 270x480 and 540x960 inputs. Paths: plain fp32 eager (the network as written, the
reference every peer runs), vivid's default (``Upscaler`` with default settings: ``--runtime
auto``, whose choice is measured again and printed), vivid on each engine (torch, optionally
under ``torch.compile``, OpenVINO bf16 where the CPU has native bf16 and f32, ONNX Runtime
fp32, those installed), and each engine called directly on the same graph (``raw ...``: the
torch network on an input already in its precision and layout; OpenVINO compiled with its
defaults and the precision; an ONNX Runtime session with its defaults). At 540x960 only the
default and its raw engine run (the others need several GiB). For each: the median seconds
of ``repeats`` runs after a warm-up, the paths taking turns, output megapixels/s, the ratio
to fp32 eager, the fraction of the bf16 matmul peak (network FLOPs / time / peak), and for
vivid's paths the ratio to their raw engine. Last, the peak memory (VmHWM) of a child
process running ``vivid upscale`` with default settings on a 2000x2000 JPEG photo.
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
from PIL import Image

from vivid.device import PRECISION_NAMES, cpu_has_native_bf16, resolve_precision
from vivid.errors import VividError
from vivid.evaluation.raw_engines import raw_call
from vivid.inference.runtimes import cpu_model, forget_choice, median_times
from vivid.inference.upscaler import Upscaler
from vivid.nets.srresnet import Generator
from vivid.nets.weights_file import save_generator

log = logging.getLogger(__name__)
SIZES = {"128x128": (128, 128), "270x480": (270, 480), "540x960": (540, 960)}
FULL_TABLE = ("128x128", "270x480")  # larger sizes: the default and its raw engine only
MEMORY_SIDE = 2000
_MEMORY_CHILD = """
import sys
from vivid.cli.main import main
code = main(["upscale", sys.argv[1], "-o", sys.argv[2], "--model", sys.argv[3], "--quiet"])
# VmHWM: getrusage's ru_maxrss survives exec and would report the parent's size.
print(code, [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0])
"""
PathFn = Callable[[torch.Tensor], Any]


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


def _photo(path: Path, side: int) -> None:
    """A smooth random ``side`` x ``side`` JPEG (a stand-in for a photo)."""
    torch.manual_seed(0)
    coarse = torch.rand(1, 3, side // 32, side // 32)
    image = torch.nn.functional.interpolate(coarse, size=(side, side), mode="bicubic")
    samples = (image[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(samples).save(path, quality=95)


def peak_memory_mib(folder: Path, weights: str) -> float:
    """Peak resident memory of ``vivid upscale`` (defaults, ``weights``) on a 2000x2000 photo."""
    _photo(folder / "photo.jpg", MEMORY_SIDE)
    output = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(folder / "photo.jpg"),
                             str(folder / "photo-x4.jpg"), weights],
                            capture_output=True, text=True, check=True).stdout
    code, kib = output.strip().splitlines()[-1].split()
    if code != "0":
        raise VividError(f"vivid upscale of the {MEMORY_SIDE}x{MEMORY_SIDE} photo failed")
    return int(kib) / 1024


def _engines(weights: str) -> dict[str, Upscaler]:
    """vivid on OpenVINO (bf16 where native, f32) and ONNX Runtime, those installed."""
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


def _paths(generator: Generator, weights: str, compile: bool, say: Callable[[str], Any]
           ) -> dict[str, PathFn]:
    forget_choice(weights, PRECISION_NAMES[resolve_precision("auto", torch.device("cpu"))])
    default = Upscaler.from_pretrained(weights)  # measures the auto choice again
    say(f"vivid default: {default.describe()}")
    torch_path = Upscaler.from_pretrained(weights, runtime="torch")
    paths: dict[str, PathFn] = {"fp32 eager": generator, "vivid default": default,
                               f"torch {PRECISION_NAMES[torch_path.dtype]}": torch_path}
    if compile:
        paths["torch+compile"] = Upscaler.from_pretrained(weights, runtime="torch",
                                                          compile=True)
    return {**paths, **_engines(weights)}


def _raw_name(path: PathFn) -> str | None:
    """The raw engine row a vivid path is compared with (None: not a vivid engine path)."""
    if not isinstance(path, Upscaler) or path.network is None:
        return None
    return f"raw {path.runtime.split()[-1]} {PRECISION_NAMES[path.dtype]}"


def _candidates(paths: dict[str, PathFn], size: str, lr_image: torch.Tensor, weights: str
                ) -> dict[str, Callable[[], Any]]:
    """The zero-argument calls timed at one size: vivid's paths and their raw engines."""
    if size not in FULL_TABLE:
        paths = {"vivid default": paths["vivid default"]}
    calls = {name: (lambda p=path: p(lr_image)) for name, path in paths.items()}
    for path in paths.values():
        raw = _raw_name(path)
        if raw is not None and raw not in calls:
            calls[raw] = raw_call(path.network, weights, lr_image)
    return calls


def _rows(paths: dict[str, PathFn], size: str, weights: str, flops: float,
          peak: float, repeats: int, say: Callable[[str], Any]) -> dict[str, dict[str, Any]]:
    """Every path at one input size (median of ``repeats`` alternating runs)."""
    height, width = SIZES[size]
    lr_image = torch.rand(1, 3, height, width)
    calls = _candidates(paths, size, lr_image, weights)
    say(f"{size}: timing {len(calls)} paths, {repeats} runs each, taking turns ...")
    times = median_times(calls, repeats)
    eager = times.get("fp32 eager")
    rows: dict[str, dict[str, Any]] = {}
    for name, seconds in times.items():
        row = rows[name] = {"seconds": seconds,
                            "output_mpix_s": 16 * height * width / seconds / 1e6,
                            "fraction_of_bf16_peak": flops / peak / seconds}
        if eager is not None:
            row["ratio_to_fp32_eager"] = seconds / eager
        raw = _raw_name(paths.get(name))
        if raw is not None:
            row["raw"], row["ratio_to_raw"] = raw, seconds / times[raw]
        say(f"{size} {name:20s} {seconds:7.3f} s  {row['output_mpix_s']:6.2f} MP/s  "
            + (f"x{row['ratio_to_fp32_eager']:.2f} of fp32 eager  " if eager else "")
            + f"{row['fraction_of_bf16_peak']:.2f} of bf16 peak"
            + (f"  x{row['ratio_to_raw']:.3f} of {raw}" if raw else ""))
    return rows


def run(repeats: int = 5, memory: bool = True, compile: bool = False,
        say: Callable[[str], Any] = log.info) -> dict[str, Any]:
    """All measurements, each table line passed to ``say`` as it comes (the CLI prints them);
    returns them as a dict."""
    say("matmul peak (fp32, bf16) ...")
    peak = {"fp32": matmul_peak(torch.float32, repeats),
            "bf16": matmul_peak(torch.bfloat16, repeats)}
    say(f"CPU: {cpu_model()}, {torch.get_num_threads()} threads")
    say(f"matmul 4096: fp32 {peak['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peak['bf16'] / 1e9:.0f}")
    torch.manual_seed(0)
    generator = Generator().eval()  # BatchNorm in eval mode, as a peer would run it
    results: dict[str, Any] = {"cpu": cpu_model(), "threads": torch.get_num_threads(),
                               "peak_flops": peak, "timing": f"median of {repeats} runs"}
    with tempfile.TemporaryDirectory() as folder:
        weights = str(Path(folder) / "g.safetensors")
        save_generator(weights, generator)
        paths = _paths(generator, weights, compile, say)
        results["default_runtime"] = paths["vivid default"].describe()
        for size, (height, width) in SIZES.items():
            flops = generator_flops(generator, height, width)
            results[size] = _rows(paths, size, weights, flops, peak["bf16"], repeats, say)
        if memory:
            say(f"peak memory: vivid upscale of a {MEMORY_SIDE}x{MEMORY_SIDE} photo ...")
            results["peak_memory_2000px_mib"] = peak_memory_mib(Path(folder), weights)
            say(f"peak memory, vivid upscale of a {MEMORY_SIDE}x{MEMORY_SIDE} photo x4 with "
                f"defaults: {results['peak_memory_2000px_mib']:.0f} MiB")
    return results
