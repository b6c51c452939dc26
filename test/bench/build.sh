#!/usr/bin/env bash
# Benchmark "docker secure build" against a plain BuildKit build of the same
# project: buildctl with the Dockerfile frontend, on the same private
# buildkitd, one writing a docker-archive tar and the other an OCI tar. The
# project is multi-stage; its final stage is a Debian 12 minbase (about 90
# packages) plus about 900 npm packages in /app/node_modules.
#
#   bash test/bench/build.sh            (as root; Debian 12 host with go, runc)
#
# Environment:
#   BENCH_DIR  work dir; this script uses BENCH_DIR/build
#              (default /var/tmp/secure-build-bench; fixtures are reused)
#   ROUNDS     timed rounds (default 5). A round is, for each of plain and
#              secure (their order alternating between rounds): buildctl prune
#              --all, a cold build, then the same build again (warm).
#              Each timed build starts after a sync, on a quiet disk.
#   WARMUP     untimed rounds before them (default 1; the first secure build
#              also bundles the new docker-secure binary and compresses it and
#              the database into layers, as on a fresh client: its time is
#              printed apart)
#   TIMELINE   1 (default): one more round after them, with --progress
#              rawjson, to print when each vertex of each build ran; 0: not
#   NPM        generated npm packages (default 900; 6 real ones come on top)
#   DB         osvgen (default): a synthetic OSV corpus of RECORDS records
#              (test/bench/osvgen, with records about the root's Debian
#              packages and about a third of the npm ones); it has fixable
#              criticals, so the secure build runs with --fail-on none.
#              testdata: vuln/testdata/osv/{Debian,npm} (6 records), default
#              policy; nothing in the fixture fails it.
#   RECORDS    osvgen records (default 100000); SEED its seed (default 1)
#   ROOT       Debian 12 root the base image is made of (default
#              /work/cache/minbase, else .cache/debian-bookworm-minbase, else
#              one made with scripts/lib.sh debian_root; only read)
#   SECURE_BIN a docker-secure binary to time instead of this checkout's
#              (another version, to compare)
#   OSV        1 (default): after each plain build, time an offline scan of
#              its result (a docker-archive tar) by osv-scanner (OSV_SCANNER, else built into
#              BENCH_DIR/build/bin as /work/shared/SETUP-NOTES.md says) with
#              the same database content (the archives the database was
#              imported from); 0: not
#   ORIGINS    1 (default): each round also times the secure build with
#              --build-arg SECURE_BUILD_ORIGINS=false (mode noorigins), and
#              the report says what finding origins cost (cold <= +0.3 s,
#              warm <= +0.05 s); 0: not
#
# It prints, per mode (cold, warm), the median seconds of the plain and the
# secure build, their ratio and difference, the plain build followed by the
# osv-scanner scan (the user's alternative), and the targets (cold <= 1.08x
# and <= the scan step's own time + 0.15 s over plain, warm <= +0.1 s, both
# faster than the alternative) as PASS/MISS, then the vertex timelines of
# the TIMELINE round. The targets are informational: the exit status is
# non-zero only when something failed.
# Build logs (--progress plain) stay in BENCH_DIR/build/results/STAMP.
set -euo pipefail
export LC_ALL=C # "." in EPOCHREALTIME and printf

BENCH_DIR=${BENCH_DIR:-/var/tmp/secure-build-bench}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-1}
TIMELINE=${TIMELINE:-1}
NPM=${NPM:-900}
DB=${DB:-osvgen}
RECORDS=${RECORDS:-100000}
SEED=${SEED:-1}
OSV=${OSV:-1}
ORIGINS=${ORIGINS:-1}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
W=$BENCH_DIR/build
BIN=$W/bin
BK=$W/buildkit # buildkitd's state, socket and log; short enough for a socket path
ADDR=unix://$BK/buildkitd.sock
STAMP=$(date +%Y%m%d-%H%M%S)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
OUT=$W/results/$STAMP
export GOFLAGS=${GOFLAGS:--buildvcs=false}
# The scanner bundle docker-secure makes for each new binary goes to the
# user cache folder: keep it in the work dir instead of root's home.
export XDG_CACHE_HOME=$W/xdg-cache
export PATH=$PATH:/usr/sbin:/sbin # runc

