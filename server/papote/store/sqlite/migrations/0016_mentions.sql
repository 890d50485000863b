-- Mentions in private notes (conversations/messages.py): a device's alert for them, on by default for the
-- devices already registered, as every alert is for a new one.
ALTER TABLE push_subscriptions ADD COLUMN mention INTEGER NOT NULL DEFAULT 1;
