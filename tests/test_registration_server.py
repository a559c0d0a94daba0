"""The reference Xobin registration server (hookproof.reference_impl.registration) and its SQLite store.

The Xobin contract (schemas/xobin/profile.json): ``POST /webhooks``, API key in a header, any combination of
start/submission/updates, omitted keys keep their values, ``updateAll`` reaches every assessment.
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.test import Client

from hookproof.reference_impl import registration
from hookproof.reference_impl.registration import RegistrationApp, main, make_app, store_for
from hookproof.reference_impl.registration_store import RegistrationStore, StoreError
from hookproof.reference_impl.serving import serving

KEY = "test-key-7d1e9b0c4a"
AUTH = {"X-API-Key": KEY}
SETTING_KEYS = ("start", "submission", "updates")


def setting(status: bool, url: str) -> dict[str, Any]:
    """One stored webhook setting, as the request gives it."""
    return {"status": status, "url": url}


def full_body(tag: str = "one", update_all: bool = False) -> dict[str, Any]:
    return {"webhooks": {k: {"status": True, "url": f"https://h.example/{tag}/{k}"}
                         for k in ("start", "submission", "updates")}, "updateAll": update_all}


@pytest.fixture
def store(tmp_path: Path) -> RegistrationStore:
    return store_for(tmp_path / "settings.sqlite3")


@pytest.fixture
def client(store: RegistrationStore) -> Client:
    return Client(make_app(store, KEY))


def post(client: Client, body: Any, headers: dict[str, str] | None = None) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/webhooks", data=data, headers=AUTH if headers is None else headers,
                       content_type="application/json")


# --- the documented request and answer ------------------------------------------------------------------


def test_post_answers_the_documented_shape_with_the_resulting_settings(client: Client) -> None:
    response = post(client, full_body())
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["status"] == "success" and answer["message"] == "Webhook added successfully"
    assert answer["webhook"]["start"] == {"status": True, "url": "https://h.example/one/start"}
    assert set(answer["webhook"]) == {"start", "submission", "updates"}


def test_omitted_keys_keep_their_values(client: Client) -> None:
    post(client, full_body("one"))
    answer = post(client, {"webhooks": {"submission": {"status": False, "url": "https://h.example/two"}}}).get_json()
    assert answer["webhook"]["start"] == {"status": True, "url": "https://h.example/one/start"}
    assert answer["webhook"]["submission"] == {"status": False, "url": "https://h.example/two"}
    assert client.get("/webhooks", headers=AUTH).get_json()["webhooks"] == answer["webhook"]


def test_update_all_reaches_every_assessment_and_plain_updates_only_the_account(client: Client) -> None:
    post(client, full_body("everywhere", update_all=True))
    post(client, {"webhooks": {"start": {"status": False, "url": "https://h.example/account-only"}}})
    state = client.get("/webhooks", headers=AUTH).get_json()
    assert state["webhooks"]["start"]["url"] == "https://h.example/account-only"
    assert set(state["assessments"]) == {"a1", "a2"}
    for assessment in state["assessments"].values():
        assert assessment["webhooks"]["start"]["url"] == "https://h.example/everywhere/start"
        assert assessment["webhooks"]["updates"]["url"] == "https://h.example/everywhere/updates"


def test_update_auth_is_stored_echoed_and_kept_when_omitted(client: Client) -> None:
    assert post(client, {"webhooks": {}, "updateAuth": True}).get_json()["updateAuth"] is True
    assert post(client, {"webhooks": {}}).get_json()["updateAuth"] is True
    assert client.get("/webhooks", headers=AUTH).get_json()["updateAuth"] is True


def test_get_state_is_itself_a_valid_post_body(client: Client) -> None:
    """GET mirrors the request shape, so a client can save the settings and post them back."""
    post(client, full_body())
    state = client.get("/webhooks", headers=AUTH).get_json()
    body = {k: v for k, v in state.items() if k != "assessments"}  # the settings and the stored options
    assert body["webhooks"] == full_body()["webhooks"]
    assert post(client, body).status_code == 200


def test_unknown_setting_keys_are_accepted_and_reported_as_ignored(client: Client) -> None:
    answer = post(client, {"webhooks": {"finish": {"status": True, "url": "https://h.example/f"}}}).get_json()
    assert answer["ignoredKeys"] == ["finish"] and "finish" not in answer["webhook"]


# --- refusals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({"webhooks": {"start": {"status": "yes", "url": "https://h.example/s"}}}, "/webhooks/start/status"),
    ({"webhooks": {"start": {"status": True, "url": "not a url"}}}, "/webhooks/start/url"),
    ({"webhooks": {"start": {"status": True}}}, "/webhooks/start/url"),
    ({"webhooks": {}, "updateAll": "yes"}, "/updateAll"),
    ({}, "/webhooks"),
])
def test_invalid_body_gets_400_naming_the_field_and_changes_nothing(client: Client, body: Any, field: str) -> None:
    post(client, full_body())
    response = post(client, body)
    assert response.status_code == 400
    answer = response.get_json()
    assert answer["status"] == "error" and answer["field"] == field and field in answer["message"]
    assert client.get("/webhooks", headers=AUTH).get_json()["webhooks"] == full_body()["webhooks"]


@pytest.mark.parametrize("data", [b"", b"{", b"\xff\xfe", b"[" * 50_000, b'{"webhooks": NaN}', b"{} {}"])
def test_malformed_json_gets_400(client: Client, data: bytes) -> None:
    response = post(client, data)
    assert response.status_code == 400 and response.get_json()["status"] == "error"


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"X-API-Key": ""}, 401), ({"X-API-Key": "nope"}, 403),
                                                 ({"X-API-Key": KEY + "x"}, 403), ({"X-API-Key": KEY.upper()}, 403),
                                                 ({"X-API-Key": "ключ"}, 403)])
def test_missing_or_wrong_key_is_refused_without_echoing_it(client: Client, headers: dict[str, str],
                                                            status: int) -> None:
    for response in (post(client, full_body(), headers), client.get("/webhooks", headers=headers)):
        assert response.status_code == status
        assert KEY not in response.get_data(as_text=True)


def test_the_key_header_is_configurable(store: RegistrationStore) -> None:
    client = Client(make_app(store, KEY, "Authorization-Key"))
    assert post(client, full_body(), {"X-API-Key": KEY}).status_code == 401
    assert post(client, full_body(), {"Authorization-Key": KEY}).status_code == 200


def test_oversized_body_gets_413(client: Client) -> None:
    assert post(client, b" " * (64 * 1024 + 1)).status_code == 413


def test_non_json_content_type_gets_415(client: Client) -> None:
    response = client.post("/webhooks", data=b"webhooks=1", headers=AUTH,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_other_methods_get_405_with_allow_and_other_paths_404(client: Client) -> None:
    response = client.delete("/webhooks", headers=AUTH)
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD, POST"
    assert client.get("/webhooks/", headers=AUTH).status_code == 404
    assert client.get("/", headers=AUTH).get_json()["status"] == "error"


def test_busy_store_answers_503_not_500(tmp_path: Path) -> None:
    store = store_for(tmp_path / "busy.sqlite3", busy_timeout=0.05)
    blocker = sqlite3.connect(tmp_path / "busy.sqlite3", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        response = post(Client(make_app(store, KEY)), full_body())
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"


def test_app_refuses_an_unusable_key_or_header(store: RegistrationStore) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        RegistrationApp(store, " padded ")
    with pytest.raises(ValueError, match="header name"):
        RegistrationApp(store, KEY, "X API Key")


# --- the store ------------------------------------------------------------------------------------------


def test_store_refuses_memory_and_unusable_paths(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="file path"):
        store_for(":memory:")
    with pytest.raises(StoreError, match="cannot use database"):
        store_for(tmp_path / "missing-dir" / "db.sqlite3")
    (tmp_path / "text.sqlite3").write_text("not a database, just text " * 100)
    with pytest.raises(StoreError, match="cannot use database"):
        store_for(tmp_path / "text.sqlite3")


def test_store_refuses_a_newer_schema(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "new.sqlite3")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        store_for(tmp_path / "new.sqlite3")


def test_two_stores_on_one_file_share_state(tmp_path: Path) -> None:
    RegistrationStore(tmp_path / "s.sqlite3", SETTING_KEYS).update({"start": setting(True, "https://h.example/s")})
    assert RegistrationStore(tmp_path / "s.sqlite3", SETTING_KEYS).snapshot().settings == \
        {"start": setting(True, "https://h.example/s")}


# --- restart and concurrency ----------------------------------------------------------------------------


@pytest.fixture
def cli_server(tmp_path: Path) -> Iterator[Any]:
    """Start ``python -m hookproof.reference_impl.registration`` on a free port; yields a starter for restarts."""
    procs: list[subprocess.Popen[str]] = []

    def start(db: Path) -> tuple[str, subprocess.Popen[str]]:
        proc = subprocess.Popen([sys.executable, "-m", "hookproof.reference_impl.registration", "--port", "0",
                                 "--api-key", KEY, "--db", str(db)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        assert match, f"no banner: {line!r}"
        return match.group(1), proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_restart_on_the_same_database_keeps_the_settings(cli_server: Any, tmp_path: Path) -> None:
    db = tmp_path / "restart.sqlite3"
    url, proc = cli_server(db)
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as http:
        assert http.post("/webhooks", json=full_body("before", update_all=True), headers=AUTH).status_code == 200
        assert http.post("/webhooks", json={"webhooks": {}, "updateAuth": True}, headers=AUTH).status_code == 200
        before = http.get("/webhooks", headers=AUTH).json()
    proc.kill()  # SIGKILL, not a polite shutdown: whatever was answered 200 must already be on disk
    proc.wait(timeout=10)
    url, _ = cli_server(db)
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as http:
        after = http.get("/webhooks", headers=AUTH).json()
    assert after == before
    assert after["webhooks"]["start"]["url"] == "https://h.example/before/start"
    assert after["assessments"]["a2"]["webhooks"]["updates"]["url"] == "https://h.example/before/updates"
    assert after["updateAuth"] is True


def test_concurrent_partial_updates_to_different_keys_lose_nothing(store: RegistrationStore) -> None:
    rounds = 25
    keys = ("start", "submission", "updates")
    barrier = threading.Barrier(len(keys))
    errors: list[str] = []

    def writer(url: str, key: str) -> None:
        with httpx.Client(base_url=url, trust_env=False, timeout=20) as http:
            barrier.wait()
            for i in range(rounds):
                mine = {"status": i % 2 == 0, "url": f"https://h.example/{key}/{i}"}
                response = http.post("/webhooks", json={"webhooks": {key: mine}, "updateAll": i % 3 == 0},
                                     headers=AUTH)
                if response.status_code != 200 or response.json()["webhook"][key] != mine:
                    errors.append(f"{key} round {i}: {response.status_code} {response.text[:200]}")

    with serving(make_app(store, KEY)) as url:
        threads = [threading.Thread(target=writer, args=(url, key)) for key in keys]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors
    state = store.snapshot()
    last_all = max(i for i in range(rounds) if i % 3 == 0)
    for key in keys:
        assert state.settings[key] == setting((rounds - 1) % 2 == 0, f"https://h.example/{key}/{rounds - 1}")
        for _name, hooks in state.assessments.values():
            assert hooks[key] == setting(last_all % 2 == 0, f"https://h.example/{key}/{last_all}")


# --- the command line -----------------------------------------------------------------------------------


def _must_not_serve(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the command started serving instead of refusing its arguments")


@pytest.mark.parametrize(("argv", "message"), [
    (["--port", "8080"], "--api-key (or $HOOKPROOF_API_KEY) is required"),
    (["--port", "8080", "--api-key", ""], "--api-key (or $HOOKPROOF_API_KEY) is required and must not be empty"),
    (["--port", "99999", "--api-key", KEY], "is not a port number"),
    (["--port", "0", "--api-key", KEY, "--api-key-header", "Bad Header"], "not a valid HTTP header name"),
    (["--port", "0", "--api-key", KEY, "--api-key-header", "apiKey\n"], "not a valid HTTP header name"),
    (["--port", "0", "--api-key", KEY, "--db", "/nonexistent-dir/settings.sqlite3"], "--db: cannot use database"),
    (["--port", "0", "--api-key", KEY, "--platform", "codewars"], "--platform: codewars is a webhook, not a "
                                                                   "registration API"),
    (["--port", "0", "--api-key", KEY, "--platform", "gitlab"], "--platform: unknown platform 'gitlab'"),
])
def test_cli_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPROOF_API_KEY", raising=False)
    monkeypatch.setattr(registration, "serve_forever", _must_not_serve)  # a missed refusal fails, not hangs
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_busy_port_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            main(["--port", str(port), "--api-key", KEY, "--db", str(tmp_path / "s.sqlite3")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and err.count("\n") == 1


def test_cli_unwritable_db_in_a_subprocess_has_no_traceback(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result = subprocess.run([sys.executable, "-m", "hookproof.reference_impl.registration", "--port", "0",
                             "--api-key", KEY,
                             "--db", str(blocked / "settings.sqlite3")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and KEY not in result.stderr
