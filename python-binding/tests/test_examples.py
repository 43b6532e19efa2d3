"""examples-python, relayed through the gateway in workerd as deployed, and its SAM template."""

from __future__ import annotations

import hashlib
import json
import os
import re

import pytest

from .conftest import ROOT
from .test_gateway import fetch, open_stream

EXAMPLES = ROOT / "examples-python"


def test_the_sse_example_streams_tokens_in_order(relay_factory):
    relay = relay_factory("sse:handler", cwd=EXAMPLES)
    conn, res = open_stream(f"{relay.url}/?prompt=hello")
    assert res.status == 200
    assert res.getheader("content-type").startswith("text/event-stream")
    text = res.read().decode()
    conn.close()
    ids = [int(i) for i in re.findall(r"^id: (\d+)$", text, re.M)]
    assert ids == list(range(len(ids))) and len(ids) > 5
    tokens = [json.loads(d) for d in re.findall(r"^data: (\".*\")$", text, re.M)]
    assert "".join(tokens).strip() == 'You asked: "hello". Here is an answer, one token at a time.'
    assert text.endswith("event: done\ndata: {}\n\n")


def test_the_upload_example_hashes_what_streamed_in(relay_factory):
    relay = relay_factory("upload:handler", cwd=EXAMPLES)
    body = os.urandom(5_000_000)
    status, answer = fetch(f"{relay.url}/", "POST", body)
    assert status == 200
    assert json.loads(answer) == {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_the_generator_example_answers_its_lines(relay_factory):
    relay = relay_factory("generator:handler", cwd=EXAMPLES)
    status, body = fetch(f"{relay.url}/")
    assert status == 200
    assert body.decode() == "".join(f"line {i} of 5\n" for i in range(1, 6))


def test_the_sam_template_names_handlers_that_exist_and_grants_both_permissions():
    yaml = pytest.importorskip("yaml")
    template = yaml.safe_load((EXAMPLES / "template.yaml").read_text())
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert re.fullmatch(r"python3\.(9|1[0-3])", template["Globals"]["Function"]["Runtime"])
    resources = template["Resources"]
    functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert len(functions) == 3
    for fn in functions.values():
        module, attr = fn["Properties"]["Handler"].rsplit(".", 1)
        source = (EXAMPLES / f"{module}.py").read_text()
        assert re.search(rf"^{attr} = ", source, re.M), fn["Properties"]["Handler"]
    granted = sorted(
        r["Properties"]["FunctionName"]["Ref"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["Action"] == "lambda:InvokeFunction" and r["Properties"].get("InvokedViaFunctionUrl") is True
    )
    assert granted == sorted(functions)
