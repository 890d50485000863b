"""A merge on PostgreSQL, statement by statement (docs/channels.md, "One customer across channels").

Every table the personal-data registry says holds a visitor's id moves to the person kept (`$2`), in one
transaction. Where a unique key would hold twice, one row is kept and the comment says why; nothing is
left naming `$1` (tests/unit/test_store_contract_merge.py reads every column of every table to prove it).
The same statements as the SQLite store's (store/sqlite/visitors.py `MERGE_SQL`), in PostgreSQL's words.
"""

from __future__ import annotations

MERGE_SQL = (
    "UPDATE visitor_tokens SET visitor_id=$2 WHERE visitor_id=$1",
    "UPDATE conversations SET visitor_id=$2 WHERE visitor_id=$1",
    "UPDATE visitor_events SET visitor_id=$2 WHERE visitor_id=$1",
    "UPDATE link_codes SET visitor_id=$2 WHERE visitor_id=$1",
    # Their messages are now the merged person's, and so are their dedupe keys (author_id, client_msg_id):
    # a send retried under the new identity finds its first copy, and a channel message re-delivered finds
    # it too. Should both have used one client_msg_id (never with minted UUIDs or provider ids), the kept
    # person's row keeps the key and the other message, still stored, loses only its retry key.
    "UPDATE messages SET client_msg_id=NULL WHERE author_id=$1 AND author_kind='visitor' AND client_msg_id "
    "IN (SELECT client_msg_id FROM messages WHERE author_id=$2 AND client_msg_id IS NOT NULL)",
    "UPDATE messages SET author_id=$2 WHERE author_id=$1 AND author_kind='visitor'",
    # Their uploads too: a file sent before the merge, retried after, is still theirs.
    "UPDATE attachments SET uploader_id=$2 WHERE uploader_id=$1 AND uploader_kind='visitor'",
    # One read position per conversation and reader: where both read, the further one stands.
    "UPDATE reads r SET read_seq=GREATEST(r.read_seq, o.read_seq) FROM reads o "
    "WHERE r.participant_id=$2 AND o.participant_id=$1 AND o.conversation_id=r.conversation_id",
    "DELETE FROM reads WHERE participant_id=$1 AND conversation_id IN "
    "(SELECT conversation_id FROM reads WHERE participant_id=$2)",
    "UPDATE reads SET participant_id=$2 WHERE participant_id=$1",
    # Rules shown to either are shown to the person; a rule both saw keeps the kept person's time.
    "INSERT INTO visitor_rules(visitor_id, rule_id, fired_at) SELECT $2, rule_id, fired_at FROM visitor_rules "
    "WHERE visitor_id=$1 ORDER BY fired_at ON CONFLICT DO NOTHING",
    "DELETE FROM visitor_rules WHERE visitor_id=$1",
    # A block of either blocks the person (a merge is no way out of a block); where both were, the kept
    # person's block (its author, reason and time) stands.
    "INSERT INTO blocked_visitors(site_id, visitor_id, blocked_by, reason, created_at) "
    "SELECT site_id, $2, blocked_by, reason, created_at FROM blocked_visitors WHERE visitor_id=$1 "
    "ORDER BY created_at ON CONFLICT DO NOTHING",
    "DELETE FROM blocked_visitors WHERE visitor_id=$1",
    # A held message keeps its review; one whose key the kept person holds too keeps its text, not its key.
    "UPDATE held_messages SET client_msg_id='merged:' || id WHERE visitor_id=$1 AND client_msg_id IN "
    "(SELECT client_msg_id FROM held_messages WHERE visitor_id=$2)",
    "UPDATE held_messages SET visitor_id=$2 WHERE visitor_id=$1",
    "UPDATE nps_surveys SET visitor_id=$2 WHERE visitor_id=$1",
    # The channels the person writes from (a phone number, a chat) are the kept person's from now on: the
    # next message on them, and a re-delivery of an old one, lands as them.
    "UPDATE channel_identities SET visitor_id=$2 WHERE visitor_id=$1",
    # Confirmed or unsubscribed addresses keep their standing, for the person kept.
    "UPDATE email_addresses SET visitor_id=$2 WHERE visitor_id=$1",
    "UPDATE deliveries SET visitor_id=$2 WHERE visitor_id=$1",
    "DELETE FROM visitors WHERE id=$1",
)
