"""https targets: every client verifies the server's certificate, against certifi's public CAs or the CA that
``$SSL_CERT_FILE`` names (hookproof.tls), as httpx does. The server here is the reference receiver behind TLS,
with a certificate for 127.0.0.1 from a CA made for the test (trustme)."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from werkzeug.serving import make_server

from hookproof import catalog, tls
from hookproof.cli import main
from hookproof.conformance.http_exchange import HttpSession
from hookproof.live.store import CaptureStore
from hookproof.reference_impl.receiver import Receiver
from hookproof.reference_impl.sender import AsyncSender, DeliveryRecord, Sender, SendOptions
from hookproof.reference_impl.sender_plain import PlainSender
from hookproof.reference_impl.serving import serving
from hookproof.wire import encode
from tests.live_helpers import delivery_lines, listening

SECRET = "tls-s3cret"
EVENT = "code_challenge.created"
BODY = catalog.contract("codewars").event(EVENT).examples[0].body
HEADERS = {"Content-Type": "application/json", "User-Agent": "Codewars Hookbot", "X-Webhook-Event": "code_challenge",
           "X-Webhook-Secret": SECRET}


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path]]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    yield ca, path


@pytest.fixture(scope="module")
def https_url(ca_file: tuple[trustme.CA, Path]) -> Iterator[str]:
    """The reference receiver on https://127.0.0.1:PORT (werkzeug's server, with the test CA's certificate)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca_file[0].issue_cert("127.0.0.1").configure_cert(context)
    server = make_server("127.0.0.1", 0, Receiver(secrets={"codewars": SECRET}), threaded=True,
                         ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _trust(monkeypatch: pytest.MonkeyPatch, ca_file: Path) -> None:
    """The clients trust the CA in ``ca_file``, as a user's ``SSL_CERT_FILE=ca.pem`` makes them."""
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))


def _exchange(url: str) -> tuple[int | None, str | None]:
    exchange = HttpSession(timeout=5).send(f"{url}/codewars", HEADERS, encode(BODY))
    return exchange.status, exchange.error


def _delivered(record: DeliveryRecord) -> tuple[int | None, str | None]:
    attempt = record.attempts[-1]
    return attempt.status, attempt.error


def _plain(url: str) -> tuple[int | None, str | None]:
    return _delivered(PlainSender(SendOptions(max_tries=1)).deliver(f"{url}/codewars", "codewars", EVENT, BODY,
                                                                    secret=SECRET))


def _httpx(url: str) -> tuple[int | None, str | None]:
    with Sender(SendOptions(max_tries=1)) as sender:
        return _delivered(sender.deliver(f"{url}/codewars", "codewars", EVENT, BODY, secret=SECRET))


def _async(url: str) -> tuple[int | None, str | None]:
    sender = AsyncSender(SendOptions(max_tries=1))
    return _delivered(asyncio.run(sender.deliver(f"{url}/codewars", "codewars", EVENT, BODY, secret=SECRET)))


CLIENTS: dict[str, Callable[[str], tuple[int | None, str | None]]] = {
    "the checks' requests (http_exchange)": _exchange, "the reference sender command (sender_plain)": _plain,
    "the httpx sender": _httpx, "the async sender": _async}


@pytest.mark.parametrize("client", list(CLIENTS))
def test_every_client_trusts_the_ca_ssl_cert_file_names_and_no_other(
        client: str, https_url: str, ca_file: tuple[trustme.CA, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _trust(monkeypatch, ca_file[1])
    assert CLIENTS[client](https_url) == (200, None)
    monkeypatch.delenv("SSL_CERT_FILE")  # certifi's public CAs only: the test CA signed nothing they trust
    status, error = CLIENTS[client](https_url)
    assert status is None and error is not None and "certificate verify failed" in error, error


def test_a_ca_file_that_cannot_be_read_is_named(https_url: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(tls.TrustError, match=r"^\$SSL_CERT_FILE names '.*missing\.pem', which holds no CA"):
        tls.client_context()
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "junk.pem"))
    with pytest.raises(tls.TrustError, match=r"junk\.pem', which holds no CA certificate"):
        tls.client_context()
    status, error = _exchange(https_url)
    assert status is None and error is not None
    assert error.startswith(f"was not sent the request: $SSL_CERT_FILE names '{tmp_path / 'junk.pem'}', which "
                            "holds no CA certificate that can be read ("), error
    for send in (_plain, _httpx, _async):  # a delivery is recorded as failed with the reason, never raised
        status, error = send(https_url)
        assert status is None and error is not None and "$SSL_CERT_FILE names" in error, error


def _hashed_folder(ca_file: Path, folder: Path) -> Path:
    """A folder as ``$SSL_CERT_DIR`` wants it: each CA in a file named by OpenSSL's hash of its subject
    (``openssl rehash`` makes them; .ci/run sees that the openssl command is installed)."""
    openssl = shutil.which("openssl")
    assert openssl is not None, "the openssl command is needed to name a CA file by its subject hash"
    digest = subprocess.run([openssl, "x509", "-hash", "-noout", "-in", str(ca_file)], capture_output=True,
                            text=True, check=True, timeout=30).stdout.strip()
    folder.mkdir()
    shutil.copy(ca_file, folder / f"{digest}.0")
    return folder


@pytest.mark.parametrize("client", list(CLIENTS))
def test_every_client_trusts_the_cas_of_the_folder_ssl_cert_dir_names(
        client: str, https_url: str, ca_file: tuple[trustme.CA, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(_hashed_folder(ca_file[1], tmp_path / "hashed")))
    assert CLIENTS[client](https_url) == (200, None)
    (tmp_path / "empty").mkdir()  # a folder without the test CA: nothing it signed is trusted
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "empty"))
    status, error = CLIENTS[client](https_url)
    assert status is None and error is not None and "certificate verify failed" in error, error
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "missing"))  # named, where OpenSSL would say nothing
    status, error = CLIENTS[client](https_url)
    assert status is None and error is not None, error
    assert f"$SSL_CERT_DIR names '{tmp_path / 'missing'}', which is not a folder of CA certificates" in error, error


