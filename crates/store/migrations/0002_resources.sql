-- Datasets are one row per stored series of a workspace (re-uploading replaces or merges the
-- bars and updates the row); the job watcher that feeds the websocket reads jobs by
-- updated_at.
CREATE UNIQUE INDEX datasets_series ON datasets (workspace_id, venue, symbol, timeframe);
ALTER TABLE datasets ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX jobs_updated ON jobs (updated_at);
CREATE INDEX jobs_workspace_kind ON jobs (workspace_id, kind, created_at);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
CREATE INDEX invitations_workspace ON invitations (workspace_id);
