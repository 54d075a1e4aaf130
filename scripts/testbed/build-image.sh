#!/usr/bin/env bash
# Build the local llama-server image FROM scratch (there is no registry to pull from):
# the binary, every library ldd lists (plus libgomp, which may be dlopened) and a static
# health probe. Usage: build-image.sh [LLAMA_SERVER_BINARY]; tag: $LLAMADASH_TEST_IMAGE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
bin="${1:-$("$here/build-llama-server.sh")}"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT

cp "$bin" "$ctx/llama-server"
gcc -O2 -static -o "$ctx/healthcheck" "$here/healthcheck.c"
mkdir -p "$ctx/rootfs"
libs="$(ldd "$bin" | awk '/=> \//{print $3} /^[[:space:]]*\//{print $1}')"
for lib in $libs; do
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
done
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
COPY llama-server healthcheck /
ENV LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64
ENTRYPOINT ["/llama-server"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t "$LLAMADASH_TEST_IMAGE" "$ctx" >&2
echo "$LLAMADASH_TEST_IMAGE"
