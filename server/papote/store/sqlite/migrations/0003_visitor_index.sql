-- A visitor has a handful of conversations: sorting them costs nothing, while `updated_at` in this index
-- cost every message one more index page to rewrite (a delete and an insert) in its commit.
DROP INDEX conversations_visitor;
CREATE INDEX conversations_visitor ON conversations(visitor_id);
