"""Which engine runs an image model: ``torch``, ``onnx`` (ONNX Runtime, fp32), ``openvino``, or
``auto`` (the default), and the facts about this machine that choice rests on (the measured
choice and its cache serve video models too: ``frame_engines``).

The rule for ``auto`` (the first that applies):

1. ``bicubic``, a GPU or MPS device, or a recurrent video model: ``torch`` (the engines run
   image models on the CPU only; a ``VideoUpscaler`` chooses its own by ``frame_engines``);
2. a ``.onnx`` file: ``openvino`` when installed, else ``onnx``;
3. OpenVINO not installed: ``torch``;
4. otherwise the faster of ``torch`` and ``openvino`` for this architecture on this machine,
   measured once: both engines, called directly, run a ``CALIBRATION_SIZE`` square input
   at the chosen precision (one warm-up each, then the best of ``CALIBRATION_REPEATS``,
   alternating), and OpenVINO is chosen when it takes at most ``MARGIN`` of torch's time.
   The choice and both times are cached in ``<cache dir>/runtime-choice.json``, keyed by
   the CPU model, thread count, torch and OpenVINO versions, architecture and precision
   (delete the file, or run ``vivid bench``, to measure again). The ratio does not depend
   on the input size (the issue's Xeon: 0.56 at 128x128 and 270x480), so one small size is
   measured. When OpenVINO fails to load or run the model here, the choice is ``torch``
   with a warning, and nothing is cached.

ONNX Runtime is never chosen for weights: it runs fp32 only, and the bench shows it slower.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch

from vivid.atomic import write_text
from vivid.device import CPU, cpu_has_native_bf16, resolve_precision
from vivid.errors import VividError
from vivid.inference import openvino_runtime
from vivid.inference.engine import Engine, cache_dir
from vivid.inference.onnx_runtime import OnnxNetwork
from vivid.inference.torch_runtime import TorchNetwork
from vivid.nets.architectures import architecture
from vivid.nets.weights_file import is_video_model, load_model

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "torch", "onnx", "openvino")
MARGIN = 0.95  # OpenVINO must be at least 5% faster to replace the reference torch path
CALIBRATION_SIZE = 128
CALIBRATION_REPEATS = 5
CHOICE_FILE = "runtime-choice.json"


@cache
def cpu_model() -> str:
    """The CPU's model name with what sets its speed, e.g. 'AMD EPYC (family 26 model 2,
    2 CPUs, native bf16, no AMX)'."""
    fields: dict[str, str] = {}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name") or platform.processor() or platform.machine()
    family = (f"family {fields['cpu family']} model {fields['model']}, "
              if "cpu family" in fields and "model" in fields else "")
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    return (f"{name} ({family}{os.cpu_count()} CPUs, "
            f"{'native bf16' if cpu_has_native_bf16() else 'no native bf16'}, "
            f"{'AMX' if amx else 'no AMX'})")


def _warn(message: str) -> None:
    log.warning("%s", message)


