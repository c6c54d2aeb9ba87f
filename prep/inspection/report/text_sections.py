"""The sections of a text dataset: documents per class, tokens per document, top tokens, out-of-vocabulary
rates and a few documents read back from their token ids. Figures come from stats.json when it has them
(whatever keys the text job writes), else from the documents read, and say which."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

from prep.core.vocab_files import counts_file
from prep.inspection import contact_sheet as sheets
from prep.inspection.report import charts
from prep.inspection.report.duplicates import duplicates_section
from prep.inspection.report.markup import Section, chart_figure, escape, html_table, number, split_badges
from prep.inspection.report.options import ReportOptions
from prep.inspection.report.sections import class_balance_section, rejected_section
from schemas import DatasetSchema, Feature, Vocabulary


def _walk(value, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    yield path, value
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _walk(inner, path + (str(key),))


def _find_stat(stats: Mapping, *words: str, shape: str) -> tuple[tuple[str, ...], object] | None:
    """The first value in stats.json whose key path names all `words` and has the `shape` asked for:
    "distribution" (has a histogram), "ranking" (token -> count), "number". The text job's keys may
    change; the report reads what is there and leaves a chart out when nothing fits."""
    for path, value in _walk(stats):
        joined = "/".join(path).lower()
        if not path or not all(w in joined for w in words):
            continue
        if shape == "distribution" and isinstance(value, Mapping) and isinstance(value.get("histogram"), list):
            return path, value
        if shape == "ranking" and _ranking(value):
            return path, value
        if shape == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return path, value
    return None


def _ranking(value) -> list[tuple[str, int]]:
    """[(token, count)] from {token: count}, [[token, count]] or [{"token": t, "count": n}]; [] otherwise."""
    try:
        if isinstance(value, Mapping) and value and all(isinstance(v, int) for v in value.values()):
            return [(str(k), int(v)) for k, v in value.items()]
        if isinstance(value, list) and value:
            if all(isinstance(v, (list, tuple)) and len(v) == 2 for v in value):
                return [(str(t), int(n)) for t, n in value]
            if all(isinstance(v, Mapping) for v in value):
                return [(str(v["token"]), int(v["count"])) for v in value]
    except (KeyError, TypeError, ValueError):
        pass
    return []


@dataclass
class Document:
    split: str
    label: str | None
    source: str
    text: str | None
    ids: list[int]


def token_feature(schema: DatasetSchema) -> Feature | None:
    """The feature holding token ids, or None (not a text dataset prep wrote)."""
    return next((f for f in schema.features if f.encoding == "token_ids"), None)


def read_documents(root: str, schema: DatasetSchema, per_split: int, names: list[str] | None) -> list[Document]:
    """The first `per_split` records of each split, in shard order."""
    token = token_feature(schema)
    text_key = next((f.name for f in schema.features if f.encoding == "text" and f.name == "text"), None)
    names_set = {f.name for f in schema.features}
    source_key = next((k for k in ("text/filename", "filename") if k in names_set), None)
    docs: list[Document] = []
    for split in schema.splits:
        shards = [(split.name, s.file) for s in split.shards if s.num_records != 0]
        records = sheets.scan_records(root, schema, shards)
        try:
            for record in records:
                f = record.features
                label = None
                if schema.label_key and f.get(schema.label_key):
                    i = f[schema.label_key][0]
                    label = names[i] if names and 0 <= i < len(names) else str(i)
                line = f.get("text/line")
                source = (f[source_key][0].decode("utf-8", "replace") if source_key and f.get(source_key) else "")
                source += f":{line[0]}" if line and line[0] else ""
                text = f[text_key][0].decode("utf-8", "replace") if text_key and f.get(text_key) else None
                docs.append(Document(split.name, label, source, text, list(f.get(token.name, [])) if token else []))
                if sum(d.split == split.name for d in docs) >= per_split:
                    break
        finally:
            records.close()
    return docs


def _vocabulary(root: str, schema: DatasetSchema):
    """(tokens in file order, the schema's vocabulary entry) of the token feature, or (None, None)."""
    token = token_feature(schema)
    if token is None or not token.vocabulary:
        return None, None
    try:
        vocabulary = schema.vocabulary(token.vocabulary)
    except Exception:  # noqa: BLE001 - a foreign schema may name a vocabulary it does not list
        return None, None
    text = sheets.read_text(root, vocabulary.file)
    if text is None:
        return None, vocabulary
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines], vocabulary


