"""Meta's platforms: the shared handshake and signature (graph.py), Messenger and Instagram Direct
(messenger.py). WhatsApp Cloud API, on the same platform, is channels/whatsapp/."""
