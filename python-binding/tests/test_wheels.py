"""The built distributions (python-binding/dist, from build_python in scripts/lib.sh): abi3
manylinux2014 wheels for x86_64 and aarch64, the pure wheel (no native module) and an sdist. The x86_64 wheel installs into a
fresh venv with no Rust on PATH and works there, on every CPython this machine has from 3.9
up; auditwheel confirms the glibc floor; the aarch64 wheel imports under qemu-user in an
aarch64 CPython (ARM64_PYTHON, unpacked from Debian's arm64 packages)."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest

DIST = Path(__file__).resolve().parents[1] / "dist"
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: The newest glibc a wheel may need: Lambda's Python 3.9-3.11 runtimes (Amazon Linux 2) have 2.26.
GLIBC_FLOOR = (2, 26)

pytestmark = pytest.mark.skipif(not DIST.is_dir(), reason="build the distributions first (build_python)")


def wheel(arch: str) -> Path:
    found = sorted(DIST.glob(f"lambda_relay-*-cp39-abi3-*{arch}.whl"))
    assert len(found) == 1, f"one abi3 wheel for {arch} in {DIST}: {[p.name for p in DIST.iterdir()]}"
    return found[0]


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_wheels_are_abi3_manylinux_within_the_glibc_floor(arch):
    path = wheel(arch)
    assert "manylinux2014" in path.name or "manylinux_2_17" in path.name, path.name
    auditwheel = Path(sys.executable).with_name("auditwheel")
    out = subprocess.run([str(auditwheel), "show", str(path)], capture_output=True, text=True, check=True).stdout
    versions = [tuple(map(int, m)) for m in re.findall(r"GLIBC_(\d+)\.(\d+)", out)]
    assert versions, out
    assert max(versions) <= GLIBC_FLOOR, out
    assert re.search(r"consistent with the following platform tag:\s*\"manylinux_2_(\d+)_" + arch, out), out
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    assert {"lambda_relay/__init__.py", "lambda_relay/py.typed", "lambda_relay/_native.pyi"} <= names
    assert any(n.startswith("lambda_relay/_native") and n.endswith(".so") for n in names)


def test_the_sdist_holds_the_crate_and_the_package():
    (sdist,) = DIST.glob("lambda_relay-*.tar.gz")
    with tarfile.open(sdist) as t:
        names = t.getnames()
    # The binding's crate and the core crate it builds on, so pip can build it without the repository.
    for crate in ("python-binding", "core"):
        assert any(n.endswith(f"/{crate}/src/lib.rs") for n in names), (crate, names[:20])
    assert any(n.endswith("lambda_relay/_asgi.py") for n in names)
    assert any(n.endswith("pyproject.toml") for n in names)


def pythons() -> list[str]:
    """Every CPython from 3.9 up on this machine: this one, and pyenv's if there are any."""
    found = {os.path.realpath(sys.executable): sys.executable}
    for candidate in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3"))):
        version = re.search(r"/3\.(\d+)\.", candidate)
        if version and int(version.group(1)) >= 9:
            found.setdefault(os.path.realpath(candidate), candidate)
    return list(found.values())


