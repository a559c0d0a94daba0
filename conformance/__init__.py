"""The conformance suite: the pytest plugin, the checks, and the generators they send."""
