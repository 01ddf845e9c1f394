"""Training the light generator (``model.architecture = "light"``) frame by frame in stage
video with a temporal loss, and the ``mixed`` degradation of the video data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from video_fixtures import pan, smooth_image, video_data
from vivid.cli.main import main
from vivid.degrade import degrade
from vivid.errors import VividError
from vivid.nets.light import LightGenerator
from vivid.nets.weights_file import load_model
from vivid.training import video_data as video_data_module
from vivid.training.config import load_config
from vivid.training.steps import Optimizers, StepContext, build_nets
from vivid.training.video_data import (
    MIXED_CHOICES,
    ValidationClip,
    VideoCrops,
    degrade_frames,
    draw_degradation,
    load_validation_clips,
)
from vivid.training.video_steps import frame_motion, validate_video, video_step

REPO = Path(__file__).resolve().parents[1]
LIVE = REPO / "configs" / "vivid-live-x4.toml"
SMOKE = REPO / "configs" / "smoke.toml"
VIDEO = REPO / "configs" / "vivid-video-x4.toml"

BAD = [
    (LIVE, ["model.architecture='esrgan'"], "'model.architecture' must be one of srresnet, light"),
    (LIVE, ["data.degradation='noisy'"], "'data.degradation' must be one of bicubic, "
                                         "blur-bicubic, bd, mixed"),
    (SMOKE, ["data.degradation='mixed'"], "draws bd or bicubic per sequence: stage video with "
                                          "'model.architecture' = \"light\" only"),
    (VIDEO, ["data.degradation='mixed'"], "the recurrent network assumes bd throughout"),
    (LIVE, ["data.context=8"], "'data.context' must be at least the light network's reach, 40 HR "
                               "pixels"),
    (LIVE, ["run.stage='video-gan'"], "trains in stages srresnet, srgan, video, not in stage "
                                      "video-gan"),
    (LIVE, ["model.motion='network'"], "set 'model.motion' to farneback or dis"),
    (LIVE, ["loss.pingpong_weight=0.5"], "'loss.pingpong_weight' compares a recurrent model's"),
    (LIVE, ["optim.recurrence_lr_factor=10.0"], "'optim.recurrence_lr_factor' is for a "
                                                "recurrent model's"),
    (VIDEO, ["model.reparam=true"], "'model.reparam' trains a fresh light network"),
    (LIVE, ["model.reparam=true", "run.init='live-x4'"], "'model.reparam' trains a fresh light"),
    (LIVE, ["model.reparam=false", "model.reparam_tail=true"], "'model.reparam_tail' extends"),
]


@pytest.mark.parametrize(("config", "settings", "message"), BAD)
def test_bad_light_and_mixed_settings_fail_in_one_line(config: Path, settings: list[str],
                                                       message: str) -> None:
    with pytest.raises(VividError) as caught:
        load_config(config, settings)
    assert message in str(caught.value) and "\n" not in str(caught.value), caught.value


def test_a_bad_architecture_on_the_command_line_exits_2_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    code = main(["train", str(LIVE), "--out", str(out), "--quiet",
                 "--set", "model.architecture='tiny'"])
    error = capsys.readouterr().err
    assert code == 2 and not out.exists() and error.count("\n") == 1, error
    assert "'model.architecture' must be one of srresnet, light" in error


def _panned_batch(step: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Two 3-frame sequences panning over smooth images (HR 40 px with 4 px of context) and
    their bicubic LR."""
    hr = torch.stack([pan(smooth_image((48, 72), seed), 3, 40, step) for seed in (1, 2)])
    lr = torch.stack([degrade(sequence, 4, "bicubic") for sequence in hr])
    return lr, hr


def test_the_temporal_motion_is_the_lr_motion_on_the_hr_grid() -> None:
    pytest.importorskip("cv2")
    lr, _ = _panned_batch(step=4)  # 1 LR pixel per frame to the right
    flows = frame_motion(lr, "dis", 4)
    assert flows.shape == (2, 2, 2, 40, 40)
    inside = flows[..., 8:-8, 8:-8]
    assert (inside[:, :, 0].median() - 4).abs() < 0.5 and inside[:, :, 1].median().abs() < 0.5


