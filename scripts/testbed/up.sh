#!/usr/bin/env bash
# Bring the whole test bed up (idempotent): system packages, compose plugin, private engine,
# llama-server build (cached per version), local image. Usage: up.sh [VENV_PYTHON]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${1:-.venv/bin/python}"
t0=$(date +%s)
"$here/install.sh" "$py"
t1=$(date +%s)
"$here/engine-up.sh"
t2=$(date +%s)
bin="$("$here/build-llama-server.sh")"
t3=$(date +%s)
"$here/build-image.sh" "$bin" >/dev/null
t4=$(date +%s)
echo "testbed: up (install $((t1-t0))s, engine $((t2-t1))s, llama-server $((t3-t2))s, image $((t4-t3))s)" >&2
echo "testbed: export DOCKER_HOST=unix://${LLAMADASH_TESTBED:-/tmp/llamadash-testbed}/docker.sock LLAMA_SERVER=$bin" >&2
