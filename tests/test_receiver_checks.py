"""Every receiver check fails against a receiver that breaks its rule and passes against the reference."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from hookproof import auth, catalog
from hookproof.conformance import receiver_checks
from hookproof.conformance.causes import BecauseOf
from hookproof.conformance.http_exchange import HttpSession
from hookproof.conformance.receiver_checks import ReceiverContext
from hookproof.conformance.registry import checks_of
from hookproof.conformance.report import CheckFailure
from hookproof.reference_impl.receiver import Receiver, idempotency_key
from hookproof.reference_impl.serving import serving
from tests import broken_receivers as broken

RECEIVER_CHECKS = {check.name: check for check in checks_of("receiver")}

SECRET = "s3cret-for-tests"


@contextmanager
def target(app: Receiver, *, timeout: float = 5.0, examples: int = 5) -> Iterator[ReceiverContext]:
    session = HttpSession(timeout)
    with serving(app) as base:
        try:
            yield ReceiverContext(lambda platform: f"{base}/{platform}", session, SECRET, examples=examples)
        finally:
            session.close()


def app(cls: type[Receiver] = Receiver) -> Receiver:
    return cls(secrets={"codewars": SECRET})


# check name -> (a platform to run it on, the broken receiver class, what the failure must say)
BROKEN: dict[str, tuple[str, type[Receiver], str]] = {
    "documented_examples": ("doselect", broken.ChecksSlugAgainstUri, "answered 422 to a valid delivery"),
    "generated_valid": ("qualified", broken.CrashesOnNonAscii, "answered 500 to a valid delivery"),
    "unknown_properties": ("codewars", broken.RejectsUnknownProperties, "answered 400 to a valid delivery"),
    "duplicate_delivery": ("doselect", broken.RefusesRepeats, "answered 409"),
    "malformed_bodies": ("viasto", broken.CrashesOnBadJson, "sent malformed JSON; the target answered 500"),
    "authentication_required": (
        "codewars", broken.IgnoresSecret, "sent a delivery with no X-Webhook-Secret; the target answered 200"
    ),
    "answers_in_time": ("viasto", broken.Slow, "gave no answer within 0.3 s"),
    "no_redirect": ("doselect", broken.Redirects, "answered 307 to /v2/doselect: senders do not follow redirects"),
    "unknown_event": ("codewars", broken.CrashesOnUnknownEvent,
                      "sent an unknown event name (X-Webhook-Event); the target answered 500"),
    "broken_bodies": ("codewars", broken.CrashesOnNullModel, "sent a delivery that breaks one rule"),
}


def test_every_check_has_a_broken_receiver() -> None:
    assert set(BROKEN) == set(RECEIVER_CHECKS)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_check_fails_against_its_broken_receiver(name: str) -> None:
    platform, cls, message = BROKEN[name]
    timeout = 0.3 if cls is broken.Slow else 5.0
    with target(app(cls), timeout=timeout) as ctx, pytest.raises(CheckFailure) as failure:
        RECEIVER_CHECKS[name](ctx, platform)
    report = str(failure.value)
    assert f"[{name}]" in report and message in report, report
    # the replay is bounded as the run was: pasted, it cannot hang on a target that never answers
    assert f"replay: curl -sS -i --max-time {timeout:g} -X POST" in report and "payload: " in report
    assert SECRET not in report, "secrets are masked in reports"


@pytest.mark.parametrize("platform", ["doselect", "qualified", "viasto", "codewars"])
def test_reference_receiver_passes_every_check(platform: str) -> None:
    with target(app()) as ctx:
        for check in RECEIVER_CHECKS.values():
            if check.needs == ("auth",) and not catalog.contract(platform).auth:
                continue
            if check.needs == ("examples",) and platform == "qualified":
                continue
            check(ctx, platform)


@pytest.mark.parametrize(
    ("cls", "what"),
    [
        (broken.CrashesOnEmptyBody, "sent an empty body; the target answered 500"),
        (broken.CrashesOnArray, "sent a JSON array; the target answered 500"),
        (broken.IgnoresContentType, "sent a non-JSON Content-Type .text/plain.; the target answered 200"),
    ],
)
def test_malformed_bodies_catches_each_kind(cls: type[Receiver], what: str) -> None:
    with target(app(cls)) as ctx, pytest.raises(CheckFailure, match=what):
        receiver_checks.malformed_bodies(ctx, "doselect")


def test_a_wrong_secret_is_caught_too() -> None:
    class AcceptsAnySecret(Receiver):
        def _authenticate(self, platform, headers, raw, body):  # type: ignore[no-untyped-def]
            return None if headers.get("X-Webhook-Secret") else super()._authenticate(platform, headers, raw, body)

    with target(app(AcceptsAnySecret)) as ctx, \
            pytest.raises(CheckFailure, match="X-Webhook-Secret made with a wrong secret; the target answered 200"):
        receiver_checks.authentication_required(ctx, "codewars")


class ChecksTheSecretOnOneEventOnly(Receiver):
    """Checks X-Webhook-Secret on the webhook.updated route alone: every other event goes in unauthenticated."""

    def _authenticate(self, platform, headers, raw, body):  # type: ignore[no-untyped-def]
        if headers.get("X-Webhook-Event") != "webhook":
            return None
        return super()._authenticate(platform, headers, raw, body)


class ComparesAPrefix(Receiver):
    """Takes a shared secret that the configured one starts with (``secret.startswith(given)``)."""

    def _authenticate(self, platform, headers, raw, body):  # type: ignore[no-untyped-def]
        given = headers.get("X-Webhook-Secret")
        return None if given and SECRET.startswith(given) else super()._authenticate(platform, headers, raw, body)


class ComparesCaseBlind(Receiver):
    def _authenticate(self, platform, headers, raw, body):  # type: ignore[no-untyped-def]
        given = headers.get("X-Webhook-Secret") or ""
        return None if given.lower() == SECRET.lower() else super()._authenticate(platform, headers, raw, body)


@pytest.mark.parametrize(("cls", "says"), [
    (ChecksTheSecretOnOneEventOnly, "no X-Webhook-Secret; the target answered 200"),
    (ComparesAPrefix, "X-Webhook-Secret cut to the first half of the right value; the target answered 200"),
    (ComparesCaseBlind, "X-Webhook-Secret holding the secret with its letters' case swapped; the target answered"),
])
def test_a_receiver_that_checks_the_secret_short_of_everywhere_is_caught(cls: type[Receiver], says: str) -> None:
    with target(app(cls)) as ctx, pytest.raises(CheckFailure) as failure:
        receiver_checks.authentication_required(ctx, "codewars")
    report = str(failure.value)
    assert says in report, report
    for part in (SECRET, SECRET[:len(SECRET) // 2], SECRET.swapcase()):  # not even what the receiver echoed
        assert part not in report


def test_a_signature_compared_as_a_prefix_is_caught() -> None:
    """DoSelect's signature is HMAC hex: a receiver that takes any prefix of the right one takes half of it."""
    class TakesAPrefixOfTheSignature(Receiver):
        def _authenticate(self, platform, headers, raw, body):  # type: ignore[no-untyped-def]
            given = {k.lower(): v for k, v in headers.items()}.get("doselect-webhook-signature", "")
            right = {k.lower(): v for k, v in auth.sign(catalog.contract("doselect", "2019-09"), raw, body,
                                                        SECRET).items()}
            ok = len(given) >= 8 and right.get("doselect-webhook-signature", "").startswith(given)
            return None if ok else super()._authenticate(platform, headers, raw, body)

    with target(TakesAPrefixOfTheSignature(secrets={"doselect": SECRET})) as ctx, \
            pytest.raises(CheckFailure, match="cut to the first half of the right value; the target answered 200"):
        receiver_checks.authentication_required(ctx, "doselect")


