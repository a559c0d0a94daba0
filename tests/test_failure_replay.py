"""``--hookproof-failures DIR`` then ``hookproof replay DIR --target-url URL``: the failing cases of one run,
sent again to the receiver once it is fixed, say FIXED; to the receiver still broken, STILL FAILING."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookproof import catalog, redact
from hookproof.cli import main
from hookproof.reference_impl.receiver import Receiver
from hookproof.reference_impl.serving import serving
from tests import broken_receivers as broken
from tests.live_helpers import free_port

SECRET = "failure-secret-5"
SUITE = ("--pyargs", "hookproof.conformance")


def _run(pytester: pytest.Pytester, app: Receiver, port: int, folder: Path, *extra: str) -> pytest.RunResult:
    with serving(app, port=port) as base:
        return pytester.runpytest(*SUITE, "--target-url", f"{base}/codewars", "--hookproof-platform", "codewars",
                                  "--hookproof-secret", SECRET, "--hookproof-examples", "3", "--hookproof-failures",
                                  str(folder), *extra)


def _replay(folder: Path, app: Receiver, port: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with serving(app, port=port) as base:
        code = main(["replay", str(folder), "--target-url", f"{base}/codewars"])
    return code, capsys.readouterr().out


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKPROOF_SECRET", SECRET)
    redact.forget_all()


def test_failures_are_written_and_replayed_fixed_or_still_failing(pytester: pytest.Pytester, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    port, folder = free_port(), tmp_path / "failures"
    result = _run(pytester, broken.TwoIndependentBugs(secrets={"codewars": SECRET}), port, folder)
    # Not checked: the three checks that send the events the 400 and the 500s were met on (one cause, one
    # failure); authentication_required tries a forgery of every event, and the 400 answers every delivery of
    # user.rank_upgraded. broken_bodies is judged: none of its deliveries of those events has a user id the
    # 500 meets.
    result.assert_outcomes(failed=2, passed=5, skipped=3)
    out = result.stdout.str()
    for kept in ("duplicate_delivery", "unknown_properties", "authentication_required"):
        assert (f"not checked: codewars receiver {kept}: because of [documented_examples] codewars "
                "user.rank_upgraded: answered 400") in out
    assert "[generated_valid] codewars user.honor_changed: answered 500 to a valid delivery" in out
    assert f"failing cases: 3 written to {folder}; once the receiver is fixed: hookproof replay {folder} " \
           f"--target-url http://127.0.0.1:{port}/codewars" in out
    files = sorted(folder.glob("failure-*.json"))
    # documented_examples' 400, and both events generated_valid found failing (a grouped failure writes each)
    assert [f.name for f in files] == ["failure-codewars-documented_examples-1.json",
                                       "failure-codewars-generated_valid-1.json",
                                       "failure-codewars-generated_valid-2.json"]
    data = [json.loads(f.read_text()) for f in files]
    assert [(d["check"], d["expected"], d["answer"]["status"]) for d in data] == [
        ("documented_examples", "2XX", 400), ("generated_valid", "2XX", 500), ("generated_valid", "2XX", 500)]
    assert all(d["auth"] == "valid" and ["X-Webhook-Secret", "***"] in d["headers"] for d in data)
    assert SECRET not in "".join(f.read_text() for f in files)

    code, still = _replay(folder, broken.TwoIndependentBugs(secrets={"codewars": SECRET}), port, capsys)
    assert code == 1 and "replayed 3: 3 STILL FAILING" in still
    code, fixed = _replay(folder, Receiver(secrets={"codewars": SECRET}), port, capsys)
    assert code == 0 and "replayed 3: 3 FIXED" in fixed and SECRET not in fixed
    code, half = _replay(folder, broken.RejectsRankUpgrades(secrets={"codewars": SECRET}), port, capsys)
    assert code == 1 and "replayed 3: 2 FIXED, 1 STILL FAILING" in half


def test_forgeries_are_replayed_as_forgeries(pytester: pytest.Pytester, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    port, folder = free_port(), tmp_path / "failures"
    result = _run(pytester, broken.IgnoresSecret(secrets={"codewars": SECRET}), port, folder,
                  "-k", "authentication_required")
    result.assert_outcomes(failed=1)
    files = sorted(folder.glob("failure-*.json"))
    # Every event's route accepts forgeries: one file per event. The other forgeries of an event met the same
    # fault (a 200 to a forgery of that event): one file for each event, not one for each forgery.
    data = [json.loads(f.read_text()) for f in files]
    names = {e for contract in catalog.platform("codewars").contracts for e in contract.events}
    events = len(names)
    assert len(files) == events and {d["event"] for d in data} == names, [d["event"] for d in data]
    assert all(d["auth"] == "none" and d["expected"] == "401/403" for d in data)
    assert not any(name == "X-Webhook-Secret" for d in data for name, _ in d["headers"])
    wrong = {**data[0], "id": "wrong", "auth": "wrong",
             "headers": [*data[0]["headers"], ["X-Webhook-Secret", "***"]]}
    (folder / "failure-wrong.json").write_text(json.dumps(wrong))
    code, still = _replay(folder, broken.IgnoresSecret(secrets={"codewars": SECRET}), port, capsys)
    assert code == 1 and f"replayed {events + 1}: {events + 1} STILL FAILING" in still
    assert "> X-Webhook-Secret: ***" in still
    # Signed again with the right secret, the forgery would be accepted and called fixed: it must stay a forgery.
    code, fixed = _replay(folder, Receiver(secrets={"codewars": SECRET}), port, capsys)
    assert code == 0 and f"replayed {events + 1}: {events + 1} FIXED" in fixed


def test_a_new_run_replaces_the_old_failure_files(pytester: pytest.Pytester, tmp_path: Path) -> None:
    port, folder = free_port(), tmp_path / "failures"
    folder.mkdir()
    (folder / "notes.json").write_text("{}")
    (folder / "failure-old-1.json").write_text(json.dumps({"hookproof_recording": 1, "kind": "failure"}))
    _run(pytester, Receiver(secrets={"codewars": SECRET}), port, folder, "-k", "documented_examples")
    assert sorted(p.name for p in folder.iterdir()) == ["notes.json"]  # a passing run leaves no failure behind


def test_replay_refuses_what_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hookproof_recording": 1, "kind": "failure", "id": "x", "platform": "codewars"}))
    assert main(["replay", str(bad), "--target-url", "http://127.0.0.1:9/"]) == 2
    assert "bad.json: no 'headers'" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "missing.json"), "--to", "http://127.0.0.1:9/"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["replay", str(bad)]) == 2
    assert "replay needs a target" in capsys.readouterr().err


def test_under_xdist_the_workers_write_what_a_serial_run_writes(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Grouped (--dist loadgroup), each worker has its platform's whole ledger: the same files as serially."""
    app, port = broken.TwoIndependentBugs(secrets={"codewars": SECRET}), free_port()
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    picked = ("-k", "generated_valid or documented_examples")
    _run(pytester, app, port, serial, *picked).assert_outcomes(failed=2)
    result = _run(pytester, app, port, parallel, *picked, "-p", "xdist", "-n", "2", "--dist", "loadgroup")
    result.assert_outcomes(failed=2)
    files = sorted(f.name for f in parallel.glob("failure-*.json"))
    assert files == sorted(f.name for f in serial.glob("failure-*.json"))
    assert {"failure-codewars-documented_examples-1.json", "failure-codewars-generated_valid-1.json"} <= set(files)
    assert f"failing cases: {len(files)} written to {parallel}" in result.stdout.str()


