"""Learning GPT-2 style byte-pair files (vocabulary.json and merges.txt, the files
`keras_hub.tokenizers.BytePairTokenizer` and prep.text.bytepair read) from a sample of a corpus
(`prep vocab --tokenizer bpe`), as Hugging Face `tokenizers` learns GPT-2's: a byte-level BPE model
(every byte a symbol first), byte-level pre-tokenisation without a prefix space, the special tokens
first. The sample is drawn as SentencePiece's is (prep.text.sentencepiece_learner)."""

from __future__ import annotations

import json

DEFAULT_SPECIAL = ("<|endoftext|>",)  # GPT-2's one special token
BYTE_SYMBOLS = 256  # a byte-level BPE's first tokens, before the special tokens and the merges


def merges_file(vocabulary_file: str) -> str:
    """Where `prep vocab --tokenizer bpe OUT` writes the merges beside the vocabulary OUT."""
    stem = vocabulary_file[:-len(".json")] if vocabulary_file.endswith(".json") else vocabulary_file
    return stem + ".merges.txt"


def train_bytepair(documents: list[bytes], size: int, special: tuple[str, ...] = DEFAULT_SPECIAL) -> tuple[bytes, bytes]:
    """vocabulary.json and merges.txt (their bytes) of a byte-level BPE of at most `size` tokens, its
    `special` tokens included, learned from `documents` (UTF-8, in order); ValueError when it cannot be."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    if not documents:
        raise ValueError("no document to learn byte-pair files from")
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if size < BYTE_SYMBOLS + len(special):
        raise ValueError(f"a byte-level BPE holds the {BYTE_SYMBOLS} byte symbols and the {len(special)} special "
                         f"token(s) before any merge: --max-tokens must be at least {BYTE_SYMBOLS + len(special)}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=size, special_tokens=list(special), show_progress=False,
                                  initial_alphabet=alphabet)
    tokenizer.train_from_iterator((d.decode("utf-8", "replace") for d in documents), trainer)
    model = json.loads(tokenizer.to_str())["model"]
    merges = [" ".join(m) if isinstance(m, list) else m for m in model["merges"]]
    return (json.dumps(model["vocab"], ensure_ascii=False).encode("utf-8"),
            "".join(line + "\n" for line in ["#version: 0.2", *merges]).encode("utf-8"))
