"""What KerasHub's word-based tokenizers (WordPiece, byte-pair) share: a document is split into words,
and each distinct word's pieces are made once per process and kept (`cache_size` words at most), so
that tokenising is a split and a dict look-up per word."""

from __future__ import annotations


class CachedWords:
    """A tokenizer whose subclass says how a document splits into words (`words`) and a word into
    pieces (`word_pieces`); `fixed` words always have the same pieces (the cache keeps them)."""

    cache_size = 1 << 20
    ngrams = None
    joiner = b"\xff"  # in no UTF-8 piece: copies are documents with the same pieces

    def __init__(self, fixed: dict[str, list[bytes]] | None = None):
        self._fixed = fixed or {}
        self._pieces: dict[str, list[bytes]] = dict(self._fixed)

    def words(self, text: str) -> list[str]:
        raise NotImplementedError

    def word_pieces(self, word: str) -> list[bytes]:
        raise NotImplementedError

    def tokens(self, text: bytes) -> list[bytes]:
        """The pieces of one document (UTF-8 in, UTF-8 pieces out)."""
        cache, out = self._pieces, []
        for word in self.words(text.decode("utf-8")):
            pieces = cache.get(word)
            if pieces is None:
                pieces = self.word_pieces(word)
                if len(cache) >= self.cache_size:
                    cache.clear()
                    cache.update(self._fixed)
                cache[word] = pieces
            out += pieces
        return out

    def copy_tokens(self, text: bytes) -> list[bytes]:
        """The tokens copies of a document share: its pieces."""
        return self.tokens(text)

    def tokens_function(self):
        return self.tokens
