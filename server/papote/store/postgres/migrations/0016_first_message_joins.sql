-- A first message may name the id of the conversation it opens (store NewMessage.new_conversation_id:
-- a messaging channel's newcomer, a new mail contact): when two such messages race, on one node or
-- several, the first INSERT creates the conversation and the other waits for its commit and joins it,
-- instead of failing on the primary key or opening a second conversation for one customer. A fresh id
-- (every other first message) never meets an existing row, so nothing changes for them.
--
-- `papote_append_each` is 0003's function (renamed by 0005) with that one change; the signature and
-- the result columns are the same, so it is replaced in place.

CREATE OR REPLACE FUNCTION papote_append_each(
    p_conversation   text[],
    p_site           text[],
    p_visitor        text[],
    p_new_id         text[],
    p_author_kind    text[],
    p_author_id      text[],
    p_author_name    text[],
    p_kind           text[],
    p_body           text[],
    p_client_msg_id  text[],
    p_event          text[],
    p_data           text[],
    p_first_response boolean[],
    p_reopens        boolean[],
    p_now            bigint
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
    n          integer := coalesce(array_length(p_body, 1), 0);
    cid        text;
    conv       conversations%ROWTYPE;
    msg        messages%ROWTYPE;
    next_seq   bigint;
    reopen     boolean;
    inserted   integer;
BEGIN
    PERFORM 1 FROM conversations WHERE id = ANY(p_conversation) ORDER BY id FOR UPDATE;
    FOR i IN 1..n LOOP
        o_outcome := NULL; o_created := false; o_reopened_seq := NULL; o_reopened_data := NULL;
        msg := NULL; conv := NULL;
        cid := p_conversation[i];
        -- The dedupe, before any seq is taken.
        IF p_client_msg_id[i] IS NOT NULL THEN
            SELECT * INTO msg FROM messages
             WHERE author_id = p_author_id[i] AND client_msg_id = p_client_msg_id[i];
            IF FOUND THEN
                o_outcome := 'existing';
            END IF;
        END IF;
        IF o_outcome IS NULL AND cid IS NULL THEN
            IF p_visitor[i] IS NULL
               OR NOT EXISTS (SELECT 1 FROM visitors WHERE id = p_visitor[i] AND site_id = p_site[i]) THEN
                o_outcome := 'missing';
            ELSE
                cid := p_new_id[i];
                -- Another first message may have opened this very id (a customer's first messages
                -- on two nodes at once): this insert then waits for its commit, does nothing, and
                -- this message joins that conversation, under its lock, if it is this visitor's.
                INSERT INTO conversations(id, site_id, visitor_id, created_at, updated_at)
                VALUES (cid, p_site[i], p_visitor[i], p_now, p_now)
                ON CONFLICT (id) DO NOTHING;
                GET DIAGNOSTICS inserted = ROW_COUNT;
                o_created := inserted > 0;
                IF NOT o_created THEN
                    PERFORM 1 FROM conversations
                     WHERE id = cid AND site_id = p_site[i] AND visitor_id = p_visitor[i] FOR UPDATE;
                    IF NOT FOUND THEN
                        o_outcome := 'missing';
                    END IF;
                END IF;
            END IF;
        END IF;
        IF o_outcome IS NULL THEN
            SELECT * INTO conv FROM conversations WHERE id = cid AND site_id = p_site[i];
            IF NOT FOUND THEN
                o_outcome := 'missing';
            END IF;
        END IF;
        IF o_outcome IS NULL THEN
            -- A visitor's text to a closed conversation: a `reopened` event takes the next seq, the
            -- message the one after.
            reopen := conv.status = 'closed' AND p_reopens[i];
            next_seq := conv.last_seq + CASE WHEN reopen THEN 2 ELSE 1 END;
            INSERT INTO messages(conversation_id, seq, kind, author_kind, author_id, author_name,
                                 client_msg_id, body, event, data, created_at)
            VALUES (cid, next_seq, p_kind[i], p_author_kind[i], p_author_id[i], p_author_name[i],
                    p_client_msg_id[i], p_body[i], p_event[i], p_data[i]::jsonb, p_now)
            ON CONFLICT (author_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING;
            GET DIAGNOSTICS inserted = ROW_COUNT;
            IF inserted = 0 THEN
                -- Stored meanwhile by another transaction: nothing of ours was written but a
                -- conversation this very element created, which goes again.
                IF o_created THEN
                    DELETE FROM conversations WHERE id = cid;
                    o_created := false;
                END IF;
                SELECT * INTO msg FROM messages
                 WHERE author_id = p_author_id[i] AND client_msg_id = p_client_msg_id[i];
                o_outcome := 'existing';
            ELSE
                IF reopen THEN
                    o_reopened_seq := next_seq - 1;
                    -- Who had it: the update below clears the assignee, routing offers it back to them.
                    IF conv.assignee_id IS NOT NULL THEN
                        o_reopened_data := jsonb_build_object('assignee', conv.assignee_id);
                    END IF;
                    INSERT INTO messages(conversation_id, seq, kind, author_kind, author_id, author_name,
                                         client_msg_id, body, event, data, created_at)
                    VALUES (cid, next_seq - 1, 'event', p_author_kind[i], p_author_id[i], p_author_name[i],
                            NULL, '', 'reopened', o_reopened_data, p_now);
                END IF;
                UPDATE conversations SET
                    last_seq = next_seq,
                    updated_at = p_now,
                    first_response_at = CASE WHEN p_first_response[i]
                                             THEN coalesce(first_response_at, p_now)
                                             ELSE first_response_at END,
                    status = CASE WHEN reopen THEN 'open' ELSE status END,
                    closed_at = CASE WHEN reopen THEN NULL ELSE closed_at END,
                    assignee_id = CASE WHEN reopen THEN NULL ELSE assignee_id END,
                    assigned_at = CASE WHEN reopen THEN NULL ELSE assigned_at END
                 WHERE id = cid
                 RETURNING * INTO conv;
                o_outcome := 'stored';
                o_m_conversation_id := cid;
                o_m_seq := next_seq;
            END IF;
        END IF;
        IF o_outcome = 'existing' THEN
            SELECT * INTO conv FROM conversations WHERE id = msg.conversation_id;
        END IF;
        IF o_outcome = 'existing' THEN
            o_m_conversation_id := msg.conversation_id; o_m_seq := msg.seq; o_m_kind := msg.kind;
            o_m_author_kind := msg.author_kind; o_m_author_id := msg.author_id;
            o_m_author_name := msg.author_name; o_m_client_msg_id := msg.client_msg_id;
            o_m_body := msg.body; o_m_event := msg.event; o_m_data := msg.data;
            o_m_created_at := msg.created_at;
        ELSE
            o_m_kind := NULL; o_m_author_kind := NULL; o_m_author_id := NULL; o_m_author_name := NULL;
            o_m_client_msg_id := NULL; o_m_body := NULL; o_m_event := NULL; o_m_data := NULL;
            o_m_created_at := NULL;
            IF o_outcome = 'missing' THEN
                o_m_conversation_id := NULL; o_m_seq := NULL;
            END IF;
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
