-- Attachments: files sent with a message, either way (docs/protocol.md, "Attachments").
--
-- A file is uploaded first, on its own, by the one who will send it (a visitor, an agent, an API key);
-- the message that carries it claims it by its client_msg_id just before the append, and once the
-- message is committed the file is keyed to it (conversation_id, seq). The message's own data names
-- its files in order (`{"attachments": [id, …]}`), so the dedupe of a retried send compares them.
-- Rows never claimed are deleted after a while, with their bytes (the cleanup job).
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY,               -- at_…, unguessable
    site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    uploader_kind   TEXT NOT NULL,                  -- visitor or agent (an API key uploads as an agent)
    uploader_id     TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('image', 'file')),
    content_type    TEXT NOT NULL,                  -- sniffed from the bytes, never the client's word
    size            INTEGER NOT NULL,               -- bytes as stored (an image after re-encoding)
    name            TEXT NOT NULL,
    storage_key     TEXT NOT NULL,                  -- where the bytes are (papote/attachments/storage.py)
    thumbnail_key   TEXT,
    width           INTEGER,
    height          INTEGER,
    created_at      INTEGER NOT NULL,
    client_msg_id   TEXT,                           -- the message that claimed it (by its uploader)
    conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
    seq             INTEGER                         -- with conversation_id: the message it belongs to
);
CREATE INDEX attachments_message ON attachments(conversation_id, seq) WHERE conversation_id IS NOT NULL;
CREATE INDEX attachments_claim ON attachments(uploader_id, client_msg_id) WHERE client_msg_id IS NOT NULL;
CREATE INDEX attachments_unbound ON attachments(created_at) WHERE conversation_id IS NULL;

-- The bytes themselves, when PAPOTE_ATTACHMENTS=database (the default store of several nodes is
-- PostgreSQL; a SQLite server keeps them in a folder unless told otherwise).
CREATE TABLE attachment_blobs (
    key  TEXT PRIMARY KEY,
    data BLOB NOT NULL
) WITHOUT ROWID;
