"""Stage video-gan: the spatio-temporal discriminator's input, one adversarial step, and the
stage under `vivid train` (resume after kill -9), with tiny networks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from run_checks import check_resume_after_kill_9
from video_fixtures import (
    pan,
    smooth_image,
    video_data,
    video_train_command,
)
from vivid.errors import VividError
from vivid.nets.discriminator import SpatioTemporalDiscriminator
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.srresnet import GeneratorConfig
from vivid.nets.vgg import VGGFeatures
from vivid.nets.weights_file import save_generator
from vivid.training.config import TrainConfig, load_config
from vivid.training.loop import _resume
from vivid.training.steps import Nets, Optimizers, StepContext
from vivid.training.video_gan_steps import discriminator_input, triplet_starts, video_gan_step

REPO = Path(__file__).resolve().parents[1]
TINY = GeneratorConfig(scale=4, blocks=1, channels=8)


def test_triplets_do_not_overlap() -> None:
    assert triplet_starts(7) == [0, 3] and triplet_starts(3) == [0] and triplet_starts(2) == []


def test_warped_neighbours_line_up_with_the_centre_frame() -> None:
    frames = pan(smooth_image((48, 80), seed=1), frames=3, size=32, step=2)[None]  # 1x3x3xHxW
    lr = torch.nn.functional.avg_pool2d(frames.flatten(0, 1), 4).unflatten(0, (1, 3))
    to_previous = torch.zeros(1, 2, 32, 32)
    to_previous[:, 0] = 2.0  # frame t-1 shows at x + 2 what the centre frame shows at x
    stacked = discriminator_input(frames, lr, (to_previous, -to_previous))
    assert stacked.shape == (1, 27, 32, 32)
    centre = frames[0, 1]
    warped_previous, warped_next = stacked[0, 9:12], stacked[0, 15:18]
    assert torch.allclose(stacked[0, 12:15], centre)
    inner = (slice(None), slice(2, -2), slice(2, -2))
    assert torch.allclose(warped_previous[inner], centre[inner], atol=1e-5)
    assert torch.allclose(warped_next[inner], centre[inner], atol=1e-5)
    assert not torch.allclose(stacked[0, 0:3][inner], centre[inner], atol=1e-2)


def _tiny_config(tmp_path: Path, *overrides: str) -> TrainConfig:
    path = tmp_path / "tiny.toml"
    path.write_text('[model]\nblocks = 1\nchannels = 8\n[optim]\nbatch_size = 2\n'
                    'learning_rate = 1e-3\n[loss]\npixel = "l1"\ncontent_layer = "relu1_2"\n'
                    'content_scale = 1e-3\nadversarial_weight = 0.1\n[run]\nstage = "video-gan"\n'
                    'precision = "fp32"\n')
    return load_config(path, list(overrides))


def test_the_layers_d_matches_on_are_those_of_its_score() -> None:
    torch.manual_seed(0)
    discriminator = SpatioTemporalDiscriminator(channels=8).eval()
    batch = torch.rand(2, 27, 32, 32)
    logits, layers = discriminator.score_and_layers(batch)
    assert torch.allclose(logits, discriminator(batch), atol=1e-6)
    assert [tuple(layer.shape[1:]) for layer in layers] == [(8, 16, 16), (8, 8, 8), (16, 4, 4),
                                                            (32, 2, 2)]


def test_feature_matching_reaches_the_generator(tmp_path: Path) -> None:
    """The same step with the term on and off: D's update is the same, G's differs."""
    hr = torch.stack([pan(smooth_image((48, 96), seed=s), frames=4, size=32, step=2)
                      for s in (2, 3)])
    lr = torch.nn.functional.avg_pool2d(hr.flatten(0, 1), 4).unflatten(0, (2, 4))
    amp = StepContext.create(torch.device("cpu"), torch.float32)
    results = []
    for weight in (0.0, 1.0):
        config = _tiny_config(tmp_path, f"loss.feature_matching_weight={weight}")
        torch.manual_seed(0)
        nets = Nets(RecurrentGenerator(TINY), SpatioTemporalDiscriminator(channels=8),
                    vgg=VGGFeatures("relu1_2"))
        optimizers = Optimizers(torch.optim.Adam(nets.generator.parameters(), 1e-3),
                                torch.optim.Adam(nets.discriminator.parameters(), 1e-3))
        numbers = video_gan_step(nets, lr, hr, optimizers, config, amp)
        results.append((numbers, nets))
    (off, nets_off), (on, nets_on) = results
    assert "loss_matching" not in off and on["loss_matching"] > 0
    assert off["loss_d"] == pytest.approx(on["loss_d"])  # the same D update before G's
    assert on["loss"] - off["loss"] == pytest.approx(on["loss_matching"], rel=1e-4)
    assert not torch.equal(nets_off.generator.sr.head.weight, nets_on.generator.sr.head.weight)


def test_feature_matching_outside_stage_video_gan_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(VividError, match=r"'loss.feature_matching_weight' .* stage video-gan only"):
        _tiny_config(tmp_path, "run.stage='video'", "loss.feature_matching_weight=0.5")


@pytest.mark.parametrize("version", [2, 3])
def test_one_adversarial_step_trains_both_networks(tmp_path: Path, version: int) -> None:
    """Version 3 (hidden state) too: the GAN stage starts from the video model it is given."""
    config = _tiny_config(tmp_path)
    torch.manual_seed(0)
    nets = Nets(RecurrentGenerator(TINY, version=version), SpatioTemporalDiscriminator(channels=8),
                vgg=VGGFeatures("relu1_2"))
    optimizers = Optimizers(torch.optim.Adam(nets.generator.parameters(), 1e-3),
                            torch.optim.Adam(nets.discriminator.parameters(), 1e-3))
    hr = torch.stack([pan(smooth_image((48, 96), seed=s), frames=4, size=32, step=2)
                      for s in (2, 3)])
    lr = torch.nn.functional.avg_pool2d(hr.flatten(0, 1), 4).unflatten(0, (2, 4))
    before_g = [p.detach().clone() for p in nets.generator.parameters()]
    before_d = [p.detach().clone() for p in nets.discriminator.parameters()]
    amp = StepContext.create(torch.device("cpu"), torch.float32)
    numbers = video_gan_step(nets, lr, hr, optimizers, config, amp)
    assert {"loss", "loss_l1", "loss_warp", "loss_pingpong", "loss_content",
            "loss_adversarial", "loss_d", "d_real", "d_fake"} <= set(numbers)
    assert 0 < numbers["d_real"] < 1 and 0 < numbers["d_fake"] < 1
    changed = {name for (name, p), b in zip(nets.generator.named_parameters(), before_g,
                                            strict=True) if not torch.equal(p, b)}
    # flow net, state head, SR network, the blend's output conv and version 3's hidden head
    # all get gradients; the blend's hidden conv gets none while the output conv is still
    # zero (its start)
    unchanged = {n for n, _ in nets.generator.named_parameters()} - changed
    assert unchanged == {"blend.0.weight", "blend.0.bias"}, unchanged
    assert any(not torch.equal(a, b) for a, b in zip(before_d, nets.discriminator.parameters(),
                                                     strict=True))


def test_video_gan_stage_resumes_exactly_after_kill_9(tmp_path: Path) -> None:
    data = video_data(tmp_path / "data")
    torch.manual_seed(0)
    save_generator(tmp_path / "video.safetensors", RecurrentGenerator(TINY, motion="dis"),
                   stage="video")  # the motion and version of the recipe in video_train_command
    torch.save(VGGFeatures("relu1_2").features.state_dict(), tmp_path / "vgg.pth")
    gan = ["--set", "run.stage='video-gan'",
           "--set", f"run.init='{tmp_path / 'video.safetensors'}'",
           "--set", f"loss.vgg_weights='{tmp_path / 'vgg.pth'}'",
           "--set", "loss.content_layer='relu1_2'"]

    def command(out: Path) -> list[str]:
        # video_train_command sets run.init='' first; the later --set wins
        return video_train_command(data, out, 6, *gan)

    check_resume_after_kill_9(command, tmp_path, 6)


def test_resuming_with_another_discriminator_is_a_one_line_error(tmp_path: Path) -> None:
    torch.manual_seed(0)
    nets = Nets(RecurrentGenerator(TINY), SpatioTemporalDiscriminator(channels=8))
    optimizers = Optimizers(torch.optim.Adam(nets.generator.parameters()),
                            torch.optim.Adam(nets.discriminator.parameters()))
    other = SpatioTemporalDiscriminator(channels=16)  # e.g. a run from before a change of D
    (tmp_path / "checkpoints").mkdir()
    torch.save({"iteration": 10, "params": nets.generator.state_dict(),
                "optim_g": optimizers.generator.state_dict(), "discriminator": other.state_dict(),
                "optim_d": torch.optim.Adam(other.parameters()).state_dict()},
               tmp_path / "checkpoints" / "iter-00000010.pt")
    with pytest.raises(VividError, match=r"iter-00000010.pt: its networks do not fit .*"
                                         r"another --out") as caught:
        _resume(tmp_path, nets, optimizers)
    assert "\n" not in str(caught.value)
