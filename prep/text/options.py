"""The options of `prep text` and `prep vocab`: one frozen dataclass each, built once by the CLI from its flags."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from prep.core.splits import SplitFractions
from prep.jobs.options import ShardingOptions, SpillsUnderOut, UpdateOptions, provenance_dict
from prep.text.inputs import TextInputs
from prep.text.sentencepiece_learner import DEFAULT_SAMPLE, SentencePieceTraining
from prep.text.wordpiece_learner import DEFAULT_RESERVED
from schemas import TextSettings


@dataclass(frozen=True)
class VocabJobOptions:
    """`prep vocab`: learn a token vocabulary from `inputs` and write it to the file `out`."""

    inputs: TextInputs
    out: str
    text: TextSettings = TextSettings()
    created: str = ""
    # a WordPiece vocabulary's first lines (text.tokenizer "wordpiece"): compute_word_piece_vocabulary's default
    reserved_tokens: tuple[str, ...] = DEFAULT_RESERVED
    # how a SentencePiece model is learned (text.tokenizer "sentencepiece"): prep.text.sentencepiece_learner
    sentencepiece: SentencePieceTraining = SentencePieceTraining()
    # the documents a learner that holds them in memory (sentencepiece, bpe) learns from, at most
    sample: int = DEFAULT_SAMPLE

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TextJobOptions(SpillsUnderOut):
    """`prep text`: documents to records of token ids. `vocab_file` reuses a vocabulary instead of
    learning one; `raw_text` keeps the text itself in every record too."""

    inputs: TextInputs
    out: str
    text: TextSettings = TextSettings()
    sharding: ShardingOptions = ShardingOptions()
    split_fractions: SplitFractions | None = None
    labels: tuple[str, ...] | None = None
    vocab_file: str | None = None
    merges_file: str | None = None  # --tokenizer bpe: merges.txt beside vocab_file's vocabulary.json
    # the splits a learned vocabulary counts the documents of (None: every split), as tf.Transform
    # analyses only the training data: test documents must not choose tokens
    vocabulary_splits: tuple[str, ...] | None = ("train",)
    raw_text: bool = True
    dedupe: bool = False  # drop exact copies (prep.text.duplicates; kept: the first by split, train first, then path and line)
    spill_shuffles: bool = False  # shuffle batches through files under OUT (local runs: see beam_jobs.batching)
    created: str = ""  # ISO time the run was launched, for provenance
    update: UpdateOptions | None = None  # --update: the next version of the dataset in OUT (beam_jobs.text_update)

    def to_dict(self) -> dict:
        return provenance_dict(self)
