-- Trading bots: one row per bot (its settings, the state users ask for and the state it is
-- in, and the lease of the worker running it), the events it publishes, and its order
-- journal (intent written before an order is sent).
--
-- `fence` is the fencing token: it grows by one at every claim, and every write by a runner
-- names the fence it holds, so a runner whose lease was taken over can no longer write.
CREATE TABLE bots (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    mode TEXT NOT NULL,
    venue TEXT NOT NULL,
    config TEXT NOT NULL,
    state TEXT NOT NULL,
    desired TEXT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL,
    fence BIGINT NOT NULL,
    summary TEXT NOT NULL,
    error TEXT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE INDEX bots_workspace ON bots (workspace_id, created_at);
CREATE INDEX bots_claim ON bots (desired, lease_until);

CREATE TABLE bot_events (
    bot_id TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (bot_id, seq)
);

CREATE TABLE bot_orders (
    bot_id TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    client_order_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    symbol TEXT NOT NULL,
    intent TEXT NOT NULL,
    state TEXT NOT NULL,
    venue_order_id TEXT,
    filled TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (bot_id, client_order_id)
);
CREATE UNIQUE INDEX bot_orders_seq ON bot_orders (bot_id, seq);
