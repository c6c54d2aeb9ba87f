"""`prep text SRC OUT` and `prep vocab SRC OUT`: flags -> TextJobOptions / VocabJobOptions -> the Beam job."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shlex
import time

import click

from prep.cli.jobs import (
    check_update_flags,
    custom_split_names_flag,
    elapsed,
    launch,
    now,
    parse_flag,
    parse_split_flag,
    print_rejected,
    print_update,
    run_job,
    runner_flags,
    sharding_flags,
    tfds_flag,
)
from prep.core.preflight import is_local
from prep.text.bytepair_learner import BYTE_SYMBOLS, DEFAULT_SPECIAL, merges_file
from prep.text.inputs import INPUT_FORMATS
from prep.text.sentencepiece_learner import DEFAULT_SAMPLE, MODEL_TYPES, SentencePieceTraining
from prep.text.split import SPLITS
from prep.text.standardize import STANDARDIZE
from prep.text.wordpiece_learner import DEFAULT_RESERVED
from schemas.model import TOKENIZERS, BytePairSettings, SentencePieceSettings, TextSettings, WordPieceSettings

_STANDARDIZE_CHOICES = [s or "none" for s in STANDARDIZE]


def input_flags(command):
    """Where the documents are and how to read them (both commands)."""
    @functools.wraps(command)
    def wrapper(*args, src, input_format, text_field, label_field, include_hidden, **kwargs):
        from prep.text.inputs import resolve_inputs
        from prep.text.preflight import is_directory

        src = os.path.abspath(src) if is_local(src) else src
        try:
            inputs = resolve_inputs(src, input_format, text_field, label_field, include_hidden, is_directory(src))
        except ValueError as e:
            raise click.UsageError(str(e)) from None
        return command(*args, inputs=inputs, **kwargs)

    for flag in reversed([
        click.argument("src"),
        click.option("--input-format", type=click.Choice(INPUT_FORMATS), default="auto",
                     help="auto: a folder is class folders of text files (one document per file); a file or glob "
                          "is read by its extension (.jsonl/.ndjson/.json, .csv, .tsv, else one document per line). "
                          "lines/jsonl/csv/tsv: read every file (in a folder, recursively) so."),
        click.option("--text-field", metavar="NAME", help="JSON Lines / CSV / TSV: the field holding the text [default: text]."),
        click.option("--label-field", metavar="NAME", help="JSON Lines / CSV / TSV: the field holding the label (optional)."),
        click.option("--include-hidden", is_flag=True, help="Read dot-files and OS junk too (default: reject them as hidden)."),
    ]):
        wrapper = flag(wrapper)
    return wrapper


def tokenizer_flags(command):
    """TextVectorization's standardize, split and ngrams, and the vocabulary's cut (both commands)."""
    @functools.wraps(command)
    def wrapper(*args, standardize, split_on, ngrams, max_tokens, min_count, max_length=None, **kwargs):
        from schemas import TextSettings

        if max_tokens is not None and max_tokens < 3:
            raise click.BadParameter("must be at least 3: it counts the reserved ids 0 (padding) and 1 ([UNK]), "
                                     "as Keras' max_tokens does", param_hint="--max-tokens")
        settings = TextSettings(standardize=None if standardize == "none" else standardize, split=split_on,
                                ngrams=ngrams, max_tokens=max_tokens, min_count=min_count, max_length=max_length)
        return command(*args, settings=settings, **kwargs)

    for flag in reversed([
        click.option("--standardize", type=click.Choice(_STANDARDIZE_CHOICES), default=_STANDARDIZE_CHOICES[0],
                     show_default=True, help="TextVectorization's standardize (ASCII-only lowercasing and punctuation, as Keras)."),
        click.option("--split-on", type=click.Choice(SPLITS), default="whitespace", show_default=True,
                     help="TextVectorization's split: tokens are runs of non-whitespace, or single characters."),
        click.option("--ngrams", type=click.IntRange(min=1), help="TextVectorization's ngrams: also 2- to N-grams."),
        click.option("--max-tokens", type=click.IntRange(min=1),
                     help="TextVectorization's max_tokens: the vocabulary's size including the 2 reserved ids, so the "
                          "file holds at most N - 2 tokens (the most frequent). Default: no limit."),
        click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Leave out tokens seen fewer times than this."),
    ]):
        wrapper = flag(wrapper)
    return wrapper


_TEXT_VECTORIZATION_FLAGS = ("standardize", "split_on", "ngrams", "max_tokens", "min_count")
# each KerasHub tokenizer's options (flags under their KerasHub names), and what its --vocab file is
_KERAS_HUB_FLAGS = {"wordpiece": ("lowercase", "strip_accents", "split_on_cjk", "suffix_indicator", "oov_token"),
                    "sentencepiece": ("add_bos", "add_eos"), "bpe": ("add_prefix_space", "unsplittable_tokens")}
_NAMES = {"wordpiece": "WordPiece", "sentencepiece": "SentencePiece", "bpe": "byte-pair"}
_VOCAB_FILES = {"wordpiece": "a WordPiece vocab.txt, one piece a line, as KerasHub's presets and BERT ship it",
                "sentencepiece": "a SentencePiece .model file, as SentencePieceTrainer writes it and KerasHub's "
                                 "presets ship it (vocabulary.spm)",
                "bpe": "a byte-pair vocabulary.json (GPT-2's vocab.json), with --merges merges.txt"}


def _flag(ctx: click.Context, name: str) -> str:
    return next(p.opts[0] for p in ctx.command.params if p.name == name)


_WORDPIECE_DEFAULTS = WordPieceSettings()
_WORDPIECE_OPTIONS = (  # KerasHub's WordPieceTokenizer's (and compute_word_piece_vocabulary's) options
    click.option("--lowercase", is_flag=True, help="wordpiece: case-fold each word (NFKC_Casefold), as uncased BERT. "
                                                   "(prep vocab --tokenizer sentencepiece: learn a model that case-folds, nmt_nfkc_cf.)"),
    click.option("--strip-accents", is_flag=True, help="wordpiece: drop accents (NFD, then nonspacing marks)."),
    click.option("--no-split-on-cjk", "split_on_cjk", flag_value=False, default=_WORDPIECE_DEFAULTS.split_on_cjk,
                 help="wordpiece: keep CJK ideographs inside words (by default each is a word of its own)."),
    click.option("--suffix-indicator", default=_WORDPIECE_DEFAULTS.suffix_indicator, help="wordpiece: what starts a "
                 "piece that continues a word."),
    click.option("--oov-token", default=_WORDPIECE_DEFAULTS.oov_token, help="wordpiece: the vocabulary's unknown token."),
)


def _given(ctx: click.Context, names) -> list[str]:
    """Those of the parameters `names` given on the command line."""
    from click.core import ParameterSource

    return [name for name in names if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]


def wordpiece_learning_flags(command):
    """`prep vocab --tokenizer wordpiece`: learn a WordPiece vocab.txt as KerasHub's
    compute_word_piece_vocabulary does (prep.text.wordpiece_learner), with its options."""
    @functools.wraps(command)
    def wrapper(*args, settings, tokenizer, reserved_tokens, model_type, sample, **kwargs):
        options = {name: kwargs.pop(name) for name in _KERAS_HUB_FLAGS["wordpiece"]}
        ctx = click.get_current_context()
        if tokenizer in ("sentencepiece", "bpe"):
            return _sampled_learning(command, args, kwargs, settings, tokenizer, options, reserved_tokens, model_type,
                                     sample)
        _refuse_given(ctx, ("model_type", "sample"), "is an option of SentencePiece's learning: add --tokenizer "
                                                     "sentencepiece (--sample: or bpe)")
        if tokenizer != "wordpiece":
            _refuse_given(ctx, (*options, "reserved_tokens"), "is a WordPiece option: add --tokenizer wordpiece")
            return command(*args, settings=settings, reserved_tokens=DEFAULT_RESERVED, **kwargs)
        _refuse_given(ctx, [name for name in _TEXT_VECTORIZATION_FLAGS if name != "max_tokens"],
                      "is a TextVectorization setting; --tokenizer wordpiece learns the pieces of KerasHub's WordPiece, "
                      "with its own options")
        _require_size(settings, "wordpiece", "the vocabulary's size, its reserved tokens included "
                                             "(compute_word_piece_vocabulary's vocabulary_size)")
        reserved = tuple(reserved_tokens) or DEFAULT_RESERVED
        if options["oov_token"] not in reserved:
            raise click.UsageError(f"the reserved tokens ({', '.join(reserved)}) must hold the unknown token "
                                   f"{options['oov_token']!r} (--oov-token), which KerasHub's tokenizer needs")
        if len(set(reserved)) != len(reserved) or len(reserved) >= settings.max_tokens:
            raise click.UsageError(f"--reserved-token: {len(reserved)} tokens, each once, and fewer than --max-tokens "
                                   f"{settings.max_tokens}")
        settings = dataclasses.replace(settings, standardize=None, split=None, tokenizer="wordpiece",
                                       wordpiece=WordPieceSettings(**options))
        return command(*args, settings=settings, reserved_tokens=reserved, **kwargs)

    for flag in reversed([
        click.option("--tokenizer", type=click.Choice(TOKENIZERS), default=TOKENIZERS[0],
                     help="text_vectorization: TextVectorization.adapt's vocabulary (the settings above). wordpiece: "
                          "the vocab.txt keras_hub.tokenizers.compute_word_piece_vocabulary learns (--max-tokens "
                          "is its size), with the options below. sentencepiece: the model "
                          "keras_hub.tokenizers.compute_sentence_piece_proto learns (--max-tokens pieces), from a "
                          "sample of the documents (--sample). bpe: GPT-2 style byte-level vocabulary.json (OUT) and "
                          "merges (OUT's name with .merges.txt), from a sample."),
        click.option("--model-type", type=click.Choice(MODEL_TYPES), default=MODEL_TYPES[0],
                     help="sentencepiece: the model SentencePiece learns, as compute_sentence_piece_proto's model_type."),
        click.option("--sample", type=click.IntRange(min=1), default=DEFAULT_SAMPLE, metavar="DOCUMENTS",
                     help="sentencepiece, bpe: learn from at most this many documents, drawn by a hash of where each is "
                          "(the same sample for the same corpus); a smaller corpus is learned from whole."),
        *_WORDPIECE_OPTIONS,
        click.option("--reserved-token", "reserved_tokens", multiple=True, metavar="TOKEN",
                     help=f"wordpiece: the vocabulary's first tokens, in order (repeat for more) "
                          f"[default: {' '.join(DEFAULT_RESERVED)}]. bpe: its special tokens [default: "
                          f"{' '.join(DEFAULT_SPECIAL)}]."),
    ]):
        wrapper = flag(wrapper)
    return wrapper


def _refuse_given(ctx: click.Context, names, why: str) -> None:
    """A usage error naming the first of the flags `names` given on the command line, and `why`."""
    wrong = _given(ctx, names)
    if wrong:
        raise click.UsageError(f"{_flag(ctx, wrong[0])} {why}")


def _require_size(settings, tokenizer: str, meaning: str) -> None:
    if settings.max_tokens is None:
        raise click.UsageError(f"--tokenizer {tokenizer} needs --max-tokens N: {meaning}")


def _sampled_learning(command, args, kwargs, settings, tokenizer: str, options: dict, reserved_tokens,
                      model_type: str, sample: int):
    """`prep vocab --tokenizer sentencepiece|bpe`: learned from a sample; its flags checked, and the job's settings."""
    ctx = click.get_current_context()
    if tokenizer == "bpe":
        _refuse_given(ctx, [*(n for n in _TEXT_VECTORIZATION_FLAGS if n != "max_tokens"), *options, "model_type"],
                      "is not an option of byte-pair learning (--max-tokens, --reserved-token, --sample)")
        _require_size(settings, "bpe", "the vocabulary's size: the 256 byte symbols, the special tokens and the merges")
        reserved = tuple(reserved_tokens) or DEFAULT_SPECIAL
        if len(set(reserved)) != len(reserved):
            raise click.UsageError("--reserved-token: each special token once")
        if settings.max_tokens < BYTE_SYMBOLS + len(reserved):
            raise click.UsageError(f"--max-tokens must be at least {BYTE_SYMBOLS + len(reserved)}: a byte-level BPE "
                                   f"holds the {BYTE_SYMBOLS} byte symbols and its {len(reserved)} special token(s) "
                                   "before any merge")
        return command(*args, settings=dataclasses.replace(settings, standardize=None, split=None, tokenizer="bpe"),
                       reserved_tokens=reserved, sample=sample, **kwargs)
    _refuse_given(ctx, [*(n for n in _TEXT_VECTORIZATION_FLAGS if n != "max_tokens"),
                        *(n for n in options if n != "lowercase"), "reserved_tokens"],
                  "is not an option of SentencePiece's learning (--max-tokens, --model-type, --lowercase, --sample)")
    _require_size(settings, "sentencepiece", "the model's pieces, its 4 special ones (<pad> <unk> <s> </s>) included "
                                             "(compute_sentence_piece_proto's vocabulary_size)")
    settings = dataclasses.replace(settings, standardize=None, split=None, tokenizer="sentencepiece")
    return command(*args, settings=settings, reserved_tokens=DEFAULT_RESERVED, sample=sample,
                   sentencepiece=SentencePieceTraining(model_type, options["lowercase"]), **kwargs)


