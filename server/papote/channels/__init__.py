"""Channels: how a conversation follows the customer outside the widget.

* `outbox.py` — the worker that claims due deliveries from the store's outbox (store/outbox.py), hands
  each to its channel's sender, and records the outcome with retries and exponential backoff.
* `email/` — email continuation: digests of unread agent replies (service.py, render.py), signed reply,
  confirmation and unsubscribe tokens (tokens.py), outbound SMTP (smtp.py), the inbound SMTP listener
  (listener.py) with its pure MIME reading (inbound.py) and quote stripping (quotes.py); email as a
  channel of its own, mail to a site's support address (support.py); Postmark's inbound webhook, its
  JSON read into a mail (postmark.py), and Mailgun's inbound routes, their signed form read into a mail
  (mailgun.py); transcripts (transcripts.py); and mail to agents — invitations,
  password resets, "a conversation is waiting" (agent_mail.py, notices.py).
* `webhooks/` — outgoing Standard Webhooks: events derived from the seq stream past a durable cursor
  (events.py), signed (signing.py), sent in per-conversation order through the outbox (service.py) to
  allowed targets only (targets.py).
* `inbound_api.py` — the inbound API channel: a site's servers post a customer's message (by their own
  id for the customer), stored like a widget send.

docs/channels.md is the site owner's and operator's view.
"""
