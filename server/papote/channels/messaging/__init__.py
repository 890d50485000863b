"""Messaging channels: WhatsApp, Telegram, Twilio SMS, Messenger and Instagram in one inbox.

base.py holds the vocabulary and the adapter each provider implements (channels/whatsapp/,
channels/telegram/, channels/twilio/, channels/meta/); service.py connects accounts, stores what
webhooks bring, and sends agents' replies through the outbox (channels/outbox.py)."""
