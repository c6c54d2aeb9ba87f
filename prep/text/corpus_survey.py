"""What one pass over a corpus learns before any record is written: how many inputs there are, which
labels occur, the line count of each byte range (to number lines), and the tokens' counts.

A worker keeps one `Survey` per bundle and hands out its counts whenever they grow past
`FLUSH_DISTINCT` distinct tokens and at the end of the bundle, so its memory stays bounded whatever
the size of the corpus; the pipeline merges the rest.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from prep.core.statistics import Summary
from prep.text.inputs import Item, LineBlock, Rejection, Row
from prep.text.token_counting import TokenCounter, into_buckets
from prep.text.tokenizer import Tokenizer

FLUSH_DISTINCT = 1_000_000  # distinct tokens a worker holds before handing its counts on


def range_key(path: str, start: int) -> str:
    """The name of a byte range of a file read in several ranges (its lines are counted by name)."""
    return f"{start}:{path}"


def first_lines(lines: dict[str, int]) -> dict[str, int]:
    """The number of the first line of each byte range after a file's first, from the lines of each."""
    by_path: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for key, count in lines.items():
        start, path = key.split(":", 1)
        by_path[path].append((int(start), count))
    out = {}
    for path, ranges in by_path.items():
        line = 1
        for start, count in sorted(ranges):
            if start:
                out[range_key(path, start)] = line
            line += count
    return out


class Survey:
    """Inputs, documents, rejections by reason, labels and lines per range (a `Summary`), and token
    counts (when a tokenizer is given)."""

    def __init__(self, tokenizer: Tokenizer | None):
        self.summary = Summary()
        self.counter = TokenCounter(tokenizer) if tokenizer else None

    @property
    def bulk(self) -> bool:
        """Whether plain text may come as `LineBlock`s."""
        return self.counter is not None and self.counter.bulk

    def add(self, item: Item, range_name: str | None) -> None:
        """One item read from the range `range_name` (None: a file read whole, whose lines need no count)."""
        s = self.summary
        if isinstance(item, LineBlock):
            s.count("inputs", "rows", item.rows)
            s.count("inputs", "documents", item.rows - item.blank)
            if item.blank:
                s.count("rejected", "empty_document", item.blank)
            if range_name:
                s.count("lines", range_name, item.rows)
            if self.counter is not None:
                self.counter.add_lines(item.data)
            return
        s.count("inputs", "rows")
        if item.line and range_name:
            s.count("lines", range_name)
        if isinstance(item, Rejection):
            s.count("rejected", item.reason)
            return
        assert isinstance(item, Row)
        s.count("inputs", "documents")
        if item.label is not None:
            s.count("labels", item.label)
        if self.counter is not None:
            self.counter.add_document(item.text)

    @property
    def full(self) -> bool:
        """Whether the counts hold more than FLUSH_DISTINCT distinct tokens (time to hand them on)."""
        return self.counter is not None and self.counter.distinct > FLUSH_DISTINCT

    def take_counts(self) -> dict[int, Counter]:
        """The token counts so far, by bucket; counting starts again from zero."""
        if self.counter is None:
            return {}
        counts = self.counter.take()
        self.summary.count("inputs", "tokens", self.counter.tokens)
        self.counter.tokens = 0
        return into_buckets(counts)

    def take_summary(self) -> Summary:
        """The summary so far (call `take_counts` first: it adds the token total); starts again empty."""
        summary, self.summary = self.summary, Summary()
        return summary
