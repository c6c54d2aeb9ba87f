"""The report's section on the last update of a dataset that grows: what version N changed since the
version before (prep.inspection.versions.diff), in numbers."""

from __future__ import annotations

from prep.core.splits import split_rank
from prep.inspection.report.markup import Section, escape, html_table, number
from schemas import DatasetSchema


def _signed(n: int) -> str:
    return f"+{number(n)}" if n > 0 else number(n)


def version_section(root: str, schema: DatasetSchema) -> Section | None:
    """None for a dataset written once (version 1), or whose version before is no longer kept."""
    from prep.inspection.versions import diff
    from schemas import SchemaError

    if schema.version == 1:
        return None
    try:
        found = diff(root, None, root, None)
    except (SchemaError, ValueError):
        return None
    before, records, drift = found["from"]["version"], found["records"], found["drift"]
    section = Section("update", f"Version {schema.version}: what changed since version {before}")
    section.add(f"<p>Made at {escape(found['to']['created'])} (version {before}: {escape(found['from']['created'])}): "
                f"{number(records['added'])} records added, {number(records['replaced'])} replaced, "
                f"{number(records['removed'])} removed, {number(records['unchanged'])} unchanged. "
                f"<code>prep diff</code> compares any two versions kept.</p>")
    rows = []
    for split in sorted(records["by_split"], key=split_rank):
        for kind in ("added", "replaced", "removed"):
            for name, n in records["by_split"][split].get(kind, {}).items():
                rows.append([escape(split), escape(name), escape(kind), number(n)])
    if rows:
        section.add(html_table(["split", "class", "change", "records"], rows, "numbers"))
    splits = drift["splits"]
    balance = [[escape(split), number(d["records"]["old"]), number(d["records"]["new"]),
                _signed(d["records"]["change"]), "" if not d.get("classes") else str(d["classes"]["linf"])]
               for split, d in sorted(splits.items(), key=lambda item: split_rank(item[0]))]
    section.add("<h3>Records and class balance <small>L-infinity distance between the class distributions, 0 to 1, "
                "as TFDV measures drift</small></h3>",
                html_table(["split", f"version {before}", f"version {schema.version}", "change", "class drift"], balance,
                           "numbers"))
    classes = drift.get("classes") or {}
    for what in ("appeared", "vanished"):
        if classes.get(what):
            section.add(f"<p>Classes that {what}: {', '.join(escape(c) for c in classes[what])}.</p>")
    if drift["histograms"]:
        section.add("<h3>Histograms <small>Jensen-Shannon divergence, 0 to 1</small></h3>", html_table(
            ["histogram", "divergence"], [[escape(name), str(h["js_divergence"])] for name, h in drift["histograms"].items()],
            "numbers"))
    new_reasons = drift["rejected"]["new_reasons"]
    if new_reasons:
        section.add("<p>Rejection reasons new in this version: "
                    + ", ".join(f"{escape(reason)} {number(n)}" for reason, n in new_reasons.items()) + ".</p>")
    return section
