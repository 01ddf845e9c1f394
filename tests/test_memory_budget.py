"""Tiles sized by a memory budget (issue 33): whole when the run fits, else the fewest tiles
that fit; the output within one grey level of the untiled one; 8-bit results assembled and
written as uint8."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vivid.cli.main import main
from vivid.images import imagefile
from vivid.inference.openvino_runtime import PAPER_BYTES_PER_PIXEL
from vivid.inference.tile_plan import first_grid, plan_grid, split_into
from vivid.inference.torch_runtime import torch_bytes_per_pixel
from vivid.inference.upscaler import DEFAULT_MEMORY_BUDGET, MIB, Upscaler
from vivid.nets.srresnet import Generator, GeneratorConfig
from vivid.nets.weights_file import bundled_models, save_generator

REPO = Path(__file__).resolve().parents[1]


def _longest(length: int, count: int, overlap: int) -> int:
    return max(min(length, end + overlap) - max(0, start - overlap)
               for start, end in split_into(length, count))


@settings(max_examples=200, deadline=None)
@given(height=st.integers(1, 300), width=st.integers(1, 300), overlap=st.integers(0, 24),
       max_pixels=st.integers(64, 20_000))
def test_the_plan_is_the_fewest_tiles_that_fit(height: int, width: int, overlap: int,
                                               max_pixels: int) -> None:
    rows, columns, context = first_grid(height, width, overlap, None, max_pixels)
    assert context <= overlap
    assert _longest(height, rows, context) * _longest(width, columns, context) <= max_pixels
    if height * width <= max_pixels:
        assert (rows, columns) == (1, 1)
    for fewer_rows, fewer_columns in itertools.product(range(1, height + 1),
                                                       range(1, width + 1)):
        if fewer_rows * fewer_columns >= rows * columns:
            continue
        assert (_longest(height, fewer_rows, context)
                * _longest(width, fewer_columns, context) > max_pixels)


def test_a_wide_frame_just_over_the_limit_is_cut_across_its_width() -> None:
    assert plan_grid(270, 480, 16, 270 * 480) == (1, 1)
    assert plan_grid(270, 480, 16, 270 * 480 - 1) == (1, 2)  # fewer pixels computed than 2x1


class _Engine:
    """A fake engine: nearest-neighbour x4, with a working-memory estimate; counts calls."""

    scale, dtype = 4, torch.float32

    def __init__(self, bytes_per_pixel: int) -> None:
        self.bytes_per_pixel = bytes_per_pixel
        self.calls: list[tuple[int, int]] = []
        self.released = 0

    def __call__(self, lr_image: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(lr_image.shape[-2:]))
        return lr_image.repeat_interleave(4, -2).repeat_interleave(4, -1)

    def release_memory(self) -> None:
        self.released += 1


def _upscaler(engine: _Engine, budget_mib: int) -> Upscaler:
    return Upscaler(engine, 4, "fake", torch.device("cpu"), torch.float32,
                    memory_budget=budget_mib)


def test_an_image_that_fits_runs_whole_and_a_larger_one_in_the_fewest_tiles_that_fit() -> None:
    engine = _Engine(bytes_per_pixel=10_000)
    upscaler = _upscaler(engine, budget_mib=64)
    small = torch.rand(1, 3, 40, 50)
    assert torch.equal(upscaler(small), engine(small)) and engine.calls[0] == (40, 50)
    assert engine.released == 0  # a whole run keeps its buffers, as the engine alone does
    engine.calls.clear()
    large = torch.rand(1, 3, 80, 120)
    allowed = upscaler.max_tile_pixels(large, torch.float32)
    output_bytes = 80 * 120 * 16 * 3 * 4
    assert allowed * 10_000 + output_bytes <= 64 * MIB < (allowed + 1) * 10_000 + output_bytes
    assert torch.equal(upscaler(large), engine(large))
    tiles = engine.calls[:-1]
    rows, columns, _ = first_grid(80, 120, 16, None, allowed)
    assert len(tiles) == rows * columns > 1 and max(h * w for h, w in tiles) <= allowed
    assert engine.released == 1  # larger than the budget: no buffers kept for its tiles


def test_tile_zero_never_tiles_and_a_tile_side_replaces_the_budget() -> None:
    engine = _Engine(bytes_per_pixel=10**9)
    upscaler = _upscaler(engine, budget_mib=1)
    upscaler.tile = 0
    upscaler(torch.rand(1, 3, 30, 40))
    upscaler.tile = 16
    upscaler(torch.rand(1, 3, 30, 40))
    assert engine.calls[0] == (30, 40) and len(engine.calls) == 1 + 2 * 3


def test_the_default_budget_runs_a_270x480_frame_whole_and_bounds_a_2000px_photo() -> None:
    bf16 = PAPER_BYTES_PER_PIXEL[torch.bfloat16]  # OpenVINO bf16, what auto picks on AVX512
    frame = _upscaler(_Engine(bf16), DEFAULT_MEMORY_BUDGET)
    assert frame.max_tile_pixels(torch.empty(1, 3, 270, 480), torch.float32) >= 270 * 480
    photo = torch.empty(1, 3, 2000, 2000)
    for bytes_per_pixel in (bf16, torch_bytes_per_pixel(torch.bfloat16, 4),
                            torch_bytes_per_pixel(torch.float32, 4)):
        upscaler = _upscaler(_Engine(bytes_per_pixel), DEFAULT_MEMORY_BUDGET)
        allowed = upscaler.max_tile_pixels(photo, torch.uint8)
        result = 2000 * 2000 * 16 * 3  # the 8-bit result of vivid upscale
        assert allowed * bytes_per_pixel + result <= DEFAULT_MEMORY_BUDGET * MIB


def test_eight_bit_images_come_back_as_uint8_equal_to_the_rounded_float_result() -> None:
    torch.manual_seed(0)
    network = Generator(GeneratorConfig(blocks=1, channels=8)).eval()
    upscaler = Upscaler(network, 4, "tiny", torch.device("cpu"), torch.float32)
    decoded = imagefile.from_pil(Image.open(REPO / "examples" / "astronaut.png")
                                 .convert("RGB").crop((0, 0, 45, 37)))
    expected = (upscaler(decoded.rgb) * 255).round()
    for tile in (None, 24):  # whole, and tiled (context 12 covers this network's radius)
        upscaler.tile = tile
        rgb, alpha = upscaler.upscale_decoded(decoded)
        assert rgb.dtype == torch.uint8 and alpha is None
        assert rgb.is_contiguous(memory_format=torch.channels_last)
        assert (rgb.float() - expected).abs().max() <= (0 if tile is None else 1)
    with_alpha = imagefile.from_pil(Image.new("RGBA", (20, 16), (10, 200, 30, 128)))
    assert upscaler.upscale_decoded(with_alpha)[0].dtype == torch.float32


def test_a_model_returning_inference_tensors_fills_8_bit_results() -> None:
    def first_frame(lr_tile: torch.Tensor) -> torch.Tensor:  # as a video model's images
        with torch.inference_mode():
            return lr_tile.repeat_interleave(4, -2).repeat_interleave(4, -1)

    upscaler = Upscaler(first_frame, 4, "video", torch.device("cpu"), torch.float32)
    decoded = imagefile.from_pil(Image.new("RGB", (40, 30), (200, 100, 50)))
    for tile in (0, 16):  # whole, and tiled
        upscaler.tile = tile
        rgb, _ = upscaler.upscale_decoded(decoded)
        assert rgb.dtype == torch.uint8 and rgb[0, :, 0, 0].tolist() == [200, 100, 50]


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_uint8_results_are_written_as_the_float_ones_without_a_copy(mode: str) -> None:
    torch.manual_seed(0)
    rgb = torch.rand(1, 3, 300, 7)  # more rows than one strip of the grey conversion
    if mode == "L":
        rgb = rgb.mean(1, keepdim=True).expand(1, 3, -1, -1)
    samples = (rgb * 255).round().to(torch.uint8).contiguous(memory_format=torch.channels_last)
    info = imagefile.from_pil(Image.new(mode, (7, 300))).info
    from_float = np.asarray(imagefile.to_pil(samples.float() / 255, None, info))
    from_uint8 = np.asarray(imagefile.to_pil(samples, None, info))
    assert np.array_equal(from_uint8, from_float)
    if mode == "RGB":
        view = imagefile._uint8_samples(samples, greyscale=False)
        assert np.shares_memory(view, samples.numpy())


@pytest.mark.skipif("srgan-x4" not in bundled_models(), reason="needs the bundled srgan-x4")
def test_a_trained_model_tiled_by_the_budget_is_within_one_level_of_untiled() -> None:
    decoded = imagefile.read_image(REPO / "examples" / "astronaut.png")
    decoded = imagefile.DecodedImage(decoded.rgb[..., 40:136, 60:156], None, decoded.info)
    upscaler = Upscaler.from_pretrained("srgan-x4", device="cpu", precision="fp32",
                                        runtime="torch", tile=0)
    untiled = upscaler(decoded.rgb)
    upscaler.tile, upscaler.memory_budget = None, 1  # the smallest tiles: 64x64 with context
    allowed = upscaler.max_tile_pixels(decoded.rgb, torch.uint8)
    assert math.prod(first_grid(96, 96, 16, None, allowed)[:2]) == 4
    tiled, _ = upscaler.upscale_decoded(decoded)
    assert (tiled.float() - (untiled * 255).round()).abs().max() <= 1


def test_memory_budget_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "tiny.safetensors"
    save_generator(weights, Generator(GeneratorConfig(scale=2, blocks=1, channels=8)))
    Image.new("RGB", (40, 30), (200, 100, 50)).save(tmp_path / "a.png")
    assert main(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--model",
                 str(weights), "--memory-budget", "1", "--quiet"]) == 0
    with Image.open(tmp_path / "o" / "a.png") as image:
        assert image.size == (80, 60)
    with pytest.raises(SystemExit):
        main(["upscale", "--help"])
    assert "--memory-budget MIB" in capsys.readouterr().out
    assert main(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "p"), "--model",
                 str(weights), "--memory-budget", "0"]) == 2
