"""vivid's fast default inference path keeps the fp32 path's quality (issue: fast inference)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vivid.device import cpu_has_native_bf16, resolve_precision
from vivid.evaluation.evaluate import evaluate, load_dataset
from vivid.images.pixels import quantize_8bit
from vivid.inference import runtimes
from vivid.inference.openvino_runtime import openvino_available
from vivid.inference.upscaler import Upscaler
from vivid.metrics import psnr
from vivid.nets.srresnet import Generator
from vivid.nets.weights_file import bundled_models, is_video_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runtime choice and OpenVINO models go to a test cache, not the user's."""
    monkeypatch.setenv("VIVID_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "vivid-cache"))


def _trained_weights() -> list[str]:
    """The bundled image models or, until they ship, the newest committed stage-1 training
    checkpoint (used only to compare precisions, never to pick a checkpoint)."""
    names = [name for name in bundled_models() if not is_video_model(name)]
    if names:
        return names
    checkpoints = sorted((REPO / "runs" / "srresnet-x4" / "checkpoints").glob("iter-*.pt"))
    return [str(checkpoints[-1])] if checkpoints else []


BICUBIC_SET5 = 28.42  # dB (README): every trained image model must beat it (srgan-x4: 29.19)


def test_auto_precision_is_bf16_exactly_where_the_cpu_has_native_bf16() -> None:
    expected = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    assert resolve_precision("auto", torch.device("cpu")) == expected


@pytest.mark.parametrize("weights", _trained_weights() or [None])
def test_default_path_is_within_002_db_of_fp32_on_set5(weights: str | None,
                                                       data_dir: Path) -> None:
    if weights is None:
        pytest.skip("no trained weights in the package or under runs/")
    scores = {}
    for precision in ("fp32", "bf16", "auto"):
        report = evaluate([weights], [data_dir / "Set5"], progress=False, precision=precision,
                          device="cpu")
        scores[precision] = report["results"]["Set5"][weights]["psnr"]
    assert scores["fp32"] > BICUBIC_SET5
    assert abs(scores["bf16"] - scores["fp32"]) <= 0.02, scores
    assert abs(scores["auto"] - scores["fp32"]) <= 0.02, scores


@pytest.mark.parametrize("runtime", ["torch", "openvino"])
@pytest.mark.parametrize("weights", _trained_weights() or [None])
def test_each_runtime_at_default_precision_is_within_002_db_of_fp32_on_set5(
    weights: str | None, runtime: str, data_dir: Path
) -> None:
    if weights is None:
        pytest.skip("no trained weights in the package or under runs/")
    if runtime == "openvino" and not openvino_available():
        pytest.skip("needs the 'openvino' extra (pip install -e '.[openvino]')")
    samples = load_dataset(data_dir / "Set5", 4, "bicubic")

    def mean_psnr(upscaler: Upscaler) -> float:
        return sum(psnr(quantize_8bit(upscaler(s.lr_image)), s.hr_image, shave=4).item()
                   for s in samples) / len(samples)

    reference = mean_psnr(Upscaler.from_pretrained(weights, device="cpu", precision="fp32",
                                                   runtime="torch"))
    fast = mean_psnr(Upscaler.from_pretrained(weights, device="cpu", runtime=runtime))
    assert reference > BICUBIC_SET5, reference
    assert abs(fast - reference) <= 0.02, (reference, fast)


def _paper_generator_flops(height: int, width: int) -> int:
    """The x4 SRResNet's conv FLOPs counted by hand from Fig. 4 (2 x multiply-adds)."""
    pixels = height * width
    macs = (64 * 3 * 81 * pixels  # head 9x9, 3 -> 64
            + 33 * 64 * 64 * 9 * pixels  # 16 blocks x 2 convs + the body conv, 3x3
            + 256 * 64 * 9 * pixels + 256 * 64 * 9 * 4 * pixels  # the two sub-pixel convs
            + 3 * 64 * 81 * 16 * pixels)  # tail 9x9 at x4
    return 2 * macs


def test_vivid_bench_measures_every_path_against_fp32_eager_and_its_raw_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import time

    from vivid.cli.main import main
    from vivid.evaluation import bench

    def slow_path(lr_image: torch.Tensor) -> None:
        time.sleep(0.2)

    engines = bench._engines
    monkeypatch.setattr(bench, "_engines", lambda weights: {**engines(weights),
                                                            "sleeps 0.2 s": slow_path})
    monkeypatch.setattr(bench, "SIZES", {"24x16": (16, 24), "32x20": (20, 32)})
    monkeypatch.setattr(bench, "FULL_TABLE", ("24x16",))
    monkeypatch.setattr(bench, "MEMORY_SIDE", 64)
    monkeypatch.setattr(runtimes, "CALIBRATION_SIZE", 16)
    monkeypatch.setattr(bench, "matmul_peak", lambda dtype, repeats: 1e11)
    assert main(["bench", "--repeats", "1", "--json", str(tmp_path / "b.json")]) == 0
    results = json.loads((tmp_path / "b.json").read_text())
    rows = results["24x16"]
    precision = "bf16" if cpu_has_native_bf16() else "fp32"
    assert {"fp32 eager", "vivid default", f"torch {precision}", f"raw torch {precision}"} \
        <= set(rows)
    assert results["cpu"] == runtimes.cpu_model()
    assert results["default_runtime"].startswith("auto -> ")
    if openvino_available():
        assert {"openvino fp32", "raw openvino fp32"} <= set(rows)
        assert ("openvino bf16" in rows) == cpu_has_native_bf16()
    default = rows["vivid default"]
    assert default["raw"] in rows and default["raw"].startswith("raw ")
    assert default["ratio_to_raw"] == pytest.approx(default["seconds"]
                                                    / rows[default["raw"]]["seconds"])
    assert set(results["32x20"]) == {"vivid default", default["raw"]}  # beyond FULL_TABLE
    eager = rows["fp32 eager"]["seconds"]
    assert bench.generator_flops(Generator().eval(), 16, 24) == _paper_generator_flops(16, 24)
    assert 0.2 <= rows["sleeps 0.2 s"]["seconds"] < 1.0  # the time is really measured
    for row in rows.values():
        assert row["ratio_to_fp32_eager"] == pytest.approx(row["seconds"] / eager)
        assert row["output_mpix_s"] == pytest.approx(16 * 24 * 16 / row["seconds"] / 1e6)
        flops = row["fraction_of_bf16_peak"] * 1e11 * row["seconds"]
        assert flops == pytest.approx(_paper_generator_flops(16, 24))
    assert 100 < results["peak_memory_2000px_mib"] < 4096  # a real child process's VmHWM
