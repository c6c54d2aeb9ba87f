"""Text: reading corpora (files, JSONL, CSV, ranges), TextVectorization-exact standardisation and
tokenisation, vocabularies, each document's record, and what a text job concludes from its results.

Plain per-record Python, unit-tested without Beam; beam_jobs.text and beam_jobs.vocab compose it.
May import prep.jobs, prep.core, prep.records and schemas; never prep.images, prep.inspection,
interop, the CLI or beam_jobs.
"""
