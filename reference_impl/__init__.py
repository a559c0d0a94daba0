"""Reference implementations: a webhook sender, a receiver, and the Xobin registration server."""
