-- Migration pipeline tables (DESIGN sections 7, 8, 10; issue 8): the raw copy of the legacy export,
-- where change capture stands, what could not be migrated, and the snapshot loader's checkpoints.
-- Identifiers of the legacy platform are ASCII with a binary collation (Kii ids are case-sensitive).

-- One row per legacy object (key = its kiicloud:// URI, the Kafka record key): the newest version seen
-- (snapshot or change stream; an older or equal version never replaces it) and how far the processed
-- schema has caught up with it. `body` is the last live body: a DELETE keeps it, so the worker can
-- name exactly the rows the object had become. Pending work: applied_version IS NULL OR < version.
CREATE TABLE raw_kii_objects (
    object_key          VARCHAR(320) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    app_id              VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    scope_type          VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    scope_id            VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    bucket              VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    object_id           VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    version             BIGINT UNSIGNED NOT NULL,
    op                  VARCHAR(8)   CHARACTER SET ascii NOT NULL,
    modified_at         BIGINT       NOT NULL,
    body                JSON         NULL,
    -- where this version came from: the export topic's partition and offset (snapshot records count
    -- from 0 per partition, as the snapshot header implies) and the Kafka timestamp (NULL: snapshot)
    source_partition    INT UNSIGNED NOT NULL,
    source_offset       BIGINT       NOT NULL,
    source_timestamp_ms BIGINT       NULL,
    received_at         DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    -- the version whose effect the processed schema holds, and what it became there
    applied_version     BIGINT UNSIGNED NULL,
    outcome             VARCHAR(8)   CHARACTER SET ascii NULL,
    processed_at        DATETIME(6)  NULL,
    -- set while the object waits for a device (`serial:<user id>:<serial>` or `thing:<thing id>`);
    -- the worker that writes that device processes the waiting objects in the same transaction
    waiting_for         VARCHAR(200) CHARACTER SET ascii COLLATE ascii_bin NULL,
    PRIMARY KEY (object_key),
    KEY ix_raw_kii_objects_waiting (waiting_for),
    -- `migrate status`: counts per bucket and outcome from the index alone
    KEY ix_raw_kii_objects_bucket_outcome (bucket, outcome)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Change capture position per partition of the export topic: the next offset to read. The snapshot
-- loader writes the header's offsets once; the master moves them forward only after the raw upsert and
-- the SQS send of every record before them succeeded.
CREATE TABLE migration_offsets (
    topic        VARCHAR(249) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    partition_id INT UNSIGNED NOT NULL,
    next_offset  BIGINT       NOT NULL,
    updated_by   VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    updated_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (topic, partition_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Objects that did not become processed rows: the transform's pattern (INVALID_TIMESTAMP, UNKNOWN_UNIT,
-- ORPHAN_OWNER, ...) or the worker's own (PROCESSING_ERROR, DATABASE_REJECTED, ...) for records that
-- raise. One row per object for its newest version; a later version that migrates removes it.
CREATE TABLE migration_failures (
    object_key       VARCHAR(320)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    bucket           VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    pattern          VARCHAR(32)   CHARACTER SET ascii NOT NULL,
    field            VARCHAR(250)  NULL,
    message          VARCHAR(1000) NOT NULL,
    version          BIGINT UNSIGNED NOT NULL,
    first_seen_at    DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    last_seen_at     DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    receive_count    INT UNSIGNED  NOT NULL DEFAULT 1,
    dead_lettered_at DATETIME(6)   NULL,
    PRIMARY KEY (object_key),
    -- failures per pattern (status, validation report), with sample keys in key order
    KEY ix_migration_failures_pattern (pattern, object_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Kii things (the scope of device settings) -> the device row a `devices` object became; the devices
-- table has no column for it, and the transform asks for it (OwnerResolver.thing_device).
CREATE TABLE migration_things (
    thing_id   VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id    CHAR(36)     CHARACTER SET ascii NOT NULL,
    device_id  CHAR(36)     CHARACTER SET ascii NOT NULL,
    object_key VARCHAR(320) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (thing_id),
    KEY ix_migration_things_device (device_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Checkpoints of `migrate snapshot FILE`: records done so far, committed with the chunk they end, so a
-- restarted load skips exactly what is already in.
CREATE TABLE migration_snapshot_loads (
    snapshot_id  CHAR(64)      CHARACTER SET ascii NOT NULL,
    file_name    VARCHAR(1000) NOT NULL,
    records_done BIGINT        NOT NULL DEFAULT 0,
    started_at   DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at   DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    finished_at  DATETIME(6)   NULL,
    PRIMARY KEY (snapshot_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
