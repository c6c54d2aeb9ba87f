"""Learning a SentencePiece model from a sample of a corpus, as `keras_hub.tokenizers.compute_sentence_piece_proto`
learns one (`prep vocab --tokenizer sentencepiece`).

SentencePiece's trainer holds every sentence it learns from in memory, so the job draws a sample: the
`sample` documents (VocabJobOptions.sample) whose keys are smallest, a key being the first 8 bytes of the SHA-256 of where the
document is (its file, the byte range it was read in and its place there). The sample is the same for
a given corpus whatever the workers, and a uniform one; a corpus of at most `sample` documents is
learned from whole. The documents are handed to the trainer in the corpus' order (file, then place),
with KerasHub's options (ids 0-3 for <pad>, <unk>, <s>, </s>; nmt_nfkc normalisation, nmt_nfkc_cf
with `lowercase`), so the model is byte for byte KerasHub's for the same documents in the same order
(tests/text/test_sentencepiece_learner.py). Like KerasHub's, SentencePiece leaves out a sentence
longer than its max_sentence_length (4,192 bytes).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

MODEL_TYPES = ("unigram", "bpe", "word", "char")  # SentencePieceTrainer's, as compute_sentence_piece_proto takes them
DEFAULT_SAMPLE = 1_000_000  # documents; SentencePiece's own docs suggest about a million sentences


@dataclass(frozen=True)
class SentencePieceTraining:
    """How `prep vocab --tokenizer sentencepiece` learns its model: compute_sentence_piece_proto's
    model_type and lowercase (the sample's size is VocabJobOptions.sample)."""

    model_type: str = "unigram"
    lowercase: bool = False

    def __post_init__(self):
        if self.model_type not in MODEL_TYPES:
            raise ValueError(f"model type {self.model_type!r} is not one of {', '.join(MODEL_TYPES)}")


def sample_key(source: str, start: int, index: int) -> int:
    """The key that draws a document into the sample (smallest first): a hash of where it is."""
    where = f"{source}\0{start}\0{index}".encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.sha256(where).digest()[:8], "big")


def train_model(documents: list[bytes], size: int, training: SentencePieceTraining) -> bytes:
    """The serialised SentencePiece model of `size` pieces learned from `documents` (UTF-8, in order),
    as compute_sentence_piece_proto(documents, size, model_type, lowercase=...) returns it;
    ValueError with the trainer's reason when it cannot learn one (too few distinct pieces, say)."""
    import sentencepiece

    if not documents:
        raise ValueError("no document to learn a SentencePiece model from")
    model = io.BytesIO()
    try:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(documents), model_writer=model, vocab_size=size, model_type=training.model_type,
            normalization_rule_name="nmt_nfkc_cf" if training.lowercase else "nmt_nfkc",
            pad_id=0, unk_id=1, bos_id=2, eos_id=3, minloglevel=2)
    except RuntimeError as e:  # e.g. "Vocabulary size too high (5000). Please set it to a value <= 812."
        reason = str(e).rsplit("] ", 1)[-1].strip()  # after the C++ source line and the failed check
        raise ValueError(f"SentencePiece cannot learn {size:,} pieces from the sample: {reason}") from None
    return model.getvalue()
