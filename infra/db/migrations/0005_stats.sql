-- Stats service (issue 7, DESIGN section 9): streaming daily aggregates fed by the Kafka consumer,
-- the event-id ledger that makes replays harmless, per-device state, job runs and batch-job results.
--
-- Grouping columns use binary collations (ascii_bin, utf8mb4_bin): the consumer decides in Python
-- whether a membership row is new, so the database must not consider two keys equal that Python
-- considers different (utf8mb4_unicode_ci would merge 'BP-1' and 'bp-1'). Trailing spaces still
-- compare equal (PAD SPACE); the consumer strips them from keys.

-- Daily aggregates per day x region x device model x reading type. active_devices/active_users are
-- exact distinct counts: each is incremented only when its membership row below is new.
CREATE TABLE stats_daily (
    day            DATE            NOT NULL,
    region         VARCHAR(8)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    model          VARCHAR(64)     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    reading_type   VARCHAR(24)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    readings       BIGINT UNSIGNED NOT NULL DEFAULT 0,
    active_devices INT UNSIGNED    NOT NULL DEFAULT 0,
    active_users   INT UNSIGNED    NOT NULL DEFAULT 0,
    updated_at     DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    -- reports filter by a day range first (GET /v1/stats/readings-per-day?from&to)
    PRIMARY KEY (day, region, model, reading_type)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who was active in a stats_daily group: one row per (group, user, device). A device is new to the
-- group when its row is new; a user is new when no row with its (group, user) prefix existed.
-- device_id is '' for readings without a device (they count for users, not devices).
CREATE TABLE stats_daily_members (
    day          DATE        NOT NULL,
    region       VARCHAR(8)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    model        VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    reading_type VARCHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id      CHAR(36)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    device_id    VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (day, region, model, reading_type, user_id, device_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Daily totals per region, with exact daily active users (a user with two device models counts once).
CREATE TABLE stats_daily_regions (
    day          DATE            NOT NULL,
    region       VARCHAR(8)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    readings     BIGINT UNSIGNED NOT NULL DEFAULT 0,
    active_users INT UNSIGNED    NOT NULL DEFAULT 0,
    updated_at   DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (day, region)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE stats_daily_region_members (
    day     DATE       NOT NULL,
    region  VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id CHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (day, region, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Per-device state as the event stream tells it: model (immutable), pairing and the last reading time.
CREATE TABLE stats_devices (
    device_id    CHAR(36)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id      CHAR(36)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    region       VARCHAR(8)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind         VARCHAR(32) CHARACTER SET ascii NULL,
    model        VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    firmware     VARCHAR(64) NULL,
    paired_at    DATETIME(6) NULL,
    unpaired_at  DATETIME(6) NULL,
    -- the newest measured_at of the device's readings (not the arrival time)
    last_seen_at DATETIME(6) NULL,
    updated_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (device_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Event ids already applied (DESIGN section 8: consumers are idempotent by event id), written in the same
-- transaction as the aggregates. Keyed by the day the event occurred (part of the event, so identical in
-- every replay) so that inserts land in today's part of the index instead of all over it, and pruning is a
-- range delete; kept longer than the topic's retention.
CREATE TABLE stats_processed_events (
    occurred_on DATE        NOT NULL,
    event_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (occurred_on, event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per job run (CLI, scheduler, Step Functions task). A scheduled run claims its cron slot with
-- the unique (job, scheduled_for) key, so two schedulers never run the same slot; manual runs have no
-- slot (NULL never collides). Only one run per job executes at a time (GET_LOCK, see services/stats).
CREATE TABLE job_runs (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    job           VARCHAR(64)     CHARACTER SET ascii NOT NULL,
    status        VARCHAR(16)     CHARACTER SET ascii NOT NULL,  -- running|succeeded|failed|skipped|abandoned
    triggered_by  VARCHAR(16)     CHARACTER SET ascii NOT NULL,  -- cli|schedule
    scheduled_for DATETIME(6)     NULL,
    runner        VARCHAR(128)    NULL,                          -- host:pid
    started_at    DATETIME(6)     NOT NULL,
    finished_at   DATETIME(6)     NULL,
    result_rows   BIGINT UNSIGNED NULL,
    duration_ms   BIGINT UNSIGNED NULL,
    error         VARCHAR(2000)   NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_job_runs_job_slot (job, scheduled_for),
    -- latest runs of a job (GET /v1/stats/jobs, stats list) and its latest successful run (reports)
    KEY ix_job_runs_job_id (job, id),
    KEY ix_job_runs_job_status (job, status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Batch-job results, one set of rows per successful run (reports read the latest run's rows).
CREATE TABLE stats_active_devices_by_model (
    run_id         BIGINT UNSIGNED NOT NULL,
    model          VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    firmware       VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,  -- '' when unknown
    region         VARCHAR(8)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    active_devices INT UNSIGNED NOT NULL,
    PRIMARY KEY (run_id, model, firmware, region),
    CONSTRAINT fk_stats_active_devices_run FOREIGN KEY (run_id) REFERENCES job_runs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE stats_readings_per_day (
    run_id         BIGINT UNSIGNED NOT NULL,
    day            DATE            NOT NULL,
    region         VARCHAR(8)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    reading_type   VARCHAR(24)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    readings       BIGINT UNSIGNED NOT NULL,
    active_devices INT UNSIGNED    NOT NULL,
    active_users   INT UNSIGNED    NOT NULL,
    PRIMARY KEY (run_id, day, region, reading_type),
    CONSTRAINT fk_stats_readings_per_day_run FOREIGN KEY (run_id) REFERENCES job_runs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE stats_monthly_active_users (
    run_id       BIGINT UNSIGNED NOT NULL,
    month        DATE            NOT NULL,  -- the first day of the calendar month (UTC)
    region       VARCHAR(8)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    active_users INT UNSIGNED    NOT NULL,
    PRIMARY KEY (run_id, month, region),
    CONSTRAINT fk_stats_monthly_active_users_run FOREIGN KEY (run_id) REFERENCES job_runs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE stats_pairings_per_week (
    run_id   BIGINT UNSIGNED NOT NULL,
    week     DATE            NOT NULL,  -- the Monday the ISO week starts on (UTC)
    region   VARCHAR(8)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    model    VARCHAR(64)     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    pairings INT UNSIGNED    NOT NULL,
    PRIMARY KEY (run_id, week, region, model),
    CONSTRAINT fk_stats_pairings_per_week_run FOREIGN KEY (run_id) REFERENCES job_runs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
