"""Which tokens make the vocabulary, in which order: the rules of `TextVectorization.adapt`.

Keras 3 (`IndexLookup.finalize_state`), checked against TensorFlow 2.21 by the tests:

1. The padding token '' and the out-of-vocabulary token '[UNK]' are removed from the counts (a
   corpus token '[UNK]', possible with standardize=None, is never learned).
2. Tokens are sorted by count, highest first; ties by the token itself, *highest first*
   (`np.lexsort((tokens, counts))[::-1]` over the UTF-8 bytes, which is code point order).
3. With `max_tokens` set, the first `max_tokens - 2` tokens are kept: max_tokens counts the two
   reserved ids (0 padding, 1 '[UNK]'). Keras refuses max_tokens <= 1, and fails on 2 (no token).

prep adds two rules of its own:

- `min_count`: tokens counted fewer times are left out (Keras has no such option). Since the order
  puts rarer tokens last, this only ever shortens the list from its end.
- A vocabulary file holds one token per line and TensorFlow reads its lines by splitting on '\\n'
  and dropping a '\\r' before it, so a token holding '\\n' or '\\r' cannot be a line. Such tokens
  arise only with split="character" (the characters '\\n' and '\\r' themselves) or n-grams of
  characters. They are dropped *after* the other rules, so the file is adapt's vocabulary minus
  those tokens, in the same order; they map to '[UNK]', as they would with that file.

The file lists the learned tokens only: Keras adds '' and '[UNK]' itself, so line i is id i + 2.

For corpora whose counts do not fit one machine, `candidates` applies the rules to one bucket of
counts (a token's counts all meet in one bucket); `choose` merges the survivors of every bucket.
Keeping a bucket's first `max_tokens - 2` tokens is safe: no token beyond them can be in the top of
the whole corpus.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from prep.core.wording import all_rejected

PAD_TOKEN, OOV_TOKEN = "", "[UNK]"
RESERVED: tuple[tuple[int, str], ...] = ((0, PAD_TOKEN), (1, OOV_TOKEN))  # Keras' reserved ids
FIRST_ID = 2  # id of the vocabulary file's first line
OOV_ID = 1
_NOT_LEARNED = frozenset({PAD_TOKEN.encode(), OOV_TOKEN.encode()})
_LINE_BREAKS = (b"\n", b"\r")


class EmptyVocabularyError(ValueError):
    """No token survived the rules: there would be no vocabulary to write."""


@dataclass(frozen=True)
class VocabularyRules:
    """`max_tokens` as Keras means it (reserved ids included; None: no limit); `min_count` in occurrences."""

    max_tokens: int | None = None
    min_count: int = 1

    def __post_init__(self):
        if self.max_tokens is not None and self.max_tokens < FIRST_ID + 1:
            raise ValueError(f"max_tokens must be at least {FIRST_ID + 1} (it counts the {FIRST_ID} reserved ids "
                             f"'' and '[UNK]', as in Keras), not {self.max_tokens}")
        if self.min_count < 1:
            raise ValueError(f"min_count must be at least 1, not {self.min_count}")

    @property
    def max_learned(self) -> int | None:
        """How many tokens the file may hold at most."""
        return None if self.max_tokens is None else self.max_tokens - FIRST_ID


@dataclass
class CutCounts:
    """What the rules left out, in distinct tokens (for stats and the summary)."""

    distinct: int = 0  # distinct tokens counted (reserved tokens excluded)
    occurrences: int = 0  # token occurrences counted
    below_min_count: int = 0
    beyond_max_tokens: int = 0
    line_breaks: int = 0

    def merge(self, other: "CutCounts") -> "CutCounts":
        for name in ("distinct", "occurrences", "below_min_count", "beyond_max_tokens", "line_breaks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


@dataclass(frozen=True)
class TokenVocabulary:
    """The learned tokens in id order (line i = id i + 2), with their counts (None for a vocabulary
    read from a file), and what the rules cut."""

    tokens: tuple[bytes, ...]
    counts: tuple[int, ...] | None = None
    cut: CutCounts = field(default_factory=CutCounts)
    source: str | None = None  # the file it was read from, or None when learned in this run
    # Keras' layout: line i is id i + 2, and the reserved ids 0 and 1 are not lines. A WordPiece
    # vocab.txt is every id, its out-of-vocabulary token one of its lines (`wordpiece_lines`).
    first_id: int = FIRST_ID
    oov_id: int = OOV_ID
    # the files a KerasHub tokenizer is built from beyond the tokens (a SentencePiece model), by their
    # path in the dataset: copied into it, and what workers build the tokenizer from
    files: tuple[tuple[str, bytes], ...] = ()

    def ids(self) -> dict[bytes, int]:
        return {token: i + self.first_id for i, token in enumerate(self.tokens)}


def _order(item: tuple[bytes, int]) -> tuple[int, bytes]:
    token, count = item
    return count, token


def candidates(counts: Mapping[bytes, int], rules: VocabularyRules) -> tuple[list[tuple[bytes, int]], CutCounts]:
    """One bucket's (token, count) pairs that may make the vocabulary, in vocabulary order."""
    cut = CutCounts()
    kept = []
    for token, count in counts.items():
        if token in _NOT_LEARNED:
            continue
        cut.distinct += 1
        cut.occurrences += count
        if count < rules.min_count:
            cut.below_min_count += 1
        else:
            kept.append((token, count))
    kept.sort(key=_order, reverse=True)
    if rules.max_learned is not None and len(kept) > rules.max_learned:
        cut.beyond_max_tokens += len(kept) - rules.max_learned
        del kept[rules.max_learned:]
    return kept, cut


