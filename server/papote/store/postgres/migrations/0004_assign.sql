-- Assignment in one round trip: `papote_assign` is `Store.assign` (store/__init__.py) as one call, so
-- routing on several nodes pays one round trip per decision instead of four or five.
--
-- The conversation's row is locked first, then (with a capacity) the agent's: two nodes routing at once
-- queue on these locks, so one conversation is never assigned twice and an agent's last slot is never
-- filled twice. The count runs as its own statement after the agent's lock is held: under READ
-- COMMITTED it then sees what the node that held the lock before committed (a single statement that
-- waited for a lock would still count with the snapshot it started with). No row: closed, taken (with
-- p_only_if_unassigned), or the agent full (with p_capacity).

CREATE FUNCTION papote_assign(
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
        SELECT count(*) INTO load FROM conversations WHERE assignee_id = p_agent AND status = 'open';
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
