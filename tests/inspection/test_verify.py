"""`prep verify` proves a dataset whole, and names each way it can be broken."""

from __future__ import annotations

import json

import pytest

from prep.records import tfrecord_io


def _truncate(d):
    shard = d / "train-00001-of-00002.tfrecord"
    shard.write_bytes(shard.read_bytes()[:-7])
    return "train-00001-of-00002.tfrecord", "truncated"


def _flip(d):
    shard = d / "test-00000-of-00002.tfrecord"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x40
    shard.write_bytes(bytes(data))
    return "test-00000-of-00002.tfrecord", "CRC"


def _missing(d):
    (d / "test-00001-of-00002.tfrecord").unlink()
    return "test-00001-of-00002.tfrecord", "missing"


def _extra(d):
    (d / "train-00000-of-00003.tfrecord").write_bytes((d / "train-00000-of-00002.tfrecord").read_bytes())
    return "train-00000-of-00003.tfrecord", "extra shard"


def _count(d):
    schema = json.loads((d / "schema.json").read_text())
    shard = schema["splits"][0]["shards"][0]
    shard["num_records"] += 1
    schema["splits"][0]["num_records"] += 1
    (d / "schema.json").write_text(json.dumps(schema))
    return shard["file"], "schema.json says"


def _unparseable(d):
    shard = d / "train-00000-of-00002.tfrecord"
    records = list(tfrecord_io.read_records(str(shard), "none"))
    tfrecord_io.write_records(str(shard), records[:-1] + [b"\x0a\x03not an example"], "none")
    return "train-00000-of-00002.tfrecord", f"record {len(records) - 1} does not parse"


def _vocabulary(d):
    (d / "vocab" / "labels.txt").write_text("cat\n")
    return "vocab/labels.txt", "schema.json says 2"


def _index_changed(d):
    index = d / "index" / "train-00001-of-00002.tfrecord.idx"
    lines = index.read_text().splitlines()
    offset, size = map(int, lines[-1].split())
    index.write_text("\n".join(lines[:-1] + [f"{offset + 1} {size}"]) + "\n")
    return "train-00001-of-00002.tfrecord", f"does not match it from record {len(lines) - 1} on"


def _index_missing(d):
    (d / "index" / "test-00000-of-00002.tfrecord.idx").unlink()
    return "test-00000-of-00002.tfrecord", "record index index/test-00000-of-00002.tfrecord.idx is missing"


def test_a_sound_dataset_verifies(dataset_copy, prep_cli):
    result = prep_cli("verify", dataset_copy)
    assert result.exit_code == 0, result.out + result.err
    assert "verified 12 records in 4 shards" in result.out
    assert result.out.count("ok   ") == 5  # 4 shards and the labels file


@pytest.mark.parametrize("damage", [_truncate, _flip, _missing, _extra, _count, _unparseable, _vocabulary,
                                    _index_changed, _index_missing])
def test_each_kind_of_damage_is_named(dataset_copy, prep_cli, damage):
    file, words = damage(dataset_copy)
    result = prep_cli("verify", dataset_copy)
    assert result.exit_code == 1
    bad = [line for line in result.out.splitlines() if line.startswith("BAD")]
    assert len(bad) == 1 and file in bad[0] and words in bad[0], result.out
    assert file in result.err


def test_an_unfinished_run_is_refused(dataset_copy, prep_cli):
    (dataset_copy / "schema.json").unlink()
    result = prep_cli("verify", dataset_copy)
    assert result.exit_code == 2
    assert "did not finish" in result.err and len(result.err.strip().splitlines()) == 1


def test_a_shard_given_for_the_dataset_names_the_directory_to_give(dataset_copy, prep_cli):
    shard = dataset_copy / "train-00000-of-00002.tfrecord"
    result = prep_cli("verify", shard)
    assert result.exit_code == 2 and len(result.err.strip().splitlines()) == 1, result.err
    assert (f"{shard} is a file, not a dataset directory: give the folder that holds schema.json, "
            f"here {dataset_copy}") in result.err
    assert "did not finish" not in result.err
    (dataset_copy / "schema.json").unlink()
    result = prep_cli("verify", shard)
    assert result.exit_code == 2 and f"({dataset_copy} has none either)" in result.err


def _without_indexes(d, *, counts: bool = False) -> dict:
    """Takes the record indexes out of a dataset (as written before prep wrote them; with `counts`, the
    record counts too, as a schema inferred from foreign files may have them); returns the schema it had."""
    import shutil

    before = json.loads((d / "schema.json").read_text())
    schema = json.loads((d / "schema.json").read_text())
    for split in schema["splits"]:
        for shard in split["shards"]:
            del shard["index"]
            if counts:
                shard["num_records"] = None
        if counts:
            split["num_records"] = None
    (d / "schema.json").write_text(json.dumps(schema))
    shutil.rmtree(d / "index")
    return before


@pytest.mark.parametrize("counts", [False, True], ids=["indexes", "indexes-and-counts"])
def test_write_indexes_gives_a_dataset_the_indexes_prep_writes(dataset_copy, prep_cli, counts):
    originals = {p.name: p.read_bytes() for p in (dataset_copy / "index").iterdir()}
    before = _without_indexes(dataset_copy, counts=counts)
    result = prep_cli("verify", dataset_copy, "--write-indexes")
    assert result.exit_code == 0, result.out + result.err
    assert "wrote 4 record indexes, listed in schema.json" in result.out
    assert {p.name: p.read_bytes() for p in (dataset_copy / "index").iterdir()} == originals
    assert json.loads((dataset_copy / "schema.json").read_text()) == before  # counts filled in from the shards
    again = prep_cli("verify", dataset_copy, "--write-indexes")
    assert again.exit_code == 0 and "has its record index already" in again.out


def test_write_indexes_lists_none_while_a_file_is_bad(dataset_copy, prep_cli):
    _without_indexes(dataset_copy)
    _flip(dataset_copy)
    result = prep_cli("verify", dataset_copy, "--write-indexes")
    assert result.exit_code == 1 and "no record index was listed in schema.json" in result.err
    assert all("index" not in shard for split in json.loads((dataset_copy / "schema.json").read_text())["splits"]
               for shard in split["shards"])
