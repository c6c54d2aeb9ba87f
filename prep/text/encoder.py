"""Documents to text records in batches: the bytes `prep.text_records.text_example` makes, and the
stats facts `prep.text_dataset.add_text_fact` folds, with as little Python per document as possible.

- Token ids: each vocabulary token maps straight to the varint bytes of its id (`TokenPieces`), so a
  record's packed ids are one join of precomputed pieces: no int64 is packed byte by byte.
- Records (`RecordEncoder`): what many records share (the label and label name entries of each
  class, a file's name entry, the key fields) is encoded once; a record is one join of those with
  the headers of its own text, line and ids, whose lengths are worked out arithmetically.
- Facts (`RecordTally`): a batch's records are tallied in plain lists and counters and folded into a
  `Summary` once per batch, instead of six counter updates per document.

tests/test_text_encoder.py checks the bytes against `text_example` and the summary against
`add_text_fact` on many random cases.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from typing import Callable, Iterable, NamedTuple

import numpy as np

from prep.core.duplicates import EXACT_PER_BUCKET, Copy, content_digest, key_bits
from prep.core.failures import CONVERSION_ERROR, unforeseen
from prep.core.splits import DEFAULT_SPLIT
from prep.core.statistics import Distribution, Summary
from prep.text.batch_ids import BatchIds
from prep.text.dataset import record_fact
from prep.text.duplicates import document_copy
from prep.text.inputs import Rejection, Row
from prep.text.inventory import Lines
from prep.text.options import TextJobOptions
from prep.text.records import FILENAME_KEY, LABEL_KEY, LABEL_NAME_KEY, LINE_KEY, TEXT_KEY, TOKEN_IDS_KEY
from prep.text.tokenizer import Tokenizer, document_tokenizer
from prep.text.vocabulary import OOV_ID, TokenVocabulary

_SMALL = [bytes([n]) for n in range(0x80)]  # the one-byte varints
# documents tokenised together (prep.text.batch_ids): about 250,000 tokens, which numpy's arrays keep in cache
PENDING_BYTES, PENDING_DOCUMENTS = 1 << 20, 8192


def varint(n: int) -> bytes:
    """The protobuf varint of a non-negative integer."""
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _utf8(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")  # as prep.records.example_codec writes str values


def _key_field(key: str) -> bytes:
    data = _utf8(key)
    return b"\x0a" + varint(len(data)) + data


def _entry(key: str, feature: bytes) -> bytes:
    """A whole map entry of Features.feature: key field, then the Feature as field 2."""
    key_field = _key_field(key)
    value = b"\x12" + varint(len(feature)) + feature
    return b"\x0a" + varint(len(key_field) + len(value)) + key_field + value


def _string_feature(value: bytes) -> bytes:
    inner = b"\x0a" + varint(len(value)) + value
    return b"\x0a" + varint(len(inner)) + inner


def _int64_feature(packed: bytes) -> bytes:
    if not packed:
        return b"\x1a\x00"  # an empty Int64List
    inner = b"\x0a" + varint(len(packed)) + packed
    return b"\x1a" + varint(len(inner)) + inner


_TEXT_KEY = _key_field(TEXT_KEY)
_IDS_KEY = _key_field(TOKEN_IDS_KEY)
_LINE_KEY = _key_field(LINE_KEY)


class TokenPieces:
    """A vocabulary's tokens mapped to the varint bytes of their ids (`TokenVocabulary.ids`); any other
    token is the out-of-vocabulary id. `ids` turns pieces back into ids."""

    def __init__(self, ids: dict[bytes, int], oov_id: int = OOV_ID):
        self.oov_id, self.oov = oov_id, varint(oov_id)
        self.pieces = {token: varint(i) for token, i in ids.items()}
        self.ids = {piece: i for i, piece in ((i, varint(i)) for i in set(ids.values()) | {oov_id})}

    def of(self, tokens: list[bytes]) -> list[bytes]:
        get, oov = self.pieces.get, self.oov
        return [get(token, oov) for token in tokens]


def _nested_head(key_field: bytes, list_tag: bytes, n: int) -> bytes:
    """The bytes before an n-byte payload that is the one value of a feature's list: the entry
    header, its key, the Feature header, the list header (tag `list_tag`) and the value's header."""
    inner = 1 + len(varint(n)) + n
    feature = 1 + len(varint(inner)) + inner
    value = 1 + len(varint(feature)) + feature
    return b"".join((b"\x0a", varint(len(key_field) + value), key_field, b"\x12", varint(feature),
                     list_tag, varint(inner), b"\x0a", varint(n)))


