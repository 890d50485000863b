-- Messaging channels (WhatsApp, Telegram, Twilio SMS, Messenger, Instagram): the accounts a site connects,
-- the channel identities of its customers, and the provider's view of what was sent
-- (store/channels.py, docs/channels.md).

-- A site's account on a provider: `config` is shown to the site's admins, `secrets` never leaves the server.
CREATE TABLE channel_accounts (
    id         text PRIMARY KEY,
    site_id    text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    kind       text NOT NULL,
    name       text NOT NULL,
    config     jsonb NOT NULL DEFAULT '{}',
    secrets    jsonb NOT NULL DEFAULT '{}',
    created_at bigint NOT NULL
);
CREATE INDEX channel_accounts_site ON channel_accounts(site_id, created_at);

-- A customer on a channel (a phone number, a Telegram chat, a page-scoped id): the visitor they are, and
-- the conversation their next message goes to.
CREATE TABLE channel_identities (
    account_id      text NOT NULL REFERENCES channel_accounts(id) ON DELETE CASCADE,
    address         text NOT NULL,
    site_id         text NOT NULL,
    visitor_id      text NOT NULL,
    conversation_id text,
    name            text NOT NULL DEFAULT '',
    -- When the customer last wrote (the provider's clock): WhatsApp's and Messenger's 24-hour window.
    last_inbound_at bigint NOT NULL DEFAULT 0,
    created_at      bigint NOT NULL,
    PRIMARY KEY (account_id, address)
);
CREATE INDEX channel_identities_conversation ON channel_identities(conversation_id);
-- A conversation's customer before its identity names it (store/*/channels.py identity_of_conversation).
CREATE INDEX channel_identities_visitor ON channel_identities(visitor_id);

-- An outbound message's delivery names the message (seq), the account it leaves by, and once the provider
-- accepted it, the provider's id for it (status callbacks name that id).
ALTER TABLE deliveries ADD COLUMN seq bigint;
ALTER TABLE deliveries ADD COLUMN account_id text;
ALTER TABLE deliveries ADD COLUMN provider_msg_id text;
CREATE UNIQUE INDEX deliveries_provider ON deliveries(account_id, provider_msg_id) WHERE provider_msg_id IS NOT NULL;

-- What the provider says became of a message (sent, delivered, read, failed): the furthest state wins
-- (`rank`), whatever the order callbacks arrive in, and a callback that beats our own record of the send is kept.
CREATE TABLE channel_receipts (
    account_id      text NOT NULL,
    provider_msg_id text NOT NULL,
    state           text NOT NULL,
    rank            bigint NOT NULL,
    error           text NOT NULL DEFAULT '',
    at              bigint NOT NULL,
    PRIMARY KEY (account_id, provider_msg_id)
);