def test_a_slow_target_does_not_stall_the_run() -> None:
    """After a few timeouts the breaker refuses to send more, so every later check ends fast - not failed
    again for the one fault, but not checked because of it."""
    class CountedSlow(broken.Slow):
        received = 0

        def handle(self, request: Request) -> Response:
            CountedSlow.received += 1
            return super().handle(request)

    with target(app(CountedSlow), timeout=0.3, examples=10) as ctx:
        with pytest.raises(CheckFailure, match=r"gave no answer within 0\.3 s"):
            RECEIVER_CHECKS["generated_valid"](ctx, "qualified")
        for name in ("unknown_properties", "answers_in_time", "no_redirect"):
            with pytest.raises(BecauseOf, match=r"because of \[generated_valid\] qualified"):
                RECEIVER_CHECKS[name](ctx, "qualified")
        # Counted, not timed (a loaded CI machine must not flip it): each stall costs one deadline, and after
        # the breaker's three nothing is sent; without it these checks would send hundreds of requests.
        assert CountedSlow.received == ctx.session.breaker.limit
        with pytest.raises(CheckFailure, match="was not sent this request: it already failed to answer"):
            receiver_checks.documented_examples(ctx, "doselect")


@pytest.mark.parametrize(("answer_after", "fails"), [(0.45, True), (0.0, False)])
def test_an_answer_later_than_the_platforms_documented_timeout_fails(tmp_path, monkeypatch, answer_after: float,
                                                                     fails: bool) -> None:
    """Where a document states how long the platform waits (Qualified: 5 s), an answer later than that is a
    delivery the platform counted failed and sends again, though inside --hookproof-response-timeout. Shown
    on a platform of files whose document says 0.3 s, so that the test waits well under a second."""
    import copy

    from tests import sixth_platform

    monkeypatch.delenv("HOOKPROOF_SCHEMAS", raising=False)
    profile = copy.deepcopy(sixth_platform.PROFILE)
    profile["contract"]["retry"]["timeout"] = 0.3
    monkeypatch.setattr(sixth_platform, "PROFILE", profile)
    sixth_platform.write(tmp_path)

    class LateOnce(Receiver):  # late to the first delivery only: one fault, one event
        late = True

        def handle(self, request: Request) -> Response:
            if LateOnce.late:
                LateOnce.late = False
                time.sleep(answer_after)
            return super().handle(request)

    try:
        catalog.configure([tmp_path])
        with target(LateOnce(secrets={"acme": SECRET})) as ctx:
            if not fails:
                receiver_checks.answers_in_time(ctx, "acme")
                return
            with pytest.raises(CheckFailure) as failure:
                receiver_checks.answers_in_time(ctx, "acme")
    finally:
        catalog.configure([])
    report = str(failure.value)
    assert re.search(r"answered after 0\.\d\d s, later than the 0\.3 s acme v1 waits for an answer before it counts "
                     r"the delivery failed \(and retries it\)", report), report
    assert "3 tries in all, 1 s apart" in report  # the document's words on its policy, as the rule


