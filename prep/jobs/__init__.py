"""The job machinery every job shares: options common to all jobs, runner options (local or Dataflow),
launching and failing as one line, shipping the package to Dataflow, the output directory and the hold
a job keeps on it, progress lines, and what every job concludes from the shards it wrote.

May import prep.core, prep.records and schemas; never a modality package, the CLI or beam_jobs.
"""
