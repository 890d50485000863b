"""The conversation rules: send, resume, read, typing, and every state change, for any principal.

`Chat` is the one service both the WebSocket endpoints and the REST API call. Each method authorizes
through `authz.authorize`, writes through the store (committed before it returns), then publishes on the
bus what changed. It returns frames for the caller to send; it never touches a socket.

A message's trip: `send` → `store.append` (seq assigned, deduped on client_msg_id, COMMIT) → the caller
sends `ack` → the bus carries a `MessageAppended` event to every connection on `conv:<id>` (agents, the
visitor's other tabs and devices), each of which renders the frame its audience may see. State changes
are `event` messages in the same seq stream, plus a `ConversationChanged` event for inboxes. Events are
published only after the store has committed what they describe.

`Chat` is assembled from one part per concept, each in its own module: base.py (what they share),
queue.py (routing and places in line), messages.py (posting, claims, assignment), lifecycle.py (close,
reopen, labels, rating, contact), snooze.py (setting a conversation aside until a time) and
timeline.py (summaries, history, pages, reads, typing).
"""

from papote.bus.topics import agent_topic, conv_topic, public_topic, site_topic, visitor_topic
from papote.conversations.base import CACHE_TTL_SECS, REF_CACHE, ChatBase
from papote.conversations.lifecycle import RATING_LOOKBACK, Lifecycle
from papote.conversations.messages import Messages
from papote.conversations.queue import HANDLING_SAMPLE, ROUTE_REFUSALS, Queue
from papote.conversations.snooze import MAX_SNOOZE_MS, Snoozes
from papote.conversations.timeline import PAGE, Timeline
from papote.frames import agent_author, message_dict, message_frame, visitor_summary

__all__ = ["CACHE_TTL_SECS", "HANDLING_SAMPLE", "MAX_SNOOZE_MS", "PAGE", "RATING_LOOKBACK", "REF_CACHE",
           "ROUTE_REFUSALS", "Chat", "ChatBase", "Lifecycle", "Messages", "Queue", "Snoozes", "Timeline",
           "agent_author", "agent_topic", "conv_topic", "message_dict", "message_frame", "public_topic",
           "site_topic", "visitor_summary", "visitor_topic"]


class Chat(Lifecycle, Timeline, Messages):
    """The conversation service, one per node: its parts share the store, bus, presence and caches
    (`ChatBase`) and call one another through `self`."""
