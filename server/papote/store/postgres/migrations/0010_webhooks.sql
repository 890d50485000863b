-- Outgoing webhooks (channels/webhooks/, docs/channels.md "Webhooks"): a site's endpoints, the cursor of
-- the seq stream their events are derived from, and the log of every attempt. The deliveries themselves
-- are rows of the outbox (0009) like any channel's.

-- A delivery's place among the deliveries to the same target for the same conversation: a webhook
-- delivery is claimed only once every earlier one (lower position) is sent or given up.
ALTER TABLE deliveries ADD COLUMN position bigint NOT NULL DEFAULT 0;
CREATE INDEX deliveries_in_order ON deliveries(channel, target, conversation_id, position)
    WHERE status IN ('queued', 'sending');
-- The delivery log of one endpoint (the target), newest first.
CREATE INDEX deliveries_target ON deliveries(target, created_at);

CREATE TABLE webhook_endpoints (
    id              text PRIMARY KEY,
    site_id         text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    url             text NOT NULL,
    events          jsonb NOT NULL DEFAULT '[]', -- JSON list of event types
    description     text NOT NULL DEFAULT '',
    secret          text NOT NULL,               -- whsec_…: it signs every delivery
    -- The secret before the last rotation, still signing (a second signature) until previous_until.
    previous_secret text NOT NULL DEFAULT '',
    previous_until  bigint NOT NULL DEFAULT 0,
    created_at      bigint NOT NULL
);
CREATE INDEX webhook_endpoints_site ON webhook_endpoints(site_id, created_at);

-- Up to which seq each conversation's events were turned into deliveries.
CREATE TABLE webhook_cursors (
    conversation_id text PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    seq             bigint NOT NULL,
    updated_at      bigint NOT NULL
);

-- One row per HTTP attempt of a webhook delivery: what the receiver answered and how fast.
CREATE TABLE webhook_attempts (
    delivery_id text NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    attempt     bigint NOT NULL,
    at          bigint NOT NULL,
    status_code bigint,                  -- NULL: no answer (refused, timed out, target not allowed)
    latency_ms  bigint NOT NULL,
    error       text NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
);
