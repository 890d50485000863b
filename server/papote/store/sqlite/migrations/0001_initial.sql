-- Papote schema, version 1. Times are integer milliseconds since the Unix epoch (UTC).
-- JSON columns hold small maps or lists; they are read whole, never queried inside.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE sites (
    id          TEXT PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,          -- public site key, goes in the snippet
    name        TEXT NOT NULL,
    origins     TEXT NOT NULL DEFAULT '[]',    -- JSON list of allowed origins for visitor sockets
    secrets     TEXT NOT NULL DEFAULT '[]',    -- JSON list of up to two identity-verification secrets
    settings    TEXT NOT NULL DEFAULT '{}',    -- JSON: colour, greeting, hours, rules, routing mode…
    created_at  INTEGER NOT NULL
);

CREATE TABLE agents (
    id               TEXT PRIMARY KEY,
    email            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name             TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    avatar           TEXT,
    disabled         INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL DEFAULT 'offline',
    capacity         INTEGER NOT NULL DEFAULT 5,
    last_assigned_at INTEGER NOT NULL DEFAULT 0,  -- "idle longest" breaks routing ties
    created_at       INTEGER NOT NULL
);

CREATE TABLE memberships (
    site_id  TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    role     TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'agent')),
    PRIMARY KEY (site_id, agent_id)
);
CREATE INDEX memberships_agent ON memberships(agent_id);

CREATE TABLE login_failures (
    email TEXT NOT NULL COLLATE NOCASE,
    at    INTEGER NOT NULL
);
CREATE INDEX login_failures_email ON login_failures(email, at);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,               -- SHA-256 of the cookie value; the value itself is never stored
    agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_agent ON sessions(agent_id);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    key_hash   TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE visitors (
    id          TEXT PRIMARY KEY,
    site_id     TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    user_id     TEXT,                          -- the site's own user id, once verified
    name        TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL DEFAULT '',
    verified    INTEGER NOT NULL DEFAULT 0,
    attributes  TEXT NOT NULL DEFAULT '{}',
    page        TEXT NOT NULL DEFAULT '{}',
    pages       TEXT NOT NULL DEFAULT '[]',    -- the last pages visited, newest last
    device      TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
CREATE UNIQUE INDEX visitors_user ON visitors(site_id, user_id) WHERE user_id IS NOT NULL;

-- A visitor may hold several tokens: one per browser, plus those linked by "continue on another device".
CREATE TABLE visitor_tokens (
    token_hash TEXT PRIMARY KEY,                -- SHA-256 of the opaque token; the token itself is never stored
    visitor_id TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE INDEX visitor_tokens_visitor ON visitor_tokens(visitor_id);

CREATE TABLE visitor_events (
    visitor_id TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    at         INTEGER NOT NULL
);
CREATE INDEX visitor_events_visitor ON visitor_events(visitor_id, at);

CREATE TABLE link_codes (
    code_hash  TEXT PRIMARY KEY,
    visitor_id TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);

CREATE TABLE conversations (
    id                TEXT PRIMARY KEY,
    site_id           TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    visitor_id        TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    assignee_id       TEXT REFERENCES agents(id) ON DELETE SET NULL,
    last_seq          INTEGER NOT NULL DEFAULT 0,
    labels            TEXT NOT NULL DEFAULT '[]',
    contact_email     TEXT NOT NULL DEFAULT '',
    rating            INTEGER,
    rating_comment    TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    assigned_at       INTEGER,
    first_response_at INTEGER,
    closed_at         INTEGER
);
CREATE INDEX conversations_site ON conversations(site_id, status, updated_at);
CREATE INDEX conversations_visitor ON conversations(visitor_id, updated_at);
CREATE INDEX conversations_assignee ON conversations(assignee_id, status);

-- The delivery contract lives in these two constraints: one seq per row of a conversation, and one row per
-- (sender, client_msg_id), so a retried send can only ever find its first copy.
CREATE TABLE messages (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('text', 'note', 'event')),
    author_kind     TEXT NOT NULL,
    author_id       TEXT NOT NULL,
    author_name     TEXT NOT NULL DEFAULT '',
    client_msg_id   TEXT,
    body            TEXT NOT NULL DEFAULT '',
    event           TEXT,
    data            TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_client_id ON messages(author_id, client_msg_id) WHERE client_msg_id IS NOT NULL;

CREATE TABLE reads (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    participant_id  TEXT NOT NULL,
    participant_kind TEXT NOT NULL,
    read_seq        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, participant_id)
) WITHOUT ROWID;

CREATE TABLE canned_responses (
    id       TEXT PRIMARY KEY,
    site_id  TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    shortcut TEXT NOT NULL,
    body     TEXT NOT NULL,
    UNIQUE (site_id, shortcut)
);

-- An owner or admin invites someone by link: the link carries a token whose digest is kept here.
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    email      TEXT NOT NULL COLLATE NOCASE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'agent')),
    created_by TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
