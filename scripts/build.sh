#!/usr/bin/env bash
# build.sh OUTDIR [VERSION] [LDFLAGS...]: builds the static plugin
# OUTDIR/docker-secure and, beside it, OUTDIR/secure-build-scan, the scan step
# alone, which the plugin then sends a builder in place of itself. The plugin
# is linked with the scan step's digest (build.ScanStepDigest), so it sends
# that binary only while it is this very one. Extra LDFLAGS go to the plugin.
set -euo pipefail
out=${1:?usage: build.sh OUTDIR [VERSION] [LDFLAGS...]}
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=${2:-}
shift $(($# < 2 ? $# : 2))
cd "$(dirname "$0")/.."
[[ -n $version ]] || version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"
go build -trimpath -ldflags "-s -w -X main.Version=$version" -o "$out/secure-build-scan" ./cmd/secure-build-scan
digest=$(sha256sum "$out/secure-build-scan" | cut -d' ' -f1)
go build -trimpath \
	-ldflags "-s -w -X github.com/secure-build/secure-build/plugin.Version=$version -X github.com/secure-build/secure-build/build.ScanStepDigest=sha256:$digest $*" \
	-o "$out/docker-secure" ./cmd/docker-secure
