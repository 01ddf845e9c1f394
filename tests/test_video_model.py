"""The frame-recurrent video model: flow and warping, the recurrence at inference (streaming,
tiles, scene cuts, reset), and its training stage (loss goes down, resume after kill -9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from run_checks import check_resume_after_kill_9, logged_losses
from video_fixtures import (
    pan,
    smooth_image,
    video_data,
    video_train_command,
)
from vivid.cli.main import main
from vivid.degrade import degrade, gaussian_blur
from vivid.errors import VividError
from vivid.evaluation.evaluate import niqe_score
from vivid.inference.loader import load_upscaler
from vivid.inference.recurrent import VideoUpscaler
from vivid.nets.flownet import FlowNet
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.srresnet import GeneratorConfig
from vivid.nets.warping import bd_upsample, warp
from vivid.nets.weights_file import load_generator, load_model, save_generator
from vivid.training.config import load_config
from vivid.training.data import PairedCrops
from vivid.training.distributed import World
from vivid.training.loop import _set_learning_rate, prepare
from vivid.training.steps import learning_rate_at
from vivid.training.video_data import Clip, VideoCrops, clip_sample, frame_indices, pan_frames
from vivid.training.video_steps import warping_loss
from vivid.video.evaluate import score_sequence

REPO = Path(__file__).resolve().parents[1]
TINY = GeneratorConfig(scale=4, blocks=1, channels=8)


def _tiny_video_upscaler(tile: int | None = None, seed: int = 0, overlap: int = 4,
                         version: int = 2) -> VideoUpscaler:
    torch.manual_seed(seed)
    network = RecurrentGenerator(TINY, version=version)
    torch.nn.init.normal_(network.state_head.weight, std=0.05)  # make the state matter
    if network.hidden_head is not None:
        torch.nn.init.normal_(network.hidden_head.weight, std=0.05)  # and the hidden state
    return VideoUpscaler(network, "tiny", torch.device("cpu"), torch.float32, tile=tile,
                         tile_overlap=overlap)


def test_warp_with_a_constant_flow_undoes_a_shift() -> None:
    image = smooth_image((40, 48), seed=1)
    shifted = image.roll(shifts=(2, -3), dims=(-2, -1))  # content moved down 2, left 3
    flow = torch.zeros(1, 2, 40, 48)
    flow[:, 0], flow[:, 1] = -3.0, 2.0  # where each pixel of `image` sits in `shifted`
    back = warp(shifted, flow)
    assert torch.allclose(back[..., 4:-4, 4:-4], image[..., 4:-4, 4:-4], atol=1e-5)


def test_flow_net_learns_to_warp_a_shifted_frame_back() -> None:
    torch.manual_seed(0)
    flow_net = FlowNet()
    image = smooth_image((48, 64), seed=2)
    frames = torch.stack([image[0, :, 4:36, 4:52], image[0, :, 4:36, 6:54]])[None]  # 2 px pan
    identity_error = F.mse_loss(frames[:, 0], frames[:, 1]).item()
    optimizer = torch.optim.Adam(flow_net.parameters(), lr=3e-4)
    for _ in range(60):
        flow = flow_net(frames[:, 1], frames[:, 0])
        loss = warping_loss(frames, flow[:, None])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.25 * identity_error
    mean_flow = flow_net(frames[:, 1], frames[:, 0])[..., 4:-4, 4:-4].mean((-2, -1))[0]
    assert abs(mean_flow[0].item() - 2.0) < 0.5 and abs(mean_flow[1].item()) < 0.5


@pytest.mark.parametrize("version", [2, 3])
def test_stream_equals_the_training_forward_pass(version: int) -> None:
    upscaler = _tiny_video_upscaler(version=version)
    clip = pan(smooth_image((64, 96), seed=3), frames=5, size=32, step=2)
    with torch.no_grad():
        expected = upscaler.network(clip[None])[0][0].clamp(0, 1)
    stream = upscaler.stream()
    got = torch.cat([stream(clip[:2]), stream(clip[2:])])  # batches keep the recurrence
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got[1], upscaler.stream()(clip[1:2])[0], atol=1e-3)


@pytest.mark.parametrize("version", [2, 3])
def test_tiled_stream_matches_untiled(version: int) -> None:
    clip = pan(smooth_image((80, 112), seed=4), frames=4, size=48, step=3)
    whole_stream = _tiny_video_upscaler(tile=None, version=version).stream()
    tiled_stream = _tiny_video_upscaler(tile=24, overlap=16, version=version).stream()
    whole, tiled = whole_stream(clip), tiled_stream(clip)
    if version == 3:  # each tile's LR features assembled as the output is
        assert tiled_stream.previous_features is not None
        torch.testing.assert_close(tiled_stream.previous_features,
                                   whole_stream.previous_features, atol=1e-5, rtol=0)
    # the image models' bound for the default overlap, held over the recurrence
    assert (whole - tiled).abs().max() <= 1 / 255


def _photo(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize("version", [2, 3])
def test_scene_cut_restarts_the_recurrence(version: int) -> None:
    """Two unrelated clips joined: the first output after the cut equals a fresh start."""
    skimage_data = pytest.importorskip("skimage.data")
    astronaut = _photo(np.array(Image.open(REPO / "examples" / "astronaut.png").convert("RGB")))
    coffee = _photo(skimage_data.coffee()[::4, ::4])
    first = pan(astronaut, frames=4, size=32, step=2)
    second = pan(coffee, frames=4, size=32, step=2)
    upscaler = _tiny_video_upscaler(version=version)
    stream = upscaler.stream()
    joined = stream(torch.cat([first, second]))
    fresh = upscaler.stream()(second)
    assert stream.cuts == 1
    assert torch.allclose(joined[4:], fresh, atol=1e-6)


@pytest.mark.parametrize("version", [2, 3])
def test_reset_forgets_the_previous_frame(version: int) -> None:
    clip = pan(smooth_image((64, 96), seed=7), frames=3, size=32, step=2)
    upscaler = _tiny_video_upscaler(version=version)
    stream = upscaler.stream()
    stream(clip[:2])
    stream.reset()
    assert torch.equal(stream(clip[2:]), upscaler.stream()(clip[2:]))


def test_video_weights_round_trip_and_load_as_a_video_upscaler(tmp_path: Path) -> None:
    network = _tiny_video_upscaler().network
    save_generator(tmp_path / "v.safetensors", network, stage="video")
    loaded, metadata = load_model(tmp_path / "v.safetensors")
    assert isinstance(loaded, RecurrentGenerator) and metadata["architecture"] == "frvsr"
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in network.state_dict().items())
    upscaler = load_upscaler(tmp_path / "v.safetensors", device="cpu", precision="fp32")
    assert isinstance(upscaler, VideoUpscaler)
    image = smooth_image((20, 24), seed=8)
    assert upscaler.image_upscaler()(image).shape == (1, 3, 80, 96)


# --- training ---------------------------------------------------------------------------

def test_video_training_resumes_exactly_after_kill_9(tmp_path: Path) -> None:
    data = video_data(tmp_path / "data")
    check_resume_after_kill_9(lambda out: video_train_command(data, out, 8), tmp_path, 8)


def test_video_training_lowers_the_loss(tmp_path: Path) -> None:
    data = video_data(tmp_path / "data")
    command = video_train_command(data, tmp_path / "run", 40, "--set", "optim.ema=0",
                                   "--set", "optim.learning_rate=1e-3",
                                   "--set", "run.checkpoint_every=40")
    subprocess.run(command, check=True)
    losses = logged_losses(tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").open()]
    assert not any("loss_warp" in r for r in records)  # the preset's Farneback: no flow net
    first, last = np.mean([losses[i] for i in range(1, 6)]), np.mean(
        [losses[i] for i in range(36, 41)])
    assert last < 0.7 * first, (first, last)


def test_streaming_memory_does_not_grow_with_length(tmp_path: Path) -> None:
    """Peak memory of `vivid upscale clip.mp4` with a video model: a child process reports
    VmHWM; 300 frames must stay within 1.5x of 30 frames. Frames are 128x72 to keep the test
    fast (outputs kept in memory would add ~0.5 GB); `benchmarks/video_memory.py` measures
    the 320x180 clip with video-x4."""
    pytest.importorskip("av")
    short = _peak_memory_of_upscale(tmp_path / "short", 30)
    long = _peak_memory_of_upscale(tmp_path / "long", 300)
    assert long <= 1.5 * short, (short, long)


def _peak_memory_of_upscale(folder: Path, frames: int) -> int:
    folder.mkdir(parents=True)
    code = f"""
