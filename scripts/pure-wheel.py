"""Makes the pure wheel (``py3-none-any``) of lambda-relay from a built platform wheel: the same
package without the native module, for the machines Lambda does not run on (a macOS or Windows
dev machine, musl). pip prefers the manylinux wheels where they fit; elsewhere it takes this one,
and ``import lambda_relay``, direct invocations and ``serve`` work; a relayed invocation says
which platform it needs (``lambda_relay._platform``).

    python scripts/pure-wheel.py python-binding/dist/lambda_relay-<v>-cp39-abi3-manylinux…x86_64.whl
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
import zipfile
from pathlib import Path


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main(source: Path) -> Path:
    match = re.match(r"^(lambda_relay-[^-]+)-", source.name)
    if not match:
        raise SystemExit(f"not a lambda_relay wheel: {source.name}")
    target = source.with_name(f"{match.group(1)}-py3-none-any.whl")
    records = []
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        names = [n for n in src.namelist() if not re.search(r"/_native\.[^/]*\.(so|pyd)$", n)]
        record_name = next(n for n in names if n.endswith(".dist-info/RECORD"))
        for name in names:
            if name == record_name:
                continue
            data = src.read(name)
            if name.endswith(".dist-info/WHEEL"):
                lines = [l for l in data.decode().splitlines() if not l.startswith(("Tag:", "Root-Is-Purelib:"))]
                lines += ["Root-Is-Purelib: true", "Tag: py3-none-any"]
                data = ("\n".join(lines) + "\n").encode()
            out.writestr(name, data)
            records.append(record_line(name, data))
        records.append(f"{record_name},,")
        out.writestr(record_name, "\n".join(records) + "\n")
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(main(Path(sys.argv[1])))