@pytest.mark.parametrize("python", pythons())
def test_the_x86_64_wheel_installs_and_works_without_rust(python, tmp_path):
    env = {**os.environ, "PATH": CLEAN_PATH}
    env.pop("VIRTUAL_ENV", None)
    assert shutil.which("cargo", path=CLEAN_PATH) is None, "cargo must not be on PATH"
    subprocess.run([python, "-m", "venv", str(tmp_path / "venv")], check=True, env=env)
    venv_python = str(tmp_path / "venv" / "bin" / "python")
    subprocess.run([venv_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index", str(wheel("x86_64"))], check=True, env=env)
    script = (
        "import sys, lambda_relay\n"
        "from lambda_relay import stream_handler\n"
        "h = stream_handler(lambda r: (200, {'content-type': 'text/plain'}, iter(['di', 'rect ', r.path])))\n"
        "ev = {'rawPath': '/p', 'headers': {}, 'requestContext': {'http': {'method': 'GET'}}}\n"
        "print(sys.version_info[:2], h(ev, None)['body'], lambda_relay.RelayAborted.code)\n"
    )
    out = subprocess.run([venv_python, "-c", script], check=True, capture_output=True, text=True, env=env, cwd=tmp_path).stdout
    assert out.strip().endswith("direct /p ERR_RELAY_ABORTED"), out


PURE_CHECK = r"""
import json, os, sys, urllib.request
import lambda_relay
from lambda_relay import RelayEventError, RelayPlatformError, _platform, asgi, stream_handler

assert _platform.native is None, "the pure wheel has no native module"
assert not any(n.startswith("_native") and not n.endswith(".pyi") for n in os.listdir(os.path.dirname(lambda_relay.__file__)))
ev = {"rawPath": "/p", "rawQueryString": "q=1", "headers": {"host": "x.on.aws"}, "cookies": ["a=1", "b=2"],
      "requestContext": {"domainName": "x.on.aws", "http": {"method": "POST", "sourceIp": "203.0.113.9"}}, "body": "aGk=", "isBase64Encoded": True}

async def app(scope, receive, send):
    body = (await receive())["body"]
    text = f"{scope['method']} {scope['path']}?{scope['query_string'].decode()} {scope['client'][0]} {dict(scope['headers'])[b'cookie'].decode()} {body.decode()}"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"set-cookie", b"c=3")]})
    await send({"type": "http.response.body", "body": text.encode()})

result = asgi(app, lifespan="off")(ev, None)
print(json.dumps(result))
try:
    stream_handler(lambda r: (200, {}, "x"))({"requestContext": {"elb": {}}, "httpMethod": "GET"}, None)
except RelayEventError as e:
    print(e.code, "alb refused")
relayed = dict(ev, headers={"x-lambda-relay-id": "r1", "x-lambda-relay-token": "t", "x-lambda-relay-body": "inline"})
try:
    asgi(app, lifespan="off")(relayed, None)
except RelayPlatformError as e:
    print(e.code, str(e))
"""


def test_the_pure_wheel_works_without_the_native_module(tmp_path):
    """The wheel pip takes where no manylinux wheel fits (a macOS or Windows dev machine, musl):
    installed in a fresh venv, with no native module anywhere, it imports, answers direct
    invocations (an ASGI app, the portable rules), serves locally, and refuses a relayed
    invocation naming the platform and the fix."""
    (pure,) = DIST.glob("lambda_relay-*-py3-none-any.whl")
    env = {**os.environ, "PATH": CLEAN_PATH}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True, env=env)
    python = str(tmp_path / "venv" / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index", str(pure)], check=True, env=env)
    lines = subprocess.run([python, "-c", PURE_CHECK], check=True, capture_output=True, text=True, env=env, cwd=tmp_path).stdout.splitlines()
    result = json.loads(lines[0])
    assert result == {"statusCode": 200, "headers": {}, "cookies": ["c=3"], "body": "POST /p?q=1 203.0.113.9 a=1; b=2 hi"}, result
    assert lines[1] == "ERR_RELAY_EVENT alb refused"
    assert lines[2].startswith("ERR_RELAY_PLATFORM a relayed invocation needs lambda_relay's native module"), lines[2]
    assert "linux x86_64" in lines[2] and "manylinux2014_x86_64" in lines[2], lines[2]

    # The local server, as a dev machine runs it, buffered, then with --auth aws_iam (which
    # checks signatures in the native module): a clear refusal, not a traceback.
    (tmp_path / "hello.py").write_text("def handler(event, context):\n    return {'statusCode': 201, 'body': 'hello ' + event['rawPath']}\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([python, "-m", "lambda_relay", "serve", "hello:handler", "--port", str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "serving hello:handler" in server.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/there", timeout=10) as res:
            assert (res.status, res.read()) == (201, b"hello /there")
    finally:
        server.kill()
        server.wait()
    iam = subprocess.run(
        [python, "-m", "lambda_relay", "serve", "hello:handler", "--auth", "aws_iam"],
        cwd=tmp_path, env={**env, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}, capture_output=True, text=True, timeout=60,
    )
    assert iam.returncode == 2, iam
    assert iam.stderr.startswith("lambda-relay: `serve --auth aws_iam` (the signature check) needs lambda_relay's native module"), iam.stderr
    help_text = subprocess.run([python, "-m", "lambda_relay", "--help"], env=env, capture_output=True, text=True, check=True).stdout
    assert "Buffered" in help_text


@pytest.mark.skipif(not os.environ.get("ARM64_PYTHON"), reason="ARM64_PYTHON not set (ensure_arm64_python in scripts/lib.sh)")
def test_the_aarch64_wheel_imports_under_qemu(tmp_path):
    python = Path(os.environ["ARM64_PYTHON"])
    sysroot = python.parents[2]
    with zipfile.ZipFile(wheel("aarch64")) as z:
        z.extractall(tmp_path / "site")
    script = (
        "import sys, platform\n"
        f"sys.path.insert(0, {str(tmp_path / 'site')!r})\n"
        "import lambda_relay\n"
        "from lambda_relay import _native, stream_handler\n"
        "h = stream_handler(lambda r: (200, {}, 'hello from ' + platform.machine()))\n"
        "ev = {'rawPath': '/', 'headers': {}, 'requestContext': {'http': {'method': 'GET'}}}\n"
        "print(h(ev, None)['body'], _native.constants()['relay_id_header'])\n"
    )
    out = subprocess.run(["qemu-aarch64", "-L", str(sysroot), str(python), "-c", script], check=True, capture_output=True, text=True, timeout=300).stdout
    assert out.split() == ["hello", "from", "aarch64", "x-lambda-relay-id"], out


def test_every_distribution_carries_the_licences_and_the_metadata_twine_accepts():
    root = Path(__file__).resolve().parents[2]
    version = re.search(r'\[workspace\.package\][^\[]*?\nversion = "([^"]+)"', (root / "Cargo.toml").read_text()).group(1)
    licences = {name: (root / name).read_bytes() for name in ("LICENSE-MIT", "LICENSE-APACHE")}
    dists = [wheel("x86_64"), wheel("aarch64"), *DIST.glob("lambda_relay-*-py3-none-any.whl"), *DIST.glob("lambda_relay-*.tar.gz")]
    assert len(dists) == 4, dists
    for dist in dists:
        assert f"-{version}" in dist.name, f"{dist.name} is at the workspace's version {version}"
        if dist.suffix == ".whl":
            with zipfile.ZipFile(dist) as z:
                files = {name: z.read(name) for name in z.namelist() if name.rsplit("/", 1)[-1] in licences or name.endswith("/METADATA")}
        else:
            with tarfile.open(dist) as t:
                files = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile() and (m.name.rsplit("/", 1)[-1] in licences or m.name.endswith("/PKG-INFO"))}
        for name, text in licences.items():
            assert [f for f, data in files.items() if f.endswith("/" + name) and data == text], f"{dist.name} lacks {name}"
        metadata = next(data for f, data in files.items() if f.endswith(("/METADATA", "/PKG-INFO"))).decode()
        assert "License-Expression: MIT OR Apache-2.0" in metadata, dist.name
        assert "Project-URL: Repository, https://github.com/lambda-relay/lambda-relay" in metadata, dist.name
        assert "Keywords:" in metadata, dist.name
    twine = Path(sys.executable).with_name("twine")
    out = subprocess.run([str(twine), "check", "--strict", *map(str, dists)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("PASSED") == 4, out.stdout
