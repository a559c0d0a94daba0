"""``hookproof validate`` as a user runs it: exit 0 conforms, 1 does not, 2 bad input, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hookproof.cli import main
from hookproof.schema_store import builtin_root

ROOT = Path(str(builtin_root()))


def run(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hookproof", *args], capture_output=True, text=True, cwd=cwd, input=stdin, timeout=60
    )


def test_conforming_delivery_exits_0(tmp_path: Path) -> None:
    result = run(
        "validate", "--platform", "doselect", str(ROOT / "doselect/examples/solution.submit.json"), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "conforms to doselect solution.submit, contract document" in result.stdout


def test_codewars_needs_its_event_header(tmp_path: Path) -> None:
    body = ROOT / "codewars/examples/user.rank_upgraded.json"
    ok = run("validate", "--platform", "codewars", "--header", "X-Webhook-Event: user", str(body), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout
    wrong = run("validate", "--platform", "codewars", "--header", "X-Webhook-Event: webhook", str(body), cwd=tmp_path)
    assert wrong.returncode == 1
    assert "'webhook.rank_upgraded' is not a codewars document event" in wrong.stdout
    missing = run("validate", "--platform", "codewars", str(body), cwd=tmp_path)
    assert missing.returncode == 2, "a missing event header is bad input, not a non-conforming delivery"
    assert "travels in the X-Webhook-Event header; give it with --header" in missing.stderr


def test_nonconforming_delivery_exits_1_with_pointer_expectation_and_source(tmp_path: Path) -> None:
    body = json.loads((ROOT / "doselect/examples/test-session.end.json").read_text())
    body["meta"]["delivery_id"] = "not-a-uuid"
    del body["object"]["email"]
    file = tmp_path / "delivery.json"
    file.write_text(json.dumps(body))
    result = run("validate", "--platform", "doselect", str(file))
    assert result.returncode == 1
    assert ("/meta/delivery_id: 'not-a-uuid' is not a 'uuid' (expected a valid uuid) [DoSelect API documentation, "
            "Webhooks <https://docs.doselect.com/#webhooks>" in result.stdout)
    assert "/object/email:" in result.stdout and "required property 'email'" in result.stdout
    assert result.stderr == ""


def test_standard_input_is_read_with_dash() -> None:
    body = (ROOT / "viasto/examples/project_changed.json").read_text()
    result = run("validate", "--platform", "viasto", "-", stdin=body)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--platform", "doselect", "missing.json"], "missing.json: no such file"),
        (["--platform", "nope", "x.json"], "unknown platform 'nope'"),
        (
            ["--platform", "doselect", "--event", "solution.delete", "x.json"],
            "unknown doselect event 'solution.delete'",
        ),
        (
            ["--platform", "doselect", "--contract", "nope", "x.json"],
            "unknown doselect contract 'nope'",
        ),
        (["--platform", "doselect", "--header", "no-colon", "x.json"], "is not of the form 'Name: value'"),
        (["--platform", "doselect", "VERBATIM"], "not JSON: Expecting value at line 3"),
        (["--platform", "doselect", "BINARY"], "not UTF-8 text"),
        (["--platform", "doselect", "DEEP"], "JSON nested too deeply to read"),
        (["--platform", "doselect", "FIFO"], "fifo: not a regular file (a device or a pipe)"),  # never read: no hang
        (["--platform", "doselect", "/dev/null"], "/dev/null: not a regular file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe{}")
    (tmp_path / "deep.json").write_bytes(b"[" * 100_000)
    os.mkfifo(tmp_path / "fifo")
    args = [
        {
            "VERBATIM": str(ROOT / "doselect/examples/verbatim/solution.submit.txt"),
            "BINARY": str(tmp_path / "bin.json"),
            "DEEP": str(tmp_path / "deep.json"),
            "FIFO": str(tmp_path / "fifo"),
        }.get(a, a)
        for a in args
    ]
    result = run("validate", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_strict_validation_of_a_deeply_nested_body_is_a_verdict() -> None:
    from hookproof import validation

    body = json.loads((ROOT / "doselect/examples/solution.submit.json").read_text())
    deep: list[object] = []
    for _ in range(sys.getrecursionlimit() * 2):  # deeper than jsonschema (and repr) can recurse
        deep = [deep]
    problems = validation.check_instance("https://hookproof.dev/schemas/doselect/events/solution.submit.json",
                                         {**body, "deep": deep}, strict=True)
    assert [p.message for p in problems] == ["does not conform; it is nested too deeply for the problems to be listed"]


def test_list_names_every_platform() -> None:
    result = run("list")
    assert result.returncode == 0
    for platform in ("doselect", "qualified", "xobin", "viasto", "codewars"):
        assert f"{platform}  (" in result.stdout
    assert "  contract document: the Codewars webhooks document" in result.stdout
    assert "source: Codewars API documentation, Webhooks <https://dev.codewars.com/#webhooks>" in result.stdout


def test_run_is_the_conformance_suite_from_any_directory(tmp_path: Path) -> None:
    result = run("run", "--platform", "viasto", "-q", "-k", "receiver and documented", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "viasto     receiver       3 passed    0 failed    0 not checked   CONFORMS" in result.stdout
    bad = run("run", "--platform", "nope", cwd=tmp_path)
    assert bad.returncode == 4 and "unknown --platform 'nope'" in bad.stderr
    long = run("run", "--hookproof-platform=viasto", "--examples=1", "-q", "-k", "receiver-viasto-no_redirect",
               cwd=tmp_path)
    assert long.returncode == 0 and "viasto     receiver       1 passed" in long.stdout


def test_run_leaves_out_the_pytest_plugins_the_checks_do_not_use(tmp_path: Path) -> None:
    """anyio's, respx's, pytest-httpserver's and typeguard's plugins cost a run's start-up their imports (130-200
    ms together); nothing in the suite uses them. The dev extra installs all four, so each is really left out."""
    import importlib.metadata

    from hookproof.cli import UNUSED_PLUGINS

    installed = {ep.name: ep.dist.name for ep in importlib.metadata.entry_points(group="pytest11")
                 if ep.dist is not None}
    assert set(UNUSED_PLUGINS) <= set(installed), installed
    result = run("run", "--platform", "viasto", "--collect-only", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    plugins = next(line for line in result.stdout.splitlines() if line.startswith("plugins:"))
    loaded = {word.rsplit("-", 1)[0] for word in plugins.removeprefix("plugins:").replace(",", " ").split()}
    assert "hookproof" in loaded and "xdist" in loaded and "hypothesis" in loaded, plugins
    assert not loaded & ({*UNUSED_PLUGINS} | {installed[name] for name in UNUSED_PLUGINS}), plugins


def test_export_writes_a_vendorable_copy_and_a_strict_variant(tmp_path: Path) -> None:
    import json as json_

    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    plain, strict = tmp_path / "plain", tmp_path / "strict"
    assert run("export", str(plain)).returncode == 0
    original = ROOT / "qualified/events/challenge.created.json"
    assert (plain / "qualified/events/challenge.created.json").read_text() == original.read_text()
    result = run("export", "--strict", str(strict))
    assert result.returncode == 0 and "wrote the strict variant" in result.stdout

    def registry(folder: Path) -> Registry:
        docs = [json_.loads(p.read_text()) for p in folder.rglob("*.json") if "examples" not in p.parts]
        docs = [d for d in docs if "$id" in d]
        resources = ((d["$id"], Resource.from_contents(d, default_specification=DRAFT202012)) for d in docs)
        return Registry().with_resources(resources)

    uri = "https://hookproof.dev/schemas/strict/qualified/events/challenge.created.json"
    reg = registry(strict)
    validator = Draft202012Validator(reg.contents(uri), registry=reg)
    assert validator.is_valid({"event": "challenge.created", "data": {"id": 1}})
    errors = list(validator.iter_errors({"event": "challenge.created", "data": {"id": 1, "difficulty": "hard"}}))
    assert [e.validator for e in errors] == ["unevaluatedProperties"]
    again = run("export", str(plain))
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr


def test_every_short_spelling_of_hookproof_run_is_an_option_of_the_plugin(pytester: pytest.Pytester) -> None:
    from hookproof.conformance.options import SHORT_FLAGS, SHORT_OPTIONS

    shown = pytester.runpytest("--help").stdout.str()
    missing = [name for name in (*SHORT_OPTIONS, *SHORT_FLAGS) if f"--hookproof-{name}" not in shown]
    assert not missing


@pytest.mark.parametrize("argv", [["replay"], ["bogus"], ["trigger", "codewars"], ["validate", "--platform"]])
def test_a_usage_error_is_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1 and "(see --help)" in err, err


@pytest.mark.parametrize(("argv", "says"), [
    (["run", "--platform"], "argument --platform: expected one argument"),
    (["run", "--examples=abc"], "--examples 'abc' is not a whole number"),
    (["run", "--hookproof-platform"], "argument --hookproof-platform: expected one argument"),
    (["run", "--bogus"], "unrecognized arguments: --bogus (values not shown)"),
    (["run", "--secrt=hunter2", "stray-value"], "unrecognized arguments: --secrt (values not shown)"),
    (["run", "--secrt", "-hunter2"], "argument -h/--help: ignored explicit argument (not shown)"),
    # blank: an unset CI variable, never a run with the secret of $HOOKPROOF_SECRET, or none, or no folder
    (["run", "--co", "--platform", "codewars", "--secret", ""],
     "--secret is empty: give a value, or leave the option out (default: $HOOKPROOF_SECRET)"),
    (["run", "--co", "--hookproof-secret="],
     "--hookproof-secret is empty: give a value, or leave the option out (default: $HOOKPROOF_SECRET)"),
    (["run", "--co", "--schemas", " "],
     "--schemas is empty: give a value, or leave the option out (default: $HOOKPROOF_SCHEMAS)"),
    (["run", "--co", "--report", ""], "--report is empty: give a value, or leave the option out to write no HTML "
     "report"),
])
def test_a_bad_option_of_run_is_one_line_spelled_as_typed(argv: list[str], says: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """pytest's own answer names ``pytest.main()`` and adds its usage, ini file and root folder."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == pytest.ExitCode.USAGE_ERROR
    assert [line for line in err.splitlines() if line.strip()] == [f"ERROR: hookproof: {says}"], err


