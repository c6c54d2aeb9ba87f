"""TextVectorization's whitespace tokens and their ids for a batch of documents at once, in numpy.

The per-document path (prep.text.tokenizer, then a dict look-up per token) makes a Python bytes
object for every token and hashes it: about 200 ns a token. Here a batch's documents, standardised
with one `bytes.translate` each, are joined into one buffer, and everything after that is whole-array
work, with no Python object per token:

- Tokens are the runs of bytes between the 6 ASCII whitespace bytes `bytes.split()` splits on
  (TextVectorization's split="whitespace"; documents are joined by a space, so no token spans two).
- Each token of at most 16 bytes is its length and its bytes read as two little-endian 64-bit words
  (unaligned reads of the buffer, the bytes past its end masked off): three numbers that are the token,
  exactly. They are looked up in an open-addressing table of the vocabulary's tokens keyed the same
  way, probed a round at a time for all tokens still unresolved. A longer token (rare in words; six
  CJK characters make 18 bytes) is looked up in a dict, one by one.
- The ids become their protobuf varints (the packed `text/token_ids` bytes) in one pass; each
  document's are a slice of the batch's.
- What copies share (prep.text.duplicates: the tokens joined by a space) is the buffer with each run
  of whitespace made one space, sliced from a document's first token to the end of its last.

tests/text/test_batch_ids.py checks every output against the per-document path on arbitrary bytes;
that path is checked against TextVectorization itself (tests/text/test_standardize.py and others).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from prep.text.standardize import translation

WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.split() splits on, and TextVectorization's whitespace split
_PADDING = 16  # bytes after the buffer, so that reading 16 bytes at any token's start stays inside it
_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)  # the low n bytes
_SHORT = 16  # tokens up to this many bytes are keyed by their words; longer ones through a dict
_M1, _M2, _M3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9)


def token_runs(inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of True in `inside` (a byte inside a token) starts and ends (one past it)."""
    flags = np.zeros(len(inside) + 2, dtype=np.bool_)
    flags[1:-1] = inside
    edges = np.flatnonzero(flags[1:] != flags[:-1])
    return edges[0::2], edges[1::2]


