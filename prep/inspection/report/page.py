"""The page of `prep report`: the sections for the kind of dataset, put together as one self-contained
HTML page with the header, what stands out and the contents at the top."""

from __future__ import annotations

from typing import Mapping

from prep.core.wording import byte_size
from prep.inspection import contact_sheet as sheets
from prep.inspection.report import charts
from prep.inspection.report.findings import Finding, findings, findings_html
from prep.inspection.report.image_sections import image_sections
from prep.inspection.report.markup import Section, escape, number
from prep.inspection.report.options import ReportOptions
from prep.inspection.report.sections import features_section, rejected_section, shards_section
from prep.inspection.report.text_sections import text_sections, token_feature
from prep.inspection.report.version_section import version_section
from schemas import DatasetSchema, load_schema

_CSS = """
:root { --ink: #222; --muted: #666; --line: #ddd; --leak: #b3261e; --leak-bg: #fdecea; --warn-bg: #fff6e0;
        --ok-bg: #eaf6ec; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0; background: #fafafa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 40px 0 12px; padding-top: 12px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 8px; }
h3 small { font-weight: normal; color: var(--muted); }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
nav { margin: 12px 0; display: flex; flex-wrap: wrap; gap: 4px 18px; }
nav a { white-space: nowrap; }
.meta { color: var(--muted); margin: 0 0 8px; }
.facts td { padding: 2px 16px 2px 0; }
.findings { list-style: none; padding: 0; margin: 16px 0; }
.findings li { padding: 10px 14px; margin: 6px 0; border-radius: 6px; border-left: 6px solid #e0a800;
               background: var(--warn-bg); }
.findings li.leak { border-left-color: var(--leak); background: var(--leak-bg); font-weight: 600; font-size: 17px; }
.findings li.ok { border-left-color: #2e7d32; background: var(--ok-bg); }
.leak { border: 2px solid var(--leak); background: var(--leak-bg); border-radius: 8px; padding: 4px 16px 12px;
        margin: 12px 0; }
.leak h3 { color: var(--leak); }
figure { margin: 0; }
figure.chart { margin: 12px 0 20px; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figure.chart figcaption, .note { color: var(--muted); font-size: 13px; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; }
.tile { width: 128px; }
.tile .frame { width: 128px; height: 128px; background: #ececec; display: flex; align-items: center;
               justify-content: center; }
.tile img { display: block; }
.tile figcaption { font-size: 12px; line-height: 1.35; margin-top: 3px; }
.tile figcaption span { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.tile figcaption span + span { color: var(--muted); }
.missing { color: var(--muted); font-size: 12px; }
.class h3 { margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 6px 12px 6px 0; border-bottom: 1px solid var(--line); }
th { font-weight: 600; border-bottom: 2px solid var(--line); }
table.numbers td:not(:first-child), table.numbers th:not(:first-child) { text-align: right; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; background: #e8eef7; color: #1f4e8c;
         font-size: 12px; }
.tok { display: inline-block; padding: 0 3px; margin: 1px 0; border-radius: 3px; background: #f1f1f1; }
.tok.reserved { color: var(--muted); }
mark.oov { background: #ffd54f; color: #000; padding: 0 3px; border-radius: 3px; font-weight: 600; }
.raw { color: var(--muted); margin-bottom: 6px; white-space: pre-wrap; }
details summary { cursor: pointer; color: var(--muted); }
"""


def _header(schema: DatasetSchema, stats: Mapping, root: str) -> str:
    p = schema.provenance
    made = f"made by {escape(p.tool)} {escape(p.version)} (<code>prep {escape(p.command)}</code>) from <code>{escape(p.source)}</code> " \
           f"at {escape(p.created)}" if p else ""
    facts = [["directory", f"<code>{escape(root)}</code>"], ["kind", escape(schema.kind)],
             ["records", number(schema.num_records)]]
    if stats.get("inputs") is not None:
        facts.append(["inputs", f"{number(stats['inputs'])} ({number(stats.get('records'))} records + "
                                f"{number(stats.get('rejected', 0))} rejected)"])
    facts.append(["splits", ", ".join(f"{escape(s.name)} {number(s.num_records)}" for s in schema.splits)])
    totals = sheets.class_totals(stats)
    if totals:
        facts.append(["classes", number(len(totals))])
    sizes = [s.num_bytes for s in schema.splits]
    facts.append(["size", "?" if None in sizes else byte_size(sum(sizes))])
    rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in facts)
    return f"<h1>{escape(schema.name)}</h1><p class='meta'>{made}</p><table class='facts'>{rows}</table>"


def render_page(schema: DatasetSchema, stats: Mapping, root: str, sections: list[Section],
                found: list[Finding]) -> str:
    """The HTML page: header, what stands out (leakage first), contents, then each section."""
    nav = "".join(f'<a href="#{s.id}">{escape(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{s.id}"><h2>{escape(s.title)}</h2>{"".join(s.body)}</section>' for s in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(schema.name)}: prep report</title><style>{_CSS}</style></head><body><main>"
        f"{_header(schema, stats, root)}<h2 id=\"findings\">What stands out</h2>{findings_html(found)}"
        f"<nav>{nav}</nav>{body}"
        "<p class='note'>Made by <code>prep report</code> from schema.json, stats.json, rejected.jsonl, the "
        "vocabularies and the records shown. Self-contained: it loads nothing from the network.</p>"
        "</main></body></html>\n"
    )


def build_report(root: str, options: ReportOptions = ReportOptions()) -> str:
    """The report of the dataset at `root` as one HTML page (a str)."""
    charts.require_matplotlib()
    schema = load_schema(root)
    stats = sheets.read_stats(root)
    if any(f.encoding == "image" for f in schema.features):
        sections = image_sections(root, schema, stats, options)
    elif schema.kind == "text" or token_feature(schema) is not None:
        sections = text_sections(root, schema, stats, options)
    else:
        sections = [rejected_section(root, stats, options)] if stats else []
    update = version_section(root, schema)
    sections = ([update] if update else []) + sections + [shards_section(schema), features_section(schema)]
    found = findings(schema, stats)
    if found[0].level == "leak":  # leakage invalidates every test figure: show it before anything else
        sections.sort(key=lambda s: s.id != "duplicates")
    return render_page(schema, stats, root, sections, found)
