"""The legacy platform we migrate off (Kii Cloud), emulated: datasets, export files, change stream, login API.

- `dataset.generate_dataset(users, seed)`: users with legacy password hashes, things, Kii objects in
  the old app's bucket layout, and the edge cases real exports have (`edge_cases`).
- `export_format`: the files (users.jsonl, snapshot.jsonl.gz, ...); `partitioning`: record keys and
  Kafka partitions; `changes.generate_changes`: the change stream; `replay`: the final state.
- `login_server.create_legacy_login_app`: the legacy login API; `cli`: `vitalsync legacy seed|serve`.
"""