def _keys(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two little-endian words of each token's first 16 bytes (zeros past its end) in `data`,
    which has _PADDING bytes after its last token."""
    words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))  # a word at every byte
    low = words[starts] & _MASKS[np.minimum(lengths, 8)]
    high = np.zeros(len(starts), dtype=np.uint64)
    longer = np.flatnonzero(lengths > 8)
    if len(longer):
        high[longer] = words[starts[longer] + 8] & _MASKS[np.minimum(lengths[longer] - 8, 8)]
    return low, high


def _slots(low: np.ndarray, high: np.ndarray, lengths: np.ndarray, bits: int) -> np.ndarray:
    h = low * _M1 ^ high * _M2 ^ lengths.astype(np.uint64) * _M3
    return (h >> np.uint64(64 - bits)).astype(np.int64)


class EncodedBatch(NamedTuple):
    """A batch's documents, tokenised and looked up: document i's packed ids start at
    `packed[id_bytes[i]]`, `kept_bytes[i]` bytes of them once cut at max_length; its token count is
    `tokens[i]`, its out-of-vocabulary ids `oov[i]`, what copies of it share
    `normalized[spans[i, 0]:spans[i, 1]]`; `used` is the distinct ids of all its tokens."""

    packed: bytes
    id_bytes: np.ndarray
    kept_bytes: np.ndarray
    tokens: np.ndarray
    oov: np.ndarray
    normalized: bytes
    spans: np.ndarray
    used: np.ndarray
    ids: np.ndarray  # every token's id, document after document
    first_token: np.ndarray  # document i's tokens are ids[first_token[i]:first_token[i + 1]]


class BatchIds:
    """A vocabulary (`ids`: token -> id; any other token is `oov_id`) and a standardisation, for
    tokenising whole batches (`encode`)."""

    def __init__(self, ids: dict[bytes, int], oov_id: int, standardize: str | None):
        table, self.delete = translation(standardize)
        self.table = bytes(0x20 if b in WHITESPACE else table[b] for b in range(256))  # and whitespace to spaces
        self.oov_id = oov_id
        short = {t: i for t, i in ids.items() if 0 < len(t) <= _SHORT and not any(b in WHITESPACE for b in t)}
        self.long = {t: i for t, i in ids.items() if len(t) > _SHORT}
        self.bits = max(8, (4 * max(1, len(short))).bit_length())  # at most a quarter full
        size = 1 << self.bits
        self.slot_id = np.full(size, -1, dtype=np.int64)
        self.slot_low = np.zeros(size, dtype=np.uint64)
        self.slot_high = np.zeros(size, dtype=np.uint64)
        self.slot_len = np.zeros(size, dtype=np.int64)
        if short:
            tokens = list(short)
            data = np.frombuffer(b" ".join(tokens) + bytes(_PADDING), dtype=np.uint8)
            lengths = np.array([len(t) for t in tokens], dtype=np.int64)
            starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
            low, high = _keys(data, starts, lengths)
            slots = _slots(low, high, lengths, self.bits)
            for k, token in enumerate(tokens):  # once per vocabulary: linear probing
                slot = int(slots[k])
                while self.slot_id[slot] >= 0:
                    slot = (slot + 1) & (size - 1)
                self.slot_id[slot], self.slot_low[slot], self.slot_high[slot], self.slot_len[slot] = (
                    short[token], low[k], high[k], lengths[k])
        self.max_id = max([oov_id, *ids.values()])

    def _lookup(self, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        short = np.flatnonzero(lengths <= _SHORT) if self.long or lengths.max(initial=0) > _SHORT else None
        if short is None:  # every token has at most 16 bytes: no indirection
            ids = self._probe(*_keys(data, starts, lengths), lengths)
        else:
            ids = np.full(len(starts), self.oov_id, dtype=np.int64)
            ids[short] = self._probe(*_keys(data, starts[short], lengths[short]), lengths[short])
            raw = data.tobytes()
            for k in np.flatnonzero(lengths > _SHORT).tolist():
                s = int(starts[k])
                ids[k] = self.long.get(raw[s:s + int(lengths[k])], self.oov_id)
        return ids

    def _probe(self, low: np.ndarray, high: np.ndarray, length: np.ndarray) -> np.ndarray:
        """The ids of tokens keyed (low, high, length), all at most 16 bytes long."""
        slot = _slots(low, high, length, self.bits)
        found = self.slot_id[slot]
        hit = (self.slot_low[slot] == low) & (self.slot_high[slot] == high) & (self.slot_len[slot] == length)
        ids = np.where(hit, found, self.oov_id)
        pending = np.flatnonzero(~hit & (found >= 0))  # a slot another token holds: probe the next ones
        mask = (1 << self.bits) - 1
        while len(pending):
            slot_p = (slot[pending] + 1) & mask
            slot[pending] = slot_p
            found = self.slot_id[slot_p]
            hit = (found >= 0) & (self.slot_low[slot_p] == low[pending]) & (self.slot_high[slot_p] == high[pending]) & (
                self.slot_len[slot_p] == length[pending])
            ids[pending[hit]] = found[hit]
            pending = pending[(found >= 0) & ~hit]
        return ids

    def encode(self, texts: list[bytes], max_length: int | None = None) -> EncodedBatch:
        """The batch of documents `texts` (UTF-8), tokenised and looked up."""
        table, delete = self.table, self.delete
        standardised = [text.translate(table, delete) for text in texts]
        sizes = np.fromiter(map(len, standardised), dtype=np.int64, count=len(standardised))
        doc_starts = np.concatenate(([0], np.cumsum(sizes + 1)))  # document i starts at doc_starts[i]; a space after each
        data = np.frombuffer(b" ".join(standardised) + b" " * (1 + _PADDING), dtype=np.uint8)
        space = data == 0x20  # the translation made every whitespace byte a space
        starts, ends = token_runs(~space)
        lengths = ends - starts
        ids = self._lookup(data, starts, lengths)
        first_token = np.searchsorted(starts, doc_starts)  # document i's tokens: first_token[i] to first_token[i + 1]
        counts = np.diff(first_token)
        is_oov = (ids == self.oov_id).astype(np.int64)
        oov_cum = np.concatenate(([0], np.cumsum(is_oov)))
        oov = oov_cum[first_token[1:]] - oov_cum[first_token[:-1]]
        packed, byte_at = _varints(ids)
        id_bytes = byte_at[first_token]
        cut = first_token[1:] if max_length is None else np.minimum(first_token[:-1] + max_length, first_token[1:])
        kept_bytes = byte_at[cut] - id_bytes[:-1]
        normalized, spans = _normalized(data, space, lengths, first_token)
        used = np.flatnonzero(np.bincount(ids, minlength=self.max_id + 1)) if len(ids) else np.zeros(0, np.int64)
        return EncodedBatch(packed, id_bytes, kept_bytes, counts, oov, normalized, spans, used, ids, first_token)


def _varints(ids: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The protobuf varints of non-negative `ids`, back to back, and where each starts (one more: the end)."""
    width = max(1, -(-int(ids.max()).bit_length() // 7)) if len(ids) else 1  # bytes of the longest
    sizes = np.ones(len(ids), dtype=np.int64)
    for k in range(1, width):
        sizes += ids >= (1 << (7 * k))
    rows = np.empty((len(ids), width), dtype=np.uint8)  # every varint's bytes, then those it has are kept
    for k in range(width):
        rows[:, k] = ((ids >> (7 * k)) & 0x7F) | ((sizes > k + 1) << 7)
    out = rows[np.arange(width) < sizes[:, None]] if width > 1 else rows[:, 0]
    return out.tobytes(), np.concatenate(([0], np.cumsum(sizes)))


def _normalized(data: np.ndarray, space: np.ndarray, lengths: np.ndarray, first_token: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The buffer (its whitespace all spaces) with each run of whitespace made one space, and each
    document's span in it: from its first token's start to its last token's end (empty: no token).
    Between two tokens there is exactly one run, so token j starts after the bytes of the tokens
    before it and j runs (one more if the buffer starts with one)."""
    keep = ~space
    keep[0] = True
    keep[1:] |= ~space[:-1]  # a run of whitespace keeps its first byte
    at = np.concatenate(([0], np.cumsum(lengths))) + np.arange(len(lengths) + 1) + int(space[0])
    first, end = first_token[:-1], first_token[1:]
    spans = np.stack((at[first], at[end] - 1), axis=1)
    spans[end == first] = 0
    return data[keep].tobytes(), spans
