"""The migration off the legacy platform (DESIGN section 10, issue 8).

- `snapshot`: ``vitalsync migrate snapshot FILE`` loads a snapshot into the raw and processed schema in
  bulk, resumably.
- `master`: ``vitalsync migrate follow`` consumes the export topic from the snapshot's offsets, upserts
  raw rows (newer version wins) and sends one SQS FIFO message per record (group = owner scope).
- `worker`: ``vitalsync migrate work`` turns raw rows into processed rows (devices, readings, settings)
  through `shared.store`, with the transform of `shared.legacy.transform`; failures land in
  ``migration_failures`` with a pattern code.
- `requeue`: ``vitalsync migrate requeue`` sends failed objects to the workers again once the cause is
  fixed (e.g. the owner imported late).
- `status`: lag, queue depths, counts and failures; the cut-over gate.
- `endpoint` and `metrics`: ``/metrics``, ``/healthz`` and ``/readyz`` of the master and each worker.

Both paths process an object the same way (`processing`): the newest raw version is transformed and
applied only when it is newer than what was applied (``raw_kii_objects.applied_version``), so replays,
redeliveries and restarts converge on the legacy platform's final state.
"""
