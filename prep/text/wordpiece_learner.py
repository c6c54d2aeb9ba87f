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
   "ab" and "a"; prep gets the same numbers without counting substrings: see `_Learner.tails`).
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
        self._every_tail: tuple[dict[str, int], dict[str, int]] | None = None  # the first iteration's, whatever the threshold

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
            if iteration == 0:
                if self._every_tail is None:
                    self._every_tail = self.tails(pieces, first=True)
                heads, rests = self._every_tail
            else:
                heads, rests = self.tails(pieces, first=False)
            kept = {word: n for word, n in heads.items() if n >= threshold}
            # a suffix piece written like a head wins, as in tensorflow-text (its table comes later)
            kept.update((self.suffix + rest, n) for rest, n in rests.items() if n >= threshold)
            pieces = self.with_chars(kept)
        ordered = sorted(pieces.items(), key=lambda item: (-item[1], item[0]))
        return list(dict.fromkeys([*self.reserved, *self.chars, *(piece for piece, _ in ordered)]))

    def tails(self, pieces: dict[str, int], first: bool) -> tuple[dict[str, int], dict[str, int]]:
        """Where the words may split (anywhere in the first iteration; else where `pieces` split them
        greedily), the rest of each word from each such start, with the sum of its words' counts: the
        words themselves (heads) and the rests from a later start (suffix pieces, without the
        indicator).

        tensorflow-text counts every substring from each start to every end, then, from the longest
        substrings to the shortest, keeps those counted at least T times and takes each one's count
        (itself already reduced) away from each of its prefixes. Every prefix of a counted substring is
        counted too, so what a substring loses is all its longer extensions' counts, and what it keeps
        is the count of the rests that end where it ends: its count as a rest here. So the pieces kept
        are the rests counted T times, and no substring needs counting."""
        heads: dict[str, int] = {}
        rests: dict[str, int] = {}
        longest = max(map(len, pieces), default=0)
        for word, n in self.words:
            if first:
                starts: Iterable[int] = range(1, len(word))
            else:
                ends = self.greedy_ends(word, pieces, longest)
                if not ends:
                    continue
                starts = ends[:-1]
            if word:
                heads[word] = heads.get(word, 0) + n
            for start in starts:
                rest = word[start:]
                rests[rest] = rests.get(rest, 0) + n
        return heads, rests

    def greedy_ends(self, word: str, pieces: dict[str, int], longest: int) -> list[int] | None:
        """Where the pieces end when `pieces` (none over `longest` characters) split `word` longest
        first; None if they cannot."""
        ends, start, size = [], 0, len(word)
        while start < size:
            for end in range(min(size, start + longest), start, -1):
                if (self.suffix + word[start:end] if start else word[start:end]) in pieces:
                    ends.append(end)
                    start = end
                    break
            else:
                return None
        return ends
