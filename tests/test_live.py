"""``vivid live``'s parts without a server: sources, latest-frame slots that drop instead of
queueing, the meters, composing, pacing, the reader (end, loop, reconnection of a stream),
the pipeline under a model slower than its source, and loading real models as frame
functions."""

from __future__ import annotations

import functools
import http.server
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="vivid live needs the 'video' extra")

from vivid.errors import VividError
from vivid.live.frames import SIDE, WIPE, bicubic, compose, fit
from vivid.live.models import LiveModel, load_live_model, model_choices
from vivid.live.pipeline import Pipeline
from vivid.live.reader import Frame, Pacer, Reader
from vivid.live.slots import Latest, LatestSlot, RateMeter
from vivid.live.source import FILE, STREAM, WEBCAM, open_source, parse_size, parse_source
from vivid.live.status import ENDED, PLAYING, RECONNECTING, STALLED, Pause, Status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from live_speed import write_clip


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of 64x48 at 20 frames/s."""
    return write_clip(tmp_path_factory.mktemp("live") / "clip.mp4", (64, 48), 20, 1.0)


def test_sources_are_told_apart() -> None:
    assert parse_source("0").target == "/dev/video0"
    assert parse_source("2").kind == WEBCAM and parse_source("/dev/video1").kind == WEBCAM
    for url in ("rtsp://cam.local/stream", "http://host/live.m3u8", "udp://239.0.0.1:1234",
                "hls+https://host/live.m3u8"):
        assert parse_source(url).kind == STREAM and parse_source(url).live
    assert parse_source("clip.mp4").kind == FILE and not parse_source("clip.mp4").live
    with pytest.raises(VividError, match="unknown stream protocol 'gopher'"):
        parse_source("gopher://host/x")
    assert parse_size("320x180") == (320, 180) and parse_size("321x181") == (320, 180)
    with pytest.raises(VividError, match="WIDTHxHEIGHT"):
        parse_size("big")


def test_a_slot_keeps_only_the_newest_item_and_counts_the_rest() -> None:
    slot: LatestSlot[int] = LatestSlot()
    for item in range(5):
        slot.put(item)
    assert slot.take(0) == 4 and slot.dropped == 4
    assert slot.take(0.01) is None
    latest: Latest[str] = Latest()
    assert latest.newer(0, 0.01) is None
    latest.put("a")
    latest.put("b")
    assert latest.newer(0, 0) == (2, "b") and latest.newer(2, 0.01) is None


def test_the_rate_meter_counts_per_second_and_falls_to_zero() -> None:
    clock = FakeClock()
    meter = RateMeter(window=2.0, clock=clock)
    assert meter.rate() == 0
    for _ in range(50):
        meter.tick()
        clock.sleep(0.04)
    assert meter.rate() == pytest.approx(25, rel=0.05)
    slow = RateMeter(window=2.0, clock=clock)
    for _ in range(3):
        slow.tick()
        clock.sleep(2.5)  # a slow model: still a rate from its last frames
    assert slow.rate() == pytest.approx(0.4, rel=0.01)
    clock.sleep(10)
    assert meter.rate() == 0 and slow.rate() == 0


def test_side_by_side_and_wipe() -> None:
    plain, model = np.zeros((8, 10, 3), np.uint8), np.full((8, 10, 3), 100, np.uint8)
    assert compose(plain, model, SIDE, 0.5).shape == (8, 20, 3)
    wiped = compose(plain, model, WIPE, 0.3)
    assert wiped.shape == (8, 10, 3)
    assert (wiped[:, :2] == 0).all() and (wiped[:, 2:4] == 255).all()
    assert (wiped[:, 4:] == 100).all()
    assert bicubic(model, 4).shape == (32, 40, 3)
    boxed = fit(np.full((8, 10, 3), 7, np.uint8), 40, 16)
    assert boxed.shape == (16, 40, 3) and boxed[:, 0].max() == 0 and boxed[8, 20, 0] == 7


def test_the_pacer_keeps_the_file_rate_and_re_anchors_when_late() -> None:
    clock = FakeClock()
    pacer = Pacer(clock.sleep, clock)
    start = clock.now
    for index in range(10):
        pacer(index / 10)
    assert clock.now - start == pytest.approx(0.9)
    clock.sleep(5)  # a stall: no rush to catch up
    before = clock.now
    pacer(1.0)
    pacer(1.1)
    assert clock.now - before == pytest.approx(0.1)


def test_a_stall_is_reported_and_cleared_by_the_next_frame() -> None:
    clock = FakeClock()
    status = Status("cam", stall_s=3, clock=clock)
    status.frame()
    assert status.get() == (PLAYING, "")
    clock.sleep(4)
    status.check_stall()
    assert status.get() == (STALLED, "cam: no frame for 4 s (stalled)")
    status.frame()
    assert status.get() == (PLAYING, "cam: playing again")
    status.check_stall(paused=True)  # no frames while paused: not a stall
    clock.sleep(10)
    status.check_stall(paused=True)
    status.check_stall()
    assert status.get() == (PLAYING, "cam: playing again")


def read(clip: Path, count: int | None, **options: object) -> tuple[list[Frame], Status]:
    frames: list[Frame] = []
    source = parse_source(str(clip))
    status = Status(source.label)
    reader = Reader(source, open_source(source, 3), frames.append, status, Pause(),
                    **options)
    reader.start()
    if count is not None:  # until that many frames came (or 20 s)
        deadline = time.monotonic() + 20
        while len(frames) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        reader.stop()
    reader.thread.join(10)
    return frames, status


def test_a_file_plays_at_its_rate_ends_or_loops(clip: Path) -> None:
    start = time.monotonic()
    frames, status = read(clip, None)
    assert len(frames) == 20 and time.monotonic() - start >= 0.9
    assert status.get() == (ENDED, f"{clip}: ended after 20 frames (--loop plays it again)")
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint8
    start = time.monotonic()
    looped, status = read(clip, 25, loop=True, size=(32, 24))
    # 25 frames of a 20-frame file: it looped, no faster than its 20 frames/s
    assert len(looped) >= 25 and status.get()[0] != ENDED
    assert time.monotonic() - start >= 1.15
    assert [f.index for f in looped] == list(range(len(looped)))
    assert looped[0].rgb.shape == (24, 32, 3)


@pytest.fixture
def web_folder(clip: Path) -> Iterator[tuple[str, http.server.ThreadingHTTPServer]]:
    handler = functools.partial(_QuietHandler, directory=str(clip.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{clip.name}", server
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_a_stream_that_ends_or_goes_away_is_reconnected(
        web_folder: tuple[str, http.server.ThreadingHTTPServer]) -> None:
    url, server = web_folder
    source = parse_source(url)
    frames: list[Frame] = []
    status = Status(source.label)
    reader = Reader(source, open_source(source, 3), lambda f: (frames.append(f), status.frame()),
                    status, Pause(), timeout_s=3)
    reader.start()
    deadline = time.monotonic() + 10
    while len(frames) <= 20 and time.monotonic() < deadline:  # read it twice: reconnected
        time.sleep(0.05)
    assert len(frames) > 20
    server.shutdown()
    server.server_close()
    while "unreachable" not in status.get()[1] and time.monotonic() < deadline:
        time.sleep(0.05)
    reader.stop()
    state, message = status.get()
    assert state == RECONNECTING and message.startswith(f"{url}: unreachable (")
    assert "reconnecting in" in message


def fake_model(delay: float, name: str = "slow") -> LiveModel:
    def run(rgb: np.ndarray) -> np.ndarray:
        time.sleep(delay)
        return bicubic(rgb, 2)

    return LiveModel(name, "test", 2, run)


def test_a_slow_model_drops_frames_and_latency_stays_bounded() -> None:
    pipeline = Pipeline(fake_model(0.1), lambda name: fake_model(0, name), ["slow", "fast"],
                        Status("test"), Pause())
    pipeline.start()
    sequence, sent = 0, 0
    rgb = np.zeros((12, 16, 3), np.uint8)
    start = time.monotonic()
    for index in range(45):  # 1.5 s at 30 frames/s (longer on a loaded machine)
        now = time.monotonic()
        pipeline.feed(Frame(rgb + index, now, now, index))
        newer = pipeline.shown.newer(sequence, 0)
        if newer:
            sequence, shown = newer
            pipeline.sent(shown)
            sent += 1
        time.sleep(1 / 30)
    elapsed = time.monotonic() - start
    pipeline.stop()
    stats = pipeline.stats()
    # the model (0.1 s a frame) can take only elapsed / 0.1 frames; the rest are dropped
    processed = pipeline.model_rate.count
    assert processed <= elapsed / 0.1 + 2 and sent <= processed + 1
    assert stats["dropped"] >= 45 - processed - 2 >= 10
    assert stats["dropped"] + pipeline.model_rate.count + 2 >= 45
    # queued frames would wait ~4 s behind each other; dropped ones wait one model call or two
    assert stats["latency_ms"] is not None and stats["latency_ms"] < 1000
    assert stats["output"] == "32x24" and stats["input"] == "16x12"


def test_the_model_is_switched_while_running_and_a_bad_name_refused() -> None:
    def load(name: str) -> LiveModel:
        if name == "broken":
            raise VividError("broken: not a model")
        return fake_model(0, name)

    pipeline = Pipeline(fake_model(0, "first"), load, ["first", "second", "broken"],
                        Status("test"), Pause())
    pipeline.choose_model("second")
    deadline = time.monotonic() + 5
    while pipeline.model.name != "second" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pipeline.model.name == "second"
    with pytest.raises(VividError, match="not one of the models offered"):
        pipeline.choose_model("../../etc/passwd")
    pipeline.choose_model("broken")
    while pipeline.loading and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pipeline.model.name == "second"
    assert pipeline.stats()["message"] == "broken: cannot load (broken: not a model)"


@pytest.mark.parametrize("name", ["srresnet-x4", "video-x4"])
def test_bundled_models_run_as_frame_functions(name: str) -> None:
    model = load_live_model(name, device="cpu", precision="fp32", runtime="torch")
    frames = [np.random.default_rng(i).integers(0, 256, (12, 16, 3), np.uint8)
              for i in range(2)]
    outputs = [model.run(rgb) for rgb in frames]  # a video model: its recurrence carries on
    assert all(o.shape == (48, 64, 3) and o.dtype == np.uint8 for o in outputs)
    assert model.scale == 4 and name in model_choices(name)
    assert model_choices("my.safetensors")[-1] == "my.safetensors"


def test_no_action_runs_once_a_pause_is_set() -> None:
    pause, ran = Pause(), []
    assert pause.unless_paused(lambda: ran.append(1))
    pause.set(True)
    assert not pause.unless_paused(lambda: ran.append(2))
    pause.set(False)
    assert pause.unless_paused(lambda: ran.append(3))
    assert ran == [1, 3]
