"""Output files that appear whole or not at all, with the permissions of any new file.

``temp_path`` gives a hidden temporary name next to the target and renames it onto the target
when the ``with`` block ends without an error; on any error, Ctrl-C, or SIGTERM (see
``raise_on_sigterm``) the temporary file or folder is removed. ``write_text``/``write_bytes``
do that for a whole file at once. Every file vivid writes goes through here, except what is
appended to (a run's ``log.jsonl``), TensorBoard's own event files, and the OpenVINO IR pair
(.xml + .bin, renamed .bin first: ``inference.openvino_runtime``).
``check_writable`` finds an unwritable output folder before any work is spent on the output;
``no_new_empty_folders`` removes the output folders a failed or interrupted run made but left
empty.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from vivid.errors import VividError


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` and cleanup runs."""

    exit_code = 128 + signal.SIGTERM


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def raise_on_sigterm() -> None:
    """Make SIGTERM raise ``Terminated`` (for command-line entry points; only the main thread
    can set signal handlers, elsewhere this does nothing)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def _umask() -> int:
    """The process umask, read without changing it where the OS tells it (Linux); elsewhere
    set and put back at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def set_default_mode(path: str | Path) -> None:
    """Give a file or folder made by ``tempfile`` (mode 0600/0700) the mode ``open`` or
    ``mkdir`` would have given it under the umask."""
    full = 0o777 if Path(path).is_dir() else 0o666
    os.chmod(path, full & ~_umask())


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and make sure files can be created in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VividError(f"{folder}: cannot create folder ({error.strerror or error})") from error
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".vivid-probe.", dir=folder)
    except OSError as error:
        raise VividError(f"{folder}: cannot write files here ({error.strerror or error})"
                         ) from error
    os.close(descriptor)
    os.unlink(probe)


@contextlib.contextmanager
def no_new_empty_folders(output: Path) -> Iterator[None]:
    """Folders at or above ``output`` that did not exist before the block and hold no file
    after it (whether it succeeded, failed or was interrupted) are removed again."""
    first_new = None
    for folder in (output, *output.parents):
        if folder.exists():
            break
        first_new = folder
    try:
        yield
    finally:
        if first_new is not None and first_new.is_dir():
            for folder, _, _ in os.walk(first_new, topdown=False):  # deepest first
                with contextlib.suppress(OSError):  # not empty: it stays
                    os.rmdir(folder)


def _replace(temp: Path, target: Path) -> None:
    """``os.replace``, also onto an existing folder (moved aside first, then deleted)."""
    if not target.is_dir():
        os.replace(temp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    os.replace(target, old / target.name)
    os.replace(temp, target)
    shutil.rmtree(old)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def temp_path(target: Path, folder: bool = False) -> Iterator[Path]:
    """A hidden temporary file (``folder``: folder) beside ``target`` that becomes ``target``
    when the block succeeds (replacing what was there) and is removed when it does not. The
    name keeps the target's suffix (writers that pick a format by suffix still work)."""
    check_writable(target.parent)
    prefix, suffix = f".{target.name}.", "" if folder else target.suffix
    try:
        if folder:
            temp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
        else:
            descriptor, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
            os.close(descriptor)
            temp = Path(name)
    except OSError as error:
        raise VividError(f"{target}: cannot write ({error.strerror or error})") from error
    try:
        yield temp
        set_default_mode(temp)
        _replace(temp, target)
    except BaseException:
        _remove(temp)
        raise


def write_bytes(target: Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` whole or not at all (folders made as needed)."""
    with temp_path(Path(target)) as temp:
        temp.write_bytes(data)
    return Path(target)


def write_text(target: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` whole or not at all (folders made as needed)."""
    return write_bytes(target, text.encode("utf-8"))
