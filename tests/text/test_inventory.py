"""prep.text.inventory: what a text dataset keeps of its records and input files for an update."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from prep.text import inventory
from prep.text.encoder import varint


@given(st.lists(st.integers(min_value=0, max_value=2**40)))
def test_varints_decodes_what_protobuf_packs(values):
    assert inventory.varints(b"".join(varint(v) for v in values)).tolist() == values


@given(st.lists(st.one_of(st.integers(min_value=0, max_value=2**21 + 5), st.sampled_from([0, 127, 128, 16_383, 16_384,
                                                                                          2**21 - 1, 2**21, 2**40]))))
def test_distinct_varints_are_the_distinct_values_decoded(values):
    data = b"".join(varint(v) for v in values)
    assert inventory.distinct_varints(data).tolist() == np.unique(inventory.varints(data)).tolist() == sorted(set(values))


@given(st.sets(st.integers(min_value=0, max_value=3_000_000)))
def test_an_ids_file_gives_back_its_ids(ids):
    ordered = np.array(sorted(ids), np.int64)
    assert inventory.ids_of(inventory.ids_bytes(ordered)).tolist() == ordered.tolist()


def test_used_ids_reads_the_packed_ids_at_the_end_of_each_record():
    from prep.text.encoder import RecordEncoder

    encoder = RecordEncoder(raw_text=True, labels=("a",))
    records, offsets = [], []
    for ids in ([5, 300, 5], [2], [], [70_000, 3]):
        packed = b"".join(varint(i) for i in ids)
        record = encoder.record("f.txt", 3, b"some text", "a", packed)
        records.append(record)
        offsets.append(len(record) - len(packed))
    assert inventory.used_ids(records, offsets).tolist() == [2, 3, 5, 300, 70_000]
    import tensorflow as tf

    parsed = [tf.train.Example.FromString(r).features.feature["text/token_ids"].int64_list.value for r in records]
    assert sorted({i for ids in parsed for i in ids}) == [2, 3, 5, 300, 70_000]


def _state(data: bytes, prefix: int | None = None):
    return inventory.input_state(io.BytesIO(data), "a.jsonl", prefix=prefix)


def test_a_file_that_only_grew_is_read_from_its_old_end():
    old, _ = _state(b"one\ntwo\n")
    new, head = _state(b"one\ntwo\nthree\n", prefix=old["size"])
    assert inventory.compare(old, new, head, can_append=True) == inventory.Change("appended", 8, 3)
    assert inventory.compare(old, new, head, can_append=False).kind == "changed"  # a CSV or a .gz file
    same, head = _state(b"one\ntwo\n", prefix=old["size"])
    assert inventory.compare(old, same, head, can_append=True).kind == "unchanged"


def test_a_file_changed_before_its_old_end_or_grown_from_an_unfinished_line_is_read_again_whole():
    old, _ = _state(b"one\ntwo\n")
    edited, head = _state(b"one\nTWO\nthree\n", prefix=old["size"])
    assert inventory.compare(old, edited, head, can_append=True).kind == "changed"
    unfinished, _ = _state(b"one\ntwo")  # its last line had no newline: appending changes that line
    grown, head = _state(b"one\ntwo more\n", prefix=unfinished["size"])
    assert head is None and inventory.compare(unfinished, grown, head, can_append=True).kind == "changed"
    empty, _ = _state(b"")  # an empty file was rejected whole: read again whole
    filled, head = _state(b"one\n", prefix=0)
    assert inventory.compare(empty, filled, head, can_append=True).kind == "changed"
    shorter, head = _state(b"one\n", prefix=old["size"])
    assert inventory.compare(old, shorter, head, can_append=True).kind == "changed"


def test_new_files_and_files_moved_to_another_folder_are_read_whole():
    from prep.core.layout import Location

    state, _ = _state(b"x\n")
    assert inventory.compare(None, state, None, can_append=True).kind == "new"
    before, _ = inventory.input_state(io.BytesIO(b"doc"), "news/1.txt", Location("train", "news", None))
    after, _ = inventory.input_state(io.BytesIO(b"doc"), "news/1.txt", Location("train", "sport", None))
    assert inventory.compare(before, after, None, can_append=False).kind == "changed"
