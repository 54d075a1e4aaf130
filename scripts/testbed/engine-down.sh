#!/usr/bin/env bash
# Stop the private dockerd: containers first, then the daemon by PID, then its leftover mounts.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
tb="$LLAMADASH_TESTBED"
if docker version >/dev/null 2>&1; then
    ids="$(docker ps -aq)"
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
fi
if [ -f "$tb/docker.pid" ]; then
    pid="$(cat "$tb/docker.pid")"
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
fi
pkill -f "containerd --config $tb/exec" 2>/dev/null
if mountpoint -q "$tb/exec/netns/default" 2>/dev/null; then umount "$tb/exec/netns/default"; fi
rm -f "$tb/docker.pid" "$tb/docker.sock"
echo "engine: stopped" >&2
