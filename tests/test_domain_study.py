"""The domain study (issue: domain-diverse training): the synthetic text domain is
deterministic and has the domains' sizes; ``data.balance`` and ``data.only`` draw as
specified and are checked at load; ``benchmarks/domain_study.py`` writes its arms' configs and
its report (JSON, table, plot) end to end on two tiny fake arms."""

from __future__ import annotations

import json
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


def test_shares_split_evenly_as_the_domains_allow() -> None:
    import domain_study

    assert domain_study.shares({"a": 2, "b": 10, "c": 10}, 15) == {"a": 2, "b": 7, "c": 6}
    assert domain_study.shares({"a": 5, "b": 5}, 10) == {"a": 5, "b": 5}
    with pytest.raises(VividError, match="11 images wanted, the domains hold 10"):
        domain_study.shares({"a": 5, "b": 5}, 11)


def _image(path: Path, side: int, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(value).integers(0, 256, (side, side, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def fake_data(tmp_path: Path) -> Path:
    """Shared data in miniature: two domains, T91, BSD200 (one image too small to train on),
    Set5, Set14, BSD100."""
    data = tmp_path / "shared"
    for index, domain in enumerate(("faces", "photos")):
        for k in range(3):
            _image(data / "Domains" / domain / "train" / f"{domain}{k}_0.png", 96, index * 9 + k)
        _image(data / "Domains" / domain / "test" / f"{domain}.png", 48, 50 + index)
    for k, (folder, side) in enumerate((("T91", 100), ("T91", 64), ("BSD200", 120),
                                        ("Set5", 48), ("Set14", 48), ("BSD100", 48))):
        _image(data / folder / f"{folder}_{k}.png", side, 70 + k)
    return data


def test_arms_differ_only_in_their_data(fake_data: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import domain_study

    text = make_text_domain.make_domain(tmp_path / "text", train=2, test=1)
    paths = domain_study.write_configs(fake_data, text, tmp_path / "configs")
    assert tuple(paths) == domain_study.ARMS
    configs = {arm: load_config(path) for arm, path in paths.items()}
    for config in configs.values():
        assert (config.model.blocks, config.model.channels) == (8, 32)
        assert config.optim == configs["narrow"].optim and config.loss == configs["narrow"].loss
        assert config.run.seed in (1, 2)
    diverse = configs["diverse"].data
    assert [Path(f).parent.name for f in diverse.train] == ["faces", "photos", "text"]
    assert diverse.balance == "folder" and configs["narrow"].data.balance == "image"
    assert [Path(f).parent.name for f in configs["no-faces"].data.train] == ["photos", "text"]
    only = configs["diverse-equal-count"].data.only
    assert len(only) == 2  # T91 gives one image of 96 px or more, BSD200 one
    assert configs["diverse-seed2"].run.seed == 2
    union = configs["narrow-plus-diverse"].data
    assert [Path(f).name for f in union.train] == ["T91", "BSD200", "train", "train", "train"]
    assert union.balance == "image" and not union.only
    fewer = configs["narrow-equal-pixels"].data
    assert fewer.train == configs["narrow"].data.train
    assert fewer.only == ("BSD200_2.png", "T91_0.png")  # both fit in diverse's pixels here


def test_equal_pixels_takes_images_while_they_fit(fake_data: Path) -> None:
    import domain_study

    folders = [fake_data / "T91", fake_data / "BSD200"]  # 100x100, 64x64 (too small), 120x120
    assert domain_study.equal_pixels(folders, 12_000, 96, ()) == ["T91_0.png"]
    assert domain_study.equal_pixels(folders, 14_400, 96, ("BSD200_2.png",)) == ["T91_0.png"]
    assert domain_study.equal_pixels(folders, 9_999, 96, ()) == []


def test_committed_configs_are_what_the_study_writes(data_dir: Path, tmp_path: Path) -> None:
    import domain_study

    text = make_text_domain.make_domain(tmp_path / "text", *domain_study.TEXT_COUNTS)
    written = domain_study.write_configs(data_dir, text, tmp_path / "configs")
    moved = domain_study._relative(text / "train")
    for arm, path in written.items():
        committed = REPO / "configs" / "domains" / f"{arm}.toml"
        data = domain_study._relative(data_dir)
        expected = path.read_text().replace(moved, "data/text/train").replace(
            data, "../shared/data")
        assert committed.read_text() == expected, f"{committed} is stale: run --configs"


def test_two_tiny_arms_end_to_end(fake_data: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import domain_study

    monkeypatch.chdir(tmp_path)  # the study moves to the repository root
    monkeypatch.setattr(domain_study, "TEXT_COUNTS", (2, 1))
    common = ["--data", str(fake_data), "--work", str(tmp_path / "work")]
    tiny = ["model.blocks=1", "model.channels=4", "data.crop=16", "optim.iterations=2",
            "optim.batch_size=2", "data.validation=''", "run.precision='fp32'"]
    sets = [a for s in tiny for a in ("--set", s)]
    for arm in ("narrow", "diverse"):
        domain_study.main(["--arm", arm, *common, *sets])
    weights = tmp_path / "work" / "runs" / "domains" / "narrow" / "generator.safetensors"
    stamp = weights.stat().st_mtime_ns
    domain_study.main(["--arm", "narrow", *common, *sets])  # finished: left alone
    assert weights.stat().st_mtime_ns == stamp
    doc = tmp_path / "doc.md"
    doc.write_text("before\n<!-- domain_study table -->\nold\n<!-- /domain_study table -->\n")
    json_path, plot_path = tmp_path / "study.json", tmp_path / "study.png"
    domain_study.main(["--report", *common, "--json", str(json_path), "--plot", str(plot_path),
                       "--doc", str(doc)])
    report = json.loads(json_path.read_text())
    names = ["faces", "photos", "text", "Set5", "Set14", "BSD100"]
    assert list(report["gain_db"]) == ["narrow", "diverse"]
    assert list(report["gain_db"]["narrow"]) == names
    bicubic = report["scores"]["bicubic"]["faces"]["psnr"]
    assert report["gain_db"]["diverse"]["faces"] == pytest.approx(
        report["scores"]["diverse"]["faces"]["psnr"] - bicubic, abs=1e-3)
    assert report["arms"]["diverse"]["iterations"] == 2
    assert report["seed_spread_db"] is None  # diverse-seed2 did not run
    assert report["missing_arms"] == [a for a in domain_study.ARMS
                                      if a not in ("narrow", "diverse")]
    assert all(arm["megapixels"] > 0 for arm in report["arms"].values())
    assert report["markdown"] in doc.read_text() and "old" not in doc.read_text()
    assert Image.open(plot_path).size[0] > 400


def test_a_report_refuses_arms_whose_recipes_differ(tmp_path: Path) -> None:
    from domain_report import check_same_recipe

    base = {"data": {"train": ["a"]}, "optim": {"iterations": 10}, "run": {"seed": 1}}
    arms = {"one": base, "two": base | {"data": {"train": ["b"]}, "run": {"seed": 2}},
            "three": base | {"optim": {"iterations": 11}}}
    for arm, config in arms.items():
        (tmp_path / arm).mkdir()
        (tmp_path / arm / "config.json").write_text(json.dumps(config))
    check_same_recipe(tmp_path, ["one", "two"])  # data and seed may differ
    with pytest.raises(SystemExit, match=r"three/config\.json: the recipe differs"):
        check_same_recipe(tmp_path, ["one", "two", "three"])


def test_an_arm_stopped_before_its_end_stops_the_study(
        fake_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import domain_study

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(domain_study, "TEXT_COUNTS", (2, 1))
    started: list[str] = []
    monkeypatch.setattr("vivid.cli.main.main",  # stopped by a signal: exit code 0, no weights
                        lambda argv: started.append(argv[argv.index("--out") + 1]) or 0)
    with pytest.raises(SystemExit, match="stopped before the end"):
        domain_study.main(["--arm", "all", "--data", str(fake_data),
                           "--work", str(tmp_path / "work")])
    assert [Path(run).name for run in started] == [domain_study.ARMS[0]]


def test_domain_eval_compares_a_new_model_with_the_old_per_set() -> None:
    from domain_eval import comparison, markdown

    def row(old: float, new: float) -> dict[str, dict[str, float]]:
        return {m: {"psnr": v, "ssim": 0.5, "niqe": 5.0} for m, v in (("a", old), ("b", new))}

    results = {"faces": row(30.0, 30.2), "text": row(20.0, 19.9), "retina": row(40.0, 40.0),
               "Set5": row(31.0, 30.95), "BSD100": row(27.0, 27.1)}
    compared = comparison(results, "a", "b")
    assert compared["domains_won"] == 1 and compared["domains"] == 3
    assert compared["worst_paper_set_db"] == pytest.approx(-0.05)
    table = markdown(results, compared)
    assert "| text | 20.00 / 0.5000 / 5.00 | 19.90 / 0.5000 / 5.00 | -0.10 |" in table
