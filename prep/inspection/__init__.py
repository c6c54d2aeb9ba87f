"""Looking at a finished dataset: `prep inspect`, `prep verify`, `prep report` and contact sheets.

They read schema.json, stats.json, rejected.jsonl and the shards; they never re-derive what the
schema says. May import prep.jobs, prep.core, prep.records and schemas.
"""
