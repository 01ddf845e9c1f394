"""Study design (issue 20, items 7, 8, 10): balanced allocation, no two versions of a source image
back to back, a ratings-per-image target, ``vivid mos status``, the server-side viewing gate."""

from __future__ import annotations

import itertools
import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the MOS app needs the 'mos' extra")

from test_mos import app, images_of, make_study, start
from vivid.cli.main import main
from vivid.mos import study as mos_study
from vivid.mos.alloc import spread
from vivid.mos.study import connect


def rate_all(connection: object, token: str) -> None:
    for image in json.loads(connection.execute("SELECT image_order FROM raters WHERE token = ?",
                                               (token,)).fetchone()[0]):
        mos_study.rate(connection, token, image, 3)


def test_40_raters_give_every_image_the_same_count_within_1(tmp_path: Path) -> None:
    study = make_study(tmp_path, items=4, per_rater=5)  # 12 images, 5 each: 200 ratings
    connection = connect(study)
    item_of = dict(connection.execute("SELECT id, item FROM images"))
    waiting: list[str] = []
    rng = random.Random(0)
    for rater in range(40):  # raters start in bursts and finish in any order
        waiting.append(mos_study.new_rater(connection, f"r{rater}", seed=rater))
        if len(waiting) == 4 or rater == 39:
            rng.shuffle(waiting)
            for token in waiting:
                rate_all(connection, token)
            waiting.clear()
    counts = Counter(r[0] for r in connection.execute("SELECT image FROM ratings"))
    assert len(counts) == 12 and max(counts.values()) - min(counts.values()) <= 1
    for (order,) in connection.execute("SELECT image_order FROM raters"):
        items = [item_of[image] for image in json.loads(order)]
        assert all(a != b for a, b in itertools.pairwise(items)), items


def test_spread_keeps_versions_apart_whenever_possible() -> None:
    rng = random.Random(1)
    for _ in range(200):
        images = [f"{item}-{m}" for item in "abcd" for m in range(rng.randint(1, 3))]
        chosen = rng.sample(images, rng.randint(1, len(images)))
        item_of = {image: image[0] for image in chosen}
        order = spread(chosen, item_of, rng)
        assert sorted(order) == sorted(chosen)
        most = max(Counter(item_of.values()).values())
        if 2 * most <= len(chosen) + 1:
            items = [item_of[i] for i in order]
            assert all(a != b for a, b in itertools.pairwise(items)), items


def test_ratings_per_image_target_and_status(tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    study = make_study(tmp_path, items=2, per_rater=3, ratings_per_image=2)  # 6 images
    client = app(study)
    for rater in range(3):
        token = start(client, f"r{rater}")
        for image in images_of(study, token):
            client.post("/api/rate", json={"token": token, "image": image, "score": 4})
    start(client, "left")  # holds the 3 images still short of 2 ratings
    assert main(["mos", "status", str(study)]) == 0
    out = capsys.readouterr().out
    assert "4 started, 3 finished, 1 rating now" in out
    assert "9 on 6 images; each image has 1-2 of 2 wanted" in out and "to go: 3" in out
    full = client.post("/start", data={"name": "late"})
    assert full.status_code == 503 and "study is complete" in full.text
    connection = connect(study)
    connection.execute("UPDATE raters SET active = active - 7200 WHERE name = 'left'")
    assert len(images_of(study, start(client, "late"))) == 3  # an abandoned session frees them


def test_a_rating_needs_the_image_served_long_enough(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    client = app(study, min_view_s=0.3)
    token = start(client)
    client.post(f"/r/{token}/calibrated")
    first, second = images_of(study, token)[:2]
    rate = {"token": token, "image": first, "score": 4}
    unseen = client.post("/api/rate", json=rate)
    assert unseen.status_code == 409 and "not shown" in unseen.text
    assert client.get(f"/r/{token}/image/{first}").status_code == 200
    assert client.post("/api/rate", json=rate).status_code == 409  # served just now
    time.sleep(0.3)
    assert client.post("/api/rate", json=rate).status_code == 200
    other = start(client, "other")  # the first rater's view does not count for another
    assert client.post("/api/rate", json={**rate, "token": other}).status_code == 409
    assert client.get(f"/r/nope/image/{second}").status_code == 404
    assert connect(study).execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 1


def test_pages_have_a_mobile_viewport_and_native_size_images(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    client = app(study)
    token = start(client)
    for page in (client.get("/").text, client.get(f"/r/{token}").text):
        assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in page
    client.post(f"/r/{token}/calibrated")
    page = client.get(f"/r/{token}").text
    assert "class='native'" in page and "id='too-small'" in page
    assert "max-width:none" in client.get("/static/mos.css").text
    assert "devicePixelRatio" in client.get("/static/mos.js").text