TRIGGER = ["trigger", "codewars", "user.honor_changed", "--to", "http://127.0.0.1:9/"]


@pytest.mark.parametrize(("argv", "says"), [
    ([*TRIGGER, "--secrt", "hunter2"], "hookproof: error: unrecognized arguments: --secrt (values not shown)"),
    ([*TRIGGER, "--secrt=hunter2", "--json"], "hookproof: error: unrecognized arguments: --secrt (values not shown)"),
    # the word after an unknown option may be its value, even where it looks like an option
    ([*TRIGGER, "--secrt", "--hunter2"], "hookproof: error: unrecognized arguments: --secrt (values not shown)"),
    ([*TRIGGER, "--secrt", "-hunter2"],
     "hookproof trigger: error: argument -h/--help: ignored explicit argument (not shown)"),
    ([*TRIGGER, "--se=hunter2"],
     "hookproof trigger: error: ambiguous option: --se=... could match --secret, --seed, --set"),
    (["listen", "--platform", "codewars", "--secrt=hunter2"],
     "hookproof: error: unrecognized arguments: --secrt (values not shown)"),
    (["validate", "--platform", "codewars", "delivery.json", "hunter2"],
     "hookproof: error: unrecognized arguments: 1 word no option takes (not shown: a secret typed without its "
     "option would be one)"),
])
def test_a_mistyped_option_never_repeats_the_value_it_carries(argv: list[str], says: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """argparse repeats what it cannot parse: a mistyped ``--secret`` would put the secret into a CI log."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    assert exited.value.code == 2 and captured.err == f"{says} (see --help)\n", captured.err
    assert "hunter2" not in captured.out + captured.err and "unter2" not in captured.err


@pytest.mark.parametrize(("argv", "names"), [
    (["--secrt=hunter2"], "--secrt"),
    (["--secrt", "hunter2"], "--secrt"),  # pytest takes hunter2 for a file: not repeated either
    (["-x", "--secrt=hunter2", "--also=hunter2"], "--secrt --also"),
])
def test_plain_pytest_names_an_unknown_option_without_its_value(pytester: pytest.Pytester, argv: list[str],
                                                                names: str) -> None:
    """Without ``hookproof run`` too: the installed plugin refuses what pytest would refuse, values hidden."""
    result = pytester.runpytest(*argv)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "hunter2" not in result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([f"ERROR: unrecognized arguments: {names} (values not shown)", "  inifile: *",
                                 f"  rootdir: {pytester.path}"])


def test_plain_pytest_still_takes_its_conftests_options_and_answers_help(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("def pytest_addoption(parser):\n    parser.addoption('--mine')\n")
    pytester.makepyfile("def test_mine(request):\n    assert request.config.getoption('mine') == 'x'\n")
    pytester.runpytest("--mine=x").assert_outcomes(passed=1)
    helped = pytester.runpytest("--help", "--bogus=1")
    assert helped.ret == pytest.ExitCode.OK and "--hookproof-secret" in helped.stdout.str()


@pytest.mark.parametrize("options", [[], ["--bundle"], ["--format", "openapi"]])
def test_export_into_a_file_is_one_line(tmp_path: Path, options: list[str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "schemas.txt"
    target.write_text("mine\n")
    assert main(["export", *options, str(target)]) == 2
    assert capsys.readouterr().err == f"hookproof: {target} is a file, not a folder; choose an empty folder\n"
    assert target.read_text() == "mine\n"


@pytest.mark.parametrize("folder", ["", "  "])
def test_export_into_a_blank_folder_name_is_one_line(tmp_path: Path, folder: str,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``Path("")`` is the current folder: ``export "$UNSET"`` wrote the whole set there and said so."""
    monkeypatch.chdir(tmp_path)
    assert main(["export", folder]) == 2
    assert capsys.readouterr().err == "hookproof: the folder to write to is empty: name a folder (an unset variable?)\n"
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [["list"], ["validate", "--platform", "doselect", "x.json"], ["export", "out"],
                                  ["trigger", "codewars", "user.honor_changed", "--to", "http://127.0.0.1:9/"]])