import av, numpy as np, torch, sys
from pathlib import Path
from vivid.nets.weights_file import save_generator
from vivid.nets.srresnet import GeneratorConfig
from vivid.nets.frvsr import RecurrentGenerator
from vivid.cli.main import main
from vivid.training.config import load_config
from vivid.training.data import PairedCrops
from vivid.training.distributed import World
from vivid.training.loop import _set_learning_rate, prepare
from vivid.training.steps import learning_rate_at
torch.manual_seed(0)
save_generator('{folder}/tiny.safetensors', RecurrentGenerator(GeneratorConfig(4, 1, 8)))
with av.open('{folder}/in.mp4', 'w') as out:
    stream = out.add_stream('mpeg4', rate=25)
    stream.width, stream.height, stream.pix_fmt = 128, 72, 'yuv420p'
    rng = np.random.default_rng(0)
    for t in range({frames}):
        pixels = np.roll(rng.integers(0, 255, (72, 128, 3), dtype=np.uint8) // 4 + 100, t, 1)
        for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format='rgb24')):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
code = main(['upscale', '{folder}/in.mp4', '-o', '{folder}/out.mp4', '--model',
             '{folder}/tiny.safetensors', '--quiet', '--codec', 'mpeg4'])
status = open('/proc/self/status').read()
print([l for l in status.splitlines() if l.startswith('VmHWM')][0].split()[1], code)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    peak, code = done.stdout.split()[-2:]
    assert code == "0", done.stdout + done.stderr
    return int(peak)


