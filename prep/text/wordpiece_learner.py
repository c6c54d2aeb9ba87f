"""A WordPiece vocabulary learned from word counts, as `keras_hub.tokenizers.compute_word_piece_vocabulary`
learns it.

KerasHub (0.32) counts the words its `pretokenize` gives (prep.text.wordpiece.PretokenizedWords gives
the same words) and hands the counts to tensorflow-text's learner (`wordpiece_tokenizer_learner_lib.learn`,
the BERT vocabulary learner) with that library's defaults, then cuts the list at the size asked for.
This module is that learner written again for prep, so that `prep vocab` needs neither TensorFlow nor
tensorflow-text: the counts come from a Beam job over the whole corpus, and this runs once on them.
tests/text/test_wordpiece_learner.py checks that the files are equal, line for line.

The learner, for a frequency threshold T:
1. Iteration 0 counts every substring of every word (a substring that starts inside a word carries
   the suffix indicator, "##"), each by the count of its word.
2. From the longest substrings to the shortest, a substring counted at least T times is kept, and its
   count is taken away from each of its prefixes (so "abc" counted 5 times does not also count for
   "ab" and "a").
3. Later iterations count only the substrings that start where the current pieces (step 2's, with
   every character, alone and with the suffix indicator) split the word, greedily, longest first; a
   word they cannot split is left out.
4. After the last iteration the vocabulary is: the reserved tokens, the characters sorted, then the
   pieces by count (most first), ties by the piece, each once.
A binary search over T finds a vocabulary of at most `size` tokens and at least `size` less the slack
(5%) of it.

One difference, on purpose: before the learner keeps the `max_input_words` most frequent words (5
million by default), words of equal count are ordered by the word. tensorflow-text keeps them in the
order its counter met them, which depends on the order the text was read; prep's counts come from many
workers, and its vocabulary must not depend on their order. The two agree whenever a corpus has fewer
distinct words than that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

# keras_hub.tokenizers.compute_word_piece_vocabulary's reserved_tokens default
DEFAULT_RESERVED = ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]")


@dataclass(frozen=True)
class LearnerSettings:
    """tensorflow-text's learner options, with the defaults compute_word_piece_vocabulary leaves them at."""

    upper_thresh: int = 10_000_000  # the binary search's first bounds on the threshold
    lower_thresh: int = 10
    num_iterations: int = 4
    max_input_words: int = 5_000_000  # words kept, the most frequent (tensorflow-text's max_input_tokens)
    max_token_length: int = 50  # characters: longer words are left out
    max_unique_chars: int = 1000  # the alphabet: words with a character outside it are left out
    slack_ratio: float = 0.05


class NothingToLearn(ValueError):
    """No word to learn a vocabulary from."""


def learn_wordpiece(counts: Mapping[str, int], size: int, reserved: Sequence[str] = DEFAULT_RESERVED,
                    suffix_indicator: str = "##", settings: LearnerSettings = LearnerSettings()) -> list[str]:
    """The WordPiece vocabulary of at most `size` tokens (the reserved ones first) that
    compute_word_piece_vocabulary(data, size, reserved_tokens=reserved, suffix_indicator=...) learns
    from a corpus whose words are counted in `counts`."""
    if not counts:
        raise NothingToLearn("the corpus holds no word to learn a WordPiece vocabulary from")
    upper = min(max(counts.values()), settings.upper_thresh)
    lower = max(min(counts.values()), settings.lower_thresh)
    reserved_set = set(reserved)
    words = [(word, n) for word, n in counts.items() if len(word) <= settings.max_token_length and word not in reserved_set]
    alphabet = _alphabet(words, settings.max_unique_chars)
    words.sort(key=lambda item: (-item[1], item[0]))
    words = [(word, n) for word, n in words if alphabet.issuperset(word)][: settings.max_input_words]
    learner = _Learner(words, tuple(reserved), suffix_indicator, settings, size)
    return learner.search(lower, upper)[:size]


