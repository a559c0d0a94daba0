"""Captures as regression cases: kept by ``hookproof listen``, listed, shown, exported, validated, replayed, and
sent by the receiver checks with ``--hookproof-captures``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from hookproof import catalog, redact
from hookproof.cli import main
from hookproof.reference_impl.http_input import parse_json, read_body
from hookproof.reference_impl.receiver import Receiver
from hookproof.reference_impl.sender import Sender, SendOptions
from hookproof.reference_impl.serving import serving
from hookproof.wire import encode
from tests import broken_receivers as broken
from tests.live_helpers import damaged_database, listening

SECRET = "capture-secret-3"


class CrashesOnDashedIds(Receiver):
    """A 500 for a Codewars user id that is not letters and digits (the documented examples' ids all are)."""

    def handle(self, request: Request) -> Response:
        raw, _ = read_body(request, 1024 * 1024)  # kept for the receiver to read again
        body, _ = parse_json(raw or b"")
        user = body.get("user") if isinstance(body, dict) else None
        if isinstance(user, dict) and isinstance(user.get("id"), str) and not user["id"].isalnum():
            return Response("{}", status=500)
        return super().handle(request)
SUITE = ("--pyargs", "hookproof.conformance")


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A capture database holding a real run of Codewars deliveries (one of each documented example, and one
    that does not conform), and its export."""
    tmp = tmp_path_factory.mktemp("captures")
    db = tmp / "captures.sqlite3"
    spec = catalog.contract("codewars")
    with listening(tmp, "--platform", "codewars", "--port", "0", "--db", str(db), secret=SECRET) as (url, _), \
            Sender(SendOptions(max_tries=1)) as sender:
        for name, event in spec.events.items():
            for ex in event.examples:
                assert sender.deliver(url + "codewars", "codewars", name, ex.body, secret=SECRET).delivered
        # A real delivery the documents do not show: a user id with a dash.
        real = {"action": "honor_changed", "user": {"id": "user-42", "honor": 12, "honor_delta": 1}}
        assert sender.deliver(url + "codewars", "codewars", "user.honor_changed", real, secret=SECRET).delivered
        bad = {"action": "rank_upgraded", "user": {"id": "53aa3f265b97485984000001", "rank": "one"}}
        record = sender.deliver(url + "codewars", "codewars", "user.rank_upgraded", bad, secret=SECRET)
        assert not record.delivered and record.attempts[0].status == 422
    export = tmp / "exported"
    assert main(["captures", "export", str(export), "--db", str(db)]) == 0
    yield db, export
    redact.forget_all()


def test_list_show_and_export(captured: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    db, export = captured
    assert main(["captures", "list", "--db", str(db)]) == 0
    listed = capsys.readouterr().out
    examples = sum(len(e.examples) for e in catalog.contract("codewars").events.values()) + 1  # and the real one
    assert f"{examples + 1} capture(s) in {db}" in listed and "DOES NOT CONFORM" in listed
    assert main(["captures", "list", "--db", str(db), "--event", "user.rank_upgraded", "--since", "1h"]) == 0
    assert "2 capture(s)" in capsys.readouterr().out  # the documented one and the broken one
    assert main(["captures", "show", "1", "--db", str(db)]) == 0
    shown = capsys.readouterr().out
    assert "X-Webhook-Secret: ***" in shown and SECRET not in shown
    assert main(["captures", "show", "--db", str(db), "1"]) == 0  # options anywhere, as with any command
    assert capsys.readouterr().out == shown
    files = sorted(export.glob("capture-*.json"))
    assert len(files) == examples + 1
    data = json.loads(files[0].read_text())
    assert data["hookproof_recording"] == 1 and data["kind"] == "capture" and data["expected"] == "2XX"
    assert SECRET not in "".join(f.read_text() for f in files)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_show_masks_a_secret_a_capture_kept_unmasked(tmp_path: Path, as_json: bool, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A capture stored before a form of the secret was masked (or by a listen given no secret): ``captures
    show`` masks what it prints with ``$HOOKPROOF_SECRET`` - the body as stored, and as parsed and
    pretty-printed, where a JSON-escaped secret reads as itself."""
    from hookproof.live.recording import Answer, Recording
    from hookproof.live.store import CaptureStore

    secrets = ("Ab/Cd+Ef/Gh12", "tök€n-secret")
    body = b'{"action": "honor_changed", "token": "Ab\\/Cd+Ef\\/Gh12", "note": "t\\u00f6k\\u20acn-secret"}'
    db = tmp_path / "old.sqlite3"
    store = CaptureStore(str(db))
    rec = Recording(kind="capture", id="", platform="codewars", method="POST", path="/hook?k=Ab%2FCd%2BEf%2FGh12",
                    headers=(("X-Note", "tök€n-secret"),), body=body, problems=("the token Ab/Cd+Ef/Gh12",),
                    forward=Answer(200, 0.1, '{"echo": "t\\u00f6k\\u20acn-secret"}'))
    store.add("old", rec, 200, rec.forward)
    store.close()
    redact.forget_all()
    monkeypatch.setenv("HOOKPROOF_SECRET", secrets[0])
    try:
        redact.remember(secrets[1])  # as a second run's secret would be; show reads only $HOOKPROOF_SECRET
        assert main(["captures", "show", "1", "--db", str(db), *(["--json"] if as_json else [])]) == 0
        shown = capsys.readouterr().out
        assert main(["captures", "export", str(tmp_path / "out"), "--db", str(db)]) == 0  # export masks as show does
        capsys.readouterr()
        monkeypatch.delenv("HOOKPROOF_SECRET")
        redact.forget_all()
        assert main(["captures", "list", "--json", "--db", str(db), "--secret", secrets[0]]) == 0  # or --secret
        listed = capsys.readouterr().out
        assert secrets[0] not in listed and "Ab\\/Cd+Ef\\/Gh12" not in listed and "***" in listed, listed
    finally:
        redact.forget_all()
    written = "".join(f.read_text(encoding="utf-8") for f in (tmp_path / "out").glob("*.json"))
    assert written and secrets[0] not in written and "Ab\\/Cd+Ef\\/Gh12" not in written, written
    assert "***" in shown and ("honor_changed" in shown)
    for secret in secrets:
        for form in (secret, json.dumps(secret)[1:-1], json.dumps(secret).replace("/", "\\/")[1:-1]):
            assert form not in shown and json.dumps(form)[1:-1] not in shown, (form, shown)
    if not as_json:
        assert '"token": "***"' in shown and '"note": "***"' in shown, shown


def test_replay_to_two_targets_is_one_line(captured: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    db, _ = captured
    code = main(["replay", "1", "--db", str(db), "--to", "http://127.0.0.1:9/a", "--target-url",
                 "http://u:pw-s3cret@127.0.0.1:9/b"])
    err = capsys.readouterr().err
    assert code == 2 and "name two targets: give one" in err and "pw-s3cret" not in err, err


def test_export_never_replaces_a_file(captured: tuple[Path, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    db, _ = captured
    out = tmp_path / "regressions"
    out.mkdir()
    edited = out / "capture-1.json"
    edited.write_text('{"my": "edits"}')
    assert main(["captures", "export", str(out), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert f"{edited} already exist" in err and len(err.strip().splitlines()) == 1, err
    assert edited.read_text() == '{"my": "edits"}' and sorted(out.iterdir()) == [edited]  # nothing written
    assert main(["captures", "export", str(edited), "--db", str(db)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["captures", "list"], ["captures", "show", "3"], ["captures", "export", "{out}"],
    ["captures", "list", "--since", "99999999d"], ["replay", "3", "--to", "http://127.0.0.1:9/"],
])
def test_a_damaged_database_is_one_line(command: list[str], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    db = damaged_database(tmp_path / "damaged.sqlite3")
    args = [a.format(out=tmp_path / "out") for a in command]
    assert main([*args, "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip()
    says = "reaches back before the year 1" if "--since" in command else "database disk image is malformed"
    assert len(err.splitlines()) == 1 and says in err, err


@pytest.mark.parametrize("since", ["99999999d", "99999999999999999999m", "0002-01-01T00:00"])
def test_an_age_or_date_out_of_range_is_one_line(captured: tuple[Path, Path], since: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["captures", "list", "--db", str(captured[0]), "--since", since])
    out, err = capsys.readouterr()
    if since.startswith("0002"):  # as early a date as a timestamp holds: every capture is later
        assert code == 0 and "capture(s) in" in out
        return
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"--since {since!r}" in err, err


def test_validate_reads_capture_files_and_raw_requests(captured: tuple[Path, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _, export = captured
    good = sorted(export.glob("capture-*.json"))[0]
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert "conforms to codewars" in out and "the capture keeps its secret headers masked" in out
    assert main(["validate", str(export)]) == 1  # the folder holds the one that does not conform
    assert "/user/rank" in capsys.readouterr().out
    body = encode(catalog.contract("codewars").event("user.rank_upgraded").examples[0].body)
    raw = tmp_path / "request.http"
    raw.write_bytes(b"POST /codewars HTTP/1.1\r\nHost: example.test\r\nContent-Type: application/json\r\n"
                    b"User-Agent: Codewars Hookbot\r\nX-Webhook-Event: user\r\nX-Webhook-Secret: " + SECRET.encode()
                    + b"\r\n\r\n" + body)
    assert main(["validate", "--platform", "codewars", "--secret", SECRET, str(raw)]) == 0
    assert "conforms to codewars user.rank_upgraded" in capsys.readouterr().out
    assert main(["validate", "--platform", "codewars", "--secret", "other-secret", str(raw)]) == 1
    assert "X-Webhook-Secret differs" in capsys.readouterr().out
    assert main(["validate", str(raw)]) == 2
    assert "give --platform" in capsys.readouterr().err
    # a request recorded whole is held to the documented method and headers, not only to their values
    whole = raw.read_bytes()
    for request, says in ((whole.replace(b"POST ", b"GET ", 1), "method: is 'GET' (expected 'POST')"),
                         (whole.replace(b"User-Agent: Codewars Hookbot\r\n", b""),
                          "header User-Agent: is missing (expected 'Codewars Hookbot')"),
                         (whole.replace(b"Content-Type: application/json\r\n", b""),
                          "header Content-Type: is missing")):
        raw.write_bytes(request)
        assert main(["validate", "--platform", "codewars", "--secret", SECRET, str(raw)]) == 1
        assert says in capsys.readouterr().out


def test_replay_sends_captures_again(captured: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    db, export = captured
    monkeypatch.delenv("HOOKPROOF_SECRET", raising=False)
    assert main(["replay", "1", "--db", str(db), "--to", "http://127.0.0.1:9/"]) == 2
    assert "give the secret with --secret or $HOOKPROOF_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("HOOKPROOF_SECRET", SECRET)
    with serving(Receiver(secrets={"codewars": SECRET})) as base:
        assert main(["replay", "1", "2", "--db", str(db), "--to", f"{base}/codewars"]) == 0
        out = capsys.readouterr().out
        assert "replayed 2: 2 OK" in out and SECRET not in out
        assert main(["replay", "1", "--db", str(db), "--to", f"{base}/codewars", "2"]) == 0
        assert "replayed 2: 2 OK" in capsys.readouterr().out
    with serving(broken.RejectsRankUpgrades(secrets={"codewars": SECRET})) as base:
        assert main(["replay", str(export), "--to", f"{base}/codewars"]) == 1
        assert "FAILED" in capsys.readouterr().out


def test_captures_are_sent_as_examples_and_a_broken_receiver_fails_with_their_id(
        captured: tuple[Path, Path], pytester: pytest.Pytester) -> None:
    _, export = captured
    conforming = [f for f in sorted(export.glob("capture-*.json")) if not json.loads(f.read_text())["problems"]]
    folder = pytester.path / "regression"
    folder.mkdir()
    ids = []
    for file in conforming:
        (folder / file.name).write_text(file.read_text())
        ids.append(json.loads(file.read_text())["id"])
    real = next(i for f, i in zip(conforming, ids, strict=True) if "user-42" in f.read_text())
    args = ("--hookproof-platform", "codewars", "--hookproof-secret", SECRET, "--hookproof-captures", str(folder),
            "-k", "documented_examples")
    with serving(Receiver(secrets={"codewars": SECRET})) as base:
        passing = pytester.runpytest(*SUITE, "--target-url", f"{base}/codewars", *args)
    passing.assert_outcomes(passed=1)
    # Its documented examples pass; the real delivery, with a user id that is not letters and digits, gets a 500.
    with serving(CrashesOnDashedIds(secrets={"codewars": SECRET})) as base:
        failing = pytester.runpytest(*SUITE, "--target-url", f"{base}/codewars", *args)
    failing.assert_outcomes(failed=1)
    out = failing.stdout.str()
    assert f"answered 500 to the capture {real}, a delivery that conforms; expected 2XX" in out
    assert f"what: the capture {real} ({folder}" in out


def test_captures_of_a_platform_the_run_does_not_check_are_said_to_be_unsent(
        captured: tuple[Path, Path], pytester: pytest.Pytester) -> None:
    _, export = captured
    with serving(Receiver(secrets={"viasto": SECRET})) as base:
        result = pytester.runpytest(*SUITE, "--target-url", f"{base}/viasto", "--hookproof-platform", "viasto",
                                    "--hookproof-secret", SECRET, "--hookproof-captures", str(export), "-k",
                                    "documented_examples")
    count = len(list(export.glob("capture-*.json")))
    assert f"hookproof: {count} capture(s) of --hookproof-captures are not sent: they are of codewars" \
        in result.stdout.str()
