#!/usr/bin/env bash
# Start a private dockerd for tests (no systemd here), or reuse one that already answers.
# Bridge-less: containers use network_mode: host, so no traffic goes to private-range addresses.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
tb="$LLAMADASH_TESTBED"
mkdir -p "$tb"

if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    echo "engine: reusing the one answering at $DOCKER_HOST" >&2
    exit 0
fi

# A dockerd that was killed leaves its pidfile, socket and netns mount behind: clean them.
if [ -f "$tb/docker.pid" ]; then
    kill "$(cat "$tb/docker.pid")" 2>/dev/null || true
    sleep 0.5
fi
if mountpoint -q "$tb/exec/netns/default" 2>/dev/null; then umount "$tb/exec/netns/default" || true; fi
rm -f "$tb/docker.pid" "$tb/docker.sock"

echo "engine: starting dockerd at $DOCKER_HOST" >&2
setsid dockerd \
    --data-root "$tb/data" --exec-root "$tb/exec" --pidfile "$tb/docker.pid" \
    -H "$DOCKER_HOST" --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    </dev/null >"$tb/dockerd.log" 2>&1 &

for _ in $(seq 1 150); do
    if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
        echo "engine: up (server $(docker version --format '{{.Server.Version}}'))" >&2
        exit 0
    fi
    sleep 0.2
done
echo "engine: dockerd did not answer within 30 s; last log lines:" >&2
tail -n 20 "$tb/dockerd.log" >&2
exit 1
