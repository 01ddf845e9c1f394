"""``vivid live`` as a command and a web app: one-line errors with exit code != 0 (no webcam,
a busy webcam, an unreachable URL, a port in use, a missing file), the page's stream, status
and controls with their protections, the snapshot, and the recording with the source's
audio."""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="vivid live needs the 'video' extra")
pytest.importorskip("starlette", reason="the live page needs the 'mos' extra")
pytest.importorskip("httpx", reason="needs httpx")

import av
import httpx
from PIL import Image

from vivid.cli import live as live_cli
from vivid.cli.main import main
from vivid.errors import VividError
from vivid.live import source as live_source
from vivid.live.frames import bicubic
from vivid.live.models import LiveModel
from vivid.live.server import LiveOptions, Session, session_in_thread
from vivid.mos.server import listen

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from live_speed import write_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of 32x24 at 20 frames/s with a tone."""
    return write_clip(tmp_path_factory.mktemp("live") / "clip.mp4", (32, 24), 20, 1.0,
                      audio=True)


def fake_load(name: str, **options: object) -> LiveModel:
    """Any name loads at once: bicubic x2 (x4 for bicubic), no weights read."""
    scale = 4 if name == "bicubic" else 2
    return LiveModel(name, "test engine", scale, lambda rgb: bicubic(rgb, scale))


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(("source", "expected"), [
    ("/dev/video97", "error: webcam /dev/video97: no webcam there (no such device)"),
    ("97", "error: webcam 97 (/dev/video97): no webcam there (no such device)"),
    ("no-such-clip.mp4", "error: no-such-clip.mp4: no such video file"),
    ("gopher://x/y", "error: gopher://x/y: unknown stream protocol 'gopher'"),
])
def test_a_missing_source_is_one_line_and_exit_2(source: str, expected: str,
                                                 capsys: pytest.CaptureFixture) -> None:
    assert main(["live", source, "--model", "bicubic", "--port", "0"]) == 2
    assert one_error_line(capsys).startswith(expected)


def test_a_missing_web_stack_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    real = live_cli.find_spec
    monkeypatch.setattr(live_cli, "find_spec", lambda n: None if n == "uvicorn" else real(n))
    assert main(["live", "0"]) == 2
    assert one_error_line(capsys) == ('error: vivid live needs uvicorn: run pip install -e '
                                      '".[live]" in the vivid folder')


def test_a_busy_webcam_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture) -> None:
    def busy(target: str, **options: object) -> None:
        assert options["format"] == "v4l2"
        raise av.error.OSError(errno.EBUSY, "Device or resource busy", target)

    monkeypatch.setattr(live_source, "_device_exists", lambda path: True)
    monkeypatch.setattr(av, "open", busy)
    assert main(["live", "/dev/video0", "--model", "bicubic", "--port", "0"]) == 2
    assert one_error_line(capsys) == ("error: webcam /dev/video0: the webcam is busy (another "
                                      "program is using it)")


def test_an_unreachable_url_is_one_line(capsys: pytest.CaptureFixture) -> None:
    closed = listen("127.0.0.1", 0)
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    url = f"rtsp://127.0.0.1:{port}/live"
    assert main(["live", url, "--model", "bicubic", "--port", "0", "--timeout", "3"]) == 2
    assert one_error_line(capsys).startswith(f"error: {url}: unreachable (")


def test_a_port_in_use_is_one_line(clip: Path, capsys: pytest.CaptureFixture) -> None:
    taken = listen("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        assert main(["live", str(clip), "--model", "bicubic", "--port", str(port)]) == 2
    finally:
        taken.close()
    assert one_error_line(capsys) == (f"error: 127.0.0.1:{port}: the port is in use (another "
                                      "server?); choose another with --port")


def test_an_existing_recording_is_kept(clip: Path, tmp_path: Path) -> None:
    (tmp_path / "out.mp4").write_bytes(b"keep")
    with pytest.raises(VividError, match="exists; choose another name or add --overwrite"):
        Session(LiveOptions(str(clip), "bicubic", record=tmp_path / "out.mp4"), fake_load)
    assert (tmp_path / "out.mp4").read_bytes() == b"keep"


@pytest.fixture
def served(clip: Path) -> Iterator[tuple[str, Session]]:
    with session_in_thread(LiveOptions(str(clip), "bicubic", loop=True), fake_load) as running:
        yield running


def mjpeg_parts(base: str, count: int) -> list[bytes]:
    parts: list[bytes] = []
    with httpx.stream("GET", f"{base}/stream.mjpg", timeout=10) as response:
        assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
        buffer = b""
        for chunk in response.iter_bytes():
            buffer += chunk
            while buffer.count(b"--frame\r\n") >= 2:
                head, _, buffer = buffer.partition(b"--frame\r\n")
                if head:
                    parts.append(head)
                part, _, rest = buffer.partition(b"--frame\r\n")
                parts.append(part)
                buffer = b"--frame\r\n" + rest
            if len(parts) >= count:
                return parts[:count]
    return parts


def test_the_stream_sends_new_jpeg_frames(served: tuple[str, Session]) -> None:
    base, _ = served
    parts = mjpeg_parts(base, 3)
    jpegs = [part.split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n") for part in parts]
    assert len(set(jpegs)) == 3 and all(j.startswith(b"\xff\xd8") for j in jpegs)
    stats = httpx.get(f"{base}/api/stats").json()
    assert stats["input"] == "32x24" and stats["output"] == "128x96"
    assert stats["model"] == "bicubic" and isinstance(stats["fps"], float)
    assert stats["latency_ms"] is not None and stats["state"] == "playing"


def post(base: str, path: str, body: object, **headers: str) -> httpx.Response:
    return httpx.post(f"{base}{path}", json=body, headers=headers)


def test_the_controls_change_the_view_the_model_and_pause(served: tuple[str, Session]) -> None:
    base, session = served
    assert post(base, "/api/view", {"compare": "wipe", "wipe": 0.25}).json()["wipe"] == 0.25
    assert session.pipeline.view == ("wipe", 0.25)
    for bad in ({"compare": "upside-down"}, {"wipe": 2}, {"wipe": True}, [1]):
        assert post(base, "/api/view", bad).status_code == 400
    assert post(base, "/api/model", {"model": "srresnet-x4"}).status_code == 200
    assert post(base, "/api/model", {"model": "/etc/passwd"}).status_code == 400
    assert post(base, "/api/pause", {"paused": True}).json()["paused"] is True
    assert httpx.get(f"{base}/api/stats").json()["state"] == "paused"
    assert post(base, "/api/pause", {"paused": False}).json()["paused"] is False


def test_the_page_is_protected(served: tuple[str, Session]) -> None:
    base, _ = served
    page = httpx.get(base)
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and "srresnet-x4" in page.text
    as_form = httpx.post(f"{base}/api/pause", content=b'{"paused": true}',
                         headers={"Content-Type": "text/plain"})
    assert as_form.status_code == 400  # a cross-site form cannot send JSON without CORS
    elsewhere = post(base, "/api/pause", {"paused": True}, Origin="http://evil.example")
    assert elsewhere.status_code == 400
    assert httpx.get(f"{base}/api/stats", headers={"Host": "evil.example"}).status_code == 400
    try:  # too large: 413, or the connection closed before the whole body was sent
        too_large = post(base, "/api/view", {"wipe": 0.5, "pad": "x" * 2000}).status_code
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
        too_large = None
    assert too_large in (413, None)


def test_the_snapshot_is_the_pair_as_png(served: tuple[str, Session], tmp_path: Path) -> None:
    base, _ = served
    mjpeg_parts(base, 1)
    response = httpx.get(f"{base}/snapshot.png")
    assert response.headers["content-type"] == "image/png"
    assert "attachment" in response.headers["content-disposition"]
    (tmp_path / "pair.png").write_bytes(response.content)
    assert Image.open(tmp_path / "pair.png").size == (256, 96)  # bicubic | model


def test_the_recording_has_the_shown_frames_and_the_audio(clip: Path, tmp_path: Path) -> None:
    target = tmp_path / "shown.mp4"
    options = LiveOptions(str(clip), "bicubic", loop=True, record=target)
    with session_in_thread(options, fake_load) as (base, session):
        mjpeg_parts(base, 10)
        post(base, "/api/view", {"compare": "wipe", "wipe": 0.5})  # another size: fitted
        mjpeg_parts(base, 10)
    summary = session.recorder.finish() if session.recorder else ""
    assert summary.startswith("recorded ") and "with audio" in summary
    with av.open(str(target)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video)]
        assert audio.codec_context.sample_rate == 22050
    assert len(frames) >= 15 and frames[0].shape == (96, 256, 3)
    assert np.abs(frames[-1][:, :64].astype(int)).max() < 40  # wiped frames, black bars
    assert [p.name for p in tmp_path.iterdir()] == ["shown.mp4"]  # no temporary left
