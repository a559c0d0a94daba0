"""``pip install .`` ships the schemas: a built wheel carries every schema file, and installed from it,
the catalog and ``hookproof validate`` work from any directory (issue 2)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _build_requirements() -> list[str]:
    import tomllib

    return list(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip install .`` builds, by the backend ``[build-system]`` names, from the tracked files. It
    is built in this environment (``--no-build-isolation``), whose dev extra holds what ``[build-system]``
    requires (checked here), rather than in the fresh environment pip would make and fill at every run."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    for text in _build_requirements():
        requirement = Requirement(text)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            pytest.fail(f"{requirement.name} ([build-system] requires it) is not installed: pip install -e '.[dev]'")
        assert requirement.specifier.contains(installed, prereleases=True), (text, installed)
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source") / "hookproof"  # the tracked files only: no stale build/ folder
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60, check=True).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                            str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    (found,) = out.glob("hookproof-*.whl")
    return found


def test_wheel_ships_every_schema_example_and_the_plugin_entry_point(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    on_disk = {f"hookproof/schemas/{p.relative_to(ROOT / 'schemas').as_posix()}"
               for p in (ROOT / "schemas").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert on_disk <= names, sorted(on_disk - names)
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"hookproof"}, "one top-level import package, nothing with a generic name beside it"
    assert {"hookproof/conformance/plugin.py", "hookproof/reference_impl/sender.py", "hookproof/docs/decisions.md",
            "hookproof/py.typed"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "hookproof = hookproof.conformance.plugin" in text and "hookproof = hookproof.cli:main" in text


def test_installed_wheel_validates_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    body = tmp_path / "delivery.json"
    body.write_text('{"action": "honor_changed", "user": {"id": "1", "honor": 1, "honor_delta": 0}}')
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import hookproof, hookproof.schemas; "
            "assert hookproof.__file__.startswith(sys.argv[1]), hookproof.__file__; "
            "from hookproof.cli import main; sys.exit(main(sys.argv[2:]))")
    result = subprocess.run([sys.executable, "-I", "-c", code, str(target), "validate", "--platform", "codewars",
                             "--header", "X-Webhook-Event: user", str(body)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conforms to codewars user.honor_changed" in result.stdout
