-- Snooze (conversations/snooze.py, docs/protocol.md §4): an open conversation an agent set aside until a time. It leaves
-- the open queues until `snoozed_until` passes or its visitor writes after `snoozed_seq` (the
-- conversation's last seq when it was snoozed), whichever comes first; a node's sweep then clears both.
ALTER TABLE conversations ADD COLUMN snoozed_until INTEGER;
ALTER TABLE conversations ADD COLUMN snoozed_seq INTEGER;
-- The sweep reads only the snoozed ones: a handful among millions of rows.
CREATE INDEX conversations_snoozed ON conversations(snoozed_until) WHERE snoozed_until IS NOT NULL;
