from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the MOS app needs the 'mos' extra")
from starlette.testclient import TestClient

from vivid.cli.main import main
from vivid.errors import VividError
from vivid.mos.create import create_study
from vivid.mos.data import load_ratings
from vivid.mos.report import method_scores, pairwise
from vivid.mos.study import connect
from vivid.mos.web import create_app

REPO = Path(__file__).resolve().parents[1]


def make_study(root: Path, items: int = 3, per_rater: int | None = None,
               training: int = 2, ratings_per_image: int | None = None) -> Path:
    """bicubic, srgan and hr (the reference) versions of ``items`` random 16x16 images, and
    ``training`` separate images for calibration/practice."""
    rng = np.random.default_rng(0)
    methods = []
    for method in ("bicubic", "srgan", "hr"):
        folder = root / method
        folder.mkdir(parents=True)
        for index in range(items):
            pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"img{index}.png")
        methods.append(f"{method}={folder}")
    train = root / "training"
    train.mkdir()
    for index in range(training):
        pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(train / f"train{index}.png")
    study = root / "study"
    create_study(study, methods[:2], reference=methods[2], per_rater=per_rater,
                 training=train if training else None, ratings_per_image=ratings_per_image)
    return study


def app(study: Path, **options: object) -> TestClient:
    """A test client of the study's app; ratings need no viewing time unless asked."""
    return TestClient(create_app(study, **{"min_view_s": 0, **options}))


def start(client: TestClient, name: str = "ann", code: str | None = None) -> str:
    data = {"name": name, **({"code": code} if code else {})}
    response = client.post("/start", data=data, follow_redirects=False)
    assert response.status_code == 303
    return response.headers["location"].rsplit("/", 1)[1]


def images_of(study: Path, token: str) -> list[str]:
    connection = connect(study)
    order = json.loads(connection.execute("SELECT image_order FROM raters WHERE token = ?",
                                          (token,)).fetchone()[0])
    connection.close()
    return order


