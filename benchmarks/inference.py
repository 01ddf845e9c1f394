"""Inference speed of the x4 generator against the machine's practical peak, in one run.

Measures a 4096x4096 fp32 and bf16 matmul (the practical peak), then the paper-size x4
generator (fixed random weights, BatchNorm included) on a 128x128 and a 480x270 input:
plain fp32 eager (the reference path), vivid's default path (``Upscaler`` with default
settings) and ONNX Runtime. Prints seconds, output megapixels/s, the ratio to fp32 eager and
the fraction of the bf16 matmul peak (network FLOPs / time / peak); then the peak memory
(max RSS, in a child process) of upscaling a 2000x2000 photo x4 with default settings.
Usage: python benchmarks/inference.py [--repeats N]. Writes benchmarks/results/inference.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch

from common import save
from vivid.models import Generator
from vivid.upscale import Upscaler

SIZES = {"128x128": (128, 128), "480x270": (270, 480)}


def best_of(function, repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_peak(dtype: torch.dtype, repeats: int) -> float:
    """FLOP/s of a 4096x4096 matmul."""
    a, b = torch.rand(4096, 4096, dtype=dtype), torch.rand(4096, 4096, dtype=dtype)
    return 2 * 4096**3 / best_of(lambda: a @ b, repeats)


def generator_flops(generator: torch.nn.Module, height: int, width: int) -> float:
    """FLOPs (2 x multiply-adds) of the convolutions for one input of this size."""
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


def peak_memory_mib() -> float:
    """Max RSS of a child process that upscales a 2000x2000 image with default settings."""
    code = ("import resource, torch; from vivid.upscale import Upscaler; "
            "from vivid.models import Generator; from vivid.checkpoint import save_generator; "
            "import tempfile, os; d = tempfile.mkdtemp(); p = os.path.join(d, 'g.safetensors');"
            "torch.manual_seed(0); save_generator(p, Generator().eval()); "
            "Upscaler.from_pretrained(p)(torch.rand(1, 3, 2000, 2000)); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    return int(output.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    peak = {"fp32": matmul_peak(torch.float32, args.repeats),
            "bf16": matmul_peak(torch.bfloat16, args.repeats)}
    print(f"matmul 4096: fp32 {peak['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peak['bf16'] / 1e9:.0f}")
    torch.manual_seed(0)
    generator = Generator().eval()
    import tempfile
    from pathlib import Path

    from vivid.checkpoint import save_generator

    weights = Path(tempfile.mkdtemp()) / "g.safetensors"
    save_generator(weights, generator)
    paths = {"fp32 eager": lambda x: generator(x),
             "vivid default": Upscaler.from_pretrained(str(weights)),
             "onnxruntime": Upscaler.from_pretrained(str(weights), runtime="onnx")}
    results: dict[str, dict] = {"peak_flops": peak}
    for size, (height, width) in SIZES.items():
        flops = generator_flops(generator, height, width)
        lr_image = torch.rand(1, 3, height, width)
        reference = None
        for name, run in paths.items():
            with torch.inference_mode():
                seconds = best_of(lambda run=run, x=lr_image: run(x), args.repeats)
            reference = reference or seconds
            row = {"seconds": seconds, "output_mpix_s": 16 * height * width / seconds / 1e6,
                   "ratio_to_fp32_eager": seconds / reference,
                   "fraction_of_bf16_peak": flops / seconds / peak["bf16"]}
            results.setdefault(size, {})[name] = row
            print(f"{size} {name:14s} {seconds:7.3f} s  {row['output_mpix_s']:6.2f} MP/s  "
                  f"x{row['ratio_to_fp32_eager']:.2f} of fp32 eager  "
                  f"{row['fraction_of_bf16_peak']:.2f} of bf16 peak")
    results["peak_memory_2000px_mib"] = peak_memory_mib()
    print(f"peak memory, 2000x2000 x4 with defaults: {results['peak_memory_2000px_mib']:.0f} MiB")
    print(f"-> {save('inference', results)}")


if __name__ == "__main__":
    main()
