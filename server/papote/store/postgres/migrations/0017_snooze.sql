-- Snooze (conversations/snooze.py, docs/protocol.md §4): an open conversation an agent set aside until a time. It leaves
-- the open queues until `snoozed_until` passes or its visitor writes after `snoozed_seq` (the
-- conversation's last seq when it was snoozed), whichever comes first; a node's sweep then clears both.
-- The append functions do not read these columns: an append never changes them.
ALTER TABLE conversations ADD COLUMN snoozed_until bigint;
ALTER TABLE conversations ADD COLUMN snoozed_seq bigint;
-- The sweep reads only the snoozed ones: a handful among millions of rows.
CREATE INDEX conversations_snoozed ON conversations(snoozed_until) WHERE snoozed_until IS NOT NULL;

-- A snoozed conversation is not on its agent's plate until it comes back: it leaves their load, which
-- routing weighs against their capacity. `papote_assign` is 0004's with that one change in its count.
CREATE OR REPLACE FUNCTION papote_assign(
    p_conversation       text,
    p_agent              text,
    p_at                 bigint,
    p_only_if_unassigned boolean,
    p_capacity           integer
) RETURNS SETOF conversations LANGUAGE plpgsql AS $$
DECLARE
    conv conversations%ROWTYPE;
    load bigint;
BEGIN
    SELECT * INTO conv FROM conversations WHERE id = p_conversation FOR UPDATE;
    IF NOT FOUND OR conv.status <> 'open' OR (p_only_if_unassigned AND conv.assignee_id IS NOT NULL) THEN
        RETURN;
    END IF;
    IF p_capacity IS NOT NULL THEN
        PERFORM 1 FROM agents WHERE id = p_agent FOR UPDATE;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        SELECT count(*) INTO load FROM conversations
         WHERE assignee_id = p_agent AND status = 'open' AND snoozed_until IS NULL;
        IF load >= p_capacity THEN
            RETURN;
        END IF;
    END IF;
    UPDATE conversations SET assignee_id = p_agent, assigned_at = p_at, updated_at = p_at
     WHERE id = p_conversation RETURNING * INTO conv;
    UPDATE agents SET last_assigned_at = p_at WHERE id = p_agent;
    RETURN NEXT conv;
END;
$$;
