"""The receiver suite as a user runs it: ``pytest --pyargs hookproof.conformance --target-url URL
--hookproof-platform P``."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from hookproof.reference_impl.receiver import Receiver
from hookproof.reference_impl.serving import serving
from tests import broken_receivers as broken

SUITE = ("--pyargs", "hookproof.conformance")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target-url", "http://127.0.0.1:9"], "--target-url needs --hookproof-platform"),
        (["--hookproof-platform", "gitlab"], "unknown --hookproof-platform 'gitlab'"),
        (["--target-url", "ftp://example", "--hookproof-platform", "doselect"], "is not an http(s) URL"),
        (["--target-url", "http://127.0.0.1:{port}", "--hookproof-platform", "doselect"], "cannot reach --target-url"),
        (["--target-url", "http://127.0.0.1:99999/x", "--hookproof-platform", "doselect"], "Port out of range"),
        (["--target-url", "http://a..b/x", "--hookproof-platform", "doselect"], "is not a valid host name"),
        (["--hookproof-examples", "0"], "--hookproof-examples must be between 1 and 100000, not 0"),
    ],
)
def test_bad_options_get_one_line_before_any_test(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    args = [a.format(port=_free_port()) for a in args]
    result = pytester.runpytest(*SUITE, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(message in line for line in result.errlines), result.errlines
    assert "Traceback" not in result.stderr.str() and "passed" not in result.stdout.str()


def test_a_broken_receiver_gets_readable_failures_and_a_summary(pytester: pytest.Pytester) -> None:
    secret = "do-not-print-me"
    with serving(broken.CrashesOnUnknownEvent(secrets={"codewars": secret})) as base:
        result = pytester.runpytest(*SUITE, "--target-url", f"{base}/codewars", "--hookproof-platform", "codewars",
                                    "--hookproof-secret", secret, "--hookproof-examples", "3")
    out = result.stdout.str()
    result.assert_outcomes(passed=8, failed=1, skipped=1)  # broken_bodies met the same fault: not checked, one failure
    assert "[unknown_event] sent an unknown event name (X-Webhook-Event); the target answered 500" in out
    assert "replay: curl -sS -i --max-time 10 -X POST" in out and '"X-Webhook-Secret: $HOOKPROOF_SECRET"' in out
    assert secret not in out
    assert "codewars   receiver       8 passed    1 failed    1 not checked   DOES NOT CONFORM" in out
    assert "not checked: codewars receiver broken_bodies: because of [unknown_event] codewars" in out
    assert "root causes: 1, each reported once" in out
    assert "kept 1 more check(s) from judging: receiver broken_bodies" in out
    assert "derandomized" in out
    assert re.search(r"this run sends at most \d+ deliveries to http://127\.0\.0\.1:\d+/codewars \(codewars \d+;", out)


def test_a_slow_receiver_fails_fast_and_the_run_goes_on(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broken.Slow, "delay", 1.0)
    started = time.monotonic()
    with serving(broken.Slow()) as base:
        result = pytester.runpytest(*SUITE, "--target-url", f"{base}/viasto", "--hookproof-platform", "viasto",
                                    "--hookproof-response-timeout", "0.3")
    result.assert_outcomes(failed=1, skipped=8)  # one fault, one failure: the rest is not checked because of it
    assert time.monotonic() - started < 30
    out = result.stdout.str()
    assert "not checked: viasto receiver generated_valid: because of [documented_examples] viasto" in out
    assert "gave no answer within 0.3 s (--response-timeout)" in out and "kept 8 more check(s) from judging" in out


def test_the_default_run_selects_every_webhook_platform(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*SUITE, "-m", "documented", "--collect-only", "-q", "-k", "receiver")
    out = result.stdout.str()
    for platform in ("doselect", "qualified", "viasto", "codewars"):
        assert f"test_conformance[receiver-{platform}-generated_valid]" in out
    assert "[receiver-codewars-authentication_required]" in out  # Codewars and DoSelect authenticate
    assert "[receiver-doselect-authentication_required]" in out  # (DoSelect since 2017-10-25: its 2019-09 contract)
    assert "[receiver-viasto-authentication_required]" not in out  # viasto does not: no check to make
    unchecked = pytester.runpytest(*SUITE, "-k", "receiver-qualified-documented_examples", "-rs",
                                   "--hookproof-platform", "qualified", "--hookproof-contract", "document")
    unchecked.assert_outcomes(skipped=1)  # the document shows no example: not checked, and the summary says so
    out = unchecked.stdout.str()
    assert "not checked: qualified receiver documented_examples: the Qualified documents show no example" in out


def test_receiver_command_line_serves_and_rejects_bad_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = subprocess.run(
        [sys.executable, "-m", "hookproof.reference_impl.receiver", "--port", "99999"], capture_output=True, text=True,
        timeout=30
    )
    assert bad.returncode == 2 and "is not a TCP port" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hookproof.reference_impl.receiver", "--port", str(port), "--db",
         str(tmp_path / "r.sqlite3")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and "listening on" in proc.stdout.readline()
        body = '{"action": "updated", "webhook": {"id": "1"}}'
        answer = httpx.post(
            f"http://127.0.0.1:{port}/codewars",
            content=body,
            timeout=5,
            headers={"Content-Type": "application/json", "X-Webhook-Event": "webhook"},
        )
        assert answer.status_code == 200 and answer.json()["event"] == "webhook.updated"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_receiver_keeps_deliveries_in_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hookproof.reference_impl.receiver_store import DeliveryStore

    store = DeliveryStore(str(tmp_path / "r.sqlite3"))
    app = Receiver(store)
    with serving(app) as base:
        body = '{"action": "honor_changed", "user": {"id": "1", "honor": 3, "honor_delta": -1}}'
        headers = {"Content-Type": "application/json", "X-Webhook-Event": "user"}
        for _ in range(2):
            assert httpx.post(f"{base}/codewars", content=body, headers=headers, timeout=5).status_code == 200
    reopened = DeliveryStore(str(tmp_path / "r.sqlite3"))
    assert reopened.count("codewars") == 1
    assert reopened.recent()[0]["event"] == "user.honor_changed"


def test_the_receiver_keeps_the_body_as_the_sender_wrote_it() -> None:
    """Key order, spacing, escapes and number forms are what a user debugging their sender looks for: the
    stored body is the bytes received, not a re-encoding of what they parsed to."""
    from hookproof.reference_impl.receiver_store import DeliveryStore

    store = DeliveryStore()
    body = '{ "user": {"honor_delta": -1.0, "honor": 3e0, "id": "caf\\u00e9 ✓"},\n  "action":"honor_changed" }'
    with serving(Receiver(store)) as base:
        answer = httpx.post(f"{base}/codewars", content=body.encode("utf-8"), timeout=5,
                            headers={"Content-Type": "application/json", "X-Webhook-Event": "user"})
    assert answer.status_code == 200, answer.text
    assert store.recent()[0]["body"] == body


def test_a_non_ascii_secret_is_accepted_when_right_and_refused_when_wrong() -> None:
    """Header bytes reach WSGI decoded as Latin-1; the secret must be compared as the bytes sent (UTF-8)."""
    secret = "clé-secrète-✓"
    body = '{"action": "updated", "webhook": {"id": "1"}}'
    with serving(Receiver(secrets={"codewars": secret})) as base:
        def post(value: str) -> int:
            headers = [("Content-Type", b"application/json"), ("X-Webhook-Event", b"webhook"),
                       ("X-Webhook-Secret", value.encode("utf-8"))]
            return httpx.post(f"{base}/codewars", content=body, headers=headers, timeout=5).status_code

        assert post(secret) == 200
        assert post(secret[:-1] + "✗") == 403


def test_secrets_can_come_from_the_environment(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret on the command line is visible in ps; $HOOKPROOF_SECRET keeps it off."""
    secret = "from-the-environment"
    monkeypatch.setenv("HOOKPROOF_SECRET", secret)
    with serving(Receiver(secrets={"codewars": secret})) as base:
        result = pytester.runpytest(*SUITE, "--target-url", f"{base}/codewars", "--hookproof-platform", "codewars",
                                    "-k", "authentication or documented_examples")
    result.assert_outcomes(passed=2)


