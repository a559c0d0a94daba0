"""Receivers built the way users build them from hookproof's exports pass hookproof's receiver checks, for every
platform: one in Node (node:http + ajv against the exported schemas, tests/node/receiver.js), one in Python with
the pydantic models datamodel-codegen generates from the bundled export. If the suite sent a value one of these
validators refuses (a UTF-8 mailbox as `email`, a leap second for pydantic), they would fail here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from hookproof import auth, catalog
from hookproof.bundle import bundle
from hookproof.export import export, export_described
from hookproof.reference_impl.serving import serving
from tests import node_tools
from tests.live_helpers import stop

SUITE = ("--pyargs", "hookproof.conformance")
SECRET = "vendored-receiver-secret"
EXAMPLES = "2"


def _schemes(platform: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in s._asdict().items() if k != "source"}
            for s in auth.schemes_of(catalog.platform(platform).contracts)]


@pytest.fixture(scope="module")
def node_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Node receiver, on a loopback port, for the module; its base URL."""
    folder = tmp_path_factory.mktemp("exported")
    export(folder)
    schemas = [d for d in (json.loads(p.read_text(encoding="utf-8")) for p in folder.rglob("*.json"))
               if isinstance(d, dict) and "$schema" in d and "$id" in d]
    platforms = {p: {"schemas": sorted({e.schema_id for c in catalog.platform(p).contracts for e in c.events.values()}),
                     "auth": _schemes(p)} for p in catalog.webhook_platforms()}
    config = folder / "receiver.json"
    config.write_text(json.dumps({"schemas": schemas, "secret": SECRET, "platforms": platforms}), encoding="utf-8")
    home = node_tools.node_modules()
    errors = (folder / "receiver.stderr").open("w")  # a file, so a chatty receiver never blocks on a full pipe
    env = {**os.environ, "NODE_PATH": str(home / "node_modules")}
    proc = subprocess.Popen(["node", str(node_tools.NODE_DIR / "receiver.js"), str(config)], stdout=subprocess.PIPE,
                            stderr=errors, text=True, env=env)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("listening "), \
            f"the Node receiver did not start: {line!r} {(folder / 'receiver.stderr').read_text()[-2000:]}"
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        stop(proc)
        errors.close()


class PydanticReceiver:
    """A WSGI receiver that accepts a delivery when one of its platform's generated models accepts the body."""

    def __init__(self, models: dict[str, list[Any]]) -> None:
        self.models = models

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        platform = request.path.strip("/")
        if request.method != "POST" or platform not in self.models:
            return Response("{}", status=404, content_type="application/json")
        if request.mimetype != "application/json":
            return Response('{"error": "not JSON"}', status=415, content_type="application/json")
        raw = request.get_data(cache=True)
        try:
            body = json.loads(raw)
        except ValueError:
            return Response('{"error": "malformed"}', status=400, content_type="application/json")
        schemes = auth.schemes_of(catalog.platform(platform).contracts)
        given = [s for s in schemes if auth.present(s, request.headers)]
        if schemes and not given:
            return Response("{}", status=401, content_type="application/json")
        if auth.verify_schemes(given, dict(request.headers), raw, body, SECRET):
            return Response("{}", status=403, content_type="application/json")
        for model in self.models[platform]:
            try:
                model.model_validate(body)
            except Exception:
                continue
            return Response('{"ok": true}', status=200, content_type="application/json")
        return Response('{"error": "invalid"}', status=400, content_type="application/json")


@pytest.fixture(scope="module")
def pydantic_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from datamodel_code_generator import DataModelType, InputFileType, generate
    from datamodel_code_generator.format import Formatter

    folder = tmp_path_factory.mktemp("bundle")
    export_described(folder, "jsonschema", bundled=True)
    models: dict[str, list[Any]] = {}
    for platform in catalog.webhook_platforms():
        for spec in catalog.platform(platform).contracts:
            target = folder / f"models_{platform}_{spec.name.replace('-', '_')}.py"
            generate(folder / platform / f"{spec.name}.schema.json", input_file_type=InputFileType.JsonSchema,
                     output=target, output_model_type=DataModelType.PydanticV2BaseModel,
                     formatters=[Formatter.BUILTIN])
            module_spec = importlib.util.spec_from_file_location(target.stem, target)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[target.stem] = module
            module_spec.loader.exec_module(module)
            models.setdefault(platform, []).extend(getattr(module, n) for n in bundle(spec).events.values())
    with serving(PydanticReceiver(models)) as base:
        yield base


def _passes(pytester: pytest.Pytester, url: str, platform: str) -> None:
    result = pytester.runpytest(*SUITE, "--target-url", url, "--hookproof-platform", platform,
                                "--hookproof-secret", SECRET, "--hookproof-examples", EXAMPLES, "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert result.ret == 0 and outcomes.get("failed", 0) == 0, result.stdout.str()[-4000:]
    assert outcomes.get("passed", 0) >= 8


@pytest.mark.parametrize("platform", catalog.webhook_platforms())
def test_node_ajv_receiver_passes(pytester: pytest.Pytester, node_receiver: str, platform: str) -> None:
    _passes(pytester, f"{node_receiver}/{platform}", platform)


@pytest.mark.parametrize("platform", catalog.webhook_platforms())
def test_pydantic_receiver_passes(pytester: pytest.Pytester, pydantic_receiver: str, platform: str) -> None:
    _passes(pytester, f"{pydantic_receiver}/{platform}", platform)
