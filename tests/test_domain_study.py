"""The domain study (issue: domain-diverse training): the synthetic text domain is
deterministic and has the domains' sizes; ``data.balance`` and ``data.only`` draw as
specified and are checked at load; ``benchmarks/domain_study.py`` writes its arms' configs and
its report (JSON, table, plot) end to end on two tiny fake arms."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vivid.errors import VividError
from vivid.training.config import load_config
from vivid.training.data import CropDataset, PairedCrops

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "benchmarks"))

import make_text_domain  # noqa: E402


def _folders(root: Path, counts: dict[str, int], side: int = 16) -> list[Path]:
    """Image folders with ``counts`` images each; image k of folder f is filled with its own
    value so that a crop tells where it came from."""
    folders, value = [], 0
    for name, count in counts.items():
        folder = root / name
        folder.mkdir(parents=True)
        for k in range(count):
            pixels = np.full((side, side, 3), value, np.uint8)
            Image.fromarray(pixels).save(folder / f"{name}_{k}.png")
            value += 1
        folders.append(folder)
    return folders


def test_text_pages_are_deterministic_and_sized_like_the_domains(tmp_path: Path) -> None:
    one = make_text_domain.make_domain(tmp_path / "one", train=3, test=2)
    two = make_text_domain.make_domain(tmp_path / "two", train=3, test=2)
    for split, side, names in (("train", 192, ["text_000_0.png", "text_001_0.png",
                                               "text_002_0.png"]),
                               ("test", 256, ["text_000.png", "text_001.png"])):
        assert sorted(p.name for p in (one / split).iterdir()) == names
        for name in names:
            image = Image.open(one / split / name)
            assert image.size == (side, side) and image.mode == "RGB"
            assert (one / split / name).read_bytes() == (two / split / name).read_bytes()
            assert np.asarray(image).std() > 5, "a crop without text"
    assert (one / "pages.csv").read_text() == (two / "pages.csv").read_text()
    train_seeds = {p.seed for p in make_text_domain.plan("train", 3)}
    assert not train_seeds & {p.seed for p in make_text_domain.plan("test", 2)}


def test_text_domain_is_left_alone_when_up_to_date(tmp_path: Path) -> None:
    out = make_text_domain.make_domain(tmp_path / "text", train=1, test=1)
    page = out / "train" / "text_000_0.png"
    stamp = page.stat().st_mtime_ns
    make_text_domain.make_domain(out, train=1, test=1)
    assert page.stat().st_mtime_ns == stamp
    make_text_domain.make_domain(out, train=2, test=1)  # another plan: written again
    assert (out / "train" / "text_001_0.png").is_file()


def test_default_draw_is_the_draw_of_earlier_runs(tmp_path: Path) -> None:
    pairs = PairedCrops.from_folders(_folders(tmp_path, {"a": 3, "b": 9}), 4, 8)
    assert pairs.folder_sizes == ()
    drawn = pairs.draw(50, torch.Generator().manual_seed(7))
    assert torch.equal(drawn, torch.randint(12, (50,), generator=torch.Generator().manual_seed(7)))


def test_folder_balance_draws_every_folder_equally(tmp_path: Path) -> None:
    pairs = PairedCrops.from_folders(_folders(tmp_path, {"a": 1, "b": 9, "c": 2}), 4, 8,
                                     balance="folder")
    assert pairs.folder_sizes == (1, 9, 2)
    drawn = pairs.draw(30_000, torch.Generator().manual_seed(0))
    per_folder = torch.bucketize(drawn, torch.tensor([1, 10]), right=True).bincount()
    assert torch.allclose(per_folder / 30_000, torch.full((3,), 1 / 3), atol=0.015)
    images = drawn[drawn >= 1].bincount(minlength=12)[1:10]  # folder b: uniform over its 9
    assert images.min() > 0.8 * images.float().mean()
    _, hr_batch = pairs.batch(seed=1, iteration=0, batch_size=64)
    values = set((hr_batch[:, 0, 0, 0] * 255).round().int().tolist())
    assert values <= set(range(12)) and 0 in values  # the lone image of `a` is drawn
    assert CropDataset(pairs, 1, 4)[0][1].shape == (3, 8, 8)


def test_only_keeps_the_named_images(tmp_path: Path) -> None:
    folders = _folders(tmp_path, {"a": 3, "b": 3})
    pairs = PairedCrops.from_folders(folders, 4, 8, only=["a_2.png", "b_0.png"],
                                     balance="folder")
    assert pairs.folder_sizes == (1, 1)
    values = {int(h[0, 0, 0]) for h in pairs.hr_images}
    assert values == {2, 3}
    with pytest.raises(VividError, match=re.escape("in no training folder, e.g. 'c_0.png'")):
        PairedCrops.from_folders(folders, 4, 8, only=["a_0.png", "c_0.png"])
    with pytest.raises(VividError, match=r"b\b.*no training image"):
        PairedCrops.from_folders(folders, 4, 8, only=["a_0.png"], balance="folder")


@pytest.mark.parametrize(("overrides", "message"), [
    (["data.balance='domain'"], "'data.balance' must be one of image, folder"),
    (["data.only=['x.png', 'x.png']"], "'data.only' names 'x.png' more than once"),
    (["data.only=['v.png']", "data.validation_images=['v.png']"],
     "'data.only' names 'v.png', which 'data.validation_images' holds out"),
    (["data.balance='folder'", "run.stage='video'"], "apply to the image stages only"),
])
def test_balance_and_only_are_checked_at_load(overrides: list[str], message: str) -> None:
    with pytest.raises(VividError, match=re.escape(message)):
        load_config(None, overrides)


def test_defaults_change_nothing() -> None:
    data = load_config(None).data
    assert (data.balance, data.only) == ("image", ())
