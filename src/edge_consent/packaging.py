"""The size a deployment package has once zipped as SAM zips it (deflate, the default level)."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path


def zip_size(directory: Path) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "package.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(directory.rglob("*")):
                zf.write(path, path.relative_to(directory))
        return archive.stat().st_size