@pytest.mark.parametrize("blank", ["", " "])
def test_a_blank_schemas_folder_is_one_line_on_every_command(tmp_path: Path, argv: list[str], blank: str,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """``--schemas "$UNSET"`` was read as the current folder (a traceback for list, a pass for validate)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOOKPROOF_SCHEMAS", raising=False)
    assert main([*argv, "--schemas", blank]) == 2
    assert capsys.readouterr().err == ("hookproof: --schemas is empty: give a folder of platforms, or leave the "
                                       "option out (default: $HOOKPROOF_SCHEMAS)\n")
    assert not list(tmp_path.iterdir())


def test_a_blank_hookproof_schemas_variable_still_means_the_built_in_platforms(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOOKPROOF_SCHEMAS", "")
    assert main(["list", "--platform", "codewars"]) == 0
    assert capsys.readouterr().out.startswith("codewars  (")


def test_a_blank_secret_of_run_is_refused_even_with_hookproof_secret_set(monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``--secret "$UNSET"`` is a mistake to name, not a reason to use another secret silently."""
    monkeypatch.setenv("HOOKPROOF_SECRET", "from-the-environment")
    assert main(["run", "--co", "--platform", "codewars", "--secret", ""]) == pytest.ExitCode.USAGE_ERROR
    err = capsys.readouterr().err
    assert "ERROR: hookproof: --secret is empty" in err and "from-the-environment" not in err


@pytest.mark.parametrize(("options", "env", "says"), [
    (["--secret", "abc", "--secret-env"], None,
     "give the secret with --secret or with --secret-env ($HOOKPROOF_SECRET), not both"),
    (["--secret", "abc", "--secret-env"], "from-the-environment",
     "give the secret with --secret or with --secret-env ($HOOKPROOF_SECRET), not both"),
    (["--secret-env"], None, "--secret-env: $HOOKPROOF_SECRET is not set; set it to the secret, or leave "
     "--secret-env out to check no authentication"),
    (["--secret-env"], " ", "--secret-env: $HOOKPROOF_SECRET is empty; set it to the secret, or leave "
     "--secret-env out to check no authentication"),
    (["--secret", ""], None, "--secret is empty: give the secret, or leave the option out to check no authentication"),
])
def test_a_secret_validate_was_asked_to_check_with_and_cannot_is_one_line(
        options: list[str], env: str | None, says: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """It was dropped: the delivery conformed, with its authentication "not checked: give the secret with
    --secret-env", and exit 0, though that is what had been given."""
    if env is None:
        monkeypatch.delenv("HOOKPROOF_SECRET", raising=False)
    else:
        monkeypatch.setenv("HOOKPROOF_SECRET", env)
    body = ROOT / "codewars/examples/user.rank_upgraded.json"
    assert main(["validate", "--platform", "codewars", "--header", "X-Webhook-Event: user", *options, str(body)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"hookproof: {says}\n" and not captured.out
    assert "abc" not in captured.err and "from-the-environment" not in captured.err


def test_secret_env_checks_the_authentication_with_hookproof_secret(monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOOKPROOF_SECRET", "s3cret")
    body = ROOT / "codewars/examples/user.rank_upgraded.json"
    code = main(["validate", "--platform", "codewars", "--header", "X-Webhook-Event: user",
                 "--header", "X-Webhook-Secret: s3cret", "--secret-env", str(body)])
    out = capsys.readouterr().out
    assert code == 0 and "conforms to codewars" in out and "not checked" not in out, out


@pytest.mark.parametrize(("option", "path", "says"), [
    ("--failures", "binf.json", "--failures '{tmp}/binf.json' is a file, not a folder"),
    ("--hookproof-failures", "binf.json/failures", "--hookproof-failures '{tmp}/binf.json/failures': "
     "'{tmp}/binf.json' is a file, not a folder"),
    ("--report", "binf.json/report.html", "--report '{tmp}/binf.json/report.html': '{tmp}/binf.json' is a file, "
     "not a folder"),
    ("--report", "folder", "--report '{tmp}/folder' is a folder, not a file"),
])
def test_a_failures_folder_or_report_that_cannot_be_written_is_refused_before_any_test(
        tmp_path: Path, option: str, path: str, says: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every check ran, and only at the end did the run say it "could not write the failure files to
    binf.json: File exists" (the report: a traceback after the summary): what the run found there was lost."""
    (tmp_path / "binf.json").write_text("{}")
    (tmp_path / "folder").mkdir()
    code = main(["run", "--co", "--platform", "viasto", f"{option}={tmp_path / path}"])
    err = capsys.readouterr().err
    assert code == pytest.ExitCode.USAGE_ERROR
    assert [line for line in err.splitlines() if line.strip()] == [f"ERROR: hookproof: {says.format(tmp=tmp_path)}"]


@pytest.mark.parametrize("option", ["--failures", "--report"])
def test_a_failures_folder_or_report_in_folders_yet_to_be_made_is_taken(tmp_path: Path, option: str) -> None:
    assert main(["run", "--co", "--platform", "viasto", option, str(tmp_path / "new" / "deep" / "x")]) == 0


@pytest.mark.parametrize(("given", "code"), [("wörd-secret", 0), ("wörd-secreT", 1)])
def test_a_non_ascii_secret_typed_in_a_header_is_judged_as_sent(given: str, code: int,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    example = str(ROOT / "codewars/examples/user.rank_upgraded.json")
    assert main(["validate", "--platform", "codewars", "--header", "X-Webhook-Event: user", "--header",
                 f"X-Webhook-Secret: {given}", "--secret", "wörd-secret", example]) == code, capsys.readouterr().out


def test_debug_with_a_secret_on_the_command_line_is_refused_before_pytest_logs_it(tmp_path: Path) -> None:
    """pytest's --debug writes the whole command line into pytestdebug.log: a --secret given there would be kept
    in clear. Refused, before the file is written; a secret from the environment is not on the command line."""
    refused = run("run", "--secret", "Sup3rS3cretValue42", "--debug", "-k", "nothing", cwd=tmp_path)
    assert refused.returncode == 4, refused.stdout[-1500:] + refused.stderr[-1500:]
    assert "--debug writes the whole command line into its log file, and this one holds --secret: pass it in " \
        "$HOOKPROOF_SECRET instead" in refused.stderr
    assert "Sup3rS3cretValue42" not in refused.stdout + refused.stderr and not list(tmp_path.glob("*.log"))
