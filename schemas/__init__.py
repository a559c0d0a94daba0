"""The schema files, shipped as package data (installed as ``hookproof_schemas``); no code lives here."""
