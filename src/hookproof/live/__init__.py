"""Live traffic: send one delivery (``trigger``), receive and keep real ones (``listen``, ``captures``), and send
kept requests again (``replay``) - captures of real deliveries and the failing cases a conformance run saved.

Every recorded request, whatever made it, is one :class:`~hookproof.live.recording.Recording` in one file
format (docs/decisions.md#recording-format), so a capture and a saved failure replay the same way.
"""