_CACHED_LENGTHS = 1 << 16  # payload lengths whose heads are kept once made


class RecordEncoder:
    """The serialised `tf.train.Example` of a document, byte for byte `text_example`'s: features in
    key order label, label/name, text, text/filename, text/line, text/token_ids."""

    def __init__(self, raw_text: bool, labels: tuple[str, ...] | None):
        self.raw_text = raw_text
        self._labels = {} if labels is None else {
            name: _entry(LABEL_KEY, _int64_feature(varint(i))) + _entry(LABEL_NAME_KEY, _string_feature(_utf8(name)))
            for i, name in enumerate(labels)}
        self._files: dict[str, bytes] = {}
        self._text_heads: dict[int, bytes] = {}
        self._ids_heads: dict[int, bytes] = {0: _entry(TOKEN_IDS_KEY, b"\x1a\x00")}
        # the line entry before the line's varint, by the varint's length (an int64 fits in 10 bytes)
        self._line_heads = [b""] + [_nested_head(_LINE_KEY, b"\x1a", n) for n in range(1, 11)]

    def _file(self, source: str) -> bytes:
        entry = self._files.get(source)
        if entry is None:
            entry = self._files[source] = _entry(FILENAME_KEY, _string_feature(_utf8(source)))
        return entry

    def record(self, source: str, line: int, text: bytes, label: str | None, packed_ids: bytes) -> bytes:
        """`label` is the class name (None: unlabelled), one of `labels`; `packed_ids` the ids' varints."""
        label_entry = b"" if label is None else self._labels[label]
        if self.raw_text:
            n = len(text)
            text_head = self._text_heads.get(n)
            if text_head is None:
                text_head = _nested_head(_TEXT_KEY, b"\x0a", n)
                if n < _CACHED_LENGTHS:
                    self._text_heads[n] = text_head
        else:
            text, text_head = b"", b""
        file_entry = self._files.get(source) or self._file(source)
        line_bytes = _SMALL[line] if line < 0x80 else varint(line)
        line_entry = self._line_heads[len(line_bytes)] + line_bytes
        n = len(packed_ids)
        ids_head = self._ids_heads.get(n)
        if ids_head is None:
            ids_head = _nested_head(_IDS_KEY, b"\x1a", n)
            if n < _CACHED_LENGTHS:
                self._ids_heads[n] = ids_head
        size = (len(label_entry) + len(text_head) + len(text) + len(file_entry) + len(line_entry) + len(ids_head)
                + n)
        header = b"\x0a" + (_SMALL[size] if size < 0x80 else varint(size))
        return b"".join((header, label_entry, text_head, text, file_entry, line_entry, ids_head, packed_ids))


def _distribution(values: Iterable[int]) -> Distribution:
    """What `Distribution.add` of each value gives, from their counts."""
    d = Distribution()
    for value, k in Counter(values).items():
        d.count += k
        d.total += value * k
        d.min = value if d.min is None else min(d.min, value)
        d.max = value if d.max is None else max(d.max, value)
        d.buckets[int(value).bit_length()] += k
    return d


