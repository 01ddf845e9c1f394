"""``vivid mos create`` refuses what it should and never leaves a half-made study (issue 20,
items 9 and 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the MOS app needs the 'mos' extra")

from test_mos import app, make_study, start
from vivid.cli.main import main
from vivid.errors import VividError
from vivid.mos import create as mos_create
from vivid.mos.create import create_study
from vivid.mos.study import connect


def folder(root: Path, name: str, sizes: list[tuple[int, int]], suffix: str = ".png",
           seed: int = 0, stem: str = "img") -> Path:
    path = root / name
    path.mkdir()
    rng = np.random.default_rng(seed)
    for index, (width, height) in enumerate(sizes):
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path / f"{stem}{index}{suffix}")
    return path


def create(root: Path, *args: str) -> int:
    return main(["mos", "create", str(root / "study"), *args])


@pytest.mark.parametrize("case, message", [
    ("tiff", "TIFF is not shown by web browsers"),
    ("sizes", "the methods' images differ in size (16x16 in a, 16x20 in b)"),
    ("per_rater", "--per-rater -5: must be from 1 to 4"),
    ("too_many", "--per-rater 5: must be from 1 to 4"),
    ("ratings_per_image", "--ratings-per-image 0: must be at least 1"),
    ("disguised", "the file is JPEG, not what its suffix says"),
])
def test_create_refuses_with_one_line_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, case: str, message: str
) -> None:
    a = folder(tmp_path, "a", [(16, 16)] * 2)
    b = folder(tmp_path, "b", [(16, 16), (16, 20)] if case == "sizes" else [(16, 16)] * 2, seed=1)
    if case == "tiff":
        Image.new("RGB", (16, 16)).save(a / "scan.tif")
    if case == "disguised":
        Image.new("RGB", (16, 16)).save(b / "img0.png", format="JPEG")
    extra = {"per_rater": ["--per-rater", "-5"], "too_many": ["--per-rater", "5"],
             "ratings_per_image": ["--ratings-per-image", "0"]}.get(case, [])
    code = create(tmp_path, "--method", f"a={a}", "--method", f"b={b}", *extra)
    err = capsys.readouterr().err
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no study, no temp folder


def test_a_failure_while_writing_leaves_no_half_made_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = folder(tmp_path, "a", [(16, 16)] * 2)
    training = folder(tmp_path, "training", [(20, 20)] * 2, seed=5, stem="train")

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(mos_create, "_write_training", fail)
    with pytest.raises(OSError, match="disk full"):
        create_study(tmp_path / "study", [f"a={a}"], training=training)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "training"]


def test_training_images_must_not_be_study_images(tmp_path: Path) -> None:
    a = folder(tmp_path, "a", [(16, 16)] * 2)
    copy = tmp_path / "training"
    copy.mkdir()
    (copy / "other-name.png").write_bytes((a / "img1.png").read_bytes())
    with pytest.raises(VividError, match="a training image must not be a study image"):
        create_study(tmp_path / "study", [f"a={a}"], training=copy)
    with pytest.raises(VividError, match="is one of the study's folders"):
        create_study(tmp_path / "study", [f"a={a}"], training=a)


def test_calibration_and_practice_come_from_the_training_folder(tmp_path: Path) -> None:
    study = make_study(tmp_path, items=2, training=5)
    connection = connect(study)
    study_ids = {r[0] for r in connection.execute("SELECT id FROM images")}
    calibration = connection.execute("SELECT id, score, pair FROM calibration").fetchall()
    practice = [r[0] for r in connection.execute("SELECT id FROM practice ORDER BY position")]
    assert sorted((s, p) for _, s, p in calibration) == [(1, 0), (1, 1), (5, 0), (5, 1)]
    assert len(practice) == 3 and not study_ids & ({c[0] for c in calibration} | set(practice))
    client = app(study)
    token = start(client)
    page = client.get(f"/r/{token}").text
    assert page.count("<div class='pair'>") == 2  # each pair side by side in one row
    assert page.index("id='start-rating'") < page.index("<div class='pairs'>")  # above the fold
    client.post(f"/r/{token}/calibrated")
    for index, image in enumerate(practice):
        page = client.get(f"/r/{token}").text
        assert f"Practice {index + 1} of 3 (not counted)" in page and image in page
        assert client.post("/api/rate", json={"token": token, "image": image,
                                              "score": 3}).json()["rated"] == 0
    assert "Image 1 of 6" in client.get(f"/r/{token}").text
    assert connection.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 0
