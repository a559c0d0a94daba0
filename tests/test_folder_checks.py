"""A schema folder of the user's with one mistake in it is one line naming the file and the fault, from every
command and from a run (exit 2, or pytest's usage error), never a traceback, a run blaming the reference
implementations, or a verdict on a schema that is not whole. The built-in folder keeps the same rules."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hookproof import catalog, cli
from hookproof.folder_checks import check_platforms
from tests import sixth_platform

SUITE = ("--pyargs", "hookproof.conformance")
Mutation = Callable[[Path], None]


def _edit(rel: str, change: Callable[[Any], Any]) -> Mutation:
    def mutate(folder: Path) -> None:
        path = folder / "acme" / rel
        path.write_text(json.dumps(change(json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")

    return mutate


def _set(*pairs: tuple[str, Any]) -> Callable[[Any], Any]:
    """Set each ``/a/b`` pointer of the document to its value (None deletes it)."""

    def change(doc: Any) -> Any:
        for pointer, value in pairs:
            *parents, last = pointer.strip("/").split("/")
            node = doc
            for key in parents:
                node = node[int(key)] if isinstance(node, list) else node[key]
            index = int(last) if isinstance(node, list) else last
            if value is None:
                del node[index]
            else:
                node[index] = value
        return doc

    return change


def _named_in_body(const: str) -> Mutation:
    """The event name travels in the body's /kind, and candidate.invited's schema fixes /kind to ``const``."""
    profile = _edit("profile.json", _set(("/contract/event_name/parts", [{"body": "/kind"}])))
    schema = _edit("events/candidate.invited.json", _set(("/properties/kind", {"const": const})))
    return lambda folder: (profile(folder), schema(folder), None)[2]


INVITED = "events/candidate.invited.json"
MISTAKES: dict[str, tuple[Mutation, str]] = {
    "a profile key misspelt": (_edit("profile.json", lambda d: {**d, "contract": {
        **{k: v for k, v in d["contract"].items() if k != "events"}, "evnets": d["contract"]["events"]}}),
        "acme/profile.json: /contract: 'events' is a required property"),
    # Within the profile schema's choices (retry documented or assumed; auth by scheme), the branch meant is named.
    "a retry count as text": (_edit("profile.json", _set(("/contract/retry/max_tries", "3"))),
                              "acme/profile.json: /contract/retry/max_tries: '3' is not of type 'integer'"),
    "a retry without its source": (_edit("profile.json", _set(("/contract/retry/source", None))),
                                   "acme/profile.json: /contract/retry: 'source' is a required property"),
    "an auth key misspelt": (_edit("profile.json", _set(("/contract/auth/0/prefx", "sha256="))),
                             "acme/profile.json: /contract/auth/0: Additional properties are not allowed ('prefx' was "
                             "unexpected)"),
    "a schema outside the platform's folder": (
        _edit("profile.json", _set(("/contract/events/result.scored/schema", "../other/events/result.scored.json"))),
        "schema file '../other/events/result.scored.json' is outside the platform's folder"),
    "no events": (_edit("profile.json", _set(("/contract/events", {}))),
                  "acme/profile.json: /contract/events: a webhook platform names at least one event"),
    "an example its schema rejects": (_edit("examples/result.scored.json", _set(("/score", "high"))),
                                      "acme/examples/result.scored.json: the example does not conform to acme "
                                      "result.scored (contract v1)"),
    "two schemas with one $id": (_edit("events/result.scored.json", _set(("/$id", SCHEMA_ID := (
        "https://hookproof.dev/schemas/acme/events/candidate.invited.json")))), f"its $id {SCHEMA_ID} is already"),
    "a $ref to no file": (_edit(INVITED, _set(("/properties/email", {"$ref": "../common.json#/$defs/email"}))),
                          f"acme/{INVITED}: /properties/email/$ref: '../common.json#/$defs/email' resolves to nothing"),
    "a $ref to a remote schema": (_edit(INVITED, _set(("/properties/email", {"$ref": "https://example.com/e.json"}))),
                                  "'https://example.com/e.json' resolves to nothing in the schema folders"),
    "a keyword's value wrong": (_edit(INVITED, _set(("/properties/email/type", "strng"))),
                                f"acme/{INVITED}: /properties/email/type: not a JSON Schema 2020-12 schema"),
    "draft-07": (_edit(INVITED, _set(("/$schema", "http://json-schema.org/draft-07/schema#"))),
                 f"acme/{INVITED}: /$schema: 'http://json-schema.org/draft-07/schema#' is not "),
    "a const naming another event": (_named_in_body("candidate.asked"),
                                     f"acme/{INVITED}: /kind: the schema allows 'candidate.asked' where acme's event "
                                     "candidate.invited (contract v1) puts 'candidate.invited'"),
}


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    yield sixth_platform.write(tmp_path / "company-schemas")
    catalog.configure([])


def test_the_built_in_platforms_keep_the_rules_a_users_folder_is_held_to() -> None:
    cat = catalog.configure([])
    check_platforms(cat, list(cat.ids))  # raises on the first fault


@pytest.mark.parametrize("command", ["list", "validate", "export"])
@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_mistake_in_a_users_folder_is_one_line_from_every_command(
        mistake: str, command: str, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mutate, says = MISTAKES[mistake]
    mutate(folder)
    example = folder / "acme" / "examples" / "candidate.invited.json"
    argv = {"list": ["list"], "validate": ["validate", "--platform", "acme", str(example)],
            "export": ["export", str(tmp_path / "out")]}[command]
    assert cli.main([*argv, "--schemas", str(folder)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out").exists(), "nothing is written from a folder with a mistake in it"


def test_the_fixed_folder_passes_where_the_names_agree(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _named_in_body("candidate.invited")(folder)
    _edit("examples/candidate.invited.json", _set(("/kind", "candidate.invited")))(folder)
    _edit("examples/result.scored.json", _set(("/kind", "result.scored")))(folder)
    assert cli.main(["list", "--schemas", str(folder)]) == 0, capsys.readouterr().err


def test_a_schema_without_an_id_resolves_its_refs_against_the_uri_its_path_mirrors(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "acme" / "common.json").write_text(json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"email": {"type": "string", "format": "email"}}}), encoding="utf-8")
    _edit(INVITED, _set(("/$id", None), ("/properties/email", {"$ref": "../common.json#/$defs/email"})))(folder)
    example = folder / "acme" / "examples" / "candidate.invited.json"
    argv = ["validate", "--schemas", str(folder), "--platform", "acme", "--header", "X-Acme-Event: candidate.invited",
            str(example)]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert "conforms to acme candidate.invited" in capsys.readouterr().out
    _edit("examples/candidate.invited.json", _set(("/email", "not an address")))(folder)
    assert cli.main(argv) == 2  # the folder's
    assert "the example does not conform" in capsys.readouterr().err  # own example, now wrong, is a folder fault


@pytest.mark.parametrize(("mutate", "says", "platforms"), [
    # A profile's fault stops a run of any platform: the reference receiver reads every profile.
    (MISTAKES["a profile key misspelt"][0], "acme/profile.json: /contract: 'events' is a required property",
     ["acme", "codewars"]),
    # A schema the generator cannot draw from stops a run that checks that platform (another's run needs none).
    (_edit(INVITED, _set(("/properties/email", {"not": {"type": "null"}}))),
     "acme candidate.invited (contract v1): hookproof cannot draw deliveries from its schema: ", ["acme"]),
])
def test_a_run_on_a_folder_with_a_mistake_is_a_usage_error_before_any_test(
        pytester: pytest.Pytester, folder: Path, mutate: Mutation, says: str, platforms: list[str]) -> None:
    mutate(folder)
    for platform in platforms:
        result = pytester.runpytest(*SUITE, "--hookproof-schemas", str(folder), "--hookproof-platform", platform)
        assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-800:]
        err = result.stderr.str()
        assert says in err and err.count("\n") <= 2, err
        assert "Traceback" not in err and "INTERNALERROR" not in err + result.stdout.str()
