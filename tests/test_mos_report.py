"""MOS report: screening (BT.500 + agreement), DMOS, z-MOS, bootstrap intervals, Holm, CSV,
sanitised names (issue 20, items 3, 6, 11, 12)."""

from __future__ import annotations

import csv
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the MOS app needs the 'mos' extra")

from test_mos import app, images_of, make_study, start
from vivid.cli.main import main
from vivid.mos import study as mos_study
from vivid.mos.data import load_ratings
from vivid.mos.report import csv_rows, method_scores, pairwise
from vivid.mos.screen import screen
from vivid.mos.stats import holm
from vivid.mos.study import connect

QUALITY = {"bicubic": 1.8, "srgan": 3.6, "hr": 4.5}


def rate_as(connection: object, token: str, scores: dict[str, int]) -> None:
    for image, score in scores.items():
        mos_study.rate(connection, token, image, score)


def simulate(study: Path, good: int = 20, seed: int = 0) -> dict[str, list[int]]:
    """``good`` raters (true quality + noise) then a random, an inverted and an always-5 rater
    (numbers good+1..good+3). Returns the good raters' scores per method."""
    rng = np.random.default_rng(seed)
    connection = connect(study)
    images = connection.execute("SELECT id, method, item FROM images").fetchall()
    offset = {item: rng.normal(0, 0.4) for _, _, item in images}
    truth = {image: QUALITY[method] + offset[item] for image, method, item in images}
    good_scores: dict[str, list[int]] = {}
    method_of = {image: method for image, method, _ in images}
    for rater in range(good + 3):
        token = mos_study.new_rater(connection, f"rater{rater}", seed=rater)
        noisy = {i: int(np.clip(round(t + rng.normal(0, 0.6)), 1, 5)) for i, t in truth.items()}
        if rater < good:
            for image, score in noisy.items():
                good_scores.setdefault(method_of[image], []).append(score)
        kind = rater - good
        scores = (noisy if kind < 0 else
                  {i: int(rng.integers(1, 6)) for i in truth} if kind == 0 else
                  {i: 6 - s for i, s in noisy.items()} if kind == 1 else
                  dict.fromkeys(truth, 5))
        rate_as(connection, token, scores)
    connection.close()
    return good_scores


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[int]]]:
    study = make_study(tmp_path_factory.mktemp("sim"), items=8)
    return study, simulate(study)


def test_screen_excludes_exactly_the_three_bad_raters(
    simulated: tuple[Path, dict[str, list[int]]], capsys: pytest.CaptureFixture
) -> None:
    study, good = simulated
    checks = screen(load_ratings(connect(study)))
    assert [c.rater for c in checks if c.excluded] == [21, 22, 23]
    assert main(["mos", "report", str(study), "--screen"]) == 0
    out = capsys.readouterr().out
    assert "excluded 3 of 23 raters" in out
    for label in ("#21 rater20", "#22 rater21", "#23 rater22"):
        assert f"  {label}: " in out.split("screening:")[1]
    moved = dict(re.findall(r"^  (\w+): [\d.]+ -> ([\d.]+)$", out, re.M))
    before = dict(re.findall(r"^  (\w+): ([\d.]+) -> [\d.]+$", out, re.M))
    for method, scores in good.items():
        assert float(moved[method]) == pytest.approx(np.mean(scores), abs=0.005)
    assert abs(float(before["bicubic"]) - np.mean(good["bicubic"])) > 0.2  # moved by the 3
    print(out.split("screening:")[1])


def test_report_numbers_dmos_zmos_holm_and_bootstrap(
    simulated: tuple[Path, dict[str, list[int]]]
) -> None:
    study, _ = simulated
    data = load_ratings(connect(study)).without({21, 22, 23})
    scores = {s.method: s for s in method_scores(data)}
    assert scores["hr"].dmos == pytest.approx(5.0)
    assert scores["bicubic"].dmos == pytest.approx(5 + scores["bicubic"].mos - scores["hr"].mos)
    assert scores["bicubic"].zmos < 0 < scores["hr"].zmos
    for s in scores.values():  # clustering over raters and images widens the interval
        assert s.boot_low < s.mos < s.boot_high
        assert s.boot_high - s.boot_low > s.ci_high - s.ci_low
    comparisons = pairwise(data)
    assert [c.p_holm for c in comparisons] == holm([c.p for c in comparisons])
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_csv_has_ids_times_and_no_tokens(simulated: tuple[Path, dict[str, list[int]]],
                                         tmp_path: Path) -> None:
    study, _ = simulated
    assert main(["mos", "report", str(study), "--csv", str(tmp_path / "r.csv"),
                 "--plot", str(tmp_path / "p.png")]) == 0
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert len(rows) == 23 * 24
    tokens = [r[0] for r in connect(study).execute("SELECT token FROM raters")]
    text = (tmp_path / "r.csv").read_text()
    assert not any(token in text for token in tokens)
    assert {r["rater"] for r in rows} == {str(n) for n in range(1, 24)}
    assert all(re.fullmatch(r"[0-9a-f]{24}", r["image"]) and r["rated_utc"] for r in rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png", "r.csv"]  # no temp files


def test_unrated_methods_are_listed_and_no_warnings(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    study = make_study(tmp_path, items=3)
    connection = connect(study)
    token = mos_study.new_rater(connection, "only")
    images = dict(connection.execute("SELECT id, method FROM images"))
    rate_as(connection, token, {i: 3 for i, m in images.items() if m == "srgan"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy/numpy warnings would fail the report
        assert main(["mos", "report", str(study), "--screen"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "methods with no ratings: bicubic, hr" in captured.out


def test_names_cannot_drive_the_terminal_or_a_spreadsheet(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    study = make_study(tmp_path, items=2)
    connection = connect(study)
    evil = "=HYPERLINK(\"x\")\x1b[2J\x1b[H\nFAKE: all good\r"
    token = mos_study.new_rater(connection, evil)
    rate_as(connection, token, {r[0]: 3 for r in connection.execute("SELECT id FROM images")})
    stored = connection.execute("SELECT name FROM raters").fetchone()[0]
    assert "\x1b" not in stored and "\n" not in stored and "\r" not in stored
    connection.execute("UPDATE raters SET name = ?", (evil,))  # even if stored raw
    assert main(["mos", "report", str(study), "--csv", str(tmp_path / "r.csv")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out
    assert not any(line.startswith("FAKE") for line in out.splitlines())
    name = next(csv.DictReader((tmp_path / "r.csv").open()))["name"]
    assert name.startswith("'") and "\x1b" not in name and "\n" not in name


def test_csv_response_time_is_from_image_served_to_rating(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    client = app(study)
    token = start(client)
    image = images_of(study, token)[0]
    client.get(f"/r/{token}/image/{image}")
    time.sleep(0.1)
    client.post("/api/rate", json={"token": token, "image": image, "score": 4})
    rows = csv_rows(load_ratings(connect(study)))
    assert len(rows) == 1 and rows[0][2] == image and rows[0][5] == 4
    assert 0.1 <= float(rows[0][8]) < 5 and rows[0][6] < rows[0][7]  # ISO times sort
