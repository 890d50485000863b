"""The site's bot: a decision tree with an FAQ that always hands over to a person.

* `tree.py`   — the tree a site owner edits (`settings.bot`): its shape, its validation, its defaults.
* `faq.py`    — matching a visitor's words against the site's FAQ entries (tokens, no model).
* `stepper.py`— the pure step: (tree, state, input, context) → (new state, outputs). No I/O.
* `runner.py` — the I/O around it: after a visitor's message commits, feed it to the stepper, append
  what the bot says through the normal append path (deterministic `client_msg_id`s, so a re-run after
  a crash posts nothing twice), and hand over to routing.

docs/bot.md tells the whole story.
"""
