-- Access tokens minted before this moment are refused by the auth service (password change or
-- reset revokes old tokens, kii-api.md 1.4). Other services verify tokens statelessly and honour
-- the revocation within the access-token lifetime (15 minutes by default).
ALTER TABLE users ADD COLUMN tokens_valid_after DATETIME(6) NULL AFTER password_migrated_at;