class RecordTally:
    """The facts of a batch's records (`text_dataset.record_fact`), kept as lists until `fold`.

    `vocabulary_ids` gets every id the records used; its counts are not kept (stats.json only counts
    the ids), each id counts 1 per fold."""

    def __init__(self, pieces: TokenPieces | None):
        self.pieces = pieces
        self.splits: list[str] = []
        self.labels: list[str | None] = []
        self.tokens: list[int] = []
        self.oov: list[int] = []
        self.written: list[int] = []
        self.used: set[bytes] = set()
        self.used_ids: list = []  # arrays of ids used (prep.text.batch_ids), beside the pieces in `used`

    def __len__(self) -> int:
        return len(self.splits)

    def add(self, split: str, label: str | None, ids: list[bytes], written: int, oov: int | None = None) -> None:
        """One record: its split, class name, every id's piece (before --max-length), how many it kept
        (and how many are the out-of-vocabulary id, when the caller counted them)."""
        self.add_counts(split, label, len(ids), ids.count(self.pieces.oov) if oov is None else oov, written)
        self.used.update(ids)

    def add_counts(self, split: str, label: str | None, tokens: int, oov: int, written: int) -> None:
        """One record by its counts (a record an update keeps: its ids come to `fold` as `ids`)."""
        self.splits.append(split)
        self.labels.append(label)
        self.tokens.append(tokens)
        self.oov.append(oov)
        self.written.append(written)

    def fold(self, summary: Summary, ids: Iterable[int] = ()) -> None:
        """Adds the records to `summary` as `add_text_fact` of each would, and starts again empty;
        `ids`: ids the records added by `add_counts` use."""
        if not self.splits:
            return
        records: Counter = Counter()
        tokens: Counter = Counter()
        oov: Counter = Counter()
        truncated: Counter = Counter()
        classes: dict[str, Counter] = {}
        for split, label, n, o, w in zip(self.splits, self.labels, self.tokens, self.oov, self.written):
            records[split] += 1
            tokens[split] += n
            oov[split] += o
            if w < n:
                truncated[split] += 1
            if label is not None:
                classes.setdefault(split, Counter())[label] += 1
        counts = summary.counts
        for name, counter in (("records", records), ("tokens", tokens), ("oov_tokens", oov), ("truncated", truncated)):
            if counter:
                counts.setdefault(name, Counter()).update(counter)
        for split, counter in classes.items():
            counts.setdefault(f"classes/{split}", Counter()).update(counter)
        for name, values in (("tokens_per_document", self.tokens), ("ids_per_record", self.written)):
            summary.distributions.setdefault(name, Distribution()).merge(_distribution(values))
        of = self.pieces.ids if self.pieces is not None else {}
        used = counts.setdefault("vocabulary_ids", Counter())
        used.update({of[p]: 1 for p in self.used})
        used.update({int(i): 1 for i in ids})
        if self.used_ids:
            used.update(dict.fromkeys(np.unique(np.concatenate(self.used_ids)).tolist(), 1))
        self.__init__(self.pieces)


# The spilled or shuffled form of a batch's records: columns, not one tuple per record.
class RecordColumns(NamedTuple):
    """A batch's records: split, identity (`Row.identity`), serialised record, the two hashes of
    the identity that place it (`sharding.shard_index` before the modulo, `sharding.order_key`), its
    inventory line (prep.text.inventory.Lines) and where its packed token ids start in it; `facts`
    holds each record's `text_dataset.record_fact` when they must wait for --dedupe."""

    splits: list[str]
    identities: list[str]
    records: list[bytes]
    shard_hashes: list[int]
    order_hashes: list[int]
    inventory: list[bytes]
    ids_at: list[int]
    facts: list[tuple] | None = None

    def sizes(self) -> dict[str, int]:
        """Bytes of records by split (what --shard-size counts)."""
        sizes: Counter = Counter()
        for split, record in zip(self.splits, self.records):
            sizes[split] += len(record)
        return dict(sizes)

    def keep(self, indices: list[int]) -> "RecordColumns":
        return RecordColumns(*([column[i] for i in indices] for column in self[:7]),
                             None if self.facts is None else [self.facts[i] for i in indices])


class DocumentBatch(NamedTuple):
    """What a batch of documents becomes: its records, the copies for duplicate detection by bucket
    (`duplicates.buckets`), and the records' facts folded into a summary (None when they wait in
    `records.facts` for --dedupe)."""

    records: RecordColumns
    copies: dict[tuple, list[Copy]]
    summary: Summary | None


def _hash(salt: bytes) -> Callable[[bytes], int]:
    def stable(identity: bytes) -> int:  # prep.splits.stable_hash, on the identity's bytes
        return int.from_bytes(hashlib.sha256(salt + identity).digest()[:8], "big")
    return stable


