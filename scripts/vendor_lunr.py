"""Fetch lunr.js 2.3.9 unmodified from the npm registry into the default theme.

    python scripts/vendor_lunr.py

Runs ``npm pack lunr@2.3.9``, checks the tarball's ``lunr.min.js`` against the pinned sha256,
and copies it with its licence to ``themes/default/static/assets/vendor/lunr/``. The test suite
checks the committed copy against the same checksum.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "2.3.9"
SHA256 = "0c50d9002b85780a842afffb567bb54ede402dae7c6dc5997a018614d8044fc8"
"""sha256 of lunr.min.js as published in the npm tarball of lunr 2.3.9."""
TARGET = (
    Path(__file__).resolve().parent.parent / "themes" / "default" / "static" / "assets" / "vendor" / "lunr"
)


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            ["npm", "pack", f"lunr@{VERSION}", "--silent"], cwd=scratch, check=True, capture_output=True
        )
        with tarfile.open(Path(scratch) / f"lunr-{VERSION}.tgz") as archive:
            script = archive.extractfile("package/lunr.min.js")
            licence = archive.extractfile("package/LICENSE")
            assert script is not None and licence is not None
            script_bytes, licence_bytes = script.read(), licence.read()
    digest = hashlib.sha256(script_bytes).hexdigest()
    if digest != SHA256:
        print(f"lunr.min.js from npm has sha256 {digest}, expected {SHA256}; not copied", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    (TARGET / "lunr.min.js").write_bytes(script_bytes)
    (TARGET / "LICENSE").write_bytes(licence_bytes)
    print(f"lunr.js {VERSION} → {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
