#!/usr/bin/env bash
# Builds orderflow's container image here, with no registry: a static binary
# from the local Go toolchain, copied with the host's CA bundle and a
# non-root user into an image FROM scratch (Dockerfile beside this script),
# built by podman and tagged IMAGE:VERSION and IMAGE:latest. `make image`
# runs it; the image test (image_test.go) too.
#
#   VERSION  the version `orderflow version` prints and the tag (default: git describe)
#   COMMIT   the commit it prints (default: git rev-parse --short HEAD)
#   IMAGE    the image's name (default localhost/orderflow)
#
# Prints the tag it built on stdout. Run the image with the runtime and
# ulimits this machine's sandbox grants (ENVIRONMENT.md):
#   podman run --rm --runtime runc --ulimit nofile=20000:20000 \
#     --ulimit nproc=32768:32768 --read-only localhost/orderflow version
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
image_dir="$repo_root/deploy/image"
cd "$repo_root"

log() { echo "build.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v podman >/dev/null || die "podman is not installed: apt-get install -y podman runc (Debian; .ci/run installs it)"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[[ -s $ca_bundle ]] || die "$ca_bundle is missing: apt-get install -y ca-certificates"

version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
commit="${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
image="${IMAGE:-localhost/orderflow}"
# A tag is 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-': a version
# such as 1.2.0+build.5 becomes 1.2.0-build.5 in the tag (never in the binary).
tag="$(printf '%s' "$version" | tr -c 'A-Za-z0-9_.-' '-' | cut -c1-128)"
[[ $tag =~ ^[A-Za-z0-9_] ]] || tag="v$tag"
# The commit's time, not the build's: the same commit gives the same labels
# and layer times, so the same image.
created="$(git log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)"

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT

start=$SECONDS
# -trimpath: no build machine's paths in the binary. -s -w: no symbol table
# or DWARF (a third smaller); panics still print file:line.
CGO_ENABLED=0 GOOS=linux go build -trimpath \
  -ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
  -o "$context/orderflow" ./worker/cmd/orderflow
install -m 0644 "$ca_bundle" "$context/ca-certificates.crt"
install -m 0644 "$image_dir/passwd" "$image_dir/group" "$context/"
chmod 0755 "$context/orderflow"

podman build --quiet --layers=false --file "$image_dir/Dockerfile" \
  --timestamp "$(date -d "$created" +%s)" \
  --build-arg VERSION="$version" --build-arg REVISION="$commit" --build-arg CREATED="$created" \
  --tag "$image:$tag" --tag "$image:latest" \
  "$context" >/dev/null
log "built $image:$tag in $((SECONDS - start))s ($(podman image inspect --format '{{.Size}}' "$image:$tag") bytes)"
echo "$image:$tag"