def keras_hub_flags(command):
    """--tokenizer and the options of KerasHub's tokenizers (`prep text`): with wordpiece, sentencepiece
    or bpe, the token ids are KerasHub's for the --vocab file (and --merges: prep.text.wordpiece,
    prep.text.sentencepiece, prep.text.bytepair)."""
    @functools.wraps(command)
    def wrapper(*args, settings, tokenizer, vocab_file, merges_file, **kwargs):
        options = {name: kwargs.pop(name) for names in _KERAS_HUB_FLAGS.values() for name in names}
        ctx = click.get_current_context()
        given = _given(ctx, _TEXT_VECTORIZATION_FLAGS + tuple(options))
        own = _KERAS_HUB_FLAGS.get(tokenizer, _TEXT_VECTORIZATION_FLAGS)
        wrong = next((name for name in given if name not in own), None)
        if wrong is not None:
            flag = _flag(ctx, wrong)
            if wrong in _TEXT_VECTORIZATION_FLAGS:
                raise click.UsageError(f"{flag} is a TextVectorization setting; --tokenizer {tokenizer} makes "
                                       f"the ids of KerasHub's tokenizer, with its own options")
            kind = next(kind for kind, names in _KERAS_HUB_FLAGS.items() if wrong in names)
            if tokenizer == TOKENIZERS[0]:
                raise click.UsageError(f"{flag} is a {_NAMES[kind]} option: add --tokenizer {kind}")
            raise click.UsageError(f"{flag} is a {_NAMES[kind]} option, not a {_NAMES[tokenizer]} one (--tokenizer "
                                   f"{tokenizer} takes {', '.join(_flag(ctx, name) for name in own)})")
        if tokenizer != TOKENIZERS[0]:
            if not vocab_file and not kwargs.get("update"):
                raise click.UsageError(f"--tokenizer {tokenizer} needs --vocab FILE: {_VOCAB_FILES[tokenizer]}")
            if tokenizer == "bpe" and vocab_file and not merges_file:
                raise click.UsageError("--tokenizer bpe needs --merges FILE: the merges.txt beside the vocabulary.json")
            kind = {"wordpiece": WordPieceSettings, "sentencepiece": SentencePieceSettings, "bpe": BytePairSettings}[tokenizer]
            settings = dataclasses.replace(settings, standardize=None, split=None, tokenizer=tokenizer, **{
                tokenizer: kind(**{name: options[name] for name in _KERAS_HUB_FLAGS[tokenizer]})})
        if merges_file and tokenizer != "bpe":
            raise click.UsageError("--merges is the byte-pair merges.txt: add --tokenizer bpe")
        return command(*args, settings=settings, vocab_file=vocab_file, merges_file=merges_file, **kwargs)

    for flag in reversed([
        click.option("--tokenizer", type=click.Choice(TOKENIZERS), default=TOKENIZERS[0],
                     help="text_vectorization: TextVectorization's ids (the settings above). wordpiece, "
                          "sentencepiece, bpe: the ids of keras_hub.tokenizers.WordPieceTokenizer (--vocab vocab.txt), "
                          "SentencePieceTokenizer (--vocab FILE.model) or BytePairTokenizer (--vocab vocabulary.json "
                          "--merges merges.txt), with the options below."),
        click.option("--merges", "merges_file", metavar="FILE", help="bpe: the merges.txt of the --vocab vocabulary.json."),
        *_WORDPIECE_OPTIONS,
        click.option("--add-bos", is_flag=True, help="sentencepiece: start each document with the model's <s> id."),
        click.option("--add-eos", is_flag=True, help="sentencepiece: end each document with the model's </s> id."),
        click.option("--add-prefix-space", is_flag=True, help="bpe: a space before each document, as RoBERTa's."),
        click.option("--unsplittable-token", "unsplittable_tokens", multiple=True, metavar="TOKEN",
                     help="bpe: a special token kept whole where the text holds it (repeat for more), e.g. <|endoftext|>."),
    ]):
        wrapper = flag(wrapper)
    return wrapper


