-- The waiting line of a site, in arrival order: a visitor's place is a count over this index, not a
-- read of the whole queue (reconnect storms made that quadratic).
CREATE INDEX conversations_queue ON conversations(site_id, created_at, id)
    WHERE status = 'open' AND assignee_id IS NULL;