log() { printf '[build-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (buildkitd's OCI worker needs it)"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a number, got '$WARMUP'"
[[ $TIMELINE == [01] ]] || die "TIMELINE must be 0 or 1, got '$TIMELINE'"
[[ $NPM =~ ^[0-9]+$ ]] || die "NPM must be a number, got '$NPM'"
[[ $DB == osvgen || $DB == testdata ]] || die "DB must be osvgen or testdata, got '$DB'"
[[ $OSV == [01] ]] || die "OSV must be 0 or 1, got '$OSV'"
[[ $ORIGINS == [01] ]] || die "ORIGINS must be 0 or 1, got '$ORIGINS'"
EXTRA_MODES=()
[[ $ORIGINS == 0 ]] || EXTRA_MODES=(noorigins)
command -v go >/dev/null || die "go is not on PATH"
command -v runc >/dev/null || die "runc is not installed (apt-get install runc)"
command -v python3 >/dev/null || die "python3 is not installed"
mkdir -p "$W" "$BIN" "$BK" "$OUT"

# ------------------------------------------------------------- buildkitd ---
BK_PID=
stop_buildkitd() {
	[[ -n $BK_PID ]] || return 0
	kill -TERM "$BK_PID" 2>/dev/null || true
	local i
	for ((i = 0; i < 80; i++)); do
		kill -0 "$BK_PID" 2>/dev/null || break
		sleep 0.25
	done
	if kill -0 "$BK_PID" 2>/dev/null; then
		log "buildkitd ($BK_PID) did not stop on SIGTERM in 20 s; killing it"
		kill -KILL "$BK_PID" 2>/dev/null || true
	fi
	wait "$BK_PID" 2>/dev/null || true
	BK_PID=
}
cleanup() {
	local rc=$?
	stop_buildkitd
	[[ $rc -eq 0 ]] || log "failed (exit $rc); logs in $OUT, buildkitd's in $BK/buildkitd.log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bk() { "$BUILDCTL" --addr "$ADDR" "$@"; }

# start_buildkitd starts a buildkitd of our own (OCI worker, runc) on a fresh
# state folder, with an empty config so that /etc/buildkit/buildkitd.toml
# cannot change the numbers, and waits until it answers.
start_buildkitd() {
	if [[ -S $BK/buildkitd.sock ]] && bk debug workers >/dev/null 2>&1; then
		die "a buildkitd already answers on $ADDR (a run that was killed?): stop it first"
	fi
	# A killed buildkitd can leave mounts under its state: never rm across them.
	findmnt -rn -o TARGET | awk -v d="$BK/" 'index($0, d) == 1' | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" || true
	done
	rm -rf --one-file-system "$BK/state" "$BK/buildkitd.sock"
	: >"$BK/buildkitd.toml"
	"$BUILDKITD" --config "$BK/buildkitd.toml" --root "$BK/state" --addr "$ADDR" \
		--oci-worker=true --containerd-worker=false >"$BK/buildkitd.log" 2>&1 &
	BK_PID=$!
	local i
	for ((i = 0; i < 240; i++)); do
		bk debug workers >/dev/null 2>&1 && return 0
		kill -0 "$BK_PID" 2>/dev/null || { tail -20 "$BK/buildkitd.log" >&2; die "buildkitd exited"; }
		sleep 0.25
	done
	tail -20 "$BK/buildkitd.log" >&2
	die "buildkitd did not answer on $ADDR in 60 s"
}

# ------------------------------------------------------------------ tools ---
build_tools() {
	build_our_tools

	# BuildKit as the tests use it; built only when missing (the tests'
	# scripts rebuild it when go.mod changes).
	local cache=${SECURE_BUILD_CACHE:-$REPO/.cache}
	BUILDKITD=$cache/bin/buildkitd
	BUILDCTL=$cache/bin/buildctl
	if [[ ! -x $BUILDKITD || ! -x $BUILDCTL ]]; then
		log "building buildkitd and buildctl into $cache/bin (scripts/lib.sh build_buildkit)"
		# shellcheck disable=SC1091 # sourced from the repository root
		(cd "$REPO" && . scripts/lib.sh && build_buildkit)
	fi
	BUILDKIT_VERSION=$(cd "$REPO" && go list -m -f '{{.Version}}' github.com/moby/buildkit 2>/dev/null || echo '?')
	# docker-secure bundles each new binary there (55 MB) and keeps the
	# compressed layers of the scanner and the database: drop the ones of
	# earlier runs; the warm-up round makes this binary's, as the first
	# build on a fresh client does.
	rm -rf "$XDG_CACHE_HOME/secure-build/scanner" "$XDG_CACHE_HOME/secure-build/layers"

	if [[ $OSV == 1 ]]; then
		OSV_SCANNER=${OSV_SCANNER:-$BIN/osv-scanner}
		if [[ ! -x $OSV_SCANNER ]]; then
			log "building osv-scanner v2.6.0 into $BIN (about 2 min)"
			GOTOOLCHAIN=go1.27.4 GOBIN=$BIN GOFLAGS= go install github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.6.0
			OSV_SCANNER=$BIN/osv-scanner
		fi
		OSV_VERSION=$("$OSV_SCANNER" --version 2>/dev/null | head -1 || echo '?')
	fi
}

# make_osv_db gives osv-scanner the archives the database was imported
# from, where its offline mode reads them
# (OSV_SCALIBR_LOCAL_DB_CACHE_DIRECTORY/osv-scalibr/ECOSYSTEM/all.zip).
make_osv_db() {
	OSV_DB=$W/osv-db
	rm -rf "$OSV_DB"
	local eco
	case $DB in
	osvgen)
		for eco in Debian npm PyPI Go Maven; do
			mkdir -p "$OSV_DB/osv-scalibr/$eco"
			ln -s "$W/corpus/$eco/all.zip" "$OSV_DB/osv-scalibr/$eco/all.zip"
		done
		;;
	testdata)
		for eco in Debian npm; do
			mkdir -p "$OSV_DB/osv-scalibr/$eco"
			(cd "$REPO/vuln/testdata/osv/$eco" && python3 -c 'import glob, sys, zipfile
z = zipfile.ZipFile(sys.argv[1], "w")
for f in sorted(glob.glob("*.json")): z.write(f)' "$OSV_DB/osv-scalibr/$eco/all.zip")
		done
		;;
	esac
}

