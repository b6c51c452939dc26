#!/usr/bin/env bash
# Benchmark "docker secure build" against "docker buildx build" on the same
# Docker Engine: a private dockerd (on its own containerd) built from its
# modules by scripts/lib.sh, both builds on the engine's embedded BuildKit
# (the default builder of the current Docker context, buildx's docker
# driver), both loading the image into the engine. The project is
# test/bench/build.sh's: multi-stage, its final stage a Debian 12 minbase
# (about 90 packages) plus about 900 npm packages in /app/node_modules.
#
#   bash test/bench/docker.sh           (as root; Debian 12 host with go, runc,
#                                        the docker CLI)
#
# Environment:
#   BENCH_DIR  work dir; this script uses BENCH_DIR/docker
#              (default /var/tmp/secure-build-bench; fixtures are reused)
#   ROUNDS     timed rounds (default 5). A round is, for each of buildx and
#              secure (their order alternating between rounds): docker buildx
#              prune -af and the images of both builds removed, a cold build,
#              then the same build again (warm). Each timed build starts
#              after a sync, on a quiet disk.
#   WARMUP     untimed rounds before them (default 1; the first secure build
#              also bundles the new docker-secure binary for the builder)
#   NPM        generated npm packages (default 900; 6 real ones come on top)
#   DB         osvgen (default): the synthetic OSV corpus of build.sh
#              (RECORDS records, SEED); the secure build runs with
#              --fail-on none. testdata: vuln/testdata/osv/{Debian,npm}.
#   RECORDS    osvgen records (default 100000); SEED its seed (default 1)
#   ROOT       Debian 12 root the base image is made of (default
#              /work/cache/minbase, else .cache/debian-bookworm-minbase, else
#              one made with scripts/lib.sh debian_root; only read)
#   SECURE_ARGS  more arguments for docker secure build
#   SECURE_BIN a docker-secure binary to time instead of this checkout's
#              (another version, to compare)
#
# It prints, per mode (cold, warm), the median seconds of the buildx and the
# secure build, their ratio and difference, and the targets (cold <= 1.08x
# and <= the scan step's own time + 0.15 s over buildx; warm <= +0.1 s) as
# PASS/MISS. The targets are informational: the exit status is non-zero only when something
# failed. Build logs (--progress plain) stay in BENCH_DIR/docker/results/STAMP,
# the engine's in BENCH_DIR/docker/engine.
set -euo pipefail
export LC_ALL=C # "." in EPOCHREALTIME and printf

BENCH_DIR=${BENCH_DIR:-/var/tmp/secure-build-bench}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-1}
NPM=${NPM:-900}
DB=${DB:-osvgen}
RECORDS=${RECORDS:-100000}
SEED=${SEED:-1}
read -r -a EXTRA_SECURE <<<"${SECURE_ARGS:-}"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
W=$BENCH_DIR/docker
BIN=$W/bin
ENGINE=$W/engine # sockets, state and logs of the engine; short enough for socket paths
STAMP=$(date +%Y%m%d-%H%M%S)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
OUT=$W/results/$STAMP
BASE_REF=secure-build-bench-base:1
export GOFLAGS=${GOFLAGS:--buildvcs=false}
# The scanner bundle docker-secure makes for each new binary goes to the
# user cache folder: keep it in the work dir instead of root's home.
export XDG_CACHE_HOME=$W/xdg-cache
export PATH=$PATH:/usr/sbin:/sbin # runc
# The builder is the engine's: nothing else may choose one.
unset BUILDKIT_HOST BUILDX_BUILDER
# A docker config of our own, holding docker-secure and docker-buildx.
export DOCKER_CONFIG=$W/docker-config

# The engine's build, start and stop are scripts/lib.sh's, as for the tests;
# sourced from the repository root, its CACHE_DIR is the repository's .cache
# (or SECURE_BUILD_CACHE).
# shellcheck disable=SC1091
cd "$REPO" && . scripts/lib.sh && cd - >/dev/null
# (Before this script's own log and die, which replace lib.sh's.)

