"""The video models' pre-roll: before each scene's first frame the recurrence runs backwards
over the scene's next frames. Outputs come late and equal the training forward pass over the
reordered frames; the pre-roll stops at a scene cut; files (frame folders, --compare) keep every
frame in its place."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from video_fixtures import pan, smooth_image
from vivid.cli.main import main
from vivid.errors import VividError
from vivid.images.pixels import quantize_8bit
from vivid.inference.recurrent import VideoUpscaler
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.srresnet import GeneratorConfig
from vivid.nets.weights_file import save_generator
from vivid.video.evaluate import collect_outputs, run_method

TINY = GeneratorConfig(scale=4, blocks=1, channels=8)


def _network(seed: int = 0) -> RecurrentGenerator:
    torch.manual_seed(seed)
    network = RecurrentGenerator(TINY, version=3)
    torch.nn.init.normal_(network.state_head.weight, std=0.05)  # make the state matter
    assert network.hidden_head is not None
    torch.nn.init.normal_(network.hidden_head.weight, std=0.05)
    return network.eval()


def _upscaler() -> VideoUpscaler:
    return VideoUpscaler(_network(), "tiny", torch.device("cpu"), torch.float32, tile=None)


def _forward(network: RecurrentGenerator, frames: torch.Tensor, order: list[int]
             ) -> torch.Tensor:
    """The training forward pass over ``frames[order]``: the outputs of its last len(frames)."""
    with torch.no_grad():
        return network(frames[order][None])[0][0][-len(frames):].clamp(0, 1)


def test_outputs_come_late_and_equal_the_forward_pass_over_the_reordered_frames() -> None:
    upscaler = _upscaler()
    clip = pan(smooth_image((64, 112), seed=3), frames=5, size=32, step=2)
    stream = upscaler.stream(preroll=3)
    early, middle = stream(clip[:2]), stream(clip[2:])
    assert early.shape == (0, 3, 128, 128) and middle.shape[0] == 2  # 3 frames held back
    rest = stream.flush()
    assert rest.shape[0] == 3 and stream.flush().shape[0] == 0
    expected = _forward(upscaler.network, clip, [3, 2, 1, 0, 1, 2, 3, 4])
    torch.testing.assert_close(torch.cat([middle, rest]), expected, atol=1e-5, rtol=0)
    plain = upscaler.stream()(clip)
    assert not torch.allclose(plain[0], expected[0], atol=1e-3)  # the history changed it


@settings(max_examples=8, deadline=None)
@given(st.sampled_from([0, 1, 3, 6]), st.lists(st.integers(1, 5), min_size=1, max_size=6))
def test_outputs_do_not_depend_on_how_the_frames_are_batched(preroll: int,
                                                             sizes: list[int]) -> None:
    upscaler = _upscaler()
    clip = pan(smooth_image((48, 80), seed=6), frames=6, size=24, step=2)
    whole = upscaler.stream(preroll)
    expected = torch.cat([whole(clip), whole.flush()])
    stream, parts, start = upscaler.stream(preroll), [], 0
    for size in sizes:
        if start < len(clip):
            parts.append(stream(clip[start:start + size]))
            start += size
    parts += [stream(clip[start:])] if start < len(clip) else []
    got = torch.cat([*parts, stream.flush()])
    assert got.shape == (6, 3, 96, 96)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("batch", [1, 4])
def test_collected_outputs_are_every_frame_in_order_whatever_the_batch(batch: int) -> None:
    upscaler = _upscaler()
    clip = pan(smooth_image((48, 80), seed=5), frames=6, size=24, step=2)
    got = collect_outputs(upscaler.stream(3), list(clip.unsqueeze(1)), batch=batch)
    stream = upscaler.stream(3)
    expected = quantize_8bit(torch.cat([stream(clip), stream.flush()]))
    assert len(got) == 6 and all(frame.shape == (1, 3, 96, 96) for frame in got)
    torch.testing.assert_close(torch.cat(got), expected, atol=1e-6, rtol=0)
    as_evaluated = run_method(upscaler, "none", list(clip.unsqueeze(1)), preroll=3)
    torch.testing.assert_close(torch.cat(as_evaluated), expected, atol=1e-6, rtol=0)


def _photo(path: Path) -> torch.Tensor:
    pixels = np.array(Image.open(path).convert("RGB"))
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float() / 255


def test_the_preroll_stops_at_a_scene_cut_and_starts_again_after_it() -> None:
    skimage_data = pytest.importorskip("skimage.data")
    repo = Path(__file__).resolve().parents[1]
    first = pan(_photo(repo / "examples" / "astronaut.png"), frames=4, size=32, step=2)
    coffee = torch.from_numpy(np.ascontiguousarray(skimage_data.coffee()[::4, ::4]))
    second = pan(coffee.permute(2, 0, 1)[None].float() / 255, frames=4, size=32, step=2)
    upscaler = _upscaler()
    stream = upscaler.stream(preroll=6)
    joined = torch.cat([stream(torch.cat([first, second])), stream.flush()])
    assert stream.cuts == 1
    # each scene pre-rolls over its own 3 later frames, never across the cut
    order = [3, 2, 1, 0, 1, 2, 3]
    torch.testing.assert_close(joined[:4], _forward(upscaler.network, first, order),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(joined[4:], _forward(upscaler.network, second, order),
                               atol=1e-5, rtol=0)


def test_bad_prerolls_and_a_size_change_get_clear_errors() -> None:
    upscaler = _upscaler()
    with pytest.raises(VividError, match="preroll -1: must be 0 or more frames"):
        upscaler.stream(preroll=-1)
    stream = upscaler.stream(preroll=2)
    stream(torch.rand(1, 3, 16, 16))
    with pytest.raises(VividError, match=r"frame size changed from \(16, 16\) to \(20, 16\)"):
        stream(torch.rand(1, 3, 20, 16))
    with pytest.raises(VividError, match=r"reset\(\) with 1 frames held back"):
        stream.reset()
    streaming = upscaler.stream()  # no pre-roll: any size, a new size is a new scene
    assert streaming(torch.rand(1, 3, 16, 16)).shape == (1, 3, 64, 64)
    assert streaming(torch.rand(1, 3, 20, 16)).shape == (1, 3, 80, 64)


def _frame_folder(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    clip = pan(smooth_image((72, 72 + 3 * count), seed=5), frames=count, size=64, step=3)
    for index, frame in enumerate(clip):
        pixels = (frame.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:03d}.png")
    return folder


def _frames(folder: Path) -> list[np.ndarray]:
    return [np.array(Image.open(p)) for p in sorted(folder.glob("*.png"))]


def test_frame_folders_and_compare_keep_every_frame_in_its_place(tmp_path: Path) -> None:
    model = tmp_path / "tiny.safetensors"
    save_generator(model, _network(), stage="video")
    source = _frame_folder(tmp_path / "data" / "clip", 7)
    common = [str(source), "--frames", "--model", str(model), "--precision", "fp32", "-q"]
    assert main(["upscale", *common, "-o", str(tmp_path / "plain")]) == 0
    assert main(["upscale", *common, "-o", str(tmp_path / "none"), "--preroll", "0"]) == 0
    assert main(["upscale", *common, "-o", str(tmp_path / "split"), "--compare", "split"]) == 0
    assert main(["upscale", *common, "-o", str(tmp_path / "split0"), "--compare", "split",
                 "--preroll", "0"]) == 0
    plain, none, split, split0 = (_frames(tmp_path / n / "clip")
                                  for n in ("plain", "none", "split", "split0"))
    assert len(plain) == len(none) == len(split) == len(split0) == 7
    assert not np.array_equal(plain[0], none[0])  # the default pre-roll ran
    for index, compared in enumerate(split):
        assert np.array_equal(compared[:, 130:], plain[index][:, 130:])  # the model, right
        assert np.array_equal(compared[:, :126], split0[index][:, :126])  # bicubic of frame i
    assert not np.array_equal(split[0][:, :126], split[1][:, :126])  # frames differ there
    assert main(["eval-video", "--dataset", str(tmp_path / "data"), "--model", str(model), "--json",
                 str(tmp_path / "r.json"), "--preroll", "2", "--device", "cpu", "-q"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["preroll"] == 2


def test_a_frame_folder_whose_frames_change_size_is_an_error_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = _frame_folder(tmp_path / "clip", 6)  # batches of 4: the odd frame in the second
    Image.fromarray(np.zeros((60, 64, 3), np.uint8)).save(source / "005.png")
    out = tmp_path / "out"
    assert main(["upscale", str(source), "--frames", "--model", "bicubic", "-q", "-o",
                 str(out)]) == 1
    assert f"{source}: frames differ in size near 004.png" in capsys.readouterr().err
    assert not (out / "clip").exists()
