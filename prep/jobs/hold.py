"""The hold on OUT: one prep job at a time writes a dataset (or a vocabulary file) there.

A job takes the hold before it checks OUT (prep.jobs.outdir) and keeps it to its end, so a second job on
the same OUT fails at once, in one line naming the job that holds it, and check-then-write cannot race.
The hold is an flock(2) lock on OUT/.prep-lock, a file that says who holds it (pid, host, command, start
time) as JSON. The kernel releases the lock when the holding process ends, however it ends, so a job that
was killed never blocks a rerun: its file stays behind, and the next job takes it over. A holder deletes
the file when it is done, while it still holds the lock (a job that opened the file meanwhile sees that
the name no longer leads to what it locked, and tries again). The lock file is none of the dataset: OUT's
checks and --overwrite leave it alone, and nothing that reads a dataset lists it.

Only local paths are held: on gs:// there is no such lock, and the commit itself refuses to replace
what it did not expect (beam_jobs.commit, schemas.guarded_write).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import time
from typing import Iterator

from prep.core.preflight import is_local
from prep.jobs.outdir import LOCK_FILE, OutputExistsError


class OutputHeldError(OutputExistsError):
    """Another prep job holds OUT."""


@contextlib.contextmanager
def hold_output(out: str, command: str, *, create: bool = True) -> Iterator[None]:
    """Holds the dataset directory `out` (made if missing, unless `create` is False: then a missing
    `out` is not held) while the block runs; `command` says who holds it. Raises OutputHeldError when
    another job holds it."""
    if not is_local(out) or (not create and not os.path.isdir(out)):
        yield
        return
    with _held(os.path.join(out, LOCK_FILE), out, command):
        yield


@contextlib.contextmanager
def hold_file(path: str, command: str) -> Iterator[None]:
    """Holds the output file `path` (`prep vocab`'s OUT): the lock file sits beside it, hidden."""
    if not is_local(path):
        yield
        return
    folder, name = os.path.split(os.path.abspath(path))
    with _held(os.path.join(folder, f".{name}{LOCK_FILE}"), path, command):
        yield


@contextlib.contextmanager
def _held(lock: str, what: str, command: str) -> Iterator[None]:
    made = _missing_folders(os.path.dirname(lock))
    fd = _lock(lock, what)
    try:
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "started": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode("utf-8"), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(lock)  # still locked: see the module's docstring
        os.close(fd)
        for folder in made:  # a job that wrote nothing leaves no empty folders behind
            try:
                os.rmdir(folder)
            except OSError:
                break


def _missing_folders(folder: str) -> list[str]:
    """`folder` and those of its parents that do not exist, innermost first."""
    missing = []
    folder = os.path.abspath(folder)
    while not os.path.isdir(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    return missing


def _lock(lock: str, what: str) -> int:
    """An open descriptor of `lock`, locked; OutputHeldError if another process holds it."""
    import fcntl

    problem = "it keeps being deleted"
    for _ in range(100):  # a few tries at most: each one follows another job's release
        try:
            os.makedirs(os.path.dirname(lock), exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError as e:  # its folder was removed by a holder that wrote nothing: make it again
            problem = e.strerror
            continue
        except OSError as e:
            raise OutputExistsError(f"cannot write {lock} ({e.strerror}): choose an OUT this user can write") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise OutputHeldError(_held_message(what, lock, holder)) from None
        except OSError as e:
            os.close(fd)
            raise OutputExistsError(f"{what}: cannot lock {lock} ({e.strerror}): prep holds OUT with a file lock "
                                    "for the whole job, and this file system takes none; choose an OUT on a local disk") from None
        opened = os.fstat(fd)
        try:
            named = os.stat(lock)
        except FileNotFoundError:
            named = None
        if named is not None and (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino):
            return fd
        os.close(fd)  # its holder released and deleted it after we opened it: lock the name afresh
    raise OutputExistsError(f"cannot write {lock} ({problem}): choose an OUT this user can write")


def _holder(fd: int) -> dict | None:
    """Who holds the lock, as its file says (None: unreadable). A holder writes that right after it
    takes the lock, so an empty file is given a moment (at most ~1 s) to be written."""
    for _ in range(100):
        try:
            text = os.pread(fd, 65536, 0).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if text.endswith("\n"):
            break
        time.sleep(0.01)
    try:
        holder = json.loads(text)
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None


def _held_message(what: str, lock: str, holder: dict | None) -> str:
    if holder is None:
        return (f"{what} is held by another prep job that is starting ({lock} does not say who yet): "
                "wait for it to end, or choose another OUT")
    pid, host = holder.get("pid", "?"), holder.get("host", "?")
    return (f"{what} is held by another prep job: {holder.get('command', '?')} (pid {pid} on {host}, "
            f"started {holder.get('started', '?')}). The hold is live, since a killed job's hold ends with its "
            f"process (`ps -p {pid}` on {host} shows it running): wait for it to end or stop it, or choose another OUT")