@click.command(context_settings={"show_default": True})
@input_flags
@click.argument("out")
@click.option("--split", "split_text", metavar="NAME=FRACTION,...",
              help="Assign splits by a stable hash of each document's file and line, e.g. train=0.9,test=0.1. "
                   "Without it: SRC/train, SRC/validation, SRC/test folders if present, else all in 'train'.")
@custom_split_names_flag
@click.option("--labels", "labels_file", metavar="FILE",
              help="Pin the class list: line i of FILE is label id i. Documents with another label are rejected.")
@click.option("--vocab", "vocab_file", metavar="FILE",
              help="Use this vocabulary file (one token per line, as `prep vocab` writes) instead of learning one.")
@click.option("--vocab-splits", "vocab_splits", metavar="NAME,...|all",
              help="The splits whose documents a learned vocabulary is counted from, as tf.Transform analyses "
                   "the training data only: test documents do not choose tokens, and their out-of-vocabulary "
                   "rate is the real one. all: every split. [default: train]")
@tokenizer_flags
@keras_hub_flags
@click.option("--max-length", type=click.IntRange(min=1), help="Keep at most this many token ids per record.")
@click.option("--no-raw-text", is_flag=True, help="Leave the text itself out of the records (token ids only).")
@click.option("--dedupe", is_flag=True,
              help="Drop exact copies of a document: the same tokens, i.e. the same text once standardised "
                   "(kept: the copy in the first split, train first, then the first by path and line); each dropped document is in rejected.jsonl.")
