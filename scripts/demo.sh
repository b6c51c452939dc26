#!/usr/bin/env bash
# The main job, on a fresh Debian machine with Go: build and install the
# plugin, make a Debian 12 root filesystem, and list its packages with
# "docker secure sbom" (the standalone binary when there is no docker CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
mkdir -p "$CACHE_DIR"

build_plugin
install_plugin
root="$(debian_root "$CACHE_DIR/debian-bookworm-minbase")"

if command -v docker >/dev/null; then
	cli=(docker secure)
else
	log "no docker CLI here: running the plugin standalone"
	cli=(bin/docker-secure)
fi
log "${cli[*]} sbom $root"
"${cli[@]}" sbom "$root"
log "${cli[*]} sbom --format spdx-json -o $CACHE_DIR/debian.spdx.json $root"
"${cli[@]}" sbom --format spdx-json -o "$CACHE_DIR/debian.spdx.json" "$root"
log "wrote $CACHE_DIR/debian.spdx.json"
