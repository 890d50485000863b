-- The bot (docs/bot.md): one session per conversation it took. While a session is held ('active' or
-- 'resolved') routing leaves its conversation out of the queue.

CREATE TABLE bot_sessions (
    conversation_id text PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    site_id         text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    status          text NOT NULL CHECK (status IN ('active', 'resolved', 'handover')),
    -- The stepper's state (bot/stepper.py State.as_dict), JSON.
    state           text NOT NULL DEFAULT '{}',
    -- The seq of the last visitor message the bot dealt with: moved by compare-and-set.
    seen_seq        bigint NOT NULL DEFAULT 0,
    reason          text NOT NULL DEFAULT '',
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL
);
-- Reports count a site's sessions by the day they started; the crash sweep reads the held ones.
CREATE INDEX bot_sessions_site ON bot_sessions(site_id, created_at);
CREATE INDEX bot_sessions_held ON bot_sessions(status, updated_at) WHERE status IN ('active', 'resolved');

-- The group of agents a conversation is for (a pre-chat topic's, or a bot handover's): routing assigns it to
-- that group's agents only (docs/bot.md#groups-of-agents).
CREATE TABLE conversation_groups (
    conversation_id text PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    group_id        text NOT NULL
);