@click.option("--update", is_flag=True,
              help="Make the next version of the dataset in OUT from SRC as it is now: only new and changed files "
                   "are read (lines appended to a file: only those), with the dataset's vocabulary and options; "
                   "earlier versions stay readable (docs/versions.md).")
@click.option("--relearn-vocabulary", is_flag=True,
              help="With --update: learn the vocabulary anew from SRC as it is now, as the first run learned it "
                   "(or with the --max-tokens and --min-count given), and make every record again with it; earlier "
                   "versions keep theirs.")
@sharding_flags
@tfds_flag
@runner_flags
def text(inputs, out, split_text, custom_split_names, labels_file, vocab_file, merges_file, vocab_splits, settings,
         no_raw_text, dedupe, update, relearn_vocabulary, sharding, runner, overwrite):
    """Convert a text corpus into sharded TFRecords of token ids in OUT, with its vocabulary.

    SRC is a folder of class folders of text files, or JSON Lines / CSV / TSV / plain text files (a file,
    a folder with --input-format, or a glob); .gz files are read as they are. Beam flags after `--` go
    to the pipeline as they are.
    """
    from prep.core.vocab_files import read_vocabulary
    from prep.text.options import TextJobOptions
    from prep.text.tokenizer import read_token_vocabulary

    if update:
        _update(inputs.src, out, runner, overwrite, relearn_vocabulary, settings)
        return
    if relearn_vocabulary:
        raise click.UsageError("--relearn-vocabulary goes with --update: a first run learns its vocabulary anyway")

    read_on_launcher = functools.partial(read_vocabulary, on_launcher=True)
    if vocab_file:
        if settings.max_tokens is not None or settings.min_count != 1:
            raise click.UsageError("--max-tokens and --min-count shape a learned vocabulary; "
                                   "with --vocab the file is used as it is")
        try:
            read_token_vocabulary(tuple(f for f in (vocab_file, merges_file) if f), settings, on_launcher=True)
        except ValueError as e:  # the message names the file at fault
            flag = "--merges" if merges_file and str(e).startswith(f"{merges_file}:") else "--vocab"
            raise click.BadParameter(str(e), param_hint=flag) from None
    if not inputs.labelled and labels_file:
        raise click.UsageError("--labels needs labelled documents: class folders, or --label-field")
    labels = parse_flag(read_on_launcher, labels_file, "--labels") if labels_file else None
    split_fractions = parse_split_flag(split_text, custom_split_names)
    vocabulary_splits = _vocabulary_splits(vocab_splits, vocab_file, split_fractions)
    out = out.rstrip("/") or "/"
    options = TextJobOptions(
        inputs=inputs, out=os.path.abspath(out) if is_local(out) else out,
        text=settings,
        sharding=sharding,
        split_fractions=split_fractions, vocabulary_splits=vocabulary_splits,
        labels=labels, vocab_file=vocab_file, merges_file=merges_file, raw_text=not no_raw_text, dedupe=dedupe,
        spill_shuffles=runner.is_local, created=now())
    _launch(options, runner, overwrite, vocab_splits is not None)


