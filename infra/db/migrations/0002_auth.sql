-- Auth service tables (issue: auth). Passwords of the local identity provider, refresh-token
-- families with rotation, reset codes, brute-force throttling and the local provider's signing keys.

CREATE TABLE local_credentials (
    user_id       CHAR(36)     CHARACTER SET ascii NOT NULL,
    password_hash VARCHAR(255) CHARACTER SET ascii NOT NULL,
    updated_at    DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (user_id),
    CONSTRAINT fk_local_credentials_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One family per login session; every refresh rotates the token inside the family, and presenting
-- an already-used token revokes the whole family (stolen-token detection).
CREATE TABLE token_families (
    id               CHAR(36)    CHARACTER SET ascii NOT NULL,
    user_id          CHAR(36)    CHARACTER SET ascii NOT NULL,
    -- the identity provider's own refresh token (Cognito), encrypted; NULL for the local provider
    provider_refresh VARBINARY(8192) NULL,
    created_at       DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    revoked_at       DATETIME(6) NULL,
    revoke_reason    VARCHAR(32) CHARACTER SET ascii NULL,
    PRIMARY KEY (id),
    KEY ix_token_families_user (user_id, revoked_at),
    CONSTRAINT fk_token_families_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE refresh_tokens (
    token_hash CHAR(64)    CHARACTER SET ascii NOT NULL,  -- SHA-256 of the opaque token; never the token
    family_id  CHAR(36)    CHARACTER SET ascii NOT NULL,
    issued_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    expires_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6) NULL,
    PRIMARY KEY (token_hash),
    KEY ix_refresh_tokens_family (family_id),
    CONSTRAINT fk_refresh_tokens_family FOREIGN KEY (family_id) REFERENCES token_families (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE password_reset_codes (
    user_id    CHAR(36)     CHARACTER SET ascii NOT NULL,
    code_hash  CHAR(64)     CHARACTER SET ascii NOT NULL,
    expires_at DATETIME(6)  NOT NULL,
    attempts   INT UNSIGNED NOT NULL DEFAULT 0,
    created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (user_id),
    CONSTRAINT fk_password_reset_codes_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed-login counters per account and per source address, with a growing lockout.
CREATE TABLE auth_throttle (
    throttle_key    VARCHAR(191) CHARACTER SET ascii NOT NULL,
    failures        INT UNSIGNED NOT NULL DEFAULT 0,
    locked_until    DATETIME(6)  NULL,
    last_failure_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (throttle_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The local provider's JWT signing keys (rotation: publish, activate, retire, unpublish).
CREATE TABLE signing_keys (
    kid         VARCHAR(64)  CHARACTER SET ascii NOT NULL,
    algorithm   VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    private_key VARBINARY(4096) NOT NULL,  -- PEM, encrypted with the auth secret
    public_jwk  JSON         NOT NULL,
    created_at  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    -- published first, signing only from here on, so every verifier has fetched it by then
    activates_at DATETIME(6) NOT NULL,
    -- when a successor activates; published until the last token it signed has expired
    retired_at  DATETIME(6)  NULL,
    PRIMARY KEY (kid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
