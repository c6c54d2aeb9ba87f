"""`prep inspect` shows what a dataset holds, from its schema, stats and a few records."""

from __future__ import annotations


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