def test_eval_video_runs_a_video_model_through_its_recurrence(tmp_path: Path) -> None:
    clips, _ = video_data(tmp_path / "data", size=64)
    save_generator(tmp_path / "tiny.safetensors", _tiny_video_upscaler().network)
    report = tmp_path / "r.json"
    assert main(["eval-video", "--dataset", str(clips), "--model",
                 str(tmp_path / "tiny.safetensors"), "--json", str(report), "--quiet"]) == 0
    results = json.loads(report.read_text())["results"]
    assert set(results) == {"bicubic", str(tmp_path / "tiny.safetensors")}  # no "+flow"
    scores = results[str(tmp_path / "tiny.safetensors")]["clip0"]
    assert {"psnr", "ssim", "tof"} <= set(scores)
    assert np.isfinite(scores["psnr"]) and np.isfinite(scores["tof"])


def test_eval_video_reports_the_mean_niqe_of_the_frames(data_dir: Path) -> None:
    model = data_dir / "NIQE" / "niqe_pris_params.npz"
    frames = [smooth_image((104, 208), seed=30 + t) for t in range(6)]
    scores = score_sequence(frames, frames, 4, model)
    expected = np.mean([niqe_score(frame, 4, model) for frame in frames])
    assert scores["niqe"] == pytest.approx(expected)
    assert "niqe" not in score_sequence(frames, frames, 4, None)


def test_training_sequences_keep_lr_on_the_bd_grid_of_their_hr() -> None:
    """Every sample's LR equals BD of its HR (flips and turns are applied before the LR is
    made: BD keeps every 4th pixel from the first, so flipping a made LR would misalign it)."""
    frames = pan(smooth_image((220, 260), seed=40), frames=5, size=200, step=3)
    clip = Clip("pan", (frames * 255).round().to(torch.uint8))
    for seed in range(12):  # covers flips, turns and time reversal
        generator = torch.Generator().manual_seed(seed)
        lr, hr = clip_sample(clip, 4, 64, 4, "bd", generator)
        remade = degrade(hr.float() / 255, 4, "bd")
        inner = (..., slice(3, -3), slice(3, -3))  # away from the crop's own border
        assert (remade[inner] * 255 - lr.float()[inner]).abs().max() <= 1.0, seed


