"""Training configs are checked when read: a bad value is one line naming the file and the
key, exit code 2, nothing loaded and no run folder made."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vivid.cli.main import main
from vivid.errors import VividError
from vivid.training.config import load_config
from vivid.training.steps import build_nets

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.toml"

BAD_VALUES = [
    ("optim.learning_rate=-1e-4", "'optim.learning_rate' must be > 0"),
    ("model.blocks=-2", "'model.blocks' must be >= 0"),
    ("optim.batch_size=0", "'optim.batch_size' must be >= 1"),
    ("loss.pixel='huber'", "'loss.pixel' must be one of mse, l1"),
    ("model.scale=5", "'model.scale' must be one of 2, 3, 4, 8"),
    ("optim.iterations='many'", "'optim.iterations': expected int"),
    ("run.stage='srflow'", "'run.stage' must be one of"),
    ("loss.content_layer='relu9_9'", "'loss.content_layer' must be one of"),
    ("data.degradation='jpeg'", "'data.degradation' must be one of"),
    ("optim.ema=1.5", "'optim.ema' must be in [0, 1)"),
    ("data.crop=30", "'data.crop' (30) must be a multiple of 'model.scale' (4)"),
    ("model.motion='raft'", "'model.motion' must be one of network, farneback"),
]


@pytest.mark.parametrize(("setting", "message"), BAD_VALUES)
def test_bad_values_fail_in_one_line_with_exit_2_and_no_run_folder(
        setting: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    code = main(["train", str(SMOKE), "--out", str(out), "--set", setting, "--quiet"])
    error = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert error.count("\n") == 1 and str(SMOKE) in error and message in error, error


def test_every_shipped_config_passes_the_checks() -> None:
    for path in sorted((REPO / "configs").glob("*.toml")):
        load_config(path)


MADE_BY_ANOTHER_RECIPE = {  # run.init files that another config trains first
    "runs/paper-srresnet/generator.safetensors",  # paper-srresnet's
    "runs/srresnet-x4-domains/generator.safetensors",  # vivid-srresnet-x4-domains's
}


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_builds_its_networks(path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The networks a config asks for match the weights its run.init names (a recipe whose
    init was re-shipped with another design fails here, not after its data has loaded)."""
    monkeypatch.chdir(REPO)  # the configs' paths are relative to the repository
    config = load_config(path)
    if config.run.init in MADE_BY_ANOTHER_RECIPE:
        pytest.skip(f"run.init {config.run.init} is made by another recipe")
    if config.loss.vgg_weights and not Path(config.loss.vgg_weights).is_file():
        pytest.skip(f"needs {config.loss.vgg_weights} (shared data)")
    nets = build_nets(config)
    assert nets.generator is not None


def test_a_value_set_on_the_command_line_is_checked_too() -> None:
    with pytest.raises(VividError, match=r"'optim\.warmup' must be >= 0"):
        load_config(SMOKE, ["optim.warmup=-5"])


def test_stage_video_flow_needs_a_flow_network() -> None:
    with pytest.raises(VividError, match="stage video-flow trains the flow network"):
        load_config(REPO / "configs" / "vivid-video-flow.toml", ["model.motion='farneback'"])


def test_farneback_motion_has_no_flow_network_to_train_with_a_warping_loss() -> None:
    with pytest.raises(VividError, match=r"'loss\.warp_weight' trains a flow network"):
        load_config(REPO / "configs" / "vivid-video-gan-x4.toml", ["loss.warp_weight=1.0"])


def test_resume_refuses_a_different_model_shape(tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    images = tmp_path / "hr"
    images.mkdir()
    for index in range(4):
        Image.fromarray(np.full((48, 48, 3), 40 * index, np.uint8)).save(images / f"{index}.png")
    run = ["train", str(SMOKE), "--out", str(tmp_path / "run"), "--quiet", "--set",
           f'data.train=["{images}"]', "--set", "optim.iterations=2", "--set",
           "run.checkpoint_every=1", "--set", "model.blocks=1", "--set", "model.channels=8"]
    assert main(run) == 0
    capsys.readouterr()
    assert main([*run, "--resume", "--set", "model.blocks=3"]) == 2
    error = capsys.readouterr().err
    assert "model.blocks = 1" in error and "asks for 3" in error and error.count("\n") == 1