# scan_osv TAR: osv-scanner's offline scan of an image tar, as a user scans
# what a plain build made; findings make its exit status 1.
scan_osv() {
	local rc=0
	OSV_SCALIBR_LOCAL_DB_CACHE_DIRECTORY=$OSV_DB "$OSV_SCANNER" scan image --archive --offline "$1" || rc=$?
	((rc == 0 || rc == 1)) || return "$rc"
}

# ---------------------------------------------------------------- fixtures ---
# shellcheck source=test/bench/fixtures.sh
. "$REPO/test/bench/fixtures.sh"

# make_base makes the base image, FROM scratch with the root copied in, as
# an OCI layout folder (BASE) and reads its manifest digest (BASE_DIGEST).
make_base() {
	BASE=$W/base
	local src=$W/base-src key
	mkdir -p "$src"
	printf 'FROM scratch\nCOPY / /\n' >"$src/Dockerfile"
	# What an image of the root would not hold: device nodes, kernel file
	# systems, downloaded .deb files (not installed packages).
	printf '%s\n' 'dev/*' 'proc/*' 'sys/*' 'var/cache/apt/archives/*.deb' '.secure-build-complete' \
		>"$src/Dockerfile.dockerignore"
	key=$({
		echo "$ROOT"
		sha256sum "$ROOT/var/lib/dpkg/status"
		cat "$src/Dockerfile" "$src/Dockerfile.dockerignore"
	} | sha256sum | cut -c1-16)
	if key_matches base "$key" && [[ -f $BASE/index.json ]]; then
		log "reusing the base image $BASE"
	else
		log "making the base image of $ROOT (OCI layout $BASE)"
		rm -rf "$BASE" "$BASE.tmp" "$W/base.key"
		bk build --frontend dockerfile.v0 --local context="$ROOT" --local dockerfile="$src" \
			--output "type=oci,dest=$BASE.tmp,tar=false" --progress plain >"$OUT/base.log" 2>&1 ||
			{ tail -20 "$OUT/base.log" >&2; die "building the base image failed (log: $OUT/base.log)"; }
		mv "$BASE.tmp" "$BASE"
		echo "$key" >"$W/base.key"
	fi
	BASE_DIGEST=$(python3 - "$BASE/index.json" <<-'PY'
		import json, sys
		m = json.load(open(sys.argv[1]))["manifests"]
		if len(m) != 1:
		    sys.exit("%s names %d manifests, want one" % (sys.argv[1], len(m)))
		print(m[0]["digest"])
	PY
	)
	BASE_MB=$(du -sm "$BASE/blobs" | cut -f1)
}