def test_image_crops_under_bd_stay_on_the_grid(tmp_path: Path) -> None:
    image = (smooth_image((96, 96), seed=41)[0].permute(1, 2, 0).numpy() * 255).round()
    Image.fromarray(image.astype(np.uint8)).save(tmp_path / "a.png")
    pairs = PairedCrops.from_folders([tmp_path], 4, 48, degradation="bd")
    for seed in range(8):
        lr, hr = pairs.crop_pair(0, torch.Generator().manual_seed(seed))
        remade = degrade(hr[None].float() / 255, 4, "bd")[0]
        assert (remade[:, 2:-2, 2:-2] * 255 - lr[:, 2:-2, 2:-2].float()).abs().max() <= 1.0


def test_temporal_loss_punishes_flicker_not_offsets() -> None:
    from vivid.training.video_steps import temporal_loss
    hr = torch.stack([pan(smooth_image((48, 96), seed=4), frames=4, size=32, step=0)])
    flows = torch.zeros(1, 3, 2, 32, 32)  # a static scene (HR flows)
    assert temporal_loss(hr, hr, flows).item() == 0
    assert temporal_loss(hr + 0.1, hr, flows).item() < 1e-6  # steady error: no flicker
    flicker = hr + 0.05 * torch.tensor([1.0, -1.0, 1.0, -1.0]).view(1, 4, 1, 1, 1)
    assert temporal_loss(flicker, hr, flows).item() == pytest.approx(0.1, rel=1e-3)


def test_the_blend_starts_at_a_quarter_of_the_warped_previous_output() -> None:
    torch.manual_seed(0)
    network = RecurrentGenerator(TINY).eval()
    lr = torch.rand(1, 3, 8, 8)
    packed = torch.rand(1, 48, 8, 8)
    reliability = torch.rand(1, 4, 8, 8)
    with torch.no_grad():
        single = network.output_and_features(lr, None)[0]
        blended = network.output_and_features(lr, torch.cat((packed, reliability), 1))[0]
    weight = torch.sigmoid(torch.tensor(-1.0))  # 0.27
    expected = weight * F.pixel_shuffle(packed, 4) + (1 - weight) * single  # state_head is 0
    assert torch.allclose(blended, expected, atol=1e-5)


def test_a_perfect_state_gives_detail_without_an_edge_ridge() -> None:
    """Version 2 places LR pixel i at HR 4i, where BD keeps it: with the truth as the carried
    state, the reference interpolates the truth's own samples, so ``detail`` is zero on the BD
    grid and small between; PyTorch's centred bilinear (version 1) leaves a shifted copy of
    every edge (a ridge) in it."""
    hr = torch.zeros(1, 3, 64, 64)
    hr[..., :, 30:] = 1.0  # a vertical edge
    lr = degrade(hr, 4, "bd")
    residual = {}
    for version in (1, 2):
        network = RecurrentGenerator(TINY, motion="farneback", version=version)
        carried = network.carry(hr, torch.zeros(1, 2, 16, 16), lr)
        scale = 4
        if version == 2:
            reference = bd_upsample(lr, scale)
        else:
            reference = F.interpolate(lr, scale_factor=scale, mode="bilinear",
                                      align_corners=False)
        detail = F.pixel_shuffle(carried[:, :48], scale) - reference
        residual[version] = detail[..., 8:-8, 8:-8].abs()
        if version == 2:
            on_grid = detail[..., 8:-8:4, 8:-8:4]  # HR pixels BD kept
            blurred = gaussian_blur(hr, 1.5)[..., 8:-8:4, 8:-8:4]
            assert torch.allclose(on_grid, hr[..., 8:-8:4, 8:-8:4] - blurred, atol=1 / 255)
    # version 1 adds a shifted copy of the edge: a higher peak and more energy
    assert residual[2].amax() < 0.7 * residual[1].amax()
    assert residual[2].mean() < 0.8 * residual[1].mean()


