-- The Kii facade's generic JSON object store (DESIGN sections 6-7; issue 4 item 6). One row per Kii
-- object: scope (app | user | group | thing, scope_id '' for the app scope), bucket, object id, the
-- `_version` counter, the creator (`_owner`), the client's fields as JSON and `_created`/`_modified`
-- in epoch milliseconds. Columns and indexes are what services/sync/kii/query_sql.py translates
-- queries against; every statement of the facade leads with (app_id, scope_type, scope_id, bucket).
--
-- Identifiers are ASCII with a binary collation: Kii bucket and object ids are case-sensitive
-- ([a-zA-Z0-9_-]{2,64}, [a-zA-Z0-9_.-]{2,100}; kii-api.md 2.1), so `Scores` and `scores` are two
-- buckets and `a1` and `A1` two objects. object_id holds Kii's 100 characters.
CREATE TABLE kii_objects (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    app_id      VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    scope_type  VARCHAR(8)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    scope_id    VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    bucket      VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    object_id   VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    version     INT UNSIGNED NOT NULL,
    owner_id    VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    body        JSON         NOT NULL,
    created_at  BIGINT       NOT NULL,
    modified_at BIGINT       NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_kii_objects_key (app_id, scope_type, scope_id, bucket, object_id),
    -- query order: `_created` by default, `_modified` on request; `id` is the keyset tiebreaker
    KEY ix_kii_objects_created (app_id, scope_type, scope_id, bucket, created_at, id),
    KEY ix_kii_objects_modified (app_id, scope_type, scope_id, bucket, modified_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
