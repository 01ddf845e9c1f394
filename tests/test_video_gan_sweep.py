"""benchmarks/video_gan_sweep.py: short video-gan arms, then their scores on held-out clips."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_a_tiny_arm_trains_once_and_is_scored_beside_its_start(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import video_gan_sweep

    monkeypatch.chdir(tmp_path)  # the sweep moves to the repository root
    tiny = ["model.blocks=1", "model.channels=4", "data.crop=32", "data.context=0",
            "data.frames=3", "optim.batch_size=1", "optim.warmup=0", "run.init=''",
            "data.validation=''", "run.precision='fp32'"]
    common = ["--work", str(tmp_path / "work"), "--iterations", "2",
              *(a for s in tiny for a in ("--set", s))]
    video_gan_sweep.main(["--arm", "adv-1e-2-pp0", *common])
    run = tmp_path / "work" / "runs" / "video-gan-sweep" / "adv-1e-2-pp0"
    weights = run / "generator.safetensors"
    stamp = weights.stat().st_mtime_ns
    video_gan_sweep.main(["--arm", "adv-1e-2-pp0", *common])  # finished: left alone
    assert weights.stat().st_mtime_ns == stamp
    config = json.loads((run / "config.json").read_text())
    assert config["loss"]["adversarial_weight"] == 1e-2
    assert config["loss"]["pingpong_weight"] == 0
    assert (config["loss"]["pixel_weight"], config["loss"]["temporal_weight"]) == (0.3, 1.0)
    assert config["optim"]["iterations"] == 2

    video_gan_sweep.main(["--report", "--work", str(tmp_path / "work"), "--baseline",
                          "bicubic", "--clip", "aspen_ntia", "--save-as", "sweep",
                          "--results", str(tmp_path)])
    results = json.loads((tmp_path / "sweep.json").read_text())["results"]
    assert list(results) == ["bicubic", str(weights)]
    for scores in results.values():
        assert set(scores["bd"]) >= {"psnr", "tof", "niqe"}


def test_an_arm_stopped_before_its_end_stops_the_sweep(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import video_gan_sweep

    monkeypatch.setattr("vivid.cli.main.main", lambda argv: 0)  # stopped by a signal
    with pytest.raises(SystemExit, match="stopped before the end"):
        video_gan_sweep.main(["--arm", "all", "--work", str(tmp_path)])


def test_the_report_scores_the_pixel_model_and_srgan_beside_the_arms(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import video_gan_sweep

    calls: list[list[str]] = []
    monkeypatch.setattr(video_gan_sweep, "heldout_clips", calls.append)
    video_gan_sweep.main(["--report", "--work", str(tmp_path)])  # no arm has finished
    video_gan_sweep.main(["--report", "--work", str(tmp_path), "--baseline", "bicubic"])
    models = [[c[i + 1] for i, a in enumerate(c) if a == "--model"] for c in calls]
    assert models == [["video-x4", "srgan-x4"], ["bicubic"]]


def test_heldout_clips_scores_an_image_model_frame_by_frame(
        data_dir: Path, tmp_path: Path) -> None:
    from heldout_clips import main as heldout_clips

    from vivid.nets.srresnet import Generator, GeneratorConfig
    from vivid.nets.weights_file import save_generator

    weights = tmp_path / "tiny.safetensors"
    save_generator(weights, Generator(GeneratorConfig(scale=4, blocks=1, channels=8)))
    heldout_clips(["--model", str(weights), "--model", "bicubic", "--degradation", "bd",
                   "--clip", "aspen_ntia", "--tof", "--save-as", "h", "--results",
                   str(tmp_path)])
    results = json.loads((tmp_path / "h.json").read_text())["results"]
    assert set(results) == {str(weights), "bicubic"}
    assert results[str(weights)]["bd"]["psnr"] < results["bicubic"]["bd"]["psnr"]
    assert results[str(weights)]["bd"]["tof"] > 0
