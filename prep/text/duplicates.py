"""Exact duplicate documents: what makes two documents the same, and the rejected.jsonl row of a copy
--dedupe drops.

Two documents are copies when the model would see the same tokens: their text after the job's
--standardize, split as --split-on splits it (n-grams follow from those tokens). With the defaults,
"Hello,  World!" and "hello world" are copies; "Hello World" and "hello world" are not with
--standardize none. Documents left with no token at all (only punctuation, say) are copies of each other.
"""

from __future__ import annotations

from prep.core.duplicates import REASON, Copy, content_digest, dropped_detail
from prep.text.inputs import Rejection, Row
from prep.text.tokenizer import Tokenizer


def normalised_text(text: bytes, tokenizer: Tokenizer) -> bytes:
    """The form of `text` (UTF-8) that copies share: its tokens before n-grams, joined."""
    return tokenizer.joiner.join(tokenizer.copy_tokens(text))


def document_copy(row: Row, split: str, tokenizer: Tokenizer, tokens: list[bytes] | None = None) -> Copy:
    """What duplicate detection needs of one document: where it is and a hash of its normalised text.
    `tokens`: the document's tokens before n-grams, when the caller has them already."""
    text = normalised_text(row.text, tokenizer) if tokens is None else tokenizer.joiner.join(tokens)
    return Copy(row.source, split, content_digest(text), line=row.line)


def rejection(kept: Copy, dropped: Copy) -> dict:
    """The rejected.jsonl row of a document --dedupe drops, naming the one kept."""
    detail = dropped_detail(kept, "text once standardised", "path and line")
    return Rejection(dropped.relative_path, dropped.line, REASON, detail).to_dict()