def require_documents(survey: dict) -> None:
    """EmptyVocabularyError saying why, when the survey (prep.text.corpus_survey's summary) found no
    document to learn a vocabulary from: every input was rejected, or there was none."""
    if not survey.get("inputs", {}).get("documents", 0):
        why = all_rejected(survey.get("inputs", {}).get("rows", 0), survey.get("rejected", {}))
        raise EmptyVocabularyError(f"no document to learn a vocabulary from: {why}")


def choose(buckets: Iterable[tuple[list[tuple[bytes, int]], CutCounts]], rules: VocabularyRules,
           empty_hint: str | None = None, survey: dict | None = None, *,
           empty_without_documents: bool = False) -> TokenVocabulary:
    """The vocabulary from every bucket's `candidates`; EmptyVocabularyError when no token is left
    (with `empty_hint` when not even one was counted). When the `survey` (prep.text.corpus_survey's
    summary) found no document at all, every input was rejected: an empty vocabulary with
    `empty_without_documents` (the dataset is then committed with its rejected.jsonl, and the command
    fails on its zero records), else EmptyVocabularyError saying so."""
    if survey is not None and not survey.get("inputs", {}).get("documents", 0):
        if empty_without_documents:
            return TokenVocabulary((), ())
        require_documents(survey)
    buckets = list(buckets)
    cut = CutCounts()
    for _, bucket_cut in buckets:
        cut.merge(bucket_cut)
    merged = list(heapq.merge(*(kept for kept, _ in buckets), key=_order, reverse=True))
    if rules.max_learned is not None and len(merged) > rules.max_learned:
        cut.beyond_max_tokens += len(merged) - rules.max_learned
        del merged[rules.max_learned:]
    lines = [(token, count) for token, count in merged if not any(b in token for b in _LINE_BREAKS)]
    cut.line_breaks = len(merged) - len(lines)
    if not lines and not cut.distinct and empty_hint:
        raise EmptyVocabularyError(f"no token was counted for the vocabulary: {empty_hint}")
    if not lines:
        raise EmptyVocabularyError(
            f"no token is left for the vocabulary ({cut.distinct:,} distinct tokens counted, "
            f"{cut.below_min_count:,} of them fewer than --min-count {rules.min_count} times): lower --min-count "
            "or check the text field and standardisation")
    return TokenVocabulary(tuple(t for t, _ in lines), tuple(c for _, c in lines), cut)


def learn(counts: Mapping[bytes, int], rules: VocabularyRules) -> TokenVocabulary:
    """The vocabulary of one set of counts (what `adapt` does in one process)."""
    return choose([candidates(counts, rules)], rules)


def from_lines(entries: Iterable[str], source: str) -> TokenVocabulary:
    """A vocabulary read from a file's lines (as `prep.core.vocab_files.read_vocabulary` returns them)."""
    return TokenVocabulary(tuple(e.encode("utf-8") for e in entries), None, CutCounts(), source)


def wordpiece_lines(entries: Iterable[str], source: str, oov_token: str) -> TokenVocabulary:
    """A WordPiece vocab.txt as `keras_hub.tokenizers.WordPieceTokenizer` reads it: line i is id i,
    each line without its trailing whitespace; ValueError when `oov_token` is not a line."""
    tokens = tuple(e.rstrip() for e in entries)
    nul = next((n for n, token in enumerate(tokens, 1) if "\0" in token), None)
    if nul is not None:
        raise ValueError(f"{source}: line {nul} holds a NUL character, which tensorflow-text's WordPiece cannot "
                         "build a tokenizer with")
    if oov_token not in tokens:
        raise ValueError(f"{source}: no line is {oov_token!r}, the out-of-vocabulary token WordPiece needs "
                         "(BERT's vocab.txt has [UNK]; --oov-token names another)")
    return TokenVocabulary(tuple(t.encode("utf-8") for t in tokens), None, CutCounts(), source, 0,
                           tokens.index(oov_token))


def tokens_file(vocabulary: TokenVocabulary) -> bytes:
    """The vocabulary file: one token per line, UTF-8, no reserved entries. Only a SentencePiece model's
    pieces can hold a line break (Gemma's has '\\n' pieces): its tokens file is for people and shows
    one as the two characters \\n (or \\r); the model file is what tokenises."""
    return b"".join(token.replace(b"\n", b"\\n").replace(b"\r", b"\\r") + b"\n" for token in vocabulary.tokens)


def counts_tsv(vocabulary: TokenVocabulary) -> bytes:
    """`<count>\\t<token>` lines in vocabulary order: line i is id i + 2 (the token may hold tabs)."""
    assert vocabulary.counts is not None
    return b"".join(b"%d\t%s\n" % (n, t) for t, n in zip(vocabulary.tokens, vocabulary.counts))
