"""``hookproof trigger`` as a user runs it, against the reference receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hookproof import catalog, redact
from hookproof.cli import main
from hookproof.reference_impl.receiver import Receiver
from hookproof.reference_impl.receiver_store import DeliveryStore
from hookproof.reference_impl.serving import serving

SECRET = "trigger-secret-1"
EVENTS = [(p, c.name, e) for p in catalog.webhook_platforms() for c in catalog.platform(p).contracts for e in c.events]


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, DeliveryStore]]:
    store = DeliveryStore()
    with serving(Receiver(store, secrets=dict.fromkeys(catalog.webhook_platforms(), SECRET))) as base:
        yield base, store


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HOOKPROOF_SECRET", SECRET)
    yield
    redact.forget_all()


def test_every_event_of_every_platform_gets_a_2xx(receiver: tuple[str, DeliveryStore],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    base, store = receiver
    before = store.count()
    with serving(Receiver()) as open_base:  # for a contract that authenticates nothing (DoSelect's first)
        for platform, contract, event in EVENTS:
            signed = bool(catalog.contract(platform, contract).auth)
            url = f"{base if signed else open_base}/{platform}"
            code = main(["trigger", platform, event, "--to", url, "--contract", contract])
            out = capsys.readouterr()
            assert code == 0, (platform, contract, event, out.out, out.err)
            assert "< 200 after" in out.out
            assert SECRET not in out.out
    assert store.count() > before  # they were processed, not only answered


def test_the_view_shows_request_and_answer_with_the_secret_masked(receiver: tuple[str, DeliveryStore],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    base, _ = receiver
    assert main(["trigger", "codewars", "user.rank_upgraded", "--to", f"{base}/codewars"]) == 0
    out = capsys.readouterr().out
    assert "> POST " in out and "> X-Webhook-Event: user" in out and "> X-Webhook-Secret: ***" in out
    assert "the documented example codewars/examples/user.rank_upgraded.json" in out


def test_an_override_is_sent_and_metadata_is_fresh(receiver: tuple[str, DeliveryStore],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    base, _ = receiver
    sent = []
    for _ in range(2):
        assert main(["trigger", "doselect", "submission.submit", "--to", f"{base}/doselect", "--contract", "2019-09",
                     "--set", "/object/email=someone@example.test", "--json"]) == 0
        sent.append(json.loads(capsys.readouterr().out))
    assert all(s["body"]["object"]["email"] == "someone@example.test" for s in sent)
    assert sent[0]["body"]["meta"]["delivery_id"] != sent[1]["body"]["meta"]["delivery_id"]
    assert sent[0]["headers"]["DoSelect-Webhook-Signature"] == "***"
    assert sent[0]["answer"]["status"] == 200


def test_an_override_that_breaks_the_schema_is_refused(receiver: tuple[str, DeliveryStore],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    base, store = receiver
    before = store.count()
    code = main(["trigger", "codewars", "user.rank_upgraded", "--to", f"{base}/codewars", "--set", '/user/rank="x"'])
    err = capsys.readouterr().err
    assert code == 2
    assert "does not conform to codewars document user.rank_upgraded: /user/rank" in err
    assert "--allow-invalid" in err and "Traceback" not in err
    assert store.count() == before
    forced = main(["trigger", "codewars", "user.rank_upgraded", "--to", f"{base}/codewars", "--set",
                   '/user/rank="x"', "--allow-invalid"])
    assert forced == 1 and "< 422 after" in capsys.readouterr().out


def test_a_wrong_secret_shows_the_refusal_and_exits_1(receiver: tuple[str, DeliveryStore],
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = receiver
    monkeypatch.setenv("HOOKPROOF_SECRET", "not-the-secret")
    code = main(["trigger", "codewars", "user.rank_upgraded", "--to", f"{base}/codewars"])
    out = capsys.readouterr().out
    assert code == 1
    assert "< 403 after" in out and "the target refused the delivery's authentication" in out
    assert "not-the-secret" not in out


def test_generated_bodies_follow_the_seed(receiver: tuple[str, DeliveryStore],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    base, _ = receiver
    bodies = []
    for seed in ("1", "1", "2"):
        assert main(["trigger", "qualified", "assessment.created", "--to", f"{base}/qualified", "--generated",
                     "--seed", seed, "--json"]) == 0
        bodies.append(json.loads(capsys.readouterr().out)["body"])
    assert bodies[0] == bodies[1] and bodies[0] != bodies[2]


@pytest.mark.parametrize(("args", "message"), [
    (["gitlab", "x", "--to", "http://127.0.0.1:9/"], "unknown platform 'gitlab'"),
    (["codewars", "user.nope", "--to", "http://127.0.0.1:9/"], "unknown codewars event 'user.nope'"),
    (["codewars", "user.rank_upgraded", "--to", "ftp://x"], "is not an http(s) URL"),
    (["codewars", "user.rank_upgraded", "--to", "http://127.0.0.1:0/"], "port 0 is not a port a receiver can"),
    (["codewars", "user.rank_upgraded", "--to", "http://127.0.0.1:9/", "--set", "rank=1"], "/json/pointer=value"),
    (["codewars", "user.rank_upgraded", "--to", "http://127.0.0.1:9/", "--seed", "3"], "give --generated too"),
    (["xobin", "request", "--to", "http://127.0.0.1:9/"], "sends no deliveries"),
])
def test_bad_input_is_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trigger", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_an_unreachable_target_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.live_helpers import free_port

    assert main(["trigger", "viasto", "project_changed", "--to", f"http://127.0.0.1:{free_port()}/"]) == 1
    assert "< the target refused the connection" in capsys.readouterr().out


def test_a_secret_the_contract_does_not_use_is_said_to_be_unsent(capsys: pytest.CaptureFixture[str]) -> None:
    with serving(Receiver()) as base:
        main(["trigger", "doselect", "solution.submit", "--to", f"{base}/doselect", "--secret", "s3cret-x"])
        out = capsys.readouterr().out
        assert ("note: the secret was not sent: contract document of doselect has no authentication "
                "(--contract 2019-09 authenticates)") in out, out
        main(["trigger", "doselect", "solution.submit", "--to", f"{base}/doselect", "--secret", "s3cret-x",
              "--contract", "2019-09"])
        assert "not sent" not in capsys.readouterr().out


def test_a_target_that_never_answers_names_triggers_own_option(capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from tests.raw_servers import raw_server

    def silent(conn: object) -> None:
        time.sleep(1.5)  # reads nothing, answers nothing, past the 0.5 s given

    with raw_server(silent) as port:
        assert main(["trigger", "viasto", "project_changed", "--to", f"http://127.0.0.1:{port}/",
                     "--timeout", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "within 0.5 s (--timeout)" in out and "--response-timeout" not in out, out
