"""The schema files, shipped as package data; no code lives here."""
