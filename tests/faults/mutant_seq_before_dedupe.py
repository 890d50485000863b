"""A deliberately broken PostgreSQL store for the retry storm's self-check: its `papote_append` takes the
conversation's next seq first and looks for the first copy after, as `UPDATE … RETURNING` followed by
`INSERT … ON CONFLICT DO NOTHING` does.

Every retry that finds its first copy then leaves the seq it took unused: a hole in the conversation,
which clients would wait on forever. tests/unit/test_store_postgres.py must see the holes; if it does
not, it cannot catch the bug it exists for.

`install(database_url)` replaces the function in a database migrated by the real store. Run as
`python -m tests.faults.mutant_seq_before_dedupe serve` from the repository root, a server whose every
start installs the mutant right after its migrations (importing this module breaks nothing).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from papote import cli
from papote.store.postgres import engine

MUTANT_SQL = """
DROP FUNCTION papote_append(text[], text[], text[], text[], text[], text[], text[], text[], text[], text[],
                            text[], text[], boolean[], boolean[], bigint);
CREATE FUNCTION papote_append(
    p_conversation text[], p_site text[], p_visitor text[], p_new_id text[], p_author_kind text[],
    p_author_id text[], p_author_name text[], p_kind text[], p_body text[], p_client_msg_id text[],
    p_event text[], p_data text[], p_first_response boolean[], p_reopens boolean[], p_now bigint
) RETURNS TABLE (
    o_outcome text, o_created boolean, o_reopened_seq bigint,
    o_m_conversation_id text, o_m_seq bigint, o_m_kind text, o_m_author_kind text, o_m_author_id text,
    o_m_author_name text, o_m_client_msg_id text, o_m_body text, o_m_event text, o_m_data jsonb,
    o_m_created_at bigint,
    o_c_id text, o_c_site_id text, o_c_visitor_id text, o_c_status text, o_c_assignee_id text,
    o_c_last_seq bigint, o_c_labels jsonb, o_c_contact_email text, o_c_rating integer,
    o_c_rating_comment text, o_c_created_at bigint, o_c_updated_at bigint, o_c_assigned_at bigint,
    o_c_first_response_at bigint, o_c_closed_at bigint, o_reopened_data jsonb
) LANGUAGE plpgsql AS $$
DECLARE
    cid text; conv conversations%ROWTYPE; msg messages%ROWTYPE; inserted integer;
BEGIN
    PERFORM 1 FROM conversations WHERE id = ANY(p_conversation) ORDER BY id FOR UPDATE;
    FOR i IN 1..coalesce(array_length(p_body, 1), 0) LOOP
        o_created := false; o_reopened_seq := NULL; o_reopened_data := NULL;
        cid := p_conversation[i];
        IF cid IS NULL THEN
            cid := p_new_id[i];
            INSERT INTO conversations(id, site_id, visitor_id, created_at, updated_at)
            VALUES (cid, p_site[i], p_visitor[i], p_now, p_now);
            o_created := true;
        END IF;
        -- The bug: the seq is taken before anyone looks for the first copy.
        UPDATE conversations SET last_seq = last_seq + 1, updated_at = p_now
         WHERE id = cid AND site_id = p_site[i] RETURNING * INTO conv;
        INSERT INTO messages(conversation_id, seq, kind, author_kind, author_id, author_name,
                             client_msg_id, body, event, data, created_at)
        VALUES (cid, conv.last_seq, p_kind[i], p_author_kind[i], p_author_id[i], p_author_name[i],
                p_client_msg_id[i], p_body[i], p_event[i], p_data[i]::jsonb, p_now)
        ON CONFLICT (author_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING;
        GET DIAGNOSTICS inserted = ROW_COUNT;
        IF inserted = 0 THEN
            SELECT * INTO msg FROM messages WHERE author_id = p_author_id[i] AND client_msg_id = p_client_msg_id[i];
            o_outcome := 'existing';
            o_m_conversation_id := msg.conversation_id; o_m_seq := msg.seq; o_m_kind := msg.kind;
            o_m_author_kind := msg.author_kind; o_m_author_id := msg.author_id;
            o_m_author_name := msg.author_name; o_m_client_msg_id := msg.client_msg_id;
            o_m_body := msg.body; o_m_event := msg.event; o_m_data := msg.data;
            o_m_created_at := msg.created_at;
        ELSE
            o_outcome := 'stored'; o_m_conversation_id := cid; o_m_seq := conv.last_seq;
        END IF;
        o_c_id := conv.id; o_c_site_id := conv.site_id; o_c_visitor_id := conv.visitor_id;
        o_c_status := conv.status; o_c_assignee_id := conv.assignee_id; o_c_last_seq := conv.last_seq;
        o_c_labels := conv.labels; o_c_contact_email := conv.contact_email; o_c_rating := conv.rating;
        o_c_rating_comment := conv.rating_comment; o_c_created_at := conv.created_at;
        o_c_updated_at := conv.updated_at; o_c_assigned_at := conv.assigned_at;
        o_c_first_response_at := conv.first_response_at; o_c_closed_at := conv.closed_at;
        RETURN NEXT;
    END LOOP;
END;
$$;
"""


async def install(database_url: str) -> None:
    """Replace `papote_append` in a migrated database with the mutant."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(MUTANT_SQL)
    finally:
        await conn.close()


_real_migrate = engine.migrate


async def _migrate_then_break(conn: Any) -> int:
    version = await _real_migrate(conn)
    await conn.execute(MUTANT_SQL)
    return version


if __name__ == "__main__":
    # Only the server run from here is broken: a test that imports `install` keeps the real store.
    engine.migrate = _migrate_then_break  # type: ignore[assignment]
    cli.main()
