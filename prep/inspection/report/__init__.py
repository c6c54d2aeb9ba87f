"""`prep report`: one self-contained HTML page about a dataset, to read before training on it.

Everything comes from what the job already wrote (schema.json, stats.json, rejected.jsonl, the
vocabularies) plus the few records the page shows: the samples of each class (see
`prep.inspection.contact_sheet`: the first in shard order), the images of the duplicates stats.json lists when
they are cheap to find, or a few documents of a text dataset. So a report of millions of records
reads a few hundred. Charts are inline SVG (matplotlib, the `report` extra), images inline data URIs;
the page loads nothing from anywhere, so it can be mailed or opened on a cluster with no network.

`page` builds the page (`build_report`) from the sections of `image_sections` or `text_sections`, the
ones every dataset gets (`sections`, `duplicates`) and what stands out (`findings`); `markup` holds the
HTML pieces they share, `charts` draws, `options` says how much a report shows and reads. May import
prep.inspection.contact_sheet, prep.core and schemas; within the package a module imports only those
before it in: options, charts, markup, findings, sections, duplicates, image_sections, text_sections, page.
"""
