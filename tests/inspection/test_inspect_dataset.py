"""`prep inspect` shows what a dataset holds, from its schema, stats and a few records."""

from __future__ import annotations

import json
import re

import pytest


def test_inspect_shows_splits_classes_images_and_samples(made_dataset, prep_cli):
    result = prep_cli("inspect", made_dataset, "--samples", "2")
    assert result.exit_code == 0, result.err
    out = result.out
    assert "dataset 'out' (images)" in out
    assert "train" in out and "test" in out
    lines = out.splitlines()
    cat = next(line for line in lines if line.strip().startswith("0 cat"))
    dog = next(line for line in lines if line.strip().startswith("1 dog"))
    assert sum(map(int, cat.split()[2:])) == 8 and sum(map(int, dog.split()[2:])) == 4
    assert "width: min 20 px" in out and "max 31 px" in out
    assert "inputs: 12 = 12 records + 0 rejected" in out
    assert out.count("image/filename=") == 2


def test_inspect_refuses_a_directory_without_schema(tmp_path, prep_cli):
    result = prep_cli("inspect", tmp_path)
    assert result.exit_code == 2 and "no schema.json" in result.err


def test_the_class_table_s_heading_sits_over_its_columns(made_dataset, prep_cli):
    lines = prep_cli("inspect", made_dataset).out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("classes:"))
    header, row = lines[at], lines[at + 1]
    assert len(header) == len(row), (header, row)
    for name in header.split()[1:]:  # each split's name ends where its counts end
        end = header.index(name) + len(name)
        assert row[end - 1].isdigit() and (end == len(row) or row[end] == " "), (header, row)


def test_sizes_and_means_are_rounded_for_people(made_dataset, tmp_path, prep_cli):
    import shutil

    copy = shutil.copytree(made_dataset, tmp_path / "copy")
    stats = json.loads((copy / "stats.json").read_text())
    stats["images"]["bytes"].update(min=812, mean=186351.3125, max=1_234_567)
    stats["images"]["width"].update(mean=25.333)
    (copy / "stats.json").write_text(json.dumps(stats))
    out = prep_cli("inspect", copy).out
    assert "encoded size: min 812 B, mean 186.4 kB, max 1.2 MB" in out
    assert "width: min 20 px, mean 25.3 px, max 31 px" in out
    distributions = [line for line in out.splitlines() if ": min " in line]
    assert distributions and not any(re.search(r"\d\.\d\d", line) for line in distributions), distributions


@pytest.mark.parametrize("n, text", [(None, "?"), (0, "0 B"), (999, "999 B"), (999.6, "1.0 kB"), (1000, "1.0 kB"),
                                     (186_351.312, "186.4 kB"), (5_500_000, "5.5 MB"), (999_960, "1.0 MB"), (1.5e12, "1,500.0 GB")])
def test_byte_size(n, text):
    from prep.core.wording import byte_size

    assert byte_size(n) == text