def _launch(options, runner, overwrite: bool, vocab_splits_given: bool = False) -> None:
    """Checks SRC and OUT as the options name them, runs the job (prep.cli.jobs.launch) and prints
    what it made of the text."""
    from beam_jobs.text import ConvertCorpus
    from prep.core import preflight
    from prep.jobs import auto_workers
    from prep.text import preflight as text_preflight

    inputs, update = options.inputs, options.update
    if inputs.format == "folder":
        preflight.check_not_nested(inputs.src, options.out)
    layout = text_preflight.check_text_source(inputs, options.labels, options.split_fractions is not None)
    if not options.vocab_file and not update:
        text_preflight.check_vocabulary_splits(inputs.format, layout, options.vocabulary_splits, vocab_splits_given,
                                               options.split_fractions is not None)
    runner = auto_workers.for_input(runner, inputs.pattern, auto_workers.TEXT_BYTES)
    before = update.version - 1 if update else None
    launch("text", inputs.src, options.out, lambda p: p | "ConvertCorpus" >> ConvertCorpus(options), runner, overwrite,
           before)
    if runner.dry_run:
        return
    made = print_update(options.out, before) if update else True
    _print_text_summary(options.out, options.text, made)


_CUT_FLAGS = ("max_tokens", "min_count")  # what a relearned vocabulary may be cut by anew


