-- The common batch in a handful of set-based statements instead of five per message.
--
-- Most batches are messages to open conversations, none of them a retry: then the dedupe is one
-- join of the batch against the dedupe index, and the whole batch is one INSERT (each message at its
-- conversation's last_seq plus its rank among the batch's messages to that conversation, in the order
-- queued) and one UPDATE of the conversations it names. Any other batch — a first message, a retry, a
-- closed conversation (a visitor's message reopens it), another site's or an unknown conversation,
-- two messages with one dedupe key — goes message by message exactly as before: 0003's function,
-- renamed `papote_append_each`. Either way the batch's conversations are locked first, in id order,
-- and the dedupe runs under those locks before any seq is taken.
--
-- Should another transaction store one of the batch's dedupe keys between the check and the INSERT
-- (a first send racing its retry on another node), the INSERT fails and the whole call rolls back; the
-- append lane then sends the batch again message by message, where that message finds its first copy.

ALTER FUNCTION papote_append(text[], text[], text[], text[], text[], text[], text[], text[], text[], text[],
                             text[], text[], boolean[], boolean[], bigint)
    RENAME TO papote_append_each;

CREATE FUNCTION papote_append(
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
BEGIN
    IF coalesce(array_length(p_body, 1), 0) = 0 THEN
        RETURN;
    END IF;
    IF array_position(p_conversation, NULL) IS NULL THEN
        PERFORM 1 FROM conversations WHERE id = ANY(p_conversation) ORDER BY id FOR UPDATE;
        IF NOT EXISTS (
               SELECT 1 FROM unnest(p_conversation, p_site) AS b(cid, site)
                 LEFT JOIN conversations c ON c.id = b.cid AND c.site_id = b.site AND c.status = 'open'
                WHERE c.id IS NULL)
           AND NOT EXISTS (
               SELECT 1 FROM unnest(p_author_id, p_client_msg_id) AS b(author, cmid)
                 JOIN messages m ON m.author_id = b.author AND m.client_msg_id = b.cmid)
           AND NOT EXISTS (
               SELECT 1 FROM unnest(p_author_id, p_client_msg_id) AS b(author, cmid)
                WHERE b.cmid IS NOT NULL GROUP BY b.author, b.cmid HAVING count(*) > 1)
        THEN
            RETURN QUERY
            WITH b AS (
                SELECT * FROM unnest(p_conversation, p_author_kind, p_author_id, p_author_name, p_kind,
                                     p_body, p_client_msg_id, p_event, p_data, p_first_response)
                       WITH ORDINALITY AS b(cid, author_kind, author_id, author_name, kind, body, cmid,
                                            event, data, first_response, ord)
            ), numbered AS (
                SELECT b.cid, b.ord, b.author_kind, b.author_id, b.author_name, b.kind, b.body, b.cmid,
                       b.event, b.data,
                       c.last_seq + row_number() OVER (PARTITION BY b.cid ORDER BY b.ord) AS seq
                  FROM b JOIN conversations c ON c.id = b.cid
            ), stored AS (
                INSERT INTO messages(conversation_id, seq, kind, author_kind, author_id, author_name,
                                     client_msg_id, body, event, data, created_at)
                SELECT cid, seq, kind, author_kind, author_id, author_name, cmid, body, event,
                       data::jsonb, p_now
                  FROM numbered
            ), moved AS (
                UPDATE conversations c SET
                    last_seq = c.last_seq + g.n,
                    updated_at = p_now,
                    first_response_at = CASE WHEN g.first_response
                                             THEN coalesce(c.first_response_at, p_now)
                                             ELSE c.first_response_at END
                  FROM (SELECT cid, count(*) AS n, bool_or(first_response) AS first_response
                          FROM b GROUP BY cid) g
                 WHERE c.id = g.cid
                RETURNING c.*
            )
            SELECT 'stored'::text, false, NULL::bigint,
                   n.cid, n.seq, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
                   NULL::text, NULL::jsonb, NULL::bigint,
                   m.id, m.site_id, m.visitor_id, m.status, m.assignee_id, m.last_seq, m.labels,
                   m.contact_email, m.rating, m.rating_comment, m.created_at, m.updated_at,
                   m.assigned_at, m.first_response_at, m.closed_at, NULL::jsonb
              FROM numbered n JOIN moved m ON m.id = n.cid
             ORDER BY n.ord;
            RETURN;
        END IF;
    END IF;
    RETURN QUERY SELECT * FROM papote_append_each(
        p_conversation, p_site, p_visitor, p_new_id, p_author_kind, p_author_id, p_author_name, p_kind,
        p_body, p_client_msg_id, p_event, p_data, p_first_response, p_reopens, p_now);
END;
$$;
