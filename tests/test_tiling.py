from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vivid.errors import VividError
from vivid.inference.tile_plan import split
from vivid.inference.tiling import upscale_tiled
from vivid.inference.upscaler import DEFAULT_TILE_OVERLAP, Upscaler
from vivid.nets.inference_form import fold_batchnorm
from vivid.nets.srresnet import Generator, GeneratorConfig, receptive_radius


@given(length=st.integers(1, 5000), tile=st.integers(1, 700))
def test_split_covers_the_axis_with_near_equal_cores(length: int, tile: int) -> None:
    cores = split(length, tile)
    assert cores[0][0] == 0 and cores[-1][1] == length
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cores))
    sizes = [end - start for start, end in cores]
    assert max(sizes) <= tile and max(sizes) - min(sizes) <= 1


def _network(blocks: int) -> torch.nn.Module:
    return fold_batchnorm(Generator(GeneratorConfig(blocks=blocks, channels=16)))


def _run(
    net: torch.nn.Module, lr_image: torch.Tensor, tile: int | None, overlap: int
) -> torch.Tensor:
    with torch.no_grad():
        return upscale_tiled(net, lr_image, 4, tile, overlap)


@settings(max_examples=15, deadline=None)
@given(height=st.integers(9, 70), width=st.integers(9, 70), tile=st.integers(16, 48))
def test_tiled_equals_untiled_when_overlap_covers_the_receptive_field(
    height: int, width: int, tile: int
) -> None:
    net = _network(blocks=1)
    overlap = 2 * receptive_radius(GeneratorConfig(blocks=1))
    lr_image = torch.rand(1, 3, height, width)
    expected = _run(net, lr_image, None, 0)
    tiled = _run(net, lr_image, max(tile, 2 * overlap), overlap)
    assert torch.allclose(tiled, expected, atol=1e-5, rtol=0)


def test_default_tiling_of_a_trained_model_is_within_one_grey_level() -> None:
    # Bicubic is a 'model' that looks 2 pixels far, like trained SR nets look only a few pixels.
    upscaler = Upscaler.from_pretrained("bicubic", device="cpu")
    lr_image = torch.rand(1, 3, 150, 130)
    upscaler.tile = None
    expected = upscaler(lr_image)
    upscaler.tile = 40
    tiled = upscaler(lr_image)
    assert (tiled - expected).abs().max() <= 1 / 255


def test_paper_generator_tiles_within_one_grey_level_with_default_overlap() -> None:
    generator = Generator().eval()
    upscaler = Upscaler(
        fold_batchnorm(generator),
        4,
        "random",
        torch.device("cpu"),
        torch.float32,
        tile=32,
        tile_overlap=DEFAULT_TILE_OVERLAP,
    )
    lr_image = torch.rand(1, 3, 70, 90)
    tiled = upscaler(lr_image)
    upscaler.tile = None
    assert (tiled - upscaler(lr_image)).abs().max() <= 1 / 255


def test_out_of_memory_retries_with_smaller_tiles() -> None:
    seen: list[int] = []

    def picky(lr_tile: torch.Tensor) -> torch.Tensor:
        seen.append(lr_tile.shape[-1])
        if lr_tile.shape[-1] > 40:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return lr_tile.repeat_interleave(4, -1).repeat_interleave(4, -2)

    lr_image = torch.rand(1, 3, 64, 64)
    sr_image = upscale_tiled(picky, lr_image, 4, 64, 4)
    assert sr_image.shape == (1, 3, 256, 256) and max(seen) > 40 and seen[-1] <= 40
    assert torch.allclose(sr_image, lr_image.repeat_interleave(4, -1).repeat_interleave(4, -2))


def test_a_tile_that_never_fits_or_goes_nan_is_an_error() -> None:
    def never(lr_tile: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("out of memory")

    with pytest.raises(VividError, match="out of memory even with"):
        upscale_tiled(never, torch.rand(1, 3, 64, 64), 4, 64, 4)

    def broken(lr_tile: torch.Tensor) -> torch.Tensor:
        return torch.full((1, 3, lr_tile.shape[2] * 4, lr_tile.shape[3] * 4), float("nan"))

    with pytest.raises(VividError, match="non-finite"):
        upscale_tiled(broken, torch.rand(1, 3, 64, 64), 4, 32, 4)


def test_other_errors_are_not_mistaken_for_out_of_memory() -> None:
    def buggy(lr_tile: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        upscale_tiled(buggy, torch.rand(1, 3, 64, 64), 4, 32, 4)


def test_same_size_tiles_run_in_batches_with_the_same_result() -> None:
    net = _network(blocks=1)
    lr_image = torch.rand(2, 3, 61, 75)  # two images: every tile batch holds both
    seen: list[int] = []

    def counting(lr_tile: torch.Tensor) -> torch.Tensor:
        seen.append(lr_tile.shape[0])
        return net(lr_tile)

    with torch.no_grad():
        one_by_one = upscale_tiled(net, lr_image, 4, 20, 6)
        batched = upscale_tiled(counting, lr_image, 4, 20, 6, batch=3)
    assert max(seen) == 6 and sum(seen) == 2 * 4 * 4  # 4x4 tiles, up to 3 of a size at once
    torch.testing.assert_close(batched, one_by_one, rtol=0, atol=1e-5)


def test_out_of_memory_in_a_batch_retries_one_tile_at_a_time() -> None:
    sizes: list[int] = []

    def small_batches_only(lr_tile: torch.Tensor) -> torch.Tensor:
        sizes.append(lr_tile.shape[0])
        if lr_tile.shape[0] > 1:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return lr_tile.repeat_interleave(4, -1).repeat_interleave(4, -2)

    upscale_tiled(small_batches_only, torch.rand(1, 3, 64, 64), 4, 16, 4, batch=4)
    assert sizes[0] > 1 and set(sizes[1:]) == {1} and len(sizes) == 1 + 16