def test_create_copies_images_under_opaque_ids(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    files = sorted(p.name for p in (study / "images").iterdir())
    assert len(files) == 3 * 3 + 2 * 2  # 3 methods x 3 items + 2 calibration pairs
    assert not any("img" in f or "srgan" in f for f in files)
    connection = connect(study)
    assert connection.execute("SELECT COUNT(*) FROM images WHERE reference = 1").fetchone()[0] == 3
    with pytest.raises(VividError, match="already holds a study"):
        create_study(study, [f"a={tmp_path / 'bicubic'}"])


def test_rating_flow_pages(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    client = app(study)
    assert "Begin" in client.get("/").text
    token = start(client)
    calibration = client.get(f"/r/{token}").text
    assert "excellent: 5" in calibration and "bad: 1" in calibration
    assert client.post(f"/r/{token}/calibrated", follow_redirects=False).status_code == 303
    order = images_of(study, token)
    assert len(order) == 9 and len(set(order)) == 9  # the reference is rated blind too
    page = client.get(f"/r/{token}").text
    assert "Image 1 of 9" in page and order[0] in page
    for secret in ("bicubic", "srgan", "img0", ".png"):
        assert secret not in page
    for index, image in enumerate(order):
        response = client.post("/api/rate", json={"token": token, "image": image,
                                                  "score": index % 5 + 1})
        assert response.json() == {"rated": index + 1, "total": 9}
    assert "Thank you" in client.get(f"/r/{token}").text
    image = client.get(f"/image/{order[0]}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"


@pytest.mark.parametrize("score", [0, 6, "3", 3.5, True, None, -1])
def test_bad_scores_are_rejected(tmp_path: Path, score: object) -> None:
    study = make_study(tmp_path)
    client = app(study)
    token = start(client)
    image = images_of(study, token)[0]
    response = client.post("/api/rate", json={"token": token, "image": image, "score": score})
    assert response.status_code == 400 and "score must be an integer from 1 to 5" in response.text
    assert connect(study).execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 0


def test_unknown_ids_and_malformed_requests(tmp_path: Path) -> None:
    study = make_study(tmp_path, per_rater=2)
    client = app(study)
    token = start(client)
    mine = images_of(study, token)
    others = [r[0] for r in connect(study).execute("SELECT id FROM images")
              if r[0] not in mine]
    rate = {"token": token, "image": others[0], "score": 3}
    assert client.post("/api/rate", json=rate).status_code == 404  # not this rater's image
    assert client.post("/api/rate", json={**rate, "token": "nope"}).status_code == 404
    assert client.post("/api/rate", content=b"not json").status_code == 400
    assert client.post("/api/rate", json={"token": token}).status_code == 400
    assert client.get("/r/unknown-token").status_code == 404
    assert client.post("/r/unknown-token/calibrated").status_code == 404
    assert client.get("/image/" + "0" * 24).status_code == 404
    for attack in ("..%2Fstudy.sqlite", "%2E%2E%2Fstudy.sqlite", "../study.sqlite"):
        response = client.get(f"/image/{attack}")
        assert response.status_code == 404 and b"SQLite" not in response.content


def test_replayed_ratings_replace_and_survive_a_restart(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    client = app(study)
    token = start(client)
    image = images_of(study, token)[0]
    for score in (2, 2, 5):
        assert client.post("/api/rate", json={"token": token, "image": image,
                                              "score": score}).status_code == 200
    rows = connect(study).execute("SELECT score FROM ratings").fetchall()
    assert rows == [(5,)]
    client.post(f"/r/{token}/calibrated")
    restarted = app(study)  # a new server process sees the same state
    assert "Image 2 of 9" in restarted.get(f"/r/{token}").text
    assert connect(study).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_access_code(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    client = app(study, access_code="s3cret")
    assert "Access code" in client.get("/").text
    assert client.post("/start", data={"name": "x", "code": "wrong"}).status_code == 403
    assert client.post("/start", data={"name": "x"}).status_code == 403
    start(client, code="s3cret")


def test_report_numbers_csv_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    study = make_study(tmp_path)
    client = app(study)
    given: dict[str, list[int]] = {}
    connection = connect(study)
    method_of = dict(connection.execute("SELECT id, method FROM images"))
    for rater in range(4):
        token = start(client, f"r{rater}")
        for image in images_of(study, token):
            score = {"hr": 5, "srgan": 4, "bicubic": 2}[method_of[image]] - rater % 2
            client.post("/api/rate", json={"token": token, "image": image, "score": score})
            given.setdefault(method_of[image], []).append(score)
    scores = {s.method: s for s in method_scores(load_ratings(connection))}
    for method, values in given.items():
        assert scores[method].mos == pytest.approx(np.mean(values))
        assert scores[method].std == pytest.approx(np.std(values, ddof=1))
        assert scores[method].ratings == len(values)
        assert scores[method].ci_low < scores[method].mos < scores[method].ci_high
    pair = next(c for c in pairwise(load_ratings(connection)) if {c.a, c.b} == {"bicubic", "hr"})
    assert pair.p < 0.05 and pair.p_holm <= 3 * pair.p
    assert main(["mos", "report", str(study), "--csv", str(tmp_path / "r.csv")]) == 0
    out = capsys.readouterr().out
    assert "bicubic" in out and "Mann-Whitney" in out and "r0: 9" in out
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 1 + 4 * 9
    assert (study / "mos.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mos_create_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_study(tmp_path)
    code = main(["mos", "create", str(tmp_path / "s2"), "--method",
                 f"a={tmp_path / 'bicubic'}", "--method", f"b={tmp_path / 'srgan'}"])
    assert code == 0 and "3 images x 2 methods" in capsys.readouterr().out
    assert sqlite3.connect(tmp_path / "s2" / "study.sqlite").execute(
        "SELECT COUNT(*) FROM images").fetchone()[0] == 6


def test_50_concurrent_raters_lose_no_rating(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))  # the load harness is a benchmark's
    from mos_harness import run_load

    study = make_study(tmp_path, items=7)  # 3 methods x 7 items = 21 images per rater
    latencies = run_load(study, raters=50, ratings_each=20)
    assert len(latencies) == 1000
    stored = connect(study).execute("SELECT COUNT(*), COUNT(DISTINCT rater) FROM ratings")
    assert stored.fetchone() == (1000, 50)
    p95 = float(np.percentile(latencies, 95))
    print(f"50 raters x 20 ratings: p95 latency {p95 * 1000:.0f} ms")
    assert p95 < 5.0