def _alphabet(words: Iterable[tuple[str, int]], most: int) -> set[str]:
    """The `most` characters the words hold most often (weighed by the words' counts), ties by character."""
    totals: dict[str, int] = {}
    for word, n in words:
        for char in word:
            totals[char] = totals.get(char, 0) + n
    return {char for char, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:most]}


class _Learner:
    def __init__(self, words: list[tuple[str, int]], reserved: tuple[str, ...], suffix: str,
                 settings: LearnerSettings, size: int):
        self.words, self.reserved, self.suffix, self.settings, self.size = words, reserved, suffix, settings, size
        self.chars = sorted({char for word, _ in words for char in word})

    def search(self, lower: int, upper: int) -> list[str]:
        """Binary search on the threshold for a vocabulary within the slack under `size`."""
        slack = max(self.settings.slack_ratio * self.size, 0)
        while True:
            threshold = (upper + lower) // 2
            vocabulary = self.learn(threshold)
            fits = len(vocabulary) <= self.size and self.size - len(vocabulary) <= slack
            if fits or lower >= upper or threshold <= 1:
                return vocabulary
            if len(vocabulary) > self.size:
                lower = threshold + 1
            else:
                upper = threshold - 1

    def with_chars(self, pieces: dict[str, int]) -> dict[str, int]:
        """The pieces, with every character (and every character as a suffix) among them."""
        for char in self.chars:
            pieces.setdefault(char, 1)
            pieces.setdefault(self.suffix + char, 1)
        return pieces

    def learn(self, threshold: int) -> list[str]:
        """The vocabulary the learner makes keeping pieces counted at least `threshold` times."""
        pieces = self.with_chars({})
        for iteration in range(self.settings.num_iterations):
            counted = self.count_substrings(pieces, first=iteration == 0)
            pieces = self.with_chars(self.keep(counted, threshold))
        ordered = sorted(pieces.items(), key=lambda item: (-item[1], item[0]))
        return list(dict.fromkeys([*self.reserved, *self.chars, *(piece for piece, _ in ordered)]))

    def count_substrings(self, pieces: dict[str, int], first: bool) -> list[dict[str, int]]:
        """The counts of the substrings that start where a word may split (anywhere in the first
        iteration; else where `pieces` split it greedily), by their length in characters."""
        suffix = self.suffix
        by_length: list[dict[str, int]] = [{} for _ in range(self.settings.max_token_length + 1)]
        for word, n in self.words:
            ends = range(1, len(word) + 1) if first else self.greedy_ends(word, pieces)
            if not ends:
                continue
            start = 0
            for split_at in ends:
                for end in range(start + 1, len(word) + 1):
                    piece = word[start:end]
                    table = by_length[end - start]
                    if start:
                        piece = suffix + piece
                    table[piece] = table.get(piece, 0) + n
                start = split_at
        return by_length

    def greedy_ends(self, word: str, pieces: dict[str, int]) -> list[int] | None:
        """Where the pieces end when `pieces` split `word` longest first; None if they cannot."""
        ends, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                if (self.suffix + word[start:end] if start else word[start:end]) in pieces:
                    ends.append(end)
                    start = end
                    break
            else:
                return None
        return ends

    def keep(self, by_length: list[dict[str, int]], threshold: int) -> dict[str, int]:
        """The substrings counted at least `threshold` times, longest first, each one's count taken
        away from its prefixes before they are weighed."""
        kept: dict[str, int] = {}
        skip = len(self.suffix)
        for length in range(len(by_length) - 1, 0, -1):
            for piece, n in by_length[length].items():
                if n >= threshold:
                    kept[piece] = n
                offset = skip if len(piece) > length else 0  # a suffix piece: its prefixes keep the indicator
                for shorter in range(1, length):
                    prefix = piece[: offset + shorter]
                    table = by_length[shorter]
                    if prefix in table:
                        table[prefix] -= n
        return kept