def render_tokens(ids: Sequence[int], tokens: Sequence[str] | None, first_id: int, reserved: Mapping[int, str],
                  oov_id: int | None, limit: int = 200) -> str:
    """HTML of a document's token ids read back as tokens; out-of-vocabulary ids are marked."""
    parts = []
    for i in ids[:limit]:
        if i == oov_id:
            parts.append('<mark class="oov" title="out of vocabulary">[UNK]</mark>')
        elif i in reserved:
            parts.append(f'<span class="tok reserved">{escape(reserved[i] or "[pad]")}</span>')
        elif tokens is not None and 0 <= i - first_id < len(tokens):
            parts.append(f'<span class="tok">{escape(tokens[i - first_id])}</span>')
        else:
            parts.append(f'<span class="tok reserved">#{i}</span>')
    if len(ids) > limit:
        parts.append(f'<span class="note"> \u2026 and {len(ids) - limit:,} more tokens</span>')
    return " ".join(parts)


def _head_lines(root: str, relative: str, count: int) -> list[str] | None:
    """The first `count` lines of a dataset file (without reading the rest), or None if it is absent."""
    from apache_beam.io.filesystems import FileSystems

    path = FileSystems.join(root, relative)
    if not FileSystems.exists(path):
        return None
    lines = []
    with FileSystems.open(path, compression_type="uncompressed") as f:
        for raw in f:
            if len(lines) >= count:
                break
            lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
    return lines


def top_tokens(root: str, stats: Mapping, vocabulary: Vocabulary | None, count: int = 30
               ) -> tuple[list[tuple[str, int]], str]:
    """The most frequent tokens with their counts, and where they come from: the counts file written
    beside the vocabulary (`<count>\\t<token>` lines, most frequent first), or a ranking in stats.json."""
    if vocabulary is not None and vocabulary.file.endswith(".txt"):
        counts = counts_file(vocabulary.file)
        lines = _head_lines(root, counts, count)
        if lines:
            pairs = [(token, int(n)) for n, _, token in (line.partition("\t") for line in lines) if n.isdigit()]
            if pairs:
                return pairs, counts
    found = _find_stat(stats, "top", shape="ranking") or _find_stat(stats, "token", shape="ranking")
    if found is not None:
        return _ranking(found[1])[:count], "stats.json " + ".".join(found[0])
    return [], ""


def _lengths(stats: Mapping) -> tuple[Mapping, str] | None:
    d = (stats.get("text") or {}).get("tokens_per_document")
    if isinstance(d, Mapping) and d.get("histogram"):
        return d, "stats.json, every document"
    found = _find_stat(stats, "token", shape="distribution")
    return (found[1], f"stats.json {'.'.join(found[0])}") if found else None


