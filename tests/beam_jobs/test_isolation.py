"""No single input stops a job: an unforeseen exception on one image becomes a `conversion_error` line in
rejected.jsonl and the run commits. A failure that is not about one input (the disk fills up) still fails
the job: one line on the terminal that names the stage and a log file with the whole output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_image


@pytest.fixture
def folder(tmp_path) -> Path:
    src = tmp_path / "src"
    for i in range(6):
        write_image(src / ("cat" if i % 2 else "dog") / f"{i}.png", fmt="PNG", size=(20 + i, 16), color=(40 * i, 0, 0))
    return src


def test_an_unexpected_exception_on_one_input_is_a_conversion_error_and_the_job_commits(
        folder, tmp_path, prep_cli, monkeypatch):
    import beam_jobs.images

    real = beam_jobs.images.normalise_image

    def fails_on_one(data, options, **kwargs):
        if data == (folder / "cat" / "3.png").read_bytes():
            raise KeyError("a bug nobody foresaw")
        return real(data, options, **kwargs)

    monkeypatch.setattr(beam_jobs.images, "normalise_image", fails_on_one)
    out = tmp_path / "out"
    result = prep_cli("images", folder, out, "--workers", "1")

    assert result.exit_code == 0, result.err
    assert (out / "schema.json").exists()
    rows = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(r["path"], r["reason"]) for r in rows] == [("cat/3.png", "conversion_error")]
    assert rows[0]["detail"].startswith("KeyError: 'a bug nobody foresaw' (at test_isolation.py:")
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["inputs"], stats["records"], stats["rejected"]) == (6, 5, 1)
    assert "conversion_error 1: unexpected failures, maybe bugs in prep" in result.out


def test_foreseen_rejections_print_no_conversion_error_line(folder, tmp_path, prep_cli):
    (folder / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result = prep_cli("images", folder, tmp_path / "out", "--workers", "1")
    assert result.exit_code == 0, result.err
    assert "rejected 1 of 7 inputs (truncated 1)" in result.out
    assert "conversion_error" not in result.out


def _mount_small_tmpfs(path: Path) -> None:
    path.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) to make a filesystem that fills up")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


def test_a_job_that_fills_the_disk_fails_in_a_few_lines_naming_its_log(tmp_path):
    src = tmp_path / "src"
    for i in range(40):
        write_image(src / "a" / f"{i}.png", fmt="PNG", size=(64, 64), color=(i, 0, 0))
    small = tmp_path / "small"
    _mount_small_tmpfs(small)
    try:
        done = subprocess.run([sys.executable, "-m", "prep.cli.main", "images", str(src), str(small / "out"),
                               "--workers", "1", "--format", "png"], capture_output=True, text=True, timeout=300)
        listed = sorted(p.name for p in (small / "out").iterdir()) if (small / "out").exists() else []
    finally:
        subprocess.run(["umount", str(small)], check=False)

    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1
    assert len(lines) <= 3, done.stderr
    assert "Traceback" not in done.stderr
    failure = lines[-1]
    assert failure.startswith("prep images: the job failed: in ConvertImageFolder/")
    assert "No space left on device" in failure
    log = Path(failure.rsplit("(full output: ", 1)[1].rstrip(")"))
    assert log.is_file() and "No space left on device" in log.read_text()
    assert "schema.json" not in listed
    log.unlink()


def test_a_successful_run_leaves_no_log_and_prints_only_its_progress_and_the_summary(folder, tmp_path):
    logs = tmp_path / "tmp"  # the run's own temp folder: other jobs running meanwhile keep their logs elsewhere
    logs.mkdir()
    done = subprocess.run([sys.executable, "-m", "prep.cli.main", "images", str(folder), str(tmp_path / "out"),
                           "--workers", "1"], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TMPDIR=str(logs)))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [f"prep images: {folder} -> {tmp_path / 'out'} (1 local worker)"]
    progress, summary = done.stdout.split("wrote 6 records")
    assert all(line.startswith("  ") for line in progress.splitlines())  # prep.jobs.display's plain lines
    assert summary.startswith(" (train 6) to ")
    assert not list(logs.glob("prep-images-*.log"))


def _corpus(tmp_path) -> Path:
    corpus = tmp_path / "corpus.jsonl"
    rows = [{"text": f"the cat sat on mat number {i}", "label": "a" if i % 2 else "b"} for i in range(8)]
    rows[5]["text"] = "a boom in the text"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return corpus


def test_an_unexpected_exception_on_one_document_is_a_conversion_error(tmp_path, prep_cli, monkeypatch):
    from prep.text import encoder

    real = encoder.DocumentEncoder.add

    def fails_on_one(self, row):
        if b"boom" in row.text:
            raise IndexError("a bug nobody foresaw")
        return real(self, row)

    monkeypatch.setattr(encoder.DocumentEncoder, "add", fails_on_one)
    out = tmp_path / "out"
    result = prep_cli("text", _corpus(tmp_path), out, "--label-field", "label", "--workers", "1")
    assert result.exit_code == 0, result.err
    rows = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(r["path"], r["line"], r["reason"]) for r in rows] == [("corpus.jsonl", 6, "conversion_error")]
    assert rows[0]["detail"].startswith("IndexError: a bug nobody foresaw (at test_isolation.py:")
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["inputs"], stats["records"], stats["rejected"]) == (8, 7, 1)


def _opening_fails(monkeypatch, suffix: str, error: Exception) -> None:
    """prep.text.inputs opens every file as before, but raises `error` for the one ending in `suffix`."""
    from prep.text import inputs

    real = inputs.open_input

    def fails_on_one(path):
        if path.endswith(suffix):
            raise error
        return real(path)

    monkeypatch.setattr(inputs, "open_input", fails_on_one)


def test_an_unexpected_exception_reading_one_document_file_is_a_conversion_error(tmp_path, prep_cli, monkeypatch):
    src = tmp_path / "src"
    for i in range(4):
        (src / ("pos" if i % 2 else "neg")).mkdir(parents=True, exist_ok=True)
        (src / ("pos" if i % 2 else "neg") / f"{i}.txt").write_text(f"review number {i}")
    _opening_fails(monkeypatch, "2.txt", UnicodeError("a decoder bug"))
    out = tmp_path / "out"
    result = prep_cli("text", src, out, "--workers", "1")
    assert result.exit_code == 0, result.err
    rows = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(r["path"], r["reason"]) for r in rows] == [("neg/2.txt", "conversion_error")]
    assert json.loads((out / "stats.json").read_text())["records"] == 3


def test_an_unexpected_exception_reading_a_rows_file_is_a_conversion_error(tmp_path, prep_cli, monkeypatch):
    (tmp_path / "corpus").mkdir()
    good = tmp_path / "corpus" / "a.jsonl"
    good.write_text('{"text": "one two"}\n{"text": "three"}\n')
    (tmp_path / "corpus" / "b.jsonl").write_text('{"text": "four"}\n')
    _opening_fails(monkeypatch, "b.jsonl", LookupError("a reader bug"))
    out = tmp_path / "out"
    result = prep_cli("text", str(tmp_path / "corpus" / "*.jsonl"), out, "--workers", "1")
    assert result.exit_code == 0, result.err
    rows = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(r["path"], r["reason"]) for r in rows] == [("b.jsonl", "conversion_error")]
    assert rows[0]["detail"].startswith("LookupError: a reader bug (at test_isolation.py:")
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["inputs"], stats["records"], stats["rejected"]) == (3, 2, 1)


def test_a_fingerprint_that_fails_leaves_its_image_uncompared_not_the_job_stopped(folder, tmp_path, prep_cli, monkeypatch):
    """Fingerprints are taken many images at once; one whose hashing fails (an unforeseen bug) is hashed
    alone and goes without a fingerprint (never compared for near copies); the others keep theirs."""
    import beam_jobs.images

    real = beam_jobs.images.fingerprints
    hashed = []

    def fails_with_one(images):
        if any(image is not None and image.width == 23 for image in images):  # cat/3.png: 23x16
            raise ValueError("a bug nobody foresaw")
        found = real(images)
        hashed.extend(value for value, _ in found if value)
        return found

    monkeypatch.setattr(beam_jobs.images, "fingerprints", fails_with_one)
    out = tmp_path / "out"
    result = prep_cli("images", folder, out, "--workers", "1")
    assert result.exit_code == 0, result.err
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["records"], stats["rejected"]) == (6, 0)
    assert len(hashed) == 5, "the five others hashed alone, the failing one left without a fingerprint"