def test_a_few_steps_on_one_batch_lower_the_loss() -> None:
    pytest.importorskip("cv2")
    config = load_config(LIVE, ["model.channels=8", "model.blocks=0", "run.precision='fp32'",
                                "data.context=8"])
    nets = build_nets(config)
    assert isinstance(nets.generator, LightGenerator)
    optimizers = Optimizers(torch.optim.Adam(nets.generator.parameters(),
                                             lr=config.optim.learning_rate))
    amp = StepContext.create(torch.device("cpu"), torch.float32)
    lr, hr = _panned_batch()
    numbers = [video_step(nets, lr, hr, optimizers, config, amp) for _ in range(3)]
    assert set(numbers[0]) == {"loss", "loss_l1", "loss_temporal"}
    assert numbers[0]["loss_temporal"] > 0
    assert numbers[-1]["loss"] < numbers[0]["loss"], numbers
    scores, samples = validate_video(nets.generator, [ValidationClip("pan", lr[0], hr[0])], 4,
                                     amp)
    assert 10 < scores["val_psnr"] < 60 and samples[0][1].shape == (1, 3, 40, 40)
    assert set(scores) == {"val_psnr", "val_ssim"}
    seen: list[tuple[int, ...]] = []
    same, _ = validate_video(nets.generator, [ValidationClip("pan", lr[0], hr[0])], 4, amp,
                             finish=lambda frames: seen.extend(f.shape for f in frames) or frames)
    assert same == scores and seen == [(1, 3, 40, 40)] * len(hr[0])
    dark, _ = validate_video(nets.generator, [ValidationClip("pan", lr[0], hr[0])], 4, amp,
                             finish=lambda frames: [f * 0 for f in frames])
    assert dark["val_psnr"] < scores["val_psnr"]
    named = [ValidationClip("pan (bd)", lr[0], hr[0], "bd"),
             ValidationClip("pan (bicubic)", lr[1], hr[1], "bicubic")]
    both, _ = validate_video(nets.generator, named, 4, amp)
    assert both["val_psnr"] == pytest.approx((both["val_psnr_bd"] + both["val_psnr_bicubic"]) / 2)


def test_mixed_draws_both_degradations_and_a_fixed_one_draws_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    generator = torch.Generator().manual_seed(3)
    assert {draw_degradation("mixed", generator) for _ in range(20)} == set(MIXED_CHOICES)
    state = generator.get_state()
    assert draw_degradation("bd", generator) == "bd"
    assert torch.equal(generator.get_state(), state)
    seen = []
    monkeypatch.setattr(video_data_module, "synthetic_sample",
                        lambda *args, **kwargs: seen.append(args[4]))
    crops = VideoCrops([], [torch.zeros(3, 80, 80, dtype=torch.uint8)], 4, 16, 3, 1.0, "mixed")
    for _ in range(20):
        crops.sample(generator)
    assert set(seen) == set(MIXED_CHOICES)


def test_mixed_validation_scores_each_clip_under_both(tmp_path: Path) -> None:
    clips, _ = video_data(tmp_path / "data")
    sequences = load_validation_clips(clips, ["clip0"], 4, "mixed")
    assert [(clip.name, clip.degradation) for clip in sequences] == [
        ("clip0 (bd)", "bd"), ("clip0 (bicubic)", "bicubic")]
    (_, bd, hr, _), (_, bicubic, same_hr, _) = sequences
    plain = load_validation_clips(clips, ["clip0"], 4, "bd")
    assert [(clip.name, clip.degradation) for clip in plain] == [("clip0", None)]
    assert torch.equal(hr, same_hr) and not torch.equal(bd, bicubic)
    expected = (degrade_frames(hr, 4, "bicubic") * 255).round().clamp(0, 255) / 255
    assert torch.allclose(bicubic, expected, atol=1e-6)


@pytest.mark.parametrize("reparam", [False, True])
def test_the_live_recipe_trains_validates_and_exports(tmp_path: Path, reparam: bool) -> None:
    pytest.importorskip("cv2")
    clips, stills = video_data(tmp_path / "data", size=96)  # one block: 16 px of context
    out = tmp_path / "run"
    settings = {"model.channels": 8, "data.videos": json.dumps([str(clips)]),
                "data.train": json.dumps([str(stills)]), "data.validation": f"'{clips}'",
                "data.validation_videos": "['clip0']", "data.crop": 16, "data.frames": 3,
                "data.context": 16, "model.blocks": 1, "data.synthetic": 0,
                "optim.iterations": 3, "optim.batch_size": 2,
                "optim.warmup": 0, "run.checkpoint_every": 3, "run.validate_every": 3,
                "run.precision": "'fp32'", "model.reparam": str(reparam).lower()}
    sets = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    assert main(["train", str(LIVE), "--out", str(out), "--quiet", *sets]) == 0
    generator, metadata = load_model(out / "generator.safetensors")
    assert isinstance(generator, LightGenerator) and metadata["architecture"] == "light"
    assert metadata["stage"] == "video" and "val_psnr" in metadata["metrics"]
    assert metadata["degradation"] == "bicubic"  # eval-video moves its output by this grid
    assert main(["export", str(out), "-o", str(tmp_path / "x.safetensors")]) == 0
    exported = load_model(tmp_path / "x.safetensors")[0]
    assert isinstance(exported, LightGenerator)
    assert set(exported.state_dict()) == set(generator.state_dict())  # plain kernels


def test_eval_video_leaves_a_mixed_model_on_its_own_grid() -> None:
    from vivid.evaluation.grid import regrid_shift

    def model(degradation: str) -> dict:
        return {"config": {"data": {"degradation": degradation}}}

    assert regrid_shift(model("mixed"), 4, "bd") == 0
    assert regrid_shift(model("mixed"), 4, "bicubic") == 0
    assert regrid_shift(model("bd"), 4, "bicubic") == -1.5