# ----------------------------------------------------------------- builds ---
# The plain build writes a docker-archive tar, the one image tar
# osv-scanner's "scan image --archive" reads; BuildKit's docker and oci
# exporters differ only in the tar's manifest files.
build_plain() { # build_plain OUTTAR PROGRESS
	bk build --frontend dockerfile.v0 --local context="$APP" --local dockerfile="$APP" \
		--oci-layout "base=$BASE" --opt "context:base=oci-layout://base@$BASE_DIGEST" \
		--output "type=docker,name=secure-build-bench-plain:1,dest=$1" --progress "$2"
}
build_secure() { # build_secure OUTTAR PROGRESS [BUILD FLAG...]
	local out=$1 progress=$2
	shift 2
	BUILDKIT_HOST=$ADDR "$BIN/docker-secure" build --progress "$progress" --provenance=false \
		--db "$DB_DIR" "${SECURE_POLICY[@]}" \
		--build-context "base=oci-layout://$BASE@$BASE_DIGEST" "$@" \
		-o "type=oci,dest=$out" "$APP"
}
# The secure build without attribution (ORIGINS=1): what finding origins cost.
build_noorigins() { build_secure "$1" "$2" --build-arg SECURE_BUILD_ORIGINS=false; }

# timed_build MODE LOG [PROGRESS]: one build; prints its wall seconds.
timed_build() {
	local mode=$1 logf=$2 progress=${3:-plain} start end
	# What the earlier build and the prune left for the disk is written
	# now, untimed: else the next step that syncs the file system (the
	# first overlay unmount) writes it inside this build's time, more or
	# less depending on which build came before. A CI job starts on a
	# quiet disk.
	sync
	start=$EPOCHREALTIME
	if ! "build_$mode" "$W/out/$mode.tar" "$progress" >"$logf" 2>&1; then
		tail -40 "$logf" >&2
		die "the $mode build failed (log: $logf)"
	fi
	end=$EPOCHREALTIME
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

# round NAME PROGRESS MODE...: for each mode, prune everything, build cold,
# then build again warm; after each plain build, osv-scanner scans its
# result (OSV=1). The times go to OUT/times as "name mode kind seconds"
# (mode osv: the scan after the plain build of that kind), the logs to
# OUT/name.mode.kind.log.
round() {
	local name=$1 progress=$2 mode kind s start
	shift 2
	for mode in "$@"; do
		bk prune --all >/dev/null
		for kind in cold warm; do
			s=$(timed_build "$mode" "$OUT/$name.$mode.$kind.log" "$progress")
			echo "$name $mode $kind $s" >>"$OUT/times"
			log "  $name $mode $kind: $s s"
			if [[ $mode == plain && $OSV == 1 ]]; then
				start=$EPOCHREALTIME
				scan_osv "$W/out/plain.tar" >"$OUT/$name.osv.$kind.log" 2>&1 ||
					{ tail -20 "$OUT/$name.osv.$kind.log" >&2; die "osv-scanner failed (log: $OUT/$name.osv.$kind.log)"; }
				s=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }')
				echo "$name osv $kind $s" >>"$OUT/times"
				log "  $name osv $kind: $s s"
			fi
		done
	done
}

# ----------------------------------------------------------------- report ---
# timeline LOG: the vertices of a --progress rawjson log, in start order:
# start and end in seconds from the first vertex's start, duration, C when
# cached. A gap between one vertex's end and the next's start is time the
# solver spent between them (cache keys, mounts), not in any vertex.
timeline() {
	python3 - "$1" <<-'PY'
		import json, sys
		from datetime import datetime

		def ts(s):
		    # RFC 3339 with nanoseconds; Python takes microseconds.
		    s = s.rstrip("Z")
		    if "." in s:
		        a, b = s.split(".")
		        s = a + "." + b[:6]
		    return datetime.fromisoformat(s).timestamp()

		vs, dec = {}, json.JSONDecoder()
		# docker-secure prints its verdict and warnings between the JSON
		# objects: skip what does not parse.
		for line in open(sys.argv[1], errors="replace"):
		    try:
		        obj = dec.decode(line)
		    except ValueError:
		        continue
		    if not isinstance(obj, dict):
		        continue
		    for v in obj.get("vertexes") or []:
		        d = vs.setdefault(v["digest"], {})
		        d["name"] = v.get("name") or d.get("name", "?")
		        for k in ("started", "completed"):
		            if v.get(k):
		                d[k] = ts(v[k])
		        d["cached"] = d.get("cached") or bool(v.get("cached"))
		started = [d for d in vs.values() if "started" in d]
		if not started:
		    sys.exit("no vertices in " + sys.argv[1])
		t0 = min(d["started"] for d in started)
		t1 = max(d.get("completed", d["started"]) for d in started)
		print("    %d vertices, first start to last end %.2f s" % (len(vs), t1 - t0))
		print("    start    end    dur")
		for d in sorted(started, key=lambda d: d["started"]):
		    if d["name"].startswith(("[internal] load build definition", "[internal] load .dockerignore")) or \
		            " load .dockerignore" in d["name"] or " load metadata for " in d["name"]:
		        continue  # all ~0.01 s
		    end = d.get("completed", d["started"])
		    print("    %5.2f  %5.2f  %5.2f %s %s" % (d["started"] - t0, end - t0, end - d["started"],
		                                         "C" if d["cached"] else " ", d["name"][:88]))
	PY
}

