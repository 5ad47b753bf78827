#!/usr/bin/env bash
# build-image.sh [IMAGE] builds the agentcore-proxy image without pulling a
# base image: the static binary is built on this machine with the flags of
# deploy/Dockerfile, then packaged FROM scratch by deploy/Dockerfile.scratch
# with this machine's CA bundle. Prints the image name.
#
#   IMAGE    default localhost/agentcore-proxy:$VERSION
#   VERSION  stamped into the binary and the labels (default: git describe)
#
# Needs go, podman (apt-get install -y podman runc) and the CA bundle
# (apt-get install -y ca-certificates).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
version="${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}"
revision="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
image="${1:-localhost/agentcore-proxy:$version}"
ca=/etc/ssl/certs/ca-certificates.crt

if ! command -v podman >/dev/null; then
  echo "build-image.sh: podman not found: apt-get update && apt-get install -y podman runc" >&2
  exit 1
fi
if [ ! -s "$ca" ]; then
  echo "build-image.sh: $ca missing: apt-get install -y ca-certificates" >&2
  exit 1
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT

(
  cd "$root"
  CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/agentcore-proxy/agentcore-proxy/internal/cli.Version=$version" \
    -o "$ctx/agentcore-proxy" .
)
cp "$ca" "$ctx/ca-certificates.crt"
chmod 0755 "$ctx/agentcore-proxy"
chmod 0644 "$ctx/ca-certificates.crt"

# --format docker: the OCI image format has no HEALTHCHECK, and Buildah
# would drop it. --layers=false: no intermediate images left behind.
podman build --quiet --format docker --layers=false \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  -f "$root/deploy/Dockerfile.scratch" -t "$image" "$ctx" >/dev/null
echo "$image"