def _update(src: str, out: str, runner, overwrite: bool, relearn: bool, settings: TextSettings) -> None:
    """`--update`: the next version of the text dataset in OUT (prep.text.update); with
    --relearn-vocabulary, --max-tokens and --min-count may cut the new vocabulary otherwise."""
    from prep.jobs.updates import CannotUpdate
    from prep.text.update import update_options

    check_update_flags(overwrite, {"relearn_vocabulary", *(_CUT_FLAGS if relearn else ())})
    cut = {name: getattr(settings, name) for name in _given(click.get_current_context(), _CUT_FLAGS)}
    try:
        options = update_options(src, out.rstrip("/") or "/", now(), runner.is_local, relearn, cut)
    except (CannotUpdate, ValueError) as e:
        raise click.UsageError(str(e)) from None
    _launch(options, runner, overwrite=False)


def _vocabulary_splits(flag: str | None, vocab_file: str | None, fractions) -> tuple[str, ...] | None:
    """--vocab-splits as TextJobOptions.vocabulary_splits (None: every split), checked against --split."""
    from prep.core.splits import lookalike

    if flag is None:
        return ("train",)
    if vocab_file:
        raise click.UsageError("--vocab-splits chooses the documents a vocabulary is learned from; "
                               "with --vocab the file is used as it is")
    if flag.strip().lower() == "all":
        return None
    names = tuple(dict.fromkeys(n.strip() for n in flag.split(",") if n.strip()))
    if not names:
        raise click.BadParameter("name at least one split, or all", param_hint="--vocab-splits")
    if fractions is not None:
        unknown = [n for n in names if n not in fractions.names]
        if unknown:
            near = lookalike(unknown[0], fractions.names)
            raise click.BadParameter(f"{', '.join(unknown)} is not one of the splits --split assigns "
                                     f"({', '.join(fractions.names)}){f' (did you mean {near}?)' if near else ''}",
                                     param_hint="--vocab-splits")
    return names