def text_sections(root: str, schema: DatasetSchema, stats: Mapping, options: ReportOptions) -> list[Section]:
    """Documents per class, tokens per document, top tokens, out-of-vocabulary rates, documents read back.
    Figures come from stats.json when it has them, else from the documents read (and say so)."""
    names = sheets.label_names(root, schema)
    sections: list[Section | None] = [class_balance_section(schema, stats, names, "documents")]
    tokens, vocabulary = _vocabulary(root, schema)
    first_id = vocabulary.first_id if vocabulary else 2
    reserved = dict(vocabulary.reserved) if vocabulary else {0: "", 1: "[UNK]"}
    oov_id = vocabulary.oov_id if vocabulary else 1
    token = token_feature(schema)
    max_length = (schema.text.max_length if schema.text else None) or (token.max_length if token else None)
    lengths = _lengths(stats)
    oov = _oov_rates(stats, schema)
    sampled = token is not None and (lengths is None or not oov)
    docs = read_documents(root, schema, options.text_sample if sampled else options.documents, names)
    sample_note = f"the first {options.text_sample:,} documents of each split (stats.json has no figure)"

    section = Section("lengths", "Tokens per document")
    if lengths is None and docs and token is not None:
        from prep.core.statistics import Distribution

        counted = Distribution()
        for doc in docs:
            counted.add(len(doc.ids))
        lengths = counted.to_dict(), sample_note
    if lengths is not None:
        d, source = lengths
        cut = f"--max-length {max_length}" if max_length else ""
        section.add(chart_figure(charts.histogram(d["histogram"], "tokens per document (before --max-length)", "tokens",
                                            mark=max_length, mark_label=cut), f"From {source}."))
        mean = d.get("mean")
        facts = (f"min {number(d.get('min'))}, mean {'?' if mean is None else f'{mean:,.1f}'}, "
                 f"max {number(d.get('max'))} tokens")
        truncated = (stats.get("text") or {}).get("truncated")
        if max_length:
            facts += (f"; documents longer than {max_length:,} tokens are cut at the dashed line"
                      + (f" ({truncated:,} of {number(stats.get('records'))} documents)" if truncated is not None else ""))
        section.add(f"<p>{facts}.</p>")
        sections.append(section)

    section = Section("tokens", "Top tokens")
    top, source = top_tokens(root, stats, vocabulary)
    if top:
        section.add(chart_figure(charts.counts_bars(dict(top), f"the {len(top)} most frequent tokens", "occurrences"),
                           f"From {source}."))
    elif tokens:
        section.add("<p>No token counts were written; the vocabulary file lists tokens most frequent first:</p>",
                    "<p>" + " ".join(f'<span class="tok">{escape(t)}</span>' for t in tokens[:50]) + "</p>")
    v = stats.get("vocabulary") or {}
    if tokens is not None or v:
        file = f" in <code>{escape(vocabulary.file)}</code>" if vocabulary else ""
        facts = [f"{number(v.get('size', len(tokens or [])))} tokens{file} (line i is id i + {first_id}; "
                 f"id {oov_id} is out of vocabulary)"]
        if v.get("source"):
            facts.append(escape(v["source"]))
        if v.get("occurrences_covered") is not None:
            facts.append(f"covers {v['occurrences_covered']:.1%} of the corpus' token occurrences")
        if v.get("coverage") is not None:
            facts.append(f"{v['coverage']:.1%} of its tokens occur in the records")
        left_out = v.get("left_out") or {}
        if any(left_out.values()):
            facts.append("left out: " + ", ".join(f"{number(n)} {escape(k.replace('_', ' '))}" for k, n in left_out.items() if n))
        section.add("<ul>" + "".join(f"<li>{f}</li>" for f in facts) + "</ul>")
    if section.body:
        sections.append(section)

    section = Section("oov", "Out-of-vocabulary rate per split")
    source = "stats.json"
    if not oov and docs and token is not None:
        source = sample_note
        for split in schema.split_names:
            ids = [i for d in docs if d.split == split for i in d.ids]
            if ids:
                oov[split] = sum(i == oov_id for i in ids) / len(ids)
    if oov:
        section.add(chart_figure(charts.counts_bars(oov, "share of tokens out of the vocabulary ([UNK])", "tokens",
                                              percent=True), f"From {source}."))
        sections.append(section)

    section = Section("documents", "Documents read back from their token ids")
    shown = [d for split in schema.split_names for d in [x for x in docs if x.split == split][:options.documents]]
    rows = []
    for doc in shown:
        cut = "\u2026" if doc.text is not None and len(doc.text) > 600 else ""
        raw = "" if doc.text is None else f'<div class="raw">{escape(doc.text[:600])}{cut}</div>'
        rows.append([split_badges([doc.split]) + (f"<br>{escape(doc.label)}" if doc.label else ""),
                     f"<code>{escape(doc.source)}</code>" if doc.source else "",
                     raw + f'<div class="ids">{render_tokens(doc.ids, tokens, first_id, reserved, oov_id)}</div>'])
    if rows:
        section.add(f"<p>The first {options.documents} documents of each split in shard order, their token ids mapped "
                    "back through the vocabulary file; <mark class='oov'>[UNK]</mark> marks a token out of the "
                    "vocabulary. The raw text, when the records keep it, is above in grey.</p>",
                    html_table(["split / class", "source", "document"], rows, "docs"))
        sections.append(section)
    sections += [rejected_section(root, stats, options), duplicates_section(schema, stats, None, options)]
    return [s for s in sections if s is not None]


def _oov_rates(stats: Mapping, schema: DatasetSchema) -> dict[str, float]:
    """Out-of-vocabulary share of tokens per split, from whatever stats.json holds (a rate, or counts)."""
    rates: dict[str, float] = {}
    splits = stats.get("splits") or {}
    for split in schema.split_names:
        s = splits.get(split) or {}
        if isinstance(s.get("oov_rate"), (int, float)):
            rates[split] = float(s["oov_rate"])
            continue
        rate = _find_stat(s, "oov", "rate", shape="number") or _find_stat(s, "out_of_vocabulary", "rate", shape="number")
        if rate is not None:
            rates[split] = float(rate[1])
            continue
        count = _find_stat(s, "oov", shape="number") or _find_stat(s, "out_of_vocabulary", shape="number")
        total = _find_stat(s, "tokens", shape="number")
        if count is not None and total is not None and total[1] and count[0] != total[0]:
            rates[split] = count[1] / total[1]
    if not rates:
        found = _find_stat(stats, "oov", shape="ranking")
        if found is not None:
            rates = {k: float(v) for k, v in _ranking(found[1])}
    return rates
