-- The bot (docs/bot.md): one session per conversation it took. While a session is held ('active' or
-- 'resolved') routing leaves its conversation out of the queue.

CREATE TABLE bot_sessions (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('active', 'resolved', 'handover')),
    -- The stepper's state (bot/stepper.py State.as_dict), JSON.
    state           TEXT NOT NULL DEFAULT '{}',
    -- The seq of the last visitor message the bot dealt with: moved by compare-and-set.
    seen_seq        INTEGER NOT NULL DEFAULT 0,
    reason          TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;
-- Reports count a site's sessions by the day they started; the crash sweep reads the held ones.
CREATE INDEX bot_sessions_site ON bot_sessions(site_id, created_at);
CREATE INDEX bot_sessions_held ON bot_sessions(status, updated_at) WHERE status IN ('active', 'resolved');

-- The group of agents a conversation is for (a pre-chat topic's, or a bot handover's): routing assigns it to
-- that group's agents only (docs/bot.md#groups-of-agents).
CREATE TABLE conversation_groups (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    group_id        TEXT NOT NULL
) WITHOUT ROWID;