def test_carried_reliability_flags_a_wrong_warp_and_leaving_the_frame() -> None:
    network = RecurrentGenerator(TINY, motion="farneback")
    frame = smooth_image((64, 64), seed=5)
    lr = degrade(frame, 4, "bd")
    still = network.carry(frame, torch.zeros(1, 2, 16, 16), lr)
    assert still[:, 48:51].abs().amax() < 2 / 255 and still[:, 51].amax() == 0
    shifted = torch.zeros(1, 2, 16, 16)
    shifted[:, 0] = 3.0  # 3 LR px off: the warp is wrong, and the right columns leave
    wrong = network.carry(frame, shifted, lr)
    assert wrong[:, 48:51].abs().mean() > 10 * still[:, 48:51].abs().mean()
    assert wrong[:, 51, :, -2:].min() == 1 and wrong[:, 51, :, :12].max() == 0


def test_weights_without_a_blend_load_without_one(tmp_path: Path) -> None:
    network = RecurrentGenerator(TINY, blend=False)
    save_generator(tmp_path / "old.safetensors", network)
    loaded, _ = load_model(tmp_path / "old.safetensors")
    assert isinstance(loaded, RecurrentGenerator) and loaded.blend is None
    save_generator(tmp_path / "new.safetensors", RecurrentGenerator(TINY))
    assert load_model(tmp_path / "new.safetensors")[0].blend is not None


def test_the_recurrence_parts_can_learn_faster_than_the_sr_network() -> None:
    config = load_config(REPO / "configs" / "vivid-video-x4.toml", [
        "model.blocks=1", "model.channels=8", "run.init=''", "optim.recurrence_lr_factor=10.0",
        "optim.fused=false"])
    nets, optimizers, _ = prepare(config, World(0, 1, torch.device("cpu")))
    generator = nets.generator
    fusing = {id(p) for p in (*generator.state_head.parameters(), *generator.blend.parameters())}
    base, recurrence = optimizers.generator.param_groups
    assert {id(p) for p in recurrence["params"]} == fusing
    assert not fusing & {id(p) for p in base["params"]}
    assert len(base["params"]) + len(recurrence["params"]) == len(list(generator.parameters()))
    rate = learning_rate_at(config.optim, 500)
    _set_learning_rate(optimizers, rate)
    assert base["lr"] == pytest.approx(rate) and recurrence["lr"] == pytest.approx(10 * rate)