_SHARD_HASH, _ORDER_HASH = _hash(b"shard\0"), _hash(b"order\0")


def placement(identity: str) -> tuple[int, int]:
    """The two hashes that place a record (RecordColumns.shard_hashes, .order_hashes), from its identity."""
    key = identity.encode("utf-8", "surrogateescape")
    return _SHARD_HASH(key), _ORDER_HASH(key)
_EXACT_BUCKETS = [("exact", byte, 8) for byte in range(256)]  # duplicates.buckets' keys of a document, made once


def exact_bucket(digest: bytes, bits: int) -> tuple:
    """The exact-copy bucket (duplicates.buckets) of a document's digest, with `bits` bits of key."""
    return _EXACT_BUCKETS[digest[0]] if bits == 8 else ("exact", int.from_bytes(digest[:4], "big") >> (32 - bits), bits)


class DocumentEncoder:
    """Rows -> `DocumentBatch`es: the per-document work of `prep text`'s encoding pass, in batches of
    at most `max_values` documents or `max_bytes` bytes of records."""

    def __init__(self, options: TextJobOptions, vocabulary: TokenVocabulary, labels: tuple[str, ...] | None,
                 max_values: int = 20_000, max_bytes: int = 64 * 2**20, documents: int = 0):
        self.options = options
        self.tokenizer = document_tokenizer(options.text, vocabulary)
        self._tokens = self.tokenizer.tokens_function()
        self.pieces = TokenPieces(vocabulary.ids(), vocabulary.oov_id)
        self.encoder = RecordEncoder(options.raw_text, labels)
        self.lines = Lines()
        self.labels = None if labels is None else frozenset(labels)
        self.max_values, self.max_bytes = max_values, max_bytes
        self._per_record_facts = options.dedupe
        self._summary = Summary()
        self.tally = RecordTally(self.pieces)
        # the exact-copy buckets, sized for the corpus' `documents` (prep.core.duplicates.key_bits)
        self._exact_bits = key_bits(documents, EXACT_PER_BUCKET, 8, 32)
        # TextVectorization's whitespace tokens: documents wait to be tokenised together (prep.text.batch_ids)
        whole = isinstance(self.tokenizer, Tokenizer) and self.tokenizer.splits_on_whitespace_only
        self._batch_ids = BatchIds(vocabulary.ids(), vocabulary.oov_id, options.text.standardize) if whole else None
        self._pending: list[tuple[Row, str]] = []
        self._pending_bytes = 0
        self.failed: list[Rejection] = []  # documents that failed once tokenised with their batch (see `add`)
        self._start()

    def _start(self) -> None:
        self._columns: RecordColumns = RecordColumns([], [], [], [], [], [], [], [] if self._per_record_facts else None)
        self._copies: dict[tuple, list[Copy]] = {}
        self._bytes = 0

    @property
    def full(self) -> bool:
        return len(self._columns.records) >= self.max_values or self._bytes >= self.max_bytes

    def add(self, row: Row) -> Rejection | None:
        """Encodes one document; a Rejection if its label is not one of the labels. With TextVectorization's
        whitespace tokens the document waits to be tokenised with others (up to PENDING_BYTES of
        text), and one that fails then is in `failed` (its caller takes them from there)."""
        if self.labels is not None and row.label not in self.labels:
            return Rejection(row.source, row.line, "label_not_in_labels", f"label {row.label!r} is not in the --labels list")
        o = self.options
        split = row.split or (o.split_fractions.assign(row.identity) if o.split_fractions else DEFAULT_SPLIT)
        if self._batch_ids is None:
            self._add_document(row, split)
            return None
        self._pending.append((row, split))
        self._pending_bytes += len(row.text)
        if self._pending_bytes >= PENDING_BYTES or len(self._pending) >= PENDING_DOCUMENTS:
            self._encode_pending()
        return None

    def _add_document(self, row: Row, split: str) -> None:
        """One document tokenised on its own (prep.text.tokenizer), and its record made."""
        tokens = self._tokens(row.text)
        ids = self.pieces.of(tokens)
        tokenizer, max_length = self.tokenizer, self.options.text.max_length
        copy = document_copy(row, split, tokenizer, tokens if tokenizer.ngrams in (None, 1) else None)
        kept = ids[:max_length] if max_length is not None else ids
        self._append(row, split, b"".join(kept), copy, len(ids), ids.count(self.pieces.oov), len(kept),
                     lambda: [self.pieces.ids[p] for p in ids])
        if self._columns.facts is None:
            self.tally.used.update(ids)

    def _encode_pending(self) -> None:
        """Tokenises the documents waiting (prep.text.batch_ids) and makes their records; one by one
        (`_add_document`) if the batch fails as a whole, so that only a failing document is lost."""
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        if not pending:
            return
        max_length = self.options.text.max_length
        try:
            encoded = self._batch_ids.encode([row.text for row, _ in pending], max_length)
        except Exception:  # noqa: BLE001 - each document again on its own, failing alone if it fails
            for row, split in pending:
                self._attempt(row, functools.partial(self._add_document, row, split))
            return
        packed, normalized = encoded.packed, encoded.normalized
        first_token, all_ids = encoded.first_token, encoded.ids

        def append(i: int, row: Row, split: str) -> None:
            at, n = int(encoded.id_bytes[i]), int(encoded.tokens[i])
            copy = Copy(row.source, split, content_digest(normalized[encoded.spans[i, 0]:encoded.spans[i, 1]]),
                        line=row.line)
            self._append(row, split, packed[at:at + int(encoded.kept_bytes[i])], copy, n, int(encoded.oov[i]),
                         min(n, max_length or 1 << 62), lambda: all_ids[first_token[i]:first_token[i + 1]].tolist())

        for i, (row, split) in enumerate(pending):
            self._attempt(row, functools.partial(append, i, row, split))
        if self._columns.facts is None:
            self.tally.used_ids.append(encoded.used)

    def _attempt(self, row: Row, make: Callable[[], None]) -> None:
        """`make()`, which makes `row`'s record; if it fails, the document goes to `failed`, alone."""
        try:
            make()
        except Exception as e:  # noqa: BLE001 - no single input may stop the job: prep.core.failures
            self.failed.append(Rejection(row.source, row.line, CONVERSION_ERROR, unforeseen(e)))

    def _append(self, row: Row, split: str, packed: bytes, copy: Copy, tokens: int, oov: int, written: int,
                ids: Callable[[], list[int]]) -> None:
        """One document's record, copy and facts; `ids()` gives its token ids (--dedupe's facts)."""
        identity = row.identity
        record = self.encoder.record(row.source, row.line, row.text, row.label, packed)
        key = identity.encode("utf-8", "surrogateescape")
        # everything that can fail comes before the first append, so a failing document leaves no trace
        at = len(record) - len(packed)
        line = self.lines.line(row.source, row.line, split, row.label, row.text, copy.digest, tokens, oov, written, at)
        facts = record_fact(split, row.label, ids(), written, self.pieces.oov_id) if self._columns.facts is not None else None
        c = self._columns
        c.splits.append(split)
        c.identities.append(identity)
        c.records.append(record)
        c.shard_hashes.append(_SHARD_HASH(key))
        c.order_hashes.append(_ORDER_HASH(key))
        c.inventory.append(line)
        c.ids_at.append(at)
        self._bytes += len(record)
        self._copies.setdefault(exact_bucket(copy.digest, self._exact_bits), []).append(copy)
        if c.facts is not None:
            c.facts.append(facts)
        else:
            self.tally.add_counts(split, row.label, tokens, oov, written)

    @property
    def waiting(self) -> int:
        """Documents added and not yet tokenised (they go into the next `take`)."""
        return len(self._pending)

    def take(self) -> DocumentBatch:
        """The documents added since the last `take` (those that failed: `failed`)."""
        self._encode_pending()
        summary = None
        if not self._per_record_facts:
            self.tally.fold(self._summary)
            summary, self._summary = self._summary, Summary()
        batch = DocumentBatch(self._columns, self._copies, summary)
        self._start()
        return batch
