-- Bots' limits and notifications can be edited while they run: `settings_rev` grows by one at
-- every edit, and the runner's heartbeat reads it, so the worker holding the bot picks the new
-- settings up within a heartbeat.
ALTER TABLE bots ADD COLUMN settings_rev BIGINT NOT NULL DEFAULT 0;