def test_precondition_check_on_a_tiny_sample() -> None:
    """benchmarks/video_precondition.py on two small pans drawn as training draws them: the
    truth carried by DIS motion beats an upsampled single frame, and every number is there."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from video_precondition import draw, measure

    frames = pan(smooth_image((120, 200), seed=42), frames=8, size=112, step=2)
    clip = Clip("pan", (frames * 255).round().to(torch.uint8))
    stills = [(smooth_image((120, 120), seed=43)[0] * 255).round().to(torch.uint8)]
    crops = VideoCrops([clip], stills, 4, 48, 4, 0.5, "bd", context=8)
    samples = draw(crops, False, 2, seed=0) + draw(crops, True, 2, seed=1)
    assert samples[0][0].shape == (4, 3, 16, 16) and samples[0][1].shape == (4, 3, 64, 64)
    numbers = measure(samples, crops.context, 4, lambda lr: bd_upsample(lr, 4))
    assert numbers["dis: warped GT"] > numbers["single frame"]
    for method in ("farneback", "dis"):
        assert 0 < numbers[f"{method}: mean |flow| (LR px)"] < 3
        assert f"{method}: warped GT, no context" in numbers


def test_short_clips_play_on_backwards_from_their_end() -> None:
    assert frame_indices(7, 10, 1, 0).tolist() == [0, 1, 2, 3, 4, 5, 6, 5, 4, 3]
    assert frame_indices(4, 8, 1, 0).tolist() == [0, 1, 2, 3, 2, 1, 0, 1]
    assert frame_indices(20, 5, 2, 3).tolist() == [3, 5, 7, 9, 11]


def test_synthetic_pans_are_exact_whole_pixel_crops() -> None:
    """Every synthetic frame is the still itself, moved by the same whole-pixel step per frame
    (no resampling: the truth stays consistent along the motion)."""
    still = (smooth_image((160, 160), seed=44)[0] * 255).round().to(torch.uint8)
    for seed in range(6):
        frames = pan_frames(still, 5, 64, torch.Generator().manual_seed(seed))
        first = frames[0]
        hits = [(y, x) for y in range(97) for x in range(97)
                if torch.equal(still[:, y:y + 64, x:x + 64], first)]
        (y, x), = hits[:1]
        step = next((dy, dx) for dy in range(-4, 5) for dx in range(-4, 5)
                    if 0 <= y + dy <= 96 and 0 <= x + dx <= 96
                    and torch.equal(still[:, y + dy:y + dy + 64, x + dx:x + dx + 64], frames[1]))
        for t in range(5):
            top, left = y + step[0] * t, x + step[1] * t
            assert torch.equal(frames[t], still[:, top:top + 64, left:left + 64])


def test_version_3_starts_as_version_2_and_its_hidden_state_learns(tmp_path: Path) -> None:
    """Version 3 from version 2's weights (hidden_head at zero) gives version 2's outputs;
    its hidden state then changes later frames, gets a gradient, round-trips through a
    weights file, and loads into vivid's engines, which stream it as training runs it."""
    torch.manual_seed(0)
    old = RecurrentGenerator(TINY, motion="farneback")
    torch.nn.init.normal_(old.state_head.weight, std=0.05)
    new = RecurrentGenerator(TINY, motion="farneback", version=3)
    missing, unexpected = new.load_state_dict(old.state_dict(), strict=False)
    assert missing == ["hidden_head.weight"] and not unexpected
    clip = pan(smooth_image((64, 96), seed=3), frames=4, size=32, step=2)[None]
    with torch.no_grad():
        assert torch.allclose(new(clip)[0], old(clip)[0], atol=1e-6)
        torch.nn.init.normal_(new.hidden_head.weight, std=0.05)
        outputs = new(clip)[0]
    assert torch.allclose(outputs[:, 0], old(clip)[0][:, 0], atol=1e-6)  # no state yet
    assert not torch.allclose(outputs[:, 2], old(clip)[0][:, 2], atol=1e-4)
    new(clip)[0].mean().backward()
    assert new.hidden_head.weight.grad.abs().sum() > 0
    assert any(p is new.hidden_head.weight for p in new.recurrence_parameters())
    path = tmp_path / "v3.safetensors"
    save_generator(path, new, stage="video")
    loaded = load_generator(path)
    assert loaded.version == 3 and torch.equal(loaded.hidden_head.weight, new.hidden_head.weight)
    upscaler = VideoUpscaler.from_pretrained(str(path), device="cpu", precision="fp32",
                                             runtime="torch")
    with torch.no_grad():
        expected = new(clip)[0][0].clamp(0, 1)
    assert torch.allclose(upscaler.stream()(clip[0]), expected, atol=1e-5)
    assert torch.allclose(upscaler.image_upscaler().upscale_tensor(clip[0, 1:2]),
                          new(clip[:, 1:2])[0][0].clamp(0, 1), atol=1e-5)  # a first frame


def test_a_version_2_init_grows_into_version_3_and_nothing_else_does(tmp_path: Path) -> None:
    from vivid.training.config import load_config
    from vivid.training.steps import build_video_generator

    v2 = tmp_path / "v2.safetensors"
    save_generator(v2, RecurrentGenerator(TINY, motion="dis"), stage="video")
    base = ["run.stage=\"video\"", "model.blocks=1", "model.channels=8", "model.motion=\"dis\"",
            "loss.warp_weight=0", f"run.init=\"{v2}\""]
    grown = build_video_generator(load_config(None, [*base, "model.frvsr_version=3"]))
    assert grown.version == 3 and not grown.hidden_head.weight.any()
    bare = tmp_path / "bare.safetensors"
    save_generator(bare, RecurrentGenerator(TINY, blend=False, motion="dis"), stage="video")
    with pytest.raises(VividError, match="lacks blend"):
        build_video_generator(load_config(None, [*base[:-1], f"run.init=\"{bare}\"",
                                                 "model.frvsr_version=3"]))
    with pytest.raises(VividError, match=r"asks for .* version 1"):
        build_video_generator(load_config(None, [*base, "model.frvsr_version=1"]))
    # stage video from a blendless model of the same version (stage video-flow): a new blend
    blended = build_video_generator(load_config(None, [*base[:-1], f"run.init=\"{bare}\""]))
    assert blended.blend is not None and blended.version == 2
    kept = load_generator(bare).state_dict()
    assert all(torch.equal(blended.state_dict()[key], value) for key, value in kept.items())


