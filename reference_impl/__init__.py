"""Reference implementations: a webhook sender, a receiver, and a registration server."""
