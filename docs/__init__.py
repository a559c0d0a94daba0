"""The documentation, shipped in the wheel as ``hookproof.docs`` so that what a verdict cites travels with it."""
