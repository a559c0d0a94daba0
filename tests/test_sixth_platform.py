"""A sixth platform is files only: written in a folder of its own, it passes the default run through
``--hookproof-schemas`` with no code edit, ``hookproof validate`` checks its deliveries (signature included), and a
sender that breaks its contract (a wrong signature; one try too many) fails the sender checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookproof import catalog
from tests import sixth_platform

SUITE = ("--pyargs", "hookproof.conformance")
SECRET = "acme-signing-key-Ünï"

BROKEN_SENDER = '''
import json, sys
from hookproof.reference_impl.sender_core import SendOptions
from hookproof.reference_impl.sender_plain import PlainSender

mode, url, event_file, event, secret, scale = sys.argv[1:7]


class Broken(PlainSender):
    def outgoing(self, prepared, number):
        out = super().outgoing(prepared, number)
        if mode == "wrong-signature":
            return out._replace(headers={**out.headers, "X-Acme-Signature": "sha256=" + "0" * 64})
        return out


options = SendOptions(time_scale=float(scale), max_tries=4 if mode == "four-tries" else None)
body = json.load(open(event_file, encoding="utf-8"))
Broken(options).deliver(url, "acme", event, body, secret=secret or None)
'''


@pytest.fixture
def schemas(tmp_path: Path) -> Iterator[Path]:
    folder = sixth_platform.write(tmp_path / "company-schemas")
    yield folder
    catalog.configure([])


def test_the_sixth_platform_passes_the_default_run(pytester: pytest.Pytester, schemas: Path) -> None:
    result = pytester.runpytest(*SUITE, "--hookproof-schemas", str(schemas), "--hookproof-platform", "acme", "-v")
    out = result.stdout.str()
    result.assert_outcomes(passed=18)
    for check in ("receiver-acme-authentication_required", "sender-acme-backoff_as_documented",
                  "sender-acme-retried_as_documented", "sender-acme-gives_up_after_the_last_try"):
        assert f"[{check}] PASSED" in out
    assert "acme       receiver      10 passed    0 failed    0 not checked   CONFORMS" in out
    assert "acme       sender         8 passed    0 failed    0 not checked   CONFORMS" in out


def test_the_sixth_platform_signing_with_standard_webhooks_passes_the_default_run(pytester: pytest.Pytester,
                                                                                  schemas: Path) -> None:
    """The same platform with its HMAC header replaced by the Standard Webhooks scheme (which no built-in platform
    uses): the reference sender signs every try, the reference receiver verifies it, forgeries are refused."""
    profile_file = schemas / "acme" / "profile.json"
    profile = json.loads(profile_file.read_text(encoding="utf-8"))
    profile["contract"]["auth"] = [{"scheme": "standard-webhooks", "source": sixth_platform.DOC}]
    profile_file.write_text(json.dumps(profile), encoding="utf-8")
    result = pytester.runpytest(*SUITE, "--hookproof-schemas", str(schemas), "--hookproof-platform", "acme", "-v")
    out = result.stdout.str()
    result.assert_outcomes(passed=18)
    for check in ("receiver-acme-authentication_required", "sender-acme-method_and_headers",
                  "sender-acme-retries_repeat_the_delivery"):
        assert f"[{check}] PASSED" in out
    assert "acme       receiver      10 passed    0 failed    0 not checked   CONFORMS" in out
    assert "acme       sender         8 passed    0 failed    0 not checked   CONFORMS" in out


def test_the_sixth_platform_is_in_the_catalog_with_its_policy(schemas: Path) -> None:
    catalog.configure([schemas])
    spec = catalog.contract("acme")
    assert spec.retry is not None
    assert (spec.retry.max_tries, spec.retry.backoff, spec.retry.delay) == (3, "constant", 1.0)
    assert spec.retry.retries(503) and not spec.retry.retries(400) and not spec.retry.retries(301)
    assert "acme" in catalog.platforms() and "doselect" in catalog.platforms()  # added, not replacing


def _validate(schemas: Path, body: bytes, *headers: str,
              secret: str | None = SECRET) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "hookproof", "validate", "--schemas", str(schemas), "--platform", "acme"]
    for header in headers:
        args += ["--header", header]
    env = None
    if secret is not None:
        args.append("--secret-env")
        env = {"HOOKPROOF_SECRET": secret, "PATH": "/usr/bin:/bin"}
    args.append("-")
    return subprocess.run(args, input=body.decode("utf-8"), capture_output=True, text=True, timeout=60, env=env)


def test_validate_checks_the_sixth_platforms_signature(schemas: Path) -> None:
    body = json.dumps(sixth_platform.EXAMPLES["result.scored"]).encode("utf-8")
    good = "sha256=" + hmac.new(SECRET.encode("utf-8"), body, hashlib.sha256).hexdigest()
    ok = _validate(schemas, body, "X-Acme-Event: result.scored", f"X-Acme-Signature: {good}")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "conforms to acme result.scored, contract v1" in ok.stdout
    forged = _validate(schemas, body, "X-Acme-Event: result.scored", "X-Acme-Signature: sha256=" + "0" * 64)
    assert forged.returncode == 1
    assert "header X-Acme-Signature: header X-Acme-Signature is not the HMAC-SHA256 of the body" in forged.stdout
    assert SECRET not in forged.stdout + forged.stderr
    unsigned = _validate(schemas, body, "X-Acme-Event: result.scored")
    assert unsigned.returncode == 1 and "header X-Acme-Signature: header X-Acme-Signature is missing" in unsigned.stdout
    unchecked = _validate(schemas, body, "X-Acme-Event: result.scored", secret=None)
    assert unchecked.returncode == 0 and "authentication (X-Acme-Signature) not checked" in unchecked.stdout
    tampered = body.replace(b"87.5", b"99.5")
    assert _validate(schemas, tampered, "X-Acme-Event: result.scored", f"X-Acme-Signature: {good}").returncode == 1
    no_event = _validate(schemas, body, f"X-Acme-Signature: {good}")
    assert no_event.returncode == 2 and "travels in the X-Acme-Event header" in no_event.stderr


@pytest.mark.parametrize(("mode", "check", "message"), [
    ("wrong-signature", "method_and_headers", "header X-Acme-Signature is not the HMAC-SHA256 of the body as sent"),
    ("four-tries", "gives_up_after_the_last_try", "the policy allows exactly 3 tries in total: the sender kept on"),
])
def test_a_broken_sender_for_the_sixth_platform_fails(pytester: pytest.Pytester, schemas: Path, tmp_path: Path,
                                                      mode: str, check: str, message: str) -> None:
    script = tmp_path / "broken_acme_sender.py"
    script.write_text(BROKEN_SENDER, encoding="utf-8")
    command = (f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {mode} {{url}} {{event_file}} {{event}} "
               f"{{secret}} {{time_scale}}")
    result = pytester.runpytest(*SUITE, "--hookproof-schemas", str(schemas), "--hookproof-platform", "acme",
                                "--hookproof-sender-cmd", command, "--hookproof-secret", SECRET,
                                "--hookproof-time-scale", "0.02", "-k", check)
    out = result.stdout.str()
    result.assert_outcomes(failed=1)
    assert f"[{check}]" in out and message in out, out[-3000:]
    assert SECRET not in out