class LateBy(broken.Slow):
    delay = 0.45  # past a documented wait of 0.3 s


@pytest.mark.parametrize(("run_timeout", "max_time"), [(5.0, 0.3), (0.2, 0.2)])
def test_a_late_answers_failure_records_the_documented_wait_it_was_held_to(tmp_path, monkeypatch, run_timeout: float,
                                                                           max_time: float) -> None:
    """The failure's recording keeps the contract's documented wait (``within``: 0.3 s), so that a replay holds
    the answer to it too, whatever the run's timeout; its curl line's --max-time is the shorter of the two."""
    import copy

    from tests import sixth_platform

    monkeypatch.delenv("HOOKPROOF_SCHEMAS", raising=False)
    profile = copy.deepcopy(sixth_platform.PROFILE)
    profile["contract"]["retry"]["timeout"] = 0.3
    monkeypatch.setattr(sixth_platform, "PROFILE", profile)
    sixth_platform.write(tmp_path)
    try:
        catalog.configure([tmp_path])
        with target(LateBy(secrets={"acme": SECRET}), timeout=run_timeout) as ctx, \
                pytest.raises(CheckFailure) as failure:
            receiver_checks.answers_in_time(ctx, "acme")
    finally:
        catalog.configure([])
    assert failure.value.recordings and all(r.within == 0.3 and r.expected == "in time"
                                            for r in failure.value.recordings)
    assert f"curl -sS -i --max-time {max_time:g} -X POST" in str(failure.value)


def test_a_failure_on_a_platform_that_documents_no_wait_records_none() -> None:
    """Without a documented wait, a late answer's recording has no ``within`` (a replay's --timeout judges it)
    and its curl line keeps the run's timeout."""
    with target(LateBy(secrets={"codewars": SECRET}), timeout=0.2) as ctx, \
            pytest.raises(CheckFailure) as failure:
        receiver_checks.answers_in_time(ctx, "codewars")
    assert failure.value.recordings and all(r.within is None for r in failure.value.recordings)
    assert "curl -sS -i --max-time 0.2 -X POST" in str(failure.value)


def test_a_refused_delivery_without_secret_hints_at_the_option() -> None:
    session = HttpSession(5.0)
    with serving(app()) as base:
        ctx = ReceiverContext(lambda p: f"{base}/{p}", session, None, examples=2)
        with pytest.raises(CheckFailure, match="if it requires a secret, pass --hookproof-secret"):
            receiver_checks.documented_examples(ctx, "codewars")
    session.close()


def test_failures_are_deterministic() -> None:
    """A CI gate must give the same verdict for the same case twice (ids aside, which are fresh per delivery)."""
    cases = []
    for _ in range(2):
        with target(app(broken.CrashesOnNonAscii)) as ctx, pytest.raises(CheckFailure) as failure:
            receiver_checks.generated_valid(ctx, "qualified")
        cases.append(str(failure.value).split("  payload: ")[1].split("\n")[0])
    assert cases[0] == cases[1]