def _read_choices(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        _warn(f"{path}: unreadable ({error}); measuring again")
        return {}


def _write_choices(path: Path, choices: dict[str, dict]) -> None:
    """Atomically (a temporary file, then rename); a cache that cannot be written is reported."""
    try:
        write_text(path, json.dumps(choices, indent=2))
    except (OSError, VividError) as error:
        _warn(f"the runtime choice is not cached ({error}); set VIVID_CACHE_DIR")


def timed_runs(candidates: dict[str, Callable[[], object]], repeats: int = 3
               ) -> dict[str, list[float]]:
    """``repeats`` timed calls per candidate after one warm-up each, the candidates taking
    turns (so a change in the machine's load hits them alike)."""
    for function in candidates.values():
        function()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, function in candidates.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return times


def best_times(candidates: dict[str, Callable[[], object]], repeats: int = 3
               ) -> dict[str, float]:
    """Best of ``timed_runs`` per candidate."""
    return {name: min(runs) for name, runs in timed_runs(candidates, repeats).items()}


def median_times(candidates: dict[str, Callable[[], object]], repeats: int = 3
                 ) -> dict[str, float]:
    """Median of ``timed_runs`` per candidate."""
    return {name: statistics.median(runs)
            for name, runs in timed_runs(candidates, repeats).items()}


def compare_engines(runner: Callable[[str], Callable[[], object]], label: str
                    ) -> dict[str, float] | None:
    """Best times of ``runner("torch")`` and ``runner("openvino")`` (each makes its engine
    and returns one timed call); None (with a warning) when OpenVINO fails to load or run."""
    candidates = {"torch": runner("torch")}
    try:
        candidates["openvino"] = runner("openvino")
        candidates["openvino"]()
    except Exception as error:  # OpenVINO's own errors are untyped; torch is the fallback
        _warn(f"OpenVINO could not run {label} here ({error}); using torch")
        return None
    return best_times(candidates, CALIBRATION_REPEATS)


def _calibrate(name_or_path: str, precision: str) -> dict[str, float] | None:
    """Both engines' best times on one input; None (with a warning) when OpenVINO fails."""
    dtype = resolve_precision(precision, CPU)
    lr_image = torch.rand(1, 3, CALIBRATION_SIZE, CALIBRATION_SIZE)

    def runner(runtime: str) -> Callable[[], object]:
        engine = load_engine(runtime, name_or_path, dtype)
        return lambda: engine(lr_image)

    return compare_engines(runner, name_or_path)


def _choice_key(architecture: str, precision: str) -> str:
    import openvino

    return " | ".join((cpu_model(), f"{torch.get_num_threads()} threads",
                       f"torch {torch.__version__}", f"openvino {openvino.__version__}",
                       architecture, f"precision {precision}"))


def measured_choice(architecture: str, precision: str,
                    calibrate: Callable[[], dict[str, float] | None]) -> str:
    """``torch`` or ``openvino`` for this architecture and precision on this machine: the
    cached choice, else ``calibrate``'s times (``compare_engines``) judged by ``MARGIN`` and
    cached; ``torch``, not cached, when ``calibrate`` gives None."""
    key = _choice_key(architecture, precision)
    path = cache_dir() / CHOICE_FILE
    known = _read_choices(path).get(key)
    if known is not None:
        return known["runtime"]
    log.info("measuring the fastest runtime for this CPU and %s (once)", architecture)
    times = calibrate()
    if times is None:
        return "torch"  # not cached: OpenVINO may work after an update
    runtime = "openvino" if times["openvino"] <= MARGIN * times["torch"] else "torch"
    log.info("runtime: torch %.3f s, openvino %.3f s for %dx%d -> %s (kept in %s)",
             times["torch"], times["openvino"], CALIBRATION_SIZE, CALIBRATION_SIZE, runtime, path)
    entry = {"runtime": runtime, "seconds": times, "size": CALIBRATION_SIZE,
             "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
    _write_choices(path, {**_read_choices(path), key: entry})
    return runtime


def resolve_runtime(runtime: str, name_or_path: str, device: torch.device, precision: str
                    ) -> str:
    """The runtime to use (never ``auto``); ``precision`` is ``fp32``, ``bf16`` or ``fp16``.
    See the module docstring for the rule."""
    openvino_available = openvino_runtime.openvino_available
    if runtime not in RUNTIMES:
        raise VividError(f"--runtime {runtime}: choose one of {', '.join(RUNTIMES)}")
    if runtime != "auto":
        return runtime
    if name_or_path == "bicubic" or device.type != "cpu":
        return "torch"
    if Path(name_or_path).suffix == ".onnx":
        return "openvino" if openvino_available() else "onnx"
    if not openvino_available() or is_video_model(name_or_path):
        return "torch"
    return measured_choice(_architecture(name_or_path), precision,
                           lambda: _calibrate(name_or_path, precision))


def _architecture(name_or_path: str) -> str:
    """E.g. 'x4 16 blocks 64 channels' (an SRResNet) or 'light x4 1 blocks 32 channels'."""
    network = load_model(name_or_path)[0]
    config, name = network.config, architecture(network)
    shape = f"x{config.scale} {config.blocks} blocks {config.channels} channels"
    return shape if name == "srresnet" else f"{name} {shape}"


def forget_choice(name_or_path: str, precision: str) -> None:
    """Drop this machine's cached ``auto`` choice for this model's architecture (``vivid bench``
    measures it again, so a choice made on a busy machine does not stay)."""
    if not openvino_runtime.openvino_available():
        return
    path = cache_dir() / CHOICE_FILE
    choices = _read_choices(path)
    if choices.pop(_choice_key(_architecture(name_or_path), precision), None) is not None:
        _write_choices(path, choices)


def load_engine(runtime: str, name_or_path: str | Path, dtype: torch.dtype,
                device: torch.device = CPU, compile: bool = False) -> Engine:
    """The engine that runs an image model: ``torch`` (weights; on ``device``, ``compile``:
    ``torch.compile``), ``onnx`` (ONNX Runtime, fp32) or ``openvino`` (a ``.onnx`` file, or
    weights exported on the fly; those two on the CPU)."""
    if runtime == "torch":
        return TorchNetwork.load(name_or_path, device, dtype, compile)
    if runtime == "onnx":
        return OnnxNetwork(name_or_path)
    return openvino_runtime.OpenVinoNetwork(name_or_path, dtype)
