"""A document's tokens, as `tf.keras.layers.TextVectorization` makes them: standardise, split, n-grams.

Built from the `TextSettings` a dataset records in schema.json, so the layer that serves a model can
be rebuilt from the schema and gives the same tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from prep.core.vocab_files import read_file, read_vocabulary
from prep.text.bytepair import BytePair, bytepair_vocabulary
from prep.text.ngrams import ngrams
from prep.text.sentencepiece import SentencePiece, sentencepiece_vocabulary
from prep.text.split import check_split, split_tokens
from prep.text.standardize import check_standardize, standardize, translation
from prep.text.vocabulary import TokenVocabulary, from_lines, wordpiece_lines
from prep.text.wordpiece import PretokenizedWords, WordPiece
from schemas import TextSettings


@dataclass(frozen=True)
class Tokenizer:
    standardize: str | None = "lower_and_strip_punctuation"
    split: str = "whitespace"
    ngrams: int | None = None

    def __post_init__(self):
        check_standardize(self.standardize)
        check_split(self.split)
        if self.ngrams is not None and self.ngrams < 1:
            raise ValueError(f"ngrams must be at least 1, not {self.ngrams}")

    @classmethod
    def from_settings(cls, settings: TextSettings) -> "Tokenizer":
        return cls(settings.standardize, settings.split, settings.ngrams)

    def tokens(self, text: bytes) -> list[bytes]:
        """The tokens of one document (UTF-8 in, UTF-8 tokens out)."""
        return ngrams(split_tokens(standardize(text, self.standardize), self.split), self.ngrams)

    def tokens_function(self) -> Callable[[bytes], list[bytes]]:
        """`tokens` as one function, for calling once per document: with whitespace split and no
        n-grams (the usual settings) one `translate` and one `split`, without the calls between."""
        if self.split != "whitespace" or (self.ngrams or 1) != 1:
            return self.tokens
        table, delete = translation(self.standardize)
        return lambda text: text.translate(table, delete).split()

    @property
    def joiner(self) -> bytes:
        """Joins a document's tokens back into one string, one to one (prep.text.duplicates):
        whitespace tokens hold no space, and characters put back together are the text they came from."""
        return b" " if self.split == "whitespace" else b""

    def copy_tokens(self, text: bytes) -> list[bytes]:
        """The tokens copies of a document share: its tokens before n-grams."""
        return split_tokens(standardize(text, self.standardize), self.split)

    @property
    def splits_on_whitespace_only(self) -> bool:
        """True when tokens never span a whitespace byte, so documents joined by a newline give the
        tokens of each document in turn (what bulk counting relies on)."""
        return self.split == "whitespace" and (self.ngrams or 1) == 1


def document_tokenizer(settings: TextSettings, vocabulary: TokenVocabulary) -> "Tokenizer | WordPiece | SentencePiece | BytePair":
    """What turns a document into tokens for `settings`: TextVectorization's rules, or KerasHub's
    WordPiece with the vocabulary's tokens, SentencePiece with its model, byte-pair with its files."""
    if settings.tokenizer == "wordpiece":
        return WordPiece(tuple(t.decode("utf-8") for t in vocabulary.tokens), settings.wordpiece)
    if settings.tokenizer == "sentencepiece":
        return SentencePiece(vocabulary, settings.sentencepiece)
    if settings.tokenizer == "bpe":
        return BytePair(vocabulary, settings.bpe)
    return Tokenizer.from_settings(settings)


def counting_tokenizer(settings: TextSettings) -> "Tokenizer | PretokenizedWords":
    """What a pass over the corpus counts to learn a vocabulary for `settings`: TextVectorization's
    tokens, or the words KerasHub's WordPiece learner counts (prep.text.wordpiece_learner)."""
    if settings.tokenizer == "wordpiece":
        return PretokenizedWords(settings.wordpiece)
    return Tokenizer.from_settings(settings)


def read_token_vocabulary(paths: tuple[str, ...], settings: TextSettings, on_launcher: bool = False) -> TokenVocabulary:
    """The vocabulary in the files `paths` (local or gs://) for `settings`' tokenizer: a tokens file
    (TextVectorization's, a WordPiece vocab.txt), a SentencePiece model, or a byte-pair vocabulary.json
    and merges.txt; ValueError naming the file when it cannot be one. `on_launcher`: a flag's files,
    read before the job (prep.core.vocab_files)."""
    if settings.tokenizer == "sentencepiece":
        return sentencepiece_vocabulary(read_file(paths[0], on_launcher), paths[0], settings.sentencepiece)
    if settings.tokenizer == "bpe":
        return bytepair_vocabulary(read_file(paths[0], on_launcher), read_file(paths[1], on_launcher), paths[:2],
                                   settings.bpe)
    entries = read_vocabulary(paths[0], on_launcher)
    if settings.tokenizer == "wordpiece":
        return wordpiece_lines(entries, paths[0], settings.wordpiece.oov_token)
    return from_lines(entries, paths[0])