log() { printf '[docker-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (dockerd and containerd need it)"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a number, got '$WARMUP'"
[[ $NPM =~ ^[0-9]+$ ]] || die "NPM must be a number, got '$NPM'"
[[ $DB == osvgen || $DB == testdata ]] || die "DB must be osvgen or testdata, got '$DB'"
command -v go >/dev/null || die "go is not on PATH"
command -v runc >/dev/null || die "runc is not installed (apt-get install runc)"
command -v docker >/dev/null || die "no docker CLI on PATH"
mkdir -p "$W" "$BIN" "$ENGINE" "$OUT" "$DOCKER_CONFIG/cli-plugins"

cleanup() {
	local rc=$?
	stop_docker_engine
	[[ $rc -eq 0 ]] || log "failed (exit $rc); logs in $OUT, the engine's in $ENGINE"
}

# ------------------------------------------------------------------ tools ---
build_tools() {
	build_our_tools

	# The engine and buildx as the tests use them (built only when missing).
	build_docker_engine
	ENGINE_VERSIONS=$(cat "$CACHE_DIR/bin/docker-engine.versions")
	install -m 0755 "$BIN/docker-secure" "$DOCKER_CONFIG/cli-plugins/docker-secure"
	rm -f "$DOCKER_CONFIG/cli-plugins/secure-build-scan"
	[[ ! -f $BIN/secure-build-scan ]] || install -m 0755 "$BIN/secure-build-scan" "$DOCKER_CONFIG/cli-plugins/secure-build-scan"
	ln -sf "$SECURE_BUILD_BUILDX" "$DOCKER_CONFIG/cli-plugins/docker-buildx"
	# docker-secure bundles each new binary there (55 MB): drop the ones of
	# earlier runs; the warm-up round makes this binary's.
	rm -rf "$XDG_CACHE_HOME/secure-build/scanner" "$XDG_CACHE_HOME/secure-build/layers"
}

# ---------------------------------------------------------------- fixtures ---
# As test/bench/build.sh makes them.
# shellcheck source=test/bench/fixtures.sh
. "$REPO/test/bench/fixtures.sh"

# make_base loads the base image into the engine as BASE_REF, built FROM
# scratch with the root copied in by the engine's own BuildKit. The engine
# starts empty on each run, so it is made each time (not timed).
make_base() {
	local src=$W/base-src
	mkdir -p "$src"
	printf 'FROM scratch\nCOPY / /\n' >"$src/Dockerfile"
	# What an image of the root would not hold: device nodes, kernel file
	# systems, downloaded .deb files (not installed packages).
	printf '%s\n' 'dev/*' 'proc/*' 'sys/*' 'var/cache/apt/archives/*.deb' '.secure-build-complete' \
		>"$src/Dockerfile.dockerignore"
	log "loading the base image of $ROOT into the engine as $BASE_REF"
	docker buildx build --progress plain --provenance=false --load -t "$BASE_REF" \
		-f "$src/Dockerfile" "$ROOT" >"$OUT/base.log" 2>&1 ||
		{ tail -20 "$OUT/base.log" >&2; die "building the base image failed (log: $OUT/base.log)"; }
	BASE_MB=$(docker image inspect -f '{{.Size}}' "$BASE_REF" | awk '{ printf "%d", $1 / 1048576 }')
	# Its build cache goes: the first cold build must not find the root's
	# layer there.
	docker buildx prune -af >/dev/null
}

# ----------------------------------------------------------------- builds ---
# Both load the image into the engine (the docker driver's default) and
# leave out provenance, as build.sh's builds do.
build_buildx() {
	docker buildx build --progress plain --provenance=false -t secure-build-bench-buildx:1 "$APP"
}
build_secure() {
	docker secure build --progress plain --provenance=false \
		--db "$DB_DIR" "${SECURE_POLICY[@]}" "${EXTRA_SECURE[@]}" \
		-t secure-build-bench-secure:1 "$APP"
}

# make_cold empties the engine's build cache and removes the images of the
# builds (not the base image: each build finds it in the engine, cold or not).
make_cold() {
	docker buildx prune -af >/dev/null
	docker image rm -f secure-build-bench-buildx:1 secure-build-bench-secure:1 >/dev/null 2>&1 || true
}

# timed_build MODE LOG: one build; prints its wall seconds.
timed_build() {
	local mode=$1 logf=$2 start end
	# What the earlier build and the prune left for the disk is written
	# now, untimed: else the next step that syncs the file system (the
	# first overlay unmount) writes it inside this build's time, more or
	# less depending on which build came before. A CI job starts on a
	# quiet disk.
	sync
	start=$EPOCHREALTIME
	if ! "build_$mode" >"$logf" 2>&1; then
		tail -40 "$logf" >&2
		die "the $mode build failed (log: $logf)"
	fi
	end=$EPOCHREALTIME
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

# round NAME MODE...: for each mode, make the engine cold, build, then build
# again warm; the times go to OUT/times as "name mode kind seconds", the logs
# to OUT/name.mode.kind.log.
round() {
	local name=$1 mode kind s
	shift
	for mode in "$@"; do
		make_cold
		for kind in cold warm; do
			s=$(timed_build "$mode" "$OUT/$name.$mode.$kind.log")
			echo "$name $mode $kind $s" >>"$OUT/times"
			log "  $name $mode $kind: $s s"
		done
	done
}

# ----------------------------------------------------------------- report ---
report() {
	local verdict
	verdict=$(grep -h '^secure-build linux' -A1 "$OUT/round$ROUNDS.secure.cold.log" | tr -s ' ' | paste -sd' ' || true)
	{
		echo "== secure-build Docker Engine benchmark $STAMP ($(nproc) cores, load average at the start $LOAD_START)"
		echo "docker-secure $OURS_REV; engine: $ENGINE_VERSIONS (from $CACHE_DIR/bin)"
		echo "  $(docker version --format 'client {{.Client.Version}}, server {{.Server.Version}}'); $(docker info --format '{{range .DriverStatus}}{{index . 0}}={{index . 1}} {{end}}')"
		echo "project: final stage = $ROOT as a base image in the engine ($DEB_PACKAGES Debian packages, ${BASE_MB} MB) + /app/node_modules"
		echo "  $APP_NOTE"
		echo "  secure build: $verdict"
		echo "database: $DB_NOTE; $DB_MB MB"
		echo "rounds: $ROUNDS timed after $WARMUP untimed; cold = after docker buildx prune -af and removing the built images, warm = the same build right after"
		echo
		target_table buildx
		echo
		echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "logs: $OUT"
	} | tee "$OUT/report.txt"
}

# ------------------------------------------------------------------- main ---
build_tools
find_root
make_db
make_app "$BASE_REF"
log "starting the Docker Engine in $ENGINE"
start_docker_engine "$ENGINE"
trap cleanup EXIT
trap 'exit 130' INT TERM
make_base

: >"$OUT/times"
for ((i = 1; i <= WARMUP; i++)); do
	log "warm-up round $i (untimed)"
	round "warmup$i" buildx secure
done
for ((i = 1; i <= ROUNDS; i++)); do
	log "round $i of $ROUNDS"
	# Alternate which goes first, so that drift hits both alike.
	if ((i % 2)); then round "round$i" buildx secure; else round "round$i" secure buildx; fi
done
report