def test_a_failing_generated_delivery_of_a_seeded_run_names_its_seed() -> None:
    """A seeded run draws other deliveries than the default one: the seed is what draws the failing one again."""
    reports = []
    for seed in (12345, None):
        session = HttpSession(5.0)
        with serving(app(broken.CrashesOnNonAscii)) as base, pytest.raises(CheckFailure) as failure:
            ctx = ReceiverContext(lambda p: f"{base}/{p}", session, SECRET, examples=5, seed=seed)
            receiver_checks.generated_valid(ctx, "qualified")
        session.close()
        reports.append(str(failure.value))
    assert "a generated delivery of" in reports[0] and "(drawn with --hookproof-seed 12345)" in reports[0]
    assert "--hookproof-seed" not in reports[1]  # derandomized: the same command draws it again


def test_generated_checks_send_the_documented_examples_first() -> None:
    """The document's own example (with its slug/URI mismatch) is the first case a generated check sends."""
    with target(app(broken.ChecksSlugAgainstUri), examples=1) as ctx, pytest.raises(CheckFailure) as failure:
        receiver_checks.generated_valid(ctx, "doselect")
    assert '"test_slug": "k016y"' in str(failure.value)


def test_a_secret_echoed_by_the_receiver_is_masked_in_the_report() -> None:
    with target(app(broken.EchoesTheSecret)) as ctx, pytest.raises(CheckFailure) as failure:
        receiver_checks.authentication_required(ctx, "codewars")
    report = str(failure.value)
    assert "answered 200" in report and '"got": "***' in report
    assert SECRET not in report


def test_a_secret_echoed_in_base64_or_hex_is_masked_in_the_report() -> None:
    with target(app(broken.EchoesTheSecretEncoded)) as ctx, pytest.raises(CheckFailure) as failure:
        receiver_checks.authentication_required(ctx, "codewars")
    report = str(failure.value)
    assert "answered 200" in report and '"hex": "***' in report and '"basic": "***"' in report, report
    raw = SECRET.encode()
    for skip in range(3):
        assert base64.b64encode(raw[skip:skip + 6]).decode() not in report


def test_a_too_deeply_nested_body_is_a_400_not_a_crash() -> None:
    with serving(app()) as base:
        answer = httpx.post(f"{base}/doselect", content=b"[" * 50_000, timeout=10,
                            headers={"Content-Type": "application/json"})
    assert answer.status_code == 400


def test_an_unidentifiable_delivery_is_a_400_and_an_unknown_event_a_202() -> None:
    with serving(app()) as base:
        def post(body: str, event: str | None) -> int:
            headers = {"Content-Type": "application/json", "X-Webhook-Secret": SECRET}
            if event:
                headers["X-Webhook-Event"] = event
            return httpx.post(f"{base}/codewars", content=body, headers=headers, timeout=10).status_code

        assert post('{"action": "updated", "webhook": {"id": "1"}}', None) == 400
        assert post('{"action": "updated", "webhook": {"id": "1"}}', "kata_of_the_future") == 202


def test_the_same_body_under_two_codewars_events_is_two_deliveries() -> None:
    """Codewars carries half the event name in a header: a body hash alone would merge two events."""
    store_app = app()
    with serving(store_app) as base:
        body = '{"action": "created", "code_challenge": {"id": "1", "created_by_id": "2"}, "user": {"id": "1"}}'
        for event in ("code_challenge", "code_challenge"):
            headers = {"Content-Type": "application/json", "X-Webhook-Event": event, "X-Webhook-Secret": SECRET}
            assert httpx.post(f"{base}/codewars", content=body, headers=headers, timeout=10).status_code == 200
    assert store_app.store.count("codewars") == 1
    spec = catalog.contract("codewars")
    assert idempotency_key(spec, "a.x", {}, b"{}") != idempotency_key(spec, "b.x", {}, b"{}")


def test_the_checks_send_what_every_current_contract_sends() -> None:
    """A receiver faces the real wire: the vendors' later names, not only the document's."""
    with target(app()) as ctx:
        sent = {d.event for d in receiver_checks._representatives(ctx, "qualified")}
        assert {"assessment_result_started", "team_candidate_state_changed", "team_candidate.created"} <= sent
        sent = {d.event for d in receiver_checks._representatives(ctx, "codewars")}
        assert {"code_challenge.approved", "user.rank_earned", "user.rank_upgraded"} <= sent
        assert "user.honor_changed" in sent  # the historical 2014-06 contract is not sent unless named


