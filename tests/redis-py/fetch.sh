#!/usr/bin/env bash
# Fetches redis-py's own test suite (the source distribution on PyPI, pinned) into
# target/redis-py-suite/redis-<version>, with what its tests import (pytest and its asyncio and
# timeout plugins). tests/tests/redis_py_suite.rs runs part of it against usher and against
# redis-server 7.0.15. Idempotent: does nothing when the suite is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=8.2.0
dest=target/redis-py-suite
if [ ! -f "$dest/redis-$version/tests/conftest.py" ]; then
  echo "==> fetching redis-py $version's test suite (PyPI source distribution)"
  mkdir -p "$dest"
  python3 -m pip download --quiet --no-binary :all: --no-deps --dest "$dest" "redis==$version"
  tar -xzf "$dest/redis-$version.tar.gz" -C "$dest"
fi
pip_install() {
  python3 -m pip install --quiet "$@" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "$@"
}
python3 -c 'import pytest, pytest_asyncio, pytest_timeout, packaging' 2>/dev/null || {
  echo "==> installing pytest, pytest-asyncio, pytest-timeout (redis-py's test suite)"
  pip_install pytest pytest-asyncio pytest-timeout packaging
}
