"""The Beam pipelines: image folders, text corpora, vocabularies and schema inference, and the transforms
they share (file matching, batching and spilled shuffles, duplicate grouping, statistics, the sharded
write, the final commit).

Each job is a handful of named PTransforms composed in a short `expand()`; the per-record logic they call
is plain Python in prep. May import prep (never prep.cli) and schemas; only prep.cli imports beam_jobs.
"""
