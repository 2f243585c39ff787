-- The credential vault (envelope encryption): each workspace has a data key, stored only
-- wrapped (encrypted) by a master key that never reaches the database; each exchange
-- credential is encrypted with its workspace's data key. Ciphertexts are hex of
-- nonce || AES-256-GCM output; the additional data binds each one to its workspace (and
-- credential), so a ciphertext copied elsewhere does not decrypt.
CREATE TABLE workspace_keys (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    master_version INTEGER NOT NULL,
    wrapped_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT
);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    venue TEXT NOT NULL,
    label TEXT NOT NULL,
    api_key_masked TEXT NOT NULL,
    sealed TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, label)
);
CREATE INDEX credentials_workspace ON credentials (workspace_id);
