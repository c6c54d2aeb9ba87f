"""SentencePiece tokenisation exactly as `keras_hub.tokenizers.SentencePieceTokenizer` does it.

KerasHub (0.32) runs a SentencePiece model with tensorflow-text's `SentencepieceTokenizer` on
TensorFlow's path (the one a tf.data pipeline runs) and with the `sentencepiece` package on its
Python path; both are Google's C++ library. prep's workers run the `sentencepiece` package too (no
TensorFlow), and tests/text/test_sentencepiece.py checks its ids against KerasHub on TensorFlow's
path over arbitrary Unicode text, for unigram and BPE models, with and without byte fallback,
`add_bos` and `add_eos`.

The model's pieces are the tokens vocabulary (line i is id i): a document's tokens are the pieces
of the ids the model gives, so the ids prep writes are the model's own, the unknown id included.
"""

from __future__ import annotations

from prep.text.vocabulary import CutCounts, TokenVocabulary
from schemas import SentencePieceSettings


def _processor(proto: bytes, options: SentencePieceSettings):
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_proto=proto, add_bos=options.add_bos, add_eos=options.add_eos)


def sentencepiece_vocabulary(proto: bytes, source: str, options: SentencePieceSettings) -> TokenVocabulary:
    """The vocabulary of a SentencePiece model file's bytes: its pieces in id order, its unknown id
    as the out-of-vocabulary id, and the model itself (copied into the dataset as `options.proto`);
    ValueError naming `source` when it is not a model."""
    try:
        processor = _processor(proto, options) if proto else None  # the library takes an empty model without a word
    except (RuntimeError, TypeError, ValueError):  # its messages name its own source lines, not the file's fault
        processor = None
    if processor is None or not processor.GetPieceSize():
        raise ValueError(f"{source}: not a SentencePiece model (the .model file SentencePieceTrainer writes and "
                         "KerasHub's presets ship as vocabulary.spm)")
    pieces = [processor.IdToPiece(i) for i in range(processor.GetPieceSize())]
    return TokenVocabulary(tuple(p.encode("utf-8") for p in pieces), None, CutCounts(), source, 0, processor.unk_id(),
                           ((options.proto, bytes(proto)),))


class SentencePiece:
    """A document (UTF-8) -> the pieces of its SentencePiece ids (UTF-8), as KerasHub's tokenizer
    gives them; what prep.text.tokenizer.Tokenizer offers the encoder, for SentencePiece."""

    ngrams = None
    joiner = b"\xff"  # in no UTF-8 piece (some hold line breaks): copies are documents with the same pieces

    def __init__(self, vocabulary: TokenVocabulary, options: SentencePieceSettings = SentencePieceSettings()):
        self.options = options
        self._encode = _processor(dict(vocabulary.files)[options.proto], options).EncodeAsIds
        self._pieces = vocabulary.tokens

    def tokens(self, text: bytes) -> list[bytes]:
        pieces = self._pieces
        return [pieces[i] for i in self._encode(text)]

    copy_tokens = tokens

    def tokens_function(self):
        return self.tokens
