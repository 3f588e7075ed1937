-- Initial schema (DESIGN section 7). MySQL 8 and MariaDB 10.11: JSON columns, no `->>`,
-- DATETIME(6) in UTC everywhere (the services set time_zone = '+00:00' on every connection).

CREATE TABLE users (
    id                   CHAR(36)     CHARACTER SET ascii NOT NULL,
    login_name           VARCHAR(128) NOT NULL,
    email                VARCHAR(254) NULL,
    display_name         VARCHAR(200) NULL,
    country              CHAR(2)      CHARACTER SET ascii NULL,
    locale               VARCHAR(35)  CHARACTER SET ascii NULL,
    region               VARCHAR(8)   CHARACTER SET ascii NOT NULL,
    profile              JSON         NOT NULL,
    idp                  VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    idp_subject          VARCHAR(128) CHARACTER SET ascii NULL,
    legacy_user_id       VARCHAR(64)  CHARACTER SET ascii NULL,
    legacy_hash_scheme   VARCHAR(32)  CHARACTER SET ascii NULL,
    legacy_hash          VARCHAR(512) CHARACTER SET ascii NULL,
    legacy_salt          VARCHAR(512) CHARACTER SET ascii NULL,
    legacy_hash_params   JSON         NULL,
    password_migrated_at DATETIME(6)  NULL,
    status               VARCHAR(16)  CHARACTER SET ascii NOT NULL DEFAULT 'active',
    created_at           DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at           DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_users_login_name (login_name),
    UNIQUE KEY uq_users_email (email),
    UNIQUE KEY uq_users_legacy_user_id (legacy_user_id),
    UNIQUE KEY uq_users_idp_subject (idp, idp_subject)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE devices (
    id           CHAR(36)    CHARACTER SET ascii NOT NULL,
    user_id      CHAR(36)    CHARACTER SET ascii NOT NULL,
    kind         VARCHAR(32) CHARACTER SET ascii NOT NULL,
    model        VARCHAR(64) NOT NULL,
    serial       VARCHAR(64) NOT NULL,
    firmware     VARCHAR(64) NULL,
    name         VARCHAR(128) NULL,
    ble_address  VARCHAR(17) CHARACTER SET ascii NULL,
    paired_at    DATETIME(6) NOT NULL,
    unpaired_at  DATETIME(6) NULL,
    last_seen_at DATETIME(6) NULL,
    created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    -- pairing is idempotent on user + model + serial (DESIGN section 5)
    UNIQUE KEY uq_devices_user_model_serial (user_id, model, serial),
    KEY ix_devices_model (model),
    CONSTRAINT fk_devices_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE readings (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id        CHAR(36)     CHARACTER SET ascii NOT NULL,
    device_id      CHAR(36)     CHARACTER SET ascii NULL,
    type           VARCHAR(24)  CHARACTER SET ascii NOT NULL,
    client_id      VARCHAR(128) CHARACTER SET ascii NOT NULL,
    measured_at    DATETIME(6)  NOT NULL,
    -- the canonical headline value (systolic mmHg, kg, degrees C, mg/dL) for range queries and stats
    primary_value  DOUBLE       NULL,
    original_unit  VARCHAR(16)  NULL,
    reading_values JSON         NOT NULL,
    source         VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    created_at     DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    -- dedupe: the same client_id from the same user is the same reading (retries are harmless)
    UNIQUE KEY uq_readings_user_client (user_id, client_id),
    KEY ix_readings_user_measured (user_id, measured_at, id),
    KEY ix_readings_user_type_measured (user_id, type, measured_at, id),
    KEY ix_readings_device_measured (device_id, measured_at, id),
    CONSTRAINT fk_readings_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_readings_device FOREIGN KEY (device_id) REFERENCES devices (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE device_settings (
    device_id  CHAR(36)     CHARACTER SET ascii NOT NULL,
    user_id    CHAR(36)     CHARACTER SET ascii NOT NULL,
    version    INT UNSIGNED NOT NULL,
    document   JSON         NOT NULL,
    updated_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (device_id),
    KEY ix_device_settings_user (user_id),
    CONSTRAINT fk_device_settings_device FOREIGN KEY (device_id) REFERENCES devices (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The delta-sync feed: its id is the sync cursor (DESIGN section 5, GET /v1/sync/changes).
CREATE TABLE change_log (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id    CHAR(36)    CHARACTER SET ascii NOT NULL,
    entity     VARCHAR(16) CHARACTER SET ascii NOT NULL,
    entity_id  VARCHAR(64) CHARACTER SET ascii NOT NULL,
    op         VARCHAR(8)  CHARACTER SET ascii NOT NULL,
    changed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY ix_change_log_user_id (user_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Transactional outbox (DESIGN section 8): written in the same transaction as the change it announces.
CREATE TABLE outbox (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    event_id    CHAR(36)     CHARACTER SET ascii NOT NULL,
    topic       VARCHAR(128) CHARACTER SET ascii NOT NULL,
    msg_key     VARCHAR(64)  CHARACTER SET ascii NOT NULL,
    payload     JSON         NOT NULL,
    created_at  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    sent_at     DATETIME(6)  NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_outbox_event_id (event_id),
    KEY ix_outbox_unsent (sent_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
