"""Whether the run can draw the deliveries it needs from the schemas of a user's platform, asked before any
check: the generator knows a subset of JSON Schema (docs/decisions.md#own-schema-compiler), and a schema past
it would otherwise fail every check that draws from it, with the reference implementations "not conforming".

``hookproof validate``, ``list`` and ``export`` take any JSON Schema 2020-12; only a run draws deliveries.
The built-in platforms are compiled by the project's tests, so a run of them alone pays nothing here.
"""

from __future__ import annotations

from hookproof import catalog


def undrawable(platforms: list[str]) -> str | None:
    """Why the run cannot draw some delivery of ``platforms`` (the webhook platforms of the user's folders it
    checks), as one line naming the schema and the place; None when it can draw every one."""
    from hookproof.conformance.broken_bodies import invalid_bodies
    from hookproof.conformance.schema_nodes import UnsupportedSchema
    from hookproof.conformance.strategies import body_strategy

    for platform in platforms:
        for spec in catalog.platform(platform).contracts:
            for name, event in spec.events.items():
                try:
                    body_strategy(event.schema_id)  # what generated_valid and the sender checks send
                    body_strategy(event.schema_id, extras=True)  # unknown_properties
                    invalid_bodies(event.schema_id)  # broken_bodies
                except UnsupportedSchema as exc:
                    return (f"{platform} {name} (contract {spec.name}): hookproof cannot draw deliveries from its "
                            f"schema: {exc} (hookproof validate, list and export still take it)")
    return None