def _print_text_summary(out: str, settings: TextSettings, made: bool = True) -> None:
    """The vocabulary and tokens of the dataset in OUT; and, when an update `made` a version, what its
    new documents or relearned vocabulary are."""
    from apache_beam.io.filesystems import FileSystems

    from prep.core.wording import plural
    from prep.text.dataset import learned_source

    path = FileSystems.join(out, "stats.json")
    if not FileSystems.exists(path):
        return  # a dry run, or Dataflow still running
    with FileSystems.open(path) as f:
        stats = json.loads(f.read())
    v, t = stats["vocabulary"], stats["text"]
    oov = f"{t['oov_rate']:.2%}" if t["oov_rate"] is not None else "-"
    learned, source = v.get("learned_from") or [], ""
    if learned and set(learned) != set(stats["splits"]):  # say so only when some split was left out
        source = f", {learned_source(learned)}"
    cut = f"; {plural(t['truncated'], 'document')} cut at --max-length" if t.get("truncated") else ""
    click.echo(f"vocabulary {settings.vocabulary_described(v['size'])}{source}; {t['tokens']:,} tokens in the documents, "
               f"{oov} out of vocabulary{_oov_by_split(stats) if source else ''}{cut}")
    update = stats.get("update") if made else None
    if update and update.get("vocabulary_relearned"):
        click.echo("the vocabulary was learned anew and every record made again with it; earlier versions keep "
                   "their own vocabulary and records")
    elif update and update["records_new"]:
        new, kept = (f"{r:.2%}" if r is not None else "-" for r in (update["oov_rate_new"], update["oov_rate_kept"]))
        click.echo(f"new documents: {update['tokens_new']:,} tokens, {new} out of vocabulary (the records kept: {kept}; "
                   "the vocabulary is the dataset's: --update --relearn-vocabulary learns it anew)")


def _oov_by_split(stats: dict) -> str:
    rates = [f"{name} {s['oov_rate']:.2%}" for name, s in stats["splits"].items() if s.get("oov_rate") is not None]
    return f" ({', '.join(rates)})" if rates else ""


