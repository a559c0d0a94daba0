"""hookproof: contract tests and conformance checks for assessment-platform webhooks.

The platform knowledge lives in ``schemas/`` (installed as the data package ``hookproof_schemas``);
this package reads it (:mod:`conformance.catalog`), generates deliveries from it
(:mod:`conformance.strategies`) and judges implementations against it (the pytest plugin and checks).
"""
