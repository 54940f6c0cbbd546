"""Reading and writing files: never more than a size cap read, never half a
file left behind, never a device or a pipe replaced by a regular file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import StepPropError

if TYPE_CHECKING:
    from pathlib import Path


def read_capped(path: str | Path, cap: int) -> bytes | None:
    """At most ``cap`` bytes of a file, device or pipe, whatever ``stat`` says
    (/dev/zero, a pipe fed forever); None if it holds more. OSError as raised."""
    chunks = []
    left = cap + 1
    with open(path, "rb") as handle:
        while left > 0:
            chunk = handle.read(min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    data = b"".join(chunks)
    return None if len(data) > cap else data


def is_special(path: str | Path) -> bool:
    """Whether ``path`` (followed through links) is something other than a
    regular file that exists: a device (/dev/null, /dev/stdout's terminal or
    pipe), a FIFO, a socket. Such a target is written in place, never replaced."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_target(path: str | Path) -> None:
    """Whether ``path`` can be written, asked before the work that fills it: its
    folder exists and is one, and it is not a folder itself (StepPropError if not)."""
    if is_special(path):
        return
    folder = os.path.dirname(os.fspath(path)) or "."
    if not os.path.isdir(folder):
        raise StepPropError(f"{path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise StepPropError(f"{path}: is a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StepPropError(f"{path}: cannot write in the folder {folder}")


def write_atomic(path: str | Path, text: str | Iterable[str]) -> None:
    """Write ``text`` (or its pieces, as they come) to ``path`` via a temporary
    file in the same folder and an atomic rename: readers see the old file or
    the new one, never a part."""
    pieces = [text] if isinstance(text, str) else text
    write_bytes_atomic(path, (piece.encode("utf-8") for piece in pieces))


def write_bytes_atomic(path: str | Path, data: bytes | Iterable[bytes]) -> None:
    """The same for bytes. A device, a FIFO or /dev/stdout is written in place;
    through a symbolic link, the file it points to is replaced and the link kept."""
    pieces = [data] if isinstance(data, bytes) else data
    if is_special(path):
        with open(path, "wb") as handle:  # OSError (a full disk: /dev/full) as raised
            for piece in pieces:
                handle.write(piece)
            handle.flush()
        return
    target = os.path.realpath(path) if os.path.islink(path) else os.fspath(path)
    check_target(target)
    folder = os.path.dirname(target) or "."
    try:
        import tempfile  # here: start-up stays light

        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise StepPropError(f"{path}: cannot write here: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        if os.path.exists(target):
            os.chmod(tmp, os.stat(target).st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