@click.command(context_settings={"show_default": True})
@input_flags
@click.argument("out")
@tokenizer_flags
@wordpiece_learning_flags
@runner_flags
def vocab(inputs, out, settings, reserved_tokens, runner, overwrite, sentencepiece=None, sample=DEFAULT_SAMPLE):
    """Learn a token vocabulary from a text corpus, as TextVectorization.adapt would, and write it to the file OUT.

    OUT holds one token per line (ids 2, 3, ...: Keras adds '' and '[UNK]' itself); beside it,
    OUT's name with .counts.tsv (count and token per line) and .stats.json. SRC is read as `prep text`
    reads it. With --tokenizer wordpiece, OUT is the WordPiece vocab.txt KerasHub's
    compute_word_piece_vocabulary learns (every id, the reserved tokens first), learned from the
    counts of every word of the corpus (in .counts.tsv).
    """
    from beam_jobs.vocab import LearnVocabulary
    from prep.jobs import auto_workers
    from prep.jobs.hold import hold_file
    from prep.text import preflight as text_preflight
    from prep.text.dataset import vocab_sidecars
    from prep.text.options import VocabJobOptions

    out = os.path.abspath(out) if is_local(out) else out
    options = VocabJobOptions(inputs=inputs, out=out, text=settings, created=now(), reserved_tokens=reserved_tokens,
                              sentencepiece=sentencepiece or SentencePieceTraining(), sample=sample)
    with contextlib.nullcontext() if runner.dry_run else hold_file(out, f"prep vocab {shlex.quote(inputs.src)}"):
        learned_beside = (merges_file(out),) if settings.tokenizer == "bpe" else ()
        text_preflight.check_vocab_output(out, inputs.src, overwrite or runner.dry_run, vocab_sidecars(out) + learned_beside)
        text_preflight.check_text_source(inputs, None, False)
        runner = auto_workers.for_input(runner, inputs.pattern, auto_workers.VOCAB_BYTES)
        if not runner.quiet:
            click.echo(f"prep vocab: {inputs.src} -> {out} ({runner.description})", err=True)
        started = time.monotonic()
        if run_job(lambda p: p | "LearnVocabulary" >> LearnVocabulary(options), runner, "vocab"):
            _print_vocab_summary(out, time.monotonic() - started)


def _print_vocab_summary(out: str, seconds: float) -> None:
    from apache_beam.io.filesystems import FileSystems

    from prep.text.dataset import vocab_sidecars

    counts, stats_path, rejected = vocab_sidecars(out)
    if not FileSystems.exists(stats_path):
        return
    with FileSystems.open(stats_path) as f:
        stats = json.loads(f.read())
    v = stats["vocabulary"]
    took = elapsed(seconds, stats['documents'], 'documents')
    if "sample" in v:  # SentencePiece or byte-pair: learned from a sample of the documents
        drawn = v["sample"]
        sample = ("every document" if drawn["whole_corpus"] else
                  f"a sample of {drawn['documents']:,} of the {drawn['of']:,} documents")
        made = (f"a SentencePiece {v['training']['model_type']} model of {v['size']:,} pieces to {out}" if "training" in v
                else f"{v['size']:,} byte-pair tokens to {out} and their merges to {merges_file(out)}")
        click.echo(f"wrote {made}, learned from {sample}{took}")
    elif "distinct_words" in v:  # WordPiece: learned from the words' counts
        click.echo(f"wrote {v['size']:,} WordPiece tokens to {out} (word counts in {counts}): {v['corpus_words']:,} "
                   f"words, {v['distinct_words']:,} distinct, in {stats['documents']:,} documents{took}")
        asked, lowest = stats["text"]["max_tokens"], v["learner"]["lower_thresh"]
        if v["size"] < asked * (1 - v["learner"]["slack_ratio"]):
            click.echo(f"fewer than the {asked:,} asked for: the learner keeps a piece only when it is counted at least "
                       f"{lowest} times (as KerasHub's), and the corpus has no more such pieces")
    else:
        click.echo(f"wrote {v['size']:,} tokens to {out} (counts in {counts}): {v['corpus_tokens']:,} tokens, "
                   f"{v['distinct_tokens']:,} distinct, in {stats['documents']:,} documents{took}")
    print_rejected(stats, rejected)


COMMANDS = (text, vocab,)  # what prep.cli.main adds to `prep`
