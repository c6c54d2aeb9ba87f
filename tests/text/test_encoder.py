"""prep.text.encoder against the per-record encoders it replaces in the job: the same record bytes
(`text_example`, itself checked against TensorFlow), the same summary (`add_text_fact`), the same
copies and shard hashes, over many random cases."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prep.core import duplicates, sharding
from prep.core.splits import SplitFractions
from prep.core.statistics import Summary
from prep.text.dataset import add_text_fact, record_fact
from prep.text.duplicates import document_copy
from prep.text.encoder import DocumentEncoder, RecordEncoder, RecordTally, TokenPieces, varint
from prep.text.inputs import Row, TextInputs
from prep.text.options import TextJobOptions
from prep.text.records import text_example
from prep.text.tokenizer import Tokenizer
from prep.text.vocabulary import OOV_ID, TokenVocabulary
from schemas import TextSettings

LABELS = ("neg", "pos", "ünï", "x" * 200)

sources = st.one_of(st.sampled_from(["a.jsonl", "dir/b.txt", "é/ß.csv"]), st.text(max_size=300),
                    st.just("bad\udcffname"))
lines = st.one_of(st.integers(0, 200), st.integers(0, 2**62))
texts = st.one_of(st.binary(max_size=300), st.binary(min_size=16_000, max_size=17_000),
                  st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
id_lists = st.lists(st.one_of(st.integers(0, 200), st.integers(0, 2**21), st.integers(0, 2**40)), max_size=300)


@settings(max_examples=500, deadline=None)
@given(sources, lines, texts, st.one_of(st.none(), st.sampled_from(LABELS)), id_lists, st.booleans())
def test_records_are_text_example_s_bytes(source, line, text, label, ids, raw_text):
    encoder = RecordEncoder(raw_text, LABELS if label is not None else None)
    row = Row(source, line, text, label)
    packed = b"".join(varint(i) for i in ids)
    assert encoder.record(source, line, text, label, packed) == text_example(
        row, ids, None if label is None else LABELS.index(label), raw_text)


def test_many_records_with_long_texts_and_many_ids():
    rng = random.Random(0)
    encoder = RecordEncoder(True, LABELS)
    for _ in range(300):
        text = rng.randbytes(rng.choice([0, 1, 127, 128, 16383, 16384, 70_000]))
        ids = [rng.randrange(2**rng.randrange(1, 30)) for _ in range(rng.choice([0, 1, 40, 5000, 20_000]))]
        label = rng.choice(LABELS)
        row = Row("f.jsonl", rng.randrange(10**6), text, label)
        assert encoder.record(row.source, row.line, text, label, b"".join(map(varint, ids))) == text_example(
            row, ids, LABELS.index(label), True)


def test_token_pieces_are_the_ids_varints():
    ids = {b"a": 2, b"b": 127, b"c": 128, b"d": 300_000}
    pieces = TokenPieces(ids)
    assert pieces.of([b"a", b"zz", b"c", b"d"]) == [varint(2), varint(OOV_ID), varint(128), varint(300_000)]
    assert {pieces.ids[p] for p in pieces.of([b"a", b"b", b"q"])} == {2, 127, OOV_ID}


def _without_id_counts(summary: Summary) -> dict:
    out = summary.to_dict()
    out["vocabulary_ids"] = sorted(out.get("vocabulary_ids", {}))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["train", "test"]), st.one_of(st.none(), st.sampled_from(LABELS)),
                          st.lists(st.integers(1, 40), max_size=30), st.one_of(st.none(), st.integers(0, 10))),
                max_size=60), st.integers(1, 3))
def test_a_tally_folds_to_add_text_fact_s_summary(records, folds):
    pieces = TokenPieces({bytes([i]): i for i in range(2, 41)})
    expected, got = Summary(), Summary()
    tally = RecordTally(pieces)
    for n, (split, label, ids, max_length) in enumerate(records):
        written = len(ids[:max_length]) if max_length is not None else len(ids)
        add_text_fact(expected, record_fact(split, label, ids, written, OOV_ID))
        tally.add(split, label, [varint(i) for i in ids], written)
        if n % folds == 0:
            tally.fold(got)
    tally.fold(got)
    assert _without_id_counts(got) == _without_id_counts(expected)


@pytest.mark.parametrize("documents", [0, 10**7, 10**9])
def test_exact_copy_buckets_are_sized_for_the_corpus(documents):
    """The encoder's buckets are duplicates.buckets' for that many documents: 8 bits up to a million."""
    options = TextJobOptions(inputs=TextInputs("src", "src", "src/*", "jsonl"), out="out")
    encoder = DocumentEncoder(options, TokenVocabulary((b"cat",)), None, documents=documents)
    for n in range(1, 30):
        assert encoder.add(Row("a.jsonl", n, f"the cat {n}".encode())) is None
    batch = encoder.take()
    for bucket, group in batch.copies.items():
        assert all(duplicates.buckets(c, near=False, count=documents)[0] == bucket for c in group)
    assert {bucket[2] for bucket in batch.copies} == {duplicates.key_bits(documents, duplicates.EXACT_PER_BUCKET, 8, 32)}


@pytest.mark.parametrize("settings_, fractions, dedupe", [
    (TextSettings(), None, False),
    (TextSettings(max_length=3), SplitFractions((("train", 0.5), ("test", 0.5))), True),
    (TextSettings(standardize=None, split="character", ngrams=2), None, False),
])
def test_documents_encode_as_the_per_record_path_did(settings_, fractions, dedupe):
    rng = random.Random(1)
    words = ["The", "cat", "sat,", "on", "THE", "mat.", "ÉCOLE", "école", "naïve", "x" * 20, "!!"]
    rows = [Row(rng.choice(["a.jsonl", "b/c.txt"]), n, " ".join(rng.choice(words) for _ in range(rng.randrange(0, 12))).encode(),
                rng.choice(["neg", "pos", "other"])) for n in range(1, 400)]
    vocabulary = TokenVocabulary((b"the", b"cat", b"sat", b"mat", b"\xc3\xa9cole", b"t", b"a"))
    ids = vocabulary.ids()
    options = TextJobOptions(inputs=TextInputs("src", "src", "src/*", "jsonl"), out="out", text=settings_,
                             split_fractions=fractions, dedupe=dedupe)
    encoder = DocumentEncoder(options, vocabulary, ("neg", "pos"), max_values=50)
    tokenizer = Tokenizer.from_settings(settings_)
    expected, got = Summary(), Summary()
    batches, rejected = [], []
    for row in rows:
        rejection = encoder.add(row)
        if rejection:
            rejected.append(rejection.line)
        if encoder.full:
            batches.append(encoder.take())
    batches.append(encoder.take())
    kept = [r for r in rows if r.label != "other"]
    assert rejected == [r.line for r in rows if r.label == "other"]
    columns = [c for b in batches for c in zip(*b.records[:5])]
    assert len(columns) == len(kept)
    for row, (split, identity, record, shard_hash, order_hash) in zip(kept, columns):
        assert split == (fractions.assign(row.identity) if fractions else "train") and identity == row.identity
        all_ids = [ids.get(t, OOV_ID) for t in tokenizer.tokens(row.text)]
        written = all_ids[:settings_.max_length] if settings_.max_length else all_ids
        assert record == text_example(row, written, ("neg", "pos").index(row.label), True)
        assert shard_hash % 7 == sharding.shard_index(identity, 7) and order_hash == sharding.order_key(identity)
        add_text_fact(expected, record_fact(split, row.label, all_ids, len(written), OOV_ID))
    copies = sorted(c for b in batches for bucket, group in b.copies.items() for c in group
                    if bucket == duplicates.buckets(c, near=False)[0])
    assert copies == sorted(document_copy(row, split, tokenizer) for row, (split, *_) in zip(kept, columns))
    for b in batches:
        if dedupe:
            assert b.summary is None
            for fact in b.records.facts:
                add_text_fact(got, fact)
        else:
            got.merge(b.summary)
    assert _without_id_counts(got) == _without_id_counts(expected)


def _encoder_and_rows(n: int = 30):
    options = TextJobOptions(inputs=TextInputs("src", "src", "src/*", "jsonl"), out="out")
    rows = [Row("a.jsonl", i, f"the cat {'boom' if i == 7 else 'sat'} {i}".encode()) for i in range(1, n + 1)]
    return DocumentEncoder(options, TokenVocabulary((b"the", b"cat", b"sat")), None), rows


def test_a_document_that_fails_in_its_batch_is_rejected_alone(monkeypatch):
    from prep.core.failures import CONVERSION_ERROR

    encoder, rows = _encoder_and_rows()
    real = RecordEncoder.record
    monkeypatch.setattr(RecordEncoder, "record", lambda self, source, line, text, *rest: (
        1 / 0 if b"boom" in text else real(self, source, line, text, *rest)))
    assert all(encoder.add(row) is None for row in rows)
    assert encoder.waiting == len(rows)  # tokenised together, when taken
    batch = encoder.take()
    assert batch.records.identities == [row.identity for row in rows if row.line != 7]
    assert [(r.line, r.reason) for r in encoder.failed] == [(7, CONVERSION_ERROR)]
    assert sum(batch.summary.counts["records"].values()) == len(rows) - 1


def test_a_batch_that_fails_as_a_whole_is_encoded_one_document_at_a_time(monkeypatch):
    from prep.text.batch_ids import BatchIds

    expected_encoder, rows = _encoder_and_rows()
    for row in rows:
        expected_encoder.add(row)
    expected = expected_encoder.take()
    encoder, _ = _encoder_and_rows()
    monkeypatch.setattr(BatchIds, "encode", lambda *_: [][0])
    for row in rows:
        encoder.add(row)
    batch = encoder.take()
    assert batch.records == expected.records and batch.copies == expected.copies and not encoder.failed
    assert batch.summary.counts == expected.summary.counts
