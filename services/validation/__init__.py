"""Migration validation (issue 9): the legacy final state, transformed, against the new database.

`vitalsync validate` (cli.py) writes report.json, report.html and failed-keys.csv; see README.md for
the report schema, the checksum narrowing and its memory bound, and the verdict rules.
"""
