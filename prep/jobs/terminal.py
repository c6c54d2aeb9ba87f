"""What reaches the user's terminal while prep works: the few lines that matter, not the noise.

While a job runs, file descriptor 2 of the launching process goes to a log file, and so does every
local worker's (they inherit it): Beam's and the workers' logging and tracebacks, Pillow's warnings
on the files it reads, libtiff's C-level messages. What matters to the user is in rejected.jsonl and
the summary; a failed job is one line naming its log file. The progress display draws on stdout
meanwhile (prep.jobs.display). PREP_DEBUG=1 captures nothing.

TensorFlow prints C++ start-up lines when it is imported (absl's "All log messages before
absl::InitializeLog() ...", oneDNN's notice) whatever TF_CPP_MIN_LOG_LEVEL says; `quiet_tensorflow`
imports it with descriptor 2 sent to /dev/null.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

LOG_ENV = "PREP_JOB_LOG"  # set while a job's stderr goes to its log (workers inherit it)


def debugging() -> bool:
    return bool(os.environ.get("PREP_DEBUG"))


@contextlib.contextmanager
def stderr_to(path: str) -> Iterator[None]:
    """File descriptor 2 (C code's and Python's stderr) appended to `path` inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(target, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


def new_log(name: str) -> str:
    """A new, empty log file in the system temp folder for job `name` (OUT may be a bucket)."""
    handle, path = tempfile.mkstemp(prefix=f"prep-{name}-", suffix=".log")
    os.close(handle)
    return path


@contextlib.contextmanager
def job_output_to(path: str) -> Iterator[None]:
    """Inside the block, this process's and its workers' stderr go to the log `path` (see the module)."""
    if debugging():
        yield
        return
    with environment(LOG_ENV, path), stderr_to(path):
        yield


@contextlib.contextmanager
def environment(name: str, value: str) -> Iterator[None]:
    """The environment variable `name` set to `value` inside the block (local workers inherit it), as
    it was after."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def quiet_tensorflow():
    """`import tensorflow`, without its C++ start-up lines on the terminal; returns the module."""
    if "tensorflow" not in sys.modules and not debugging():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with stderr_to(os.devnull):
            import tensorflow  # noqa: F401
    import tensorflow as tf

    return tf