def test_shrinking_reports_one_readable_failure(pytester: pytest.Pytester) -> None:
    with serving(broken.FailsTwoWays()) as base:
        result = pytester.runpytest(*SUITE, "--target-url", f"{base}/qualified", "--hookproof-platform", "qualified",
                                    "--hookproof-shrink", "-k", "generated_valid")
    out = result.stdout.str()
    result.assert_outcomes(failed=1)
    assert "[generated_valid] " in out and "replay: curl" in out
    assert "ExceptionGroup" not in out and "Traceback" not in out


def test_header_and_summary_never_show_a_password_or_a_literal_secret(pytester: pytest.Pytester) -> None:
    with serving(Receiver()) as base:
        url = base.replace("http://", "http://user:hunter2@") + "/viasto"
        result = pytester.runpytest(*SUITE, "--target-url", url, "--hookproof-platform", "viasto",
                                    "-k", "documented_examples")
    out = result.stdout.str()
    result.assert_outcomes(passed=1)
    assert "hunter2" not in out and "http://***@127.0.0.1" in out
    cmd = f"{sys.executable} -c pass --token literal-s3cret --to {{url}}"  # sends nothing: the checks fail
    shown = pytester.runpytest(*SUITE, "--hookproof-sender-cmd", cmd, "--hookproof-secret", "literal-s3cret",
                               "--hookproof-platform", "viasto", "-k", "command_delivers")
    shown.assert_outcomes(failed=1)
    assert "literal-s3cret" not in shown.stdout.str() and "--token ***" in shown.stdout.str()
