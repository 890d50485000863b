"""Budgets of the inbound paths: what reaches a site from outside the widget (the inbound API, mail by
SMTP, Postmark or Mailgun, the messaging apps' webhooks) is counted like the widget's sends.

Two budgets, both fixed windows (ratelimits.py), both held across nodes the way the widget's site
budget is (each node counts the whole budget on its own, `Budgets`, and with shared limits Redis adds
up every node's count, `SharedLimits`):

* per customer address — `(site, channel, address)`: the contact's external id, the mail's sender, the
  phone number or chat on a messaging account — `PAPOTE_RATE_INBOUND_PER_ADDRESS` (`30/minute`): a
  person writes a few messages a minute, a loop or a flood far more;
* per site — the widget's own site budget (`PAPOTE_RATE_PER_SITE`): a site's inbound traffic and its
  visitors' frames spend the same budget.

What over budget means is each path's to say, so that nothing under budget is lost and what is over
comes back later where it can: the inbound API answers `429 rate_limited` with `Retry-After`; mail gets
a temporary `451 4.7.1` (SMTP) or `429` (Postmark, Mailgun), and the sender retries; a messaging
webhook still answers 2xx (providers retry a refusal, then disable the webhook) and the message is held
for review (moderation.py) instead of reaching the conversation.

Only messages count: receipts, handshakes, automatic mail and bounces do not.
"""

from __future__ import annotations

import math
import re
import time

from limits import parse

from papote.ratelimits import Budgets, SharedLimits

#: The Budgets namespace of per-address windows (the site's is the widget's own, "site").
NAMESPACE = "inbound"
#: The SMTP answer over budget: 4.7.1 is "delivery not authorized, try later", a temporary refusal the
#: sending server retries on its own schedule.
SMTP_OVER = "451 4.7.1 Too many messages from this sender: try again in {secs} s"
_SMTP_RETRY = re.compile(r"^451 4\.7\.1 .* (\d+) s$")


class InboundLimits:
    def __init__(self, budgets: Budgets, shared: SharedLimits | None, per_address: str, per_site: str) -> None:
        self.budgets = budgets
        self.shared = shared
        self.per_address = parse(per_address)
        self.per_site = parse(per_site)

    def hit(self, site_id: str, channel: str, address: str) -> int | None:
        """Count one message from `address` on `channel` to the site: None under budget, else the
        seconds until the budget that refused it opens again (at least 1)."""
        now = time.monotonic()
        key = f"{site_id}:{channel}:{address.strip().casefold()}"
        for item, namespace, name, shared_key in ((self.per_address, NAMESPACE, key, f"{NAMESPACE}:{key}"),
                                                  (self.per_site, "site", site_id, site_id)):
            if not self.budgets.hit(item, namespace, name, now):
                return _secs(self.budgets.retry_after(namespace, name, now))
            if self.shared is not None:
                if self.shared.blocked(shared_key):
                    return _secs(self.shared.retry_after(shared_key))
                self.shared.hit(item, shared_key)
        return None


def _secs(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def smtp_over(retry_after: int) -> str:
    return SMTP_OVER.format(secs=retry_after)


def retry_of(smtp_answer: str) -> int | None:
    """The seconds an over-budget SMTP answer names (`smtp_over`), or None for any other answer."""
    found = _SMTP_RETRY.match(smtp_answer)
    return int(found.group(1)) if found else None
