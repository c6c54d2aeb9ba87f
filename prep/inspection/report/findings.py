"""What stands out: the short list at the top of the page, leakage first, then duplicates, rejected
inputs, empty or imbalanced classes and skewed shards; "nothing stands out" says what was checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from prep.core.duplicates import leaks
from prep.core.failures import REPORT_HINT, split_reasons
from prep.core.wording import plural
from prep.inspection import contact_sheet as sheets
from prep.inspection.report import charts
from prep.inspection.report.markup import escape
from schemas import DatasetSchema


@dataclass(frozen=True)
class Finding:
    """One line of the "what stands out" list at the top; `level` is "leak", "warn" or "ok"."""

    level: str
    text: str
    anchor: str = ""


def findings(schema: DatasetSchema, stats: Mapping) -> list[Finding]:
    """What stands out, leakage first."""
    out: list[Finding] = []
    dup = stats.get("duplicates") or {}
    exact = dup.get("exact") or {}
    found = leaks(dup)
    across = found["exact"].left if "exact" in found else 0
    thing, job = ("documents", "text") if schema.kind == "text" else ("images", "images")
    if across:
        out.append(Finding("leak", (
            f"Leakage: {plural(across, 'group')} of identical {thing} {'spans' if across == 1 else 'span'} splits. A test {thing[:-1]} the model "
            f"trained on inflates test accuracy; drop the copies (prep {job} --dedupe) or move them to one split."),
            "duplicates"))
    elif "exact" in found and found["exact"].dropped:
        out.append(Finding("ok", (
            f"{plural(found['exact'].across, 'group')} of identical {thing} spanned splits: prep {job} --dedupe kept one "
            f"copy of each (train first) and dropped the others (listed under rejected inputs)."), "duplicates"))
    within = exact.get("groups_within_a_split") or 0
    extra = exact.get("extra_copies", 0)
    if within and extra and (exact.get("dropped_by_dedupe") or 0) >= extra:
        out.append(Finding("ok", f"{plural(within, 'group')} of identical {thing} within a split: prep {job} --dedupe "
                                 f"kept one copy of each.", "duplicates"))
    elif within:
        out.append(Finding("warn", f"{plural(within, 'group')} of identical {thing} within a split "
                                   f"({plural(extra, 'extra copy', 'extra copies')} in all).", "duplicates"))
    near = dup.get("near") or {}
    near_across = found["near"].left if "near" in found else 0
    if near_across:
        out.insert(1 if across else 0, Finding("leak", (
            f"Leakage: {plural(near_across, 'group')} of near copies (the same picture re-encoded, resized or "
            f"recompressed) {'spans' if near_across == 1 else 'span'} splits. Drop the copies outside the training "
            f"split (prep {job} --dedupe-near) or move them to one split."), "duplicates"))
    elif "near" in found and found["near"].dropped:
        out.append(Finding("ok", (
            f"{plural(found['near'].across, 'group')} of near copies spanned splits: prep {job} --dedupe-near kept each "
            f"group's copies in its first split (train first) and dropped the others (listed under rejected inputs)."),
            "duplicates"))
    near_within = near.get("groups_within_a_split") or 0
    if near_within:
        out.append(Finding("warn", f"{plural(near_within, 'group')} of near-duplicate {thing} within a split "
                                   f"(re-encoded, resized or recompressed copies; {plural(near.get('pairs', 0), 'near pair')} "
                                   f"in all groups).", "duplicates"))
    skipped = (near.get("not_compared") or {}).get("images") or 0
    if skipped:
        hashes = near["not_compared"].get("hashes", near["not_compared"].get("band_values", 0))
        out.append(Finding("warn", f"The near-copy search left {plural(skipped, 'image')} uncompared: "
                                   f"{plural(hashes, 'hash', 'hashes')} each shared by more than "
                                   f"{near['not_compared'].get('limit', '?')} images (blank pictures, logos); "
                                   f"near copies among them may be missed.", "duplicates"))
    split = (near.get("split_by_other_bands") or {}).get("images") or 0
    if split:
        out.append(Finding("warn", f"{plural(split, 'image')} shared a hash band with more than "
                                   f"{near['split_by_other_bands'].get('limit', '?')} others and were compared only "
                                   "with images that share a second band too: some near copies among them may be "
                                   "missed.", "duplicates"))
    rejected = stats.get("rejected") or 0
    if rejected:
        foreseen, errors = split_reasons(stats.get("rejected_by_reason") or {})
        if errors:
            out.append(Finding("warn", f"{plural(errors, 'input')} failed with an unexpected error (conversion_error): "
                                       f"{REPORT_HINT}.", "rejected"))
        if foreseen:
            reasons = ", ".join(f"{r} {n:,}" for r, n in foreseen.items())
            out.append(Finding("warn", f"{plural(rejected - errors, 'input')} rejected ({reasons}).", "rejected"))
    totals = sheets.class_totals(stats)
    if totals:
        empty = [c for c, n in totals.items() if n == 0]
        if empty:
            out.append(Finding("warn", f"{plural(len(empty), 'class', 'classes')} without records: "
                                       f"{', '.join(empty[:8])}{' ...' if len(empty) > 8 else ''}.", "classes"))
        counted = [n for n in totals.values() if n]
        if len(counted) > 1 and max(counted) >= 10 * min(counted):
            out.append(Finding("warn", f"Classes are imbalanced: the largest has {max(counted) / min(counted):,.0f} "
                                       f"times the records of the smallest.", "classes"))
    for split in schema.splits:
        counts = [s.num_records for s in split.shards]
        if len(counts) > 1 and None not in counts and sum(counts):
            mean = sum(counts) / len(counts)
            if any(charts.is_skewed(n, mean) for n in counts):
                out.append(Finding("warn", f"Split {split.name}: shards hold {min(counts):,} to {max(counts):,} "
                                           f"records (mean {mean:,.1f}); readers of small shards sit idle.", "shards"))
    if not out:
        checked = (["no duplicates"] if "duplicates" in stats else []) + (
            ["no rejected inputs"] if "rejected" in stats else []) + ["even shards"]
        out.append(Finding("ok", f"Nothing stands out: {', '.join(checked)}."))
    return out


def findings_html(items: list[Finding]) -> str:
    """The findings as a list, each linked to the section with its details."""
    rows = []
    for f in items:
        link = f' <a href="#{f.anchor}">details</a>' if f.anchor else ""
        rows.append(f'<li class="{f.level}">{escape(f.text)}{link}</li>')
    return f'<ul class="findings">{"".join(rows)}</ul>'