def test_sender_failures_are_named_as_not_written(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A failure file is a request sent to a receiver; a failing sender check says it wrote none."""
    from tests.sender_commands import command_line

    folder = tmp_path / "failures"
    result = pytester.runpytest(*SUITE, "--hookproof-sender-cmd",
                                command_line(Path(broken.__file__).with_name("broken_senders.py"), "wrong-method"),
                                "--hookproof-platform", "viasto", "--hookproof-failures", str(folder), "-k",
                                "method_and_headers", "--hookproof-time-scale", "0.02")  # not viasto's real waits
    result.assert_outcomes(failed=1)
    assert f"failing cases not written to {folder}: sender viasto method_and_headers" in result.stdout.str()
    assert not list(folder.glob("failure-*.json"))


WAITS, LATE = 0.4, 0.65  # the documented wait of a platform of files, and a receiver's answer well past it


class Late(broken.Slow):
    """Answers every delivery after ``LATE`` seconds: past the platform's documented wait, inside the run's."""

    delay = LATE


@pytest.fixture
def waiting_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """acme (tests/sixth_platform.py) with a documented ``retry.timeout`` of ``WAITS`` seconds, as Qualified's
    2024-01 contract documents 5 s."""
    from tests import sixth_platform

    monkeypatch.delenv("HOOKPROOF_SCHEMAS", raising=False)
    profile = copy.deepcopy(sixth_platform.PROFILE)
    profile["contract"]["retry"]["timeout"] = WAITS
    monkeypatch.setattr(sixth_platform, "PROFILE", profile)
    folder = sixth_platform.write(tmp_path / "schemas")
    catalog.configure([folder])  # before a Receiver is made: it routes the platforms the catalog has then
    yield folder
    catalog.configure([])


def test_a_late_answer_replays_held_to_the_platforms_documented_wait(
        pytester: pytest.Pytester, tmp_path: Path, waiting_platform: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """answers_in_time fails an answer later than the contract's documented wait, though inside the run's response
    timeout: its failure file records that wait (``within``), so that a replay to a receiver still that slow says
    STILL FAILING (it said FIXED: judged by --timeout only), and its curl line's --max-time is that wait."""
    port, folder = free_port(), tmp_path / "failures"
    schemas = ("--schemas", str(waiting_platform))
    with serving(Late(secrets={"acme": SECRET}), port=port) as base:
        result = pytester.runpytest(*SUITE, "--target-url", f"{base}/acme", "--hookproof-platform", "acme",
                                    "--hookproof-schemas", str(waiting_platform), "--hookproof-secret", SECRET,
                                    "--hookproof-failures", str(folder), "-k", "answers_in_time")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    late = re.search(rf"answered after (\d\.\d\d) s, later than the {WAITS:g} s acme v1 waits", out)
    assert late and float(late[1]) >= LATE - 0.01, out  # the answer's real time (shown to 2 places)
    assert f"replay: curl -sS -i --max-time {WAITS:g} -X POST" in out and "--max-time 10" not in out
    files = sorted(folder.glob("failure-*.json"))
    assert files, out
    data = [json.loads(f.read_text()) for f in files]
    assert all(d["check"] == "answers_in_time" and d["expected"] == "in time" and d["within"] == WAITS for d in data)

    def replay(app: Receiver, *extra: str, where: Path = folder) -> tuple[int, str]:
        with serving(app, port=port) as base:
            code = main(["replay", str(where), "--target-url", f"{base}/acme", *schemas, *extra])
        return code, capsys.readouterr().out

    code, still = replay(Late(secrets={"acme": SECRET}))
    assert code == 1 and f"replayed {len(files)}: {len(files)} STILL FAILING" in still, still
    assert f"(expected in time, within {WAITS:g} s)" in still
    late = re.search(rf"< the target answered after (\d\.\d\d) s, later than the {WAITS:g} s acme v1 waits for an "
                     r"answer \(the recording's 'within'\)", still)
    assert late and float(late[1]) >= LATE - 0.01, still
    code, fixed = replay(Receiver(secrets={"acme": SECRET}))
    assert code == 0 and f"replayed {len(files)}: {len(files)} FIXED" in fixed, fixed
    code, as_json = replay(Late(secrets={"acme": SECRET}), "--json")
    results = json.loads(as_json)["results"]
    assert code == 1 and [(r["within"], r["verdict"]) for r in results] == [(WAITS, "STILL FAILING")] * len(files)

    # A file written before 'within' was recorded replays as it did: held to --timeout alone.
    old = tmp_path / "old"
    old.mkdir()
    for f, d in zip(files, data, strict=True):
        (old / f.name).write_text(json.dumps({k: v for k, v in d.items() if k != "within"}))
    code, as_before = replay(Late(secrets={"acme": SECRET}), where=old)
    assert code == 0 and f"replayed {len(files)}: {len(files)} FIXED" in as_before, as_before
    assert "(expected in time)" in as_before
    code, stricter = replay(Late(secrets={"acme": SECRET}), "--timeout", f"{WAITS:g}", where=old)
    assert code == 1 and f"replayed {len(files)}: {len(files)} STILL FAILING" in stricter, stricter


def test_a_replay_timeout_stricter_than_the_recorded_wait_is_the_one_that_judges(
        tmp_path: Path, waiting_platform: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The stricter of --timeout and the recording's 'within' judges: a 'within' longer than --timeout does not
    stretch it."""
    from tests import sixth_platform

    body = json.dumps(sixth_platform.EXAMPLES["result.scored"])
    rec = {"hookproof_recording": 1, "kind": "failure", "id": "late", "platform": "acme", "contract": "v1",
           "event": "result.scored", "method": "POST", "path": "/acme", "auth": "none", "expected": "in time",
           "within": 5, "headers": [["Content-Type", "application/json"], ["X-Acme-Event", "result.scored"]],
           "body_text": body, "check": "answers_in_time"}
    (tmp_path / "late.json").write_text(json.dumps(rec))
    port = free_port()
    with serving(Late(secrets={"acme": SECRET}), port=port) as base:
        code = main(["replay", str(tmp_path / "late.json"), "--target-url", f"{base}/acme", "--schemas",
                     str(waiting_platform), "--timeout", f"{WAITS:g}"])
    out = capsys.readouterr().out
    assert code == 1 and "replayed 1: 1 STILL FAILING" in out, out
    assert f"gave no answer within {WAITS:g} s" in out or "more than --timeout" in out, out


@pytest.mark.parametrize("within", [True, 0, -1, "5", 1e9, float("nan")])
def test_replay_refuses_a_within_that_is_no_time(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 within: object) -> None:
    rec = {"hookproof_recording": 1, "kind": "failure", "id": "x", "platform": "codewars", "method": "POST",
           "path": "/", "headers": [], "body_text": "{}", "expected": "in time", "within": within}
    (tmp_path / "bad.json").write_text(json.dumps(rec))
    assert main(["replay", str(tmp_path / "bad.json"), "--target-url", "http://127.0.0.1:9/"]) == 2
    assert "bad.json: 'within'" in capsys.readouterr().err


def test_within_is_kept_and_only_written_when_there_is_one() -> None:
    from hookproof.live.recording import Recording, from_json

    rec = Recording(kind="failure", id="x", platform="acme", method="POST", path="/", headers=(), body=b"{}",
                    expected="in time", within=0.3)
    assert rec.to_json()["within"] == 0.3 and from_json(rec.to_json(), "x") == rec
    unbound = Recording(**{**rec.__dict__, "within": None})
    assert "within" not in unbound.to_json() and from_json(unbound.to_json(), "x").within is None


def test_the_replay_line_carries_the_runs_response_timeout(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A run judged by --hookproof-response-timeout 0.3: a replay by its own 10 s would call an answer after 1 s
    FIXED. The line it suggests gives the run's bound (and none where the run used replay's own, 10 s)."""
    from hookproof.cli import build_parser
    from hookproof.conformance.failure_files import REPLAY_TIMEOUT

    assert build_parser().parse_args(["replay", "x"]).timeout == REPLAY_TIMEOUT  # the two defaults agree
    port, folder = free_port(), tmp_path / "failures"
    slow = _run(pytester, broken.Slow(secrets={"codewars": SECRET}), port, folder, "--hookproof-response-timeout",
                "0.3", "-k", "answers_in_time")
    assert f"hookproof replay {folder} --target-url http://127.0.0.1:{port}/codewars --timeout 0.3" in \
        slow.stdout.str(), slow.stdout.str()
    again = _run(pytester, broken.TwoIndependentBugs(secrets={"codewars": SECRET}), port, tmp_path / "f2",
                 "-k", "documented_examples")
    assert f"--target-url http://127.0.0.1:{port}/codewars\n" in again.stdout.str() + "\n"
    assert "--timeout" not in again.stdout.str().split("failing cases:")[1].splitlines()[0]
