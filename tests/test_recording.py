"""The one recording format, how a replay signs a recording again, and listen's live counter, without sockets."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hookproof import auth, catalog
from hookproof.live import recording as recordings
from hookproof.live.listen import Output
from hookproof.live.recording import Recording, RecordingError, meets
from hookproof.live.replay import ReplayError, prepare
from hookproof.live.sniff import looks_like_recording
from hookproof.live.store import Stored
from hookproof.wire import encode

SECRET = "recording-secret-9"
SPEC = catalog.contract("doselect", "2019-09")
BODY = SPEC.event("submission.submit").examples[0].body
CONTENT = encode(BODY)


def _recording(**changes: object) -> Recording:
    headers = {"Content-Type": "application/json", **auth.sign(SPEC, CONTENT, BODY, SECRET)}
    base = Recording(kind="capture", id="7", platform="doselect", method="POST", path="/hooks",
                     headers=recordings.masked("doselect", headers.items()), body=CONTENT, contract="2019-09",
                     event="submission.submit", auth="valid")
    return Recording(**{**base.__dict__, **changes})


def test_a_recording_round_trips_through_its_file(tmp_path: Path) -> None:
    rec = _recording(body=b"\xff\x00 not utf-8", kind="failure", check="malformed_bodies", expected="4XX",
                     answer=recordings.Answer(500, 0.01, "'boom'"), seed=3)
    path = recordings.write(tmp_path, rec)
    assert path.name == "failure-7.json"
    assert "body_base64" in json.loads(path.read_text())
    assert recordings.load(path) == rec
    assert looks_like_recording(path) and looks_like_recording(tmp_path)


def test_the_secret_header_is_masked_and_the_rest_kept() -> None:
    rec = _recording()
    assert rec.header("DoSelect-Webhook-Signature") == "***" and rec.header("content-type") == "application/json"


@pytest.mark.parametrize(("change", "message"), [
    ({"hookproof_recording": 2}, "recording format 2"),
    ({"kind": "other"}, "'kind' is 'other'"),
    ({"auth": "maybe"}, "'auth' is 'maybe'"),
    ({"expected": "3XX"}, "'expected' is '3XX'"),
    ({"headers": [["a"]]}, "[name, value] pairs"),
    ({"repeat": 0}, "'repeat' must be 1 to 10"),
    ({"body_base64": "***", "body_text": None}, "is not base64"),
    ({"method": 5}, "'method' is int"),
    ({"method": "GET /evil HTTP/1.1\r\nX:"}, "not an HTTP method"),
    ({"method": ""}, "'method' is '', not an HTTP method"),
])
def test_a_broken_file_names_its_field(tmp_path: Path, change: dict[str, object], message: str) -> None:
    data = {**_recording().to_json(), **change}
    if data.get("body_text", "") is None:
        del data["body_text"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RecordingError, match=None) as caught:
        recordings.load(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.parametrize(("expected", "status", "ok"), [
    ("2XX", 204, True), ("2XX", 400, False), ("4XX", 422, True), ("4XX", 500, False), ("401/403", 403, True),
    ("401/403", 404, False), ("2XX or 4XX", 400, True), ("2XX or 4XX", 302, False), ("not 5XX", 302, True),
    ("not 5XX", 503, False), ("not 3XX", 200, True), ("not 3XX", 301, False), ("in time", 500, True),
])
def test_expectations(expected: str, status: int, ok: bool) -> None:
    assert meets(expected, status, None) is ok
    assert meets(expected, status, "gave no answer within 10 s") is False


def _verifies(headers: dict[str, str], content: bytes, secret: str) -> bool:
    return not auth.verify(SPEC, headers, content, json.loads(content), secret)


def test_a_replay_signs_again_as_recorded() -> None:
    valid = prepare(_recording(), SECRET)
    assert _verifies(valid.headers, valid.body, SECRET) and valid.body == CONTENT
    wrong = prepare(_recording(auth="wrong"), SECRET)
    assert wrong.headers["DoSelect-Webhook-Signature"] != valid.headers["DoSelect-Webhook-Signature"]
    assert not _verifies(wrong.headers, wrong.body, SECRET)
    bare = prepare(_recording(auth="none"), SECRET)
    assert "DoSelect-Webhook-Signature" not in bare.headers
    with pytest.raises(ReplayError, match="give the secret with --secret or \\$HOOKPROOF_SECRET"):
        prepare(_recording(), None)


def test_fresh_metadata_is_new_and_signed_over() -> None:
    fresh = prepare(_recording(), SECRET, fresh=True)
    body = json.loads(fresh.body)
    assert body["meta"]["delivery_id"] != BODY["meta"]["delivery_id"]
    assert body["meta"]["timestamp"] != BODY["meta"]["timestamp"]
    assert _verifies(fresh.headers, fresh.body, SECRET)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_listen_keeps_a_live_counter_on_a_terminal() -> None:
    out, err = io.StringIO(), _Terminal()
    output = Output(False, out, err)
    output.delivery(_recording(), Stored(1, True, 1), 200)
    output.delivery(_recording(problems=("/object: bad",)), Stored(2, True, 1), 422)
    output.delivery(_recording(), Stored(1, False, 2), 200)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "#1" in lines[0] and "DOES NOT CONFORM  /object: bad" in lines[1]
    assert "(repeat 2 of #1)" in lines[2]
    assert err.getvalue().endswith("received 3  conforming 1  not conforming 1  repeats 1  forward failures 0")
    quiet = _Terminal()
    Output(True, io.StringIO(), quiet).delivery(_recording(), Stored(1, True, 1), 200)
    assert quiet.getvalue() == ""  # --json: machine output only


def test_every_receiver_check_states_an_expectation_a_replay_can_judge() -> None:
    from hookproof.conformance.registry import checks_of

    for found in checks_of("receiver"):
        assert any(meets(found.expects, status, None) for status in (200, 302, 400, 401, 500)), found.name
