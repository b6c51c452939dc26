#!/usr/bin/env bash
# The main job, on a fresh Debian machine with Go: build and install the
# plugin, start a private BuildKit, make a Debian 12 base image, and build the
# example project with "docker secure build": the first build fails by policy
# (a fixable critical finding), the second, with the fix, passes and carries
# the SBOM and scan attestations. Also lists the packages of the Debian root
# with "docker secure sbom".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
mkdir -p "$CACHE_DIR"

ensure_apt runc
build_plugin
install_plugin
build_buildkit
root="$(debian_root "$CACHE_DIR/debian-bookworm-minbase")"

if command -v docker >/dev/null; then
	cli=(docker secure)
else
	log "no docker CLI here: running the plugin standalone"
	cli=(bin/docker-secure)
fi
log "${cli[*]} sbom $root"
"${cli[@]}" sbom "$root"

demo="$CACHE_DIR/demo"
mkdir -p "$demo"
start_buildkitd "$demo/buildkit"
log "making the base image from $root"
digest="$(oci_base "$root" "$demo/base")"

# OSV records from the tests, so that the demo needs no network.
log "${cli[*]} db import --db $demo/db vuln/testdata/osv/Debian vuln/testdata/osv/npm"
"${cli[@]}" db import --db "$demo/db" vuln/testdata/osv/Debian vuln/testdata/osv/npm

build=("${cli[@]}" build --progress plain --db "$demo/db"
	--build-context "base=oci-layout://$demo/base@$digest" examples/app)
log "${build[*]} (expected to fail: minimist 1.2.5 has a fixable critical)"
rm -f "$demo/app.tar"
if "${build[@]}" -o "type=oci,dest=$demo/app.tar"; then
	log "the build passed, but its policy should have failed it"
	exit 1
fi
[ ! -e "$demo/app.tar" ] || { log "a failed build exported $demo/app.tar"; exit 1; }

log "${build[*]} --build-arg MINIMIST_VERSION=1.2.6"
"${build[@]}" --build-arg MINIMIST_VERSION=1.2.6 -o "type=oci,dest=$demo/app.tar" \
	--sbom-output "$demo/app.spdx.json" --report "$demo/app.sarif" --report-format sarif
log "wrote $demo/app.tar (an image index with the SBOM and scan attestations), $demo/app.spdx.json and $demo/app.sarif"
