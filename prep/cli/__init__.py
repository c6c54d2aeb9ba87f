"""The `prep` command line: flags to one frozen options dataclass per job, the job launched, a summary printed.

Owns parsing, user errors as one line (exit 2), and the end-of-run report; no conversion logic.
`prep.cli.main` registers every command module (each lists its commands in `COMMANDS` and never
imports `main`). The top layer: may import every package of prep, beam_jobs, readers and schemas;
nothing imports it.
"""
