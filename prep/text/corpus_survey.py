"""What one pass over a corpus learns before any record is written: how many inputs there are, which
labels occur, and the tokens' counts; and the numbering of lines across a file's byte ranges.

A worker keeps one `Survey` per bundle and hands out its counts whenever they grow past
`FLUSH_DISTINCT` distinct tokens and at the end of the bundle, so its memory stays bounded whatever
the size of the corpus; the pipeline merges the rest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable

from prep.core.splits import SplitFractions
from prep.core.statistics import Summary
from prep.jobs.results import add_rejection
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


@dataclass(frozen=True)
class InSplits:
    """Whether a document belongs to one of `splits` (its split folder's, else --split's hash of its
    identity): which documents a vocabulary is learned from."""

    splits: frozenset[str]
    fractions: SplitFractions | None

    def __call__(self, row: Row) -> bool:
        return row.assigned_split(self.fractions) in self.splits


class Survey:
    """Inputs, documents, rejections by reason and labels (a `Summary`), and token counts (when a
    tokenizer is given) of the documents `counted` accepts (by default every one). With
    `keep_rejected` each rejection's rejected.jsonl row is kept too (`prep vocab` lists them; `prep
    text` lists those of its second pass)."""

    def __init__(self, tokenizer: Tokenizer | None, counted: Callable[[Row], bool] | None = None,
                 keep_rejected: bool = False):
        self.summary = Summary()
        self.counter = TokenCounter(tokenizer) if tokenizer else None
        self.counted = counted
        self.keep_rejected = keep_rejected

    @property
    def bulk(self) -> bool:
        """Whether plain text may come as `LineBlock`s (only when every document is counted)."""
        return self.counter is not None and self.counter.bulk and self.counted is None

    def add(self, item: Item) -> None:
        """One item read from the corpus."""
        self.add_all([item])

    def add_all(self, items: Iterable[Item]) -> None:
        """Every item of a file or byte range, the documents counted in plain integers and folded once
        (four counter updates a document were a third of the survey's time on short documents)."""
        s, counter, counted = self.summary, self.counter, self.counted
        rows = 0
        labels: list[str] = []
        for item in items:
            if type(item) is Row:
                rows += 1
                if item.label is not None:
                    labels.append(item.label)
                if counter is not None and (counted is None or counted(item)):
                    counter.add_document(item.text)
            elif isinstance(item, LineBlock):
                s.count("inputs", "rows", item.rows)
                s.count("inputs", "documents", item.rows - item.blank)
                if item.blank and self.keep_rejected:
                    for rejection in item.rejections():
                        add_rejection(s, rejection.to_dict())
                elif item.blank:
                    s.count("rejected", "empty_document", item.blank)
                if counter is not None:
                    counter.add_lines(item.data)
            else:
                assert isinstance(item, Rejection)
                s.count("inputs", "rows")
                if self.keep_rejected:
                    add_rejection(s, item.to_dict())
                else:
                    s.count("rejected", item.reason)
        if rows:
            s.count("inputs", "rows", rows)
            s.count("inputs", "documents", rows)
        if labels:
            s.counts.setdefault("labels", Counter()).update(labels)

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
