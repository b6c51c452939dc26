#!/usr/bin/env bash
# All the tests, on a fresh Debian machine with Go: installs what they need,
# prepares the real components they run against, then gofmt, go vet and
# go test ./... with the end-to-end tests required to run (not skip).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
mkdir -p "$CACHE_DIR"

# The frontend image's test builds the frontend for linux/arm64 too, cross-
# compiled with this machine's build cache (testutil.WarmGoCache): on a
# fresh machine that is a whole compile of it for arm64. Start it now, in the
# background, while apt and the Debian root below mostly wait on the
# network; the test then finds it compiled.
CGO_ENABLED=0 GOOS=linux GOARCH=arm64 GOFLAGS=-buildvcs=false \
	go list -trimpath -export -deps -f '{{if .Error}}{{.Error}}{{end}}' ./cmd/secure-build-frontend \
	>"$CACHE_DIR/warm-arm64.errors" 2>"$CACHE_DIR/warm-arm64.log" &
warm_arm64=$!

# The plugin tests drive the real docker CLI; Debian's docker.io brings one.
command -v docker >/dev/null || ensure_apt docker.io
# The BuildKit end-to-end tests run a private buildkitd (OCI worker, runc) and
# make their base images from busybox-static; gcc makes the dynamically
# linked (cgo) build of the plugin that one of them sends to the builder;
# the frontend image is built in a Go image made here, whose module downloads
# need the CA certificates.
ensure_apt runc busybox-static gcc libc6-dev ca-certificates
# Git contexts: buildkitd runs git to fetch them, and the test serves its
# repository with git http-backend.
ensure_apt git
build_buildkit
# The Docker Engine end-to-end tests run a private dockerd on its own
# containerd, both built from their modules, on a bridge they make with ip;
# and buildx for the baseline and for registering builders.
ensure_apt iproute2
build_docker_engine
# The signing tests verify with cosign, built from its module, and publish to
# Debian's docker-registry (CNCF distribution 2.8), a registry without the
# OCI 1.1 referrers API.
build_cosign
ensure_apt docker-registry

export SECURE_BUILD_E2E=1
SECURE_BUILD_TEST_ROOTFS="$(debian_root "$CACHE_DIR/debian-bookworm-minbase")"
export SECURE_BUILD_TEST_ROOTFS

log "gofmt"
unformatted="$(find . -name '*.go' -not -path './.cache/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l)"
if [ -n "$unformatted" ]; then
	printf 'gofmt needed:\n%s\n' "$unformatted" >&2
	exit 1
fi
log "go vet ./..."
go vet ./...
if ! wait "$warm_arm64" || grep -q "[^[:space:]]" "$CACHE_DIR/warm-arm64.errors"; then
	cat "$CACHE_DIR/warm-arm64.errors" "$CACHE_DIR/warm-arm64.log" >&2
	log "compiling the frontend for linux/arm64 failed"
	exit 1
fi
log "go test ./..."
# The end-to-end package builds images and starts daemons: on a busy 2-core
# machine it can need more than go test's default 10 minutes. Its tests
# mostly wait on the daemons they share, so more of them run at once than
# there are cores.
go test -count=1 -timeout 60m -parallel 4 "$@" ./...
