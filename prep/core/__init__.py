"""What every dataset shares whatever its records: where an input sits in SRC (class and split
folders) and the checks before a job, split assignment, shard layout, mergeable statistics,
duplicate facts, vocabulary files, reading files of rows (lines, JSON Lines, CSV), and reading the
files a flag names on the launching machine (fast, and one line when it cannot).

Pure functions, no Beam at import. May import prep.records and schemas only.
"""
