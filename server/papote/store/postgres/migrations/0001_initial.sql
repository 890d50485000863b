-- Papote schema on PostgreSQL, version 1: the SQLite schema after its migrations 0001-0004, in one step
-- (same tables, same columns, same constraints). Times are bigint milliseconds since the Unix epoch (UTC).
-- JSON columns are jsonb, read whole, never queried inside. Emails compare without case, as SQLite's
-- COLLATE NOCASE does: their unique index and lookups go through lower(email).
--
-- The SQLite migration 0004 made the oldest account an operator; a database made here is new, with no
-- account yet, so there is nothing to mark (`papote init` marks the first one it makes).

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE sites (
    id          text PRIMARY KEY,
    key         text NOT NULL UNIQUE,               -- public site key, goes in the snippet
    name        text NOT NULL,
    origins     jsonb NOT NULL DEFAULT '[]',        -- allowed origins for visitor sockets
    secrets     jsonb NOT NULL DEFAULT '[]',        -- up to two identity-verification secrets
    settings    jsonb NOT NULL DEFAULT '{}',        -- colour, greeting, hours, rules, routing mode…
    created_at  bigint NOT NULL
);

CREATE TABLE agents (
    id               text PRIMARY KEY,
    email            text NOT NULL,
    name             text NOT NULL,
    password_hash    text NOT NULL,
    avatar           text,
    disabled         boolean NOT NULL DEFAULT false,  -- the server operator's own act (CLI)
    status           text NOT NULL DEFAULT 'offline',
    capacity         integer NOT NULL DEFAULT 5,
    last_assigned_at bigint NOT NULL DEFAULT 0,       -- "idle longest" breaks routing ties
    created_at       bigint NOT NULL,
    -- Operators may create sites through the API when PAPOTE_SITE_CREATION=operators (the default).
    operator         boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX agents_email ON agents(lower(email));

CREATE TABLE memberships (
    site_id  text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    agent_id text NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    role     text NOT NULL CHECK (role IN ('owner', 'admin', 'agent')),
    -- Disabled on this site only (by a member of higher rank); the account and its other sites go on.
    disabled boolean NOT NULL DEFAULT false,
    PRIMARY KEY (site_id, agent_id)
);
CREATE INDEX memberships_agent ON memberships(agent_id);

-- `trusted`: the failure came from a device that had signed in to that account before; those do not
-- count towards the account's lockout, only towards their own device's.
CREATE TABLE login_failures (
    email   text NOT NULL,
    at      bigint NOT NULL,
    address text NOT NULL DEFAULT '',
    device  text NOT NULL DEFAULT '',
    trusted boolean NOT NULL DEFAULT false
);
CREATE INDEX login_failures_email ON login_failures(lower(email), at);
CREATE INDEX login_failures_address ON login_failures(address, at);

CREATE TABLE sessions (
    token_hash text PRIMARY KEY,               -- SHA-256 of the cookie value; the value itself is never stored
    agent_id   text NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX sessions_agent ON sessions(agent_id);

CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    site_id    text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    key_hash   text NOT NULL UNIQUE,
    name       text NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE visitors (
    id          text PRIMARY KEY,
    site_id     text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    user_id     text,                          -- the site's own user id, once verified
    name        text NOT NULL DEFAULT '',
    email       text NOT NULL DEFAULT '',
    verified    boolean NOT NULL DEFAULT false,
    attributes  jsonb NOT NULL DEFAULT '{}',
    page        jsonb NOT NULL DEFAULT '{}',
    pages       jsonb NOT NULL DEFAULT '[]',   -- the last pages visited, newest last
    device      jsonb NOT NULL DEFAULT '{}',
    created_at  bigint NOT NULL,
    last_seen   bigint NOT NULL
);
CREATE UNIQUE INDEX visitors_user ON visitors(site_id, user_id) WHERE user_id IS NOT NULL;

-- A visitor may hold several tokens: one per browser, plus those linked by "continue on another device".
CREATE TABLE visitor_tokens (
    token_hash text PRIMARY KEY,                -- SHA-256 of the opaque token; the token itself is never stored
    visitor_id text NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    created_at bigint NOT NULL
);
CREATE INDEX visitor_tokens_visitor ON visitor_tokens(visitor_id);

CREATE TABLE visitor_events (
    visitor_id text NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    name       text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}',
    at         bigint NOT NULL
);
CREATE INDEX visitor_events_visitor ON visitor_events(visitor_id, at);

CREATE TABLE link_codes (
    code_hash  text PRIMARY KEY,
    visitor_id text NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    expires_at bigint NOT NULL
);

CREATE TABLE conversations (
    id                text PRIMARY KEY,
    site_id           text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    visitor_id        text NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    assignee_id       text REFERENCES agents(id) ON DELETE SET NULL,
    last_seq          bigint NOT NULL DEFAULT 0,
    labels            jsonb NOT NULL DEFAULT '[]',
    contact_email     text NOT NULL DEFAULT '',
    rating            integer,
    rating_comment    text NOT NULL DEFAULT '',
    created_at        bigint NOT NULL,
    updated_at        bigint NOT NULL,
    assigned_at       bigint,
    first_response_at bigint,
    closed_at         bigint
);
CREATE INDEX conversations_site ON conversations(site_id, status, updated_at);
CREATE INDEX conversations_visitor ON conversations(visitor_id);
CREATE INDEX conversations_assignee ON conversations(assignee_id, status);
-- The waiting line of a site, in arrival order: a visitor's place is a count over this index.
CREATE INDEX conversations_queue ON conversations(site_id, created_at, id)
    WHERE status = 'open' AND assignee_id IS NULL;

-- The delivery contract lives in these two constraints: one seq per row of a conversation, and one row per
-- (sender, client_msg_id), so a retried send can only ever find its first copy.
CREATE TABLE messages (
    conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq             bigint NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('text', 'note', 'event')),
    author_kind     text NOT NULL,
    author_id       text NOT NULL,
    author_name     text NOT NULL DEFAULT '',
    client_msg_id   text,
    body            text NOT NULL DEFAULT '',
    event           text,
    data            jsonb,
    created_at      bigint NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_client_id ON messages(author_id, client_msg_id) WHERE client_msg_id IS NOT NULL;

CREATE TABLE reads (
    conversation_id  text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    participant_id   text NOT NULL,
    participant_kind text NOT NULL,
    read_seq         bigint NOT NULL,
    PRIMARY KEY (conversation_id, participant_id)
);

CREATE TABLE canned_responses (
    id       text PRIMARY KEY,
    site_id  text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    shortcut text NOT NULL,
    body     text NOT NULL,
    UNIQUE (site_id, shortcut)
);

-- An owner or admin invites someone by link: the link carries a token whose digest is kept here.
CREATE TABLE invites (
    token_hash text PRIMARY KEY,
    site_id    text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    email      text NOT NULL,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'agent')),
    created_by text NOT NULL,
    expires_at bigint NOT NULL,
    id         text NOT NULL UNIQUE,
    created_at bigint NOT NULL DEFAULT 0
);
CREATE INDEX invites_site ON invites(site_id);
CREATE INDEX invites_email ON invites(lower(email));

-- A browser that signed in keeps a long-lived device cookie; its SHA-256 is kept per account it signed
-- in to (one browser may be shared by two agents).
CREATE TABLE devices (
    token_hash text NOT NULL,
    agent_id   text NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at bigint NOT NULL,
    last_seen  bigint NOT NULL,
    PRIMARY KEY (token_hash, agent_id)
);
CREATE INDEX devices_last_seen ON devices(last_seen);