@pytest.mark.parametrize("channels", [16, 64, 20])
def test_features_packed_for_tiling_unpack_to_themselves(channels: int) -> None:
    from vivid.inference.recurrent import pack_features, packed_channels, unpack_features

    features = torch.rand(1, channels, 5, 7)
    packed = pack_features(features, 4)
    assert packed.shape == (1, packed_channels(channels, 4), 20, 28)
    assert torch.equal(unpack_features(packed, 4, channels), features)


def test_a_video_init_with_fewer_blocks_grows_deeper_and_starts_as_it(tmp_path: Path) -> None:
    """``model.blocks`` above a video init's: blocks appended as identities (same outputs),
    and they learn (their second conv gets a gradient)."""
    from vivid.training.steps import build_video_generator

    torch.manual_seed(0)
    start = RecurrentGenerator(TINY, motion="dis", version=3)
    torch.nn.init.normal_(start.state_head.weight, std=0.05)
    torch.nn.init.normal_(start.hidden_head.weight, std=0.05)
    path = tmp_path / "start.safetensors"
    save_generator(path, start, stage="video")
    deeper = build_video_generator(load_config(None, [
        "run.stage=\"video\"", "model.blocks=3", "model.channels=8", "model.motion=\"dis\"",
        "model.frvsr_version=3", "loss.warp_weight=0", f"run.init=\"{path}\""]))
    assert deeper.config.blocks == 3 and deeper.version == 3
    clip = pan(smooth_image((64, 96), seed=3), frames=3, size=32, step=2)[None]
    with torch.no_grad():
        assert torch.allclose(deeper(clip)[0], start(clip)[0], atol=1e-6)
    deeper(clip)[0].mean().backward()
    assert deeper.sr.body[2].conv2.weight.grad.abs().sum() > 0
    with pytest.raises(VividError, match=r"is GeneratorConfig\(scale=4, blocks=1, channels=8\)"):
        build_video_generator(load_config(None, [  # other channels: not deepened, named as is
            "run.stage=\"video\"", "model.blocks=3", "model.channels=16",
            "model.motion=\"dis\"", "model.frvsr_version=3", "loss.warp_weight=0",
            f"run.init=\"{path}\""]))
    v2 = tmp_path / "v2.safetensors"  # version 2 deepened and grown to version 3 at once
    save_generator(v2, RecurrentGenerator(TINY, motion="dis"), stage="video")
    both = build_video_generator(load_config(None, [
        "run.stage=\"video\"", "model.blocks=2", "model.channels=8", "model.motion=\"dis\"",
        "model.frvsr_version=3", "loss.warp_weight=0", f"run.init=\"{v2}\""]))
    assert both.version == 3 and both.config.blocks == 2 and not both.hidden_head.weight.any()


def test_scene_cut_histograms_count_each_channels_levels() -> None:
    """The colour histograms of the cut rule against numpy's, level by level."""
    from vivid.inference.scene_cut import BINS, _histograms

    frame = torch.rand(1, 3, 23, 31, generator=torch.Generator().manual_seed(2))
    levels = (frame[0] * (BINS - 1)).round().long().numpy()
    expected = np.stack([np.bincount(c.ravel(), minlength=BINS) for c in levels]) / (23 * 31)
    np.testing.assert_allclose(_histograms(frame).numpy(), expected, atol=1e-7)
    assert torch.allclose(_histograms(frame).sum(1), torch.ones(3))