@pytest.mark.parametrize("client", list(CLIENTS))
def test_an_unreadable_ca_file_leaves_http_alone(client: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Only https needs the CA: a stale ``$SSL_CERT_FILE`` in the environment does not stop an http delivery."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with serving(Receiver(secrets={"codewars": SECRET})) as base:
        assert CLIENTS[client](base) == (200, None)


def test_listen_forwards_over_http_whatever_ssl_cert_file_says(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    db = tmp_path / "c.sqlite3"
    with serving(Receiver(secrets={"codewars": SECRET})) as base, \
            listening(tmp_path, "--platform", "codewars", "--port", "0", "--db", str(db), "--forward-to",
                      f"{base}/codewars", secret=SECRET) as (url, _):
        assert _plain(url.rstrip("/")) == (200, None)
    kept = CaptureStore(str(db)).select()
    assert kept[0].forward is not None and kept[0].forward.status == 200, kept[0].forward


def test_trigger_to_an_https_receiver(https_url: str, ca_file: tuple[trustme.CA, Path],
                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _trust(monkeypatch, ca_file[1])
    argv = ["trigger", "codewars", EVENT, "--to", f"{https_url}/codewars", "--secret", SECRET]
    assert main(argv) == 0, capsys.readouterr()
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file[1].parent / "missing.pem"))
    assert main(argv) == 1
    assert "$SSL_CERT_FILE names" in capsys.readouterr().out


@pytest.mark.parametrize("scheme", ["https", "HTTPS"])  # a URL's scheme is not case-sensitive (RFC 3986, 3.1)
def test_listen_refuses_an_https_forward_it_cannot_verify(tmp_path: Path, scheme: str) -> None:
    """In a process of its own, bounded: a listen that does not refuse would serve until stopped."""
    argv = [sys.executable, "-m", "hookproof", "listen", "--platform", "codewars", "--port", "0", "--db",
            str(tmp_path / "c.sqlite3"), "--forward-to", f"{scheme}://user:pw@127.0.0.1:9/hook"]
    env = {**os.environ, "SSL_CERT_FILE": str(tmp_path / "missing.pem")}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("hookproof: --forward-to https://***@127.0.0.1:9/hook: $SSL_CERT_FILE names ")
    assert done.stderr.count("\n") == 1 and not (tmp_path / "c.sqlite3").exists()


def test_listen_forwards_to_an_https_receiver(https_url: str, ca_file: tuple[trustme.CA, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _trust(monkeypatch, ca_file[1])  # the listen process inherits it
    db = tmp_path / "c.sqlite3"
    with listening(tmp_path, "--platform", "codewars", "--port", "0", "--db", str(db), "--forward-to",
                   f"{https_url}/codewars", secret=SECRET) as (url, out):
        assert _plain(url.rstrip("/")) == (200, None)
        lines = delivery_lines(out)
    assert len(lines) == 1 and lines[0]["conforms"] is True, lines
    kept = CaptureStore(str(db)).select()
    assert kept[0].forward is not None and kept[0].forward.status == 200, kept[0].forward


def test_run_against_an_https_target(pytester: pytest.Pytester, https_url: str, ca_file: tuple[trustme.CA, Path],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A certificate the run cannot verify is one line before any check (every request would fail the same
    way); with its CA named, the checks run over TLS."""
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    argv = ["--pyargs", "hookproof.conformance", "--target-url", f"{https_url}/codewars", "--hookproof-platform",
            "codewars", "--hookproof-secret", SECRET, "-k", "documented_examples", "-p", "no:cacheprovider"]
    refused = pytester.runpytest(*argv)
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*cannot verify the certificate of --target-url https://127.0.0.1:*: "
                                  "*; a certificate of your own CA is trusted once $SSL_CERT_FILE names*"])
    _trust(monkeypatch, ca_file[1])
    pytester.runpytest(*argv).assert_outcomes(passed=1)