def test_a_receiver_that_knows_only_the_documents_names_is_told_which_contract_sends_them() -> None:
    with target(app(broken.KnowsOnlyTheDocumentsNames)) as ctx, pytest.raises(CheckFailure) as failure:
        receiver_checks.documented_examples(ctx, "codewars")
    report = str(failure.value)
    assert "answered 400 to a valid delivery" in report
    assert "as contract codewars 2021-04 sends it" in report and "the document spells this event" in report


def test_contract_and_subscriptions_narrow_what_is_sent() -> None:
    with target(app(broken.KnowsOnlyTheDocumentsNames)) as ctx:
        ctx.contract = "document"
        receiver_checks.documented_examples(ctx, "codewars")  # only the document's names: this receiver passes
        ctx.contract, ctx.events = None, frozenset({"user.rank_upgraded", "webhook.updated"})
        sent = {d.event for d in receiver_checks._representatives(ctx, "codewars")}
        assert sent == {"user.rank_upgraded", "user.rank_earned", "webhook.updated"}


def test_a_receiver_that_accepts_a_forged_signature_is_caught() -> None:
    """DoSelect's later contract signs meta.delivery_id (DoSelect-Webhook-Signature); with the secret given, a
    receiver that checks only that the header is there accepts forgeries."""
    secrets = {"doselect": SECRET}
    with target(broken.AcceptsForgedSignatures(secrets=secrets)) as ctx, pytest.raises(CheckFailure) as failure:
        receiver_checks.authentication_required(ctx, "doselect")
    report = str(failure.value)
    assert "DoSelect-Webhook-Signature made with a wrong secret; the target answered 200" in report
    assert SECRET not in report
    with target(Receiver(secrets=secrets)) as ctx:
        receiver_checks.authentication_required(ctx, "doselect")
        assert [c.name for c in ctx.contracts("doselect")] == ["2019-09"], "with a secret: what is signed"


class AcceptsEverything(Receiver):
    """Answers 200 to whatever arrives: it parses nothing and checks no signature - two faults, not one."""

    def handle(self, request: Request) -> Response:
        request.get_data()
        return Response("{}", status=200, mimetype="application/json")


def test_a_2xx_to_malformed_json_and_a_2xx_to_a_forgery_are_two_causes() -> None:
    with target(AcceptsEverything()) as ctx:
        with pytest.raises(CheckFailure) as malformed:
            receiver_checks.malformed_bodies(ctx, "doselect")
        with pytest.raises(CheckFailure) as forged:  # not "not checked because of" the malformed JSON's 200
            receiver_checks.authentication_required(ctx, "doselect")
    assert "sent malformed JSON; the target answered 200" in malformed.value.summary
    assert forged.value.event == malformed.value.event, "the forgery's fault is reported on the same event too"
    assert "DoSelect-Webhook-Signature; the target answered 200" in forged.value.summary


def test_a_failure_file_records_a_non_ascii_secret_as_the_valid_one_it_was() -> None:
    """The failure file says how the request was authenticated, so that a replay signs it the same way: a
    secret sent as UTF-8 was read back as the str sent, judged "wrong", and a fixed receiver replayed as failing."""
    secret = "p@ss/wörd+=Tok3n"

    class Answers500(Receiver):
        def handle(self, request: Request) -> Response:
            request.get_data()
            return Response("{}", status=500, mimetype="application/json")

    session = HttpSession(5.0)
    with serving(Answers500()) as base:
        try:
            ctx = ReceiverContext(lambda platform: f"{base}/{platform}", session, secret, examples=1)
            with pytest.raises(CheckFailure) as failure:
                receiver_checks.documented_examples(ctx, "codewars")
        finally:
            session.close()
    assert {r.auth for r in failure.value.recordings} == {"valid"}


class RedirectsWhatItRefuses(Receiver):
    """Answers the reference's 4XX as a 302 to an error page: valid deliveries get their 2XX, so no_redirect,
    which sends only valid ones, passes; a broken delivery is redirected, which no sender follows."""

    def handle(self, request: Request) -> Response:
        answer = super().handle(request)
        if 400 <= answer.status_code < 500:
            return Response("", status=302, headers={"Location": "/errors"})
        return answer


def test_broken_bodies_fails_a_redirect_of_what_the_receiver_refuses() -> None:
    with target(app(RedirectsWhatItRefuses)) as ctx:
        receiver_checks.no_redirect(ctx, "codewars")
        with pytest.raises(CheckFailure, match="the target answered 302"):
            receiver_checks.broken_bodies(ctx, "codewars")