# osv_findings: what the last timed osv-scanner scan found, as it says.
osv_findings() {
	grep -m1 -o 'Total [0-9]* packages affected by [0-9]* known vulnerabilities[^.]*' "$OUT/round$ROUNDS.osv.cold.log" 2>/dev/null || echo "see $OUT/round$ROUNDS.osv.cold.log"
}

report() {
	local verdict
	verdict=$(grep -h '^secure-build linux' -A1 "$OUT/round$ROUNDS.secure.cold.log" | tr -s ' ' | paste -sd' ' || true)
	{
		echo "== secure-build build benchmark $STAMP ($(nproc) cores, load average at the start $LOAD_START)"
		echo "docker-secure $OURS_REV; BuildKit $BUILDKIT_VERSION (buildkitd, buildctl from $(dirname "$BUILDKITD")), OCI worker"
		echo "project: final stage = $ROOT as a base image ($DEB_PACKAGES Debian packages, ${BASE_MB} MB of blobs) + /app/node_modules"
		echo "  $APP_NOTE"
		echo "  secure build: $verdict"
		echo "database: $DB_NOTE; $DB_MB MB"
		[[ $OSV == 0 ]] || echo "alternative: plain, then $OSV_VERSION scan image --archive --offline of its tar, on the corpus's all.zip files ($(osv_findings))"
		echo "rounds: $ROUNDS timed after $WARMUP untimed; cold = after buildctl prune --all, warm = the same build right after"
		if ((WARMUP > 0)); then
			echo "first secure build on this client (cold builder, no layer cache: the scanner and the database compressed once): $(awk '$1 == "warmup1" && $2 == "secure" && $3 == "cold" { print $4 }' "$OUT/times") s"
		fi
		echo
		target_table plain
		echo
		[[ $ORIGINS == 0 ]] || { origins_table; echo; }
		if [[ $TIMELINE == 1 ]]; then
			echo "timelines of one more round, untimed above (--progress rawjson; wall = this script's clock):"
			for kind in cold warm; do
				for mode in plain secure; do
					echo "  $mode $kind, wall $(awk -v m="$mode" -v k="$kind" '$1 == "trace" && $2 == m && $3 == k { print $4 }' "$OUT/times") s:"
					timeline "$OUT/trace.$mode.$kind.log"
				done
			done
			echo
		fi
		echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "logs: $OUT"
	} | tee "$OUT/report.txt"
}

# ------------------------------------------------------------------- main ---
build_tools
find_root
make_db
[[ $OSV == 0 ]] || make_osv_db
make_app base
mkdir -p "$W/out"
log "starting buildkitd ($ADDR)"
start_buildkitd
make_base
log "base image $BASE@$BASE_DIGEST; database $DB_DIR"

: >"$OUT/times"
for ((i = 1; i <= WARMUP; i++)); do
	log "warm-up round $i (untimed)"
	round "warmup$i" plain plain secure "${EXTRA_MODES[@]}"
done
for ((i = 1; i <= ROUNDS; i++)); do
	log "round $i of $ROUNDS"
	# Alternate which goes first, so that drift hits both alike.
	if ((i % 2)); then round "round$i" plain plain secure "${EXTRA_MODES[@]}"; else round "round$i" plain "${EXTRA_MODES[@]}" secure plain; fi
done
if [[ $TIMELINE == 1 ]]; then
	log "one more round with --progress rawjson, for the timelines"
	round trace rawjson plain secure
fi
report
