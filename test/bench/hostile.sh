#!/usr/bin/env bash
# Hostile-corpus benchmark: peak RSS and wall time of "docker-secure sbom"
# and "scan" on bombs that declare, or inflate to, far more than they hold.
#
#   bash test/bench/hostile.sh
#
# Environment:
#   BENCH_DIR    work dir for the binary, the corpus and the outputs
#                (default /var/tmp/secure-build-hostile; the corpus is reused)
#   PROCS        GOMAXPROCS values to run each case at (default "2 8")
#   ONLY         case names to run (default: all)
#   MAX_RSS_MB   the bound on peak RSS (default 512)
#   MAX_SECONDS  the bound on wall time (default 10)
#   KILL_AFTER   seconds after which a run is killed (default 60), and
#   MEM_CAP_MB   address space a run may map (default 4096): a bomb that
#                escapes its bounds fails its row instead of the machine
#   FUZZTIME     how long each fuzz target of a parser of untrusted input
#                runs after the cases (default 60s; 0 skips fuzzing)
#
# The corpus is written by test/bench/hostilegen (64 copies of each bomb in
# one root where a root can hold many). Each case prints one row per
# GOMAXPROCS: peak RSS (GNU time), wall time, exit status, and PASS when
# both are within the bounds, MISS otherwise. Peak RSS counts the process's
# own memory: files an image unpack writes to tmpfs are not in it.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-/var/tmp/secure-build-hostile}
PROCS=${PROCS:-2 8}
MAX_RSS_MB=${MAX_RSS_MB:-512}
MAX_SECONDS=${MAX_SECONDS:-10}
KILL_AFTER=${KILL_AFTER:-60}
MEM_CAP_MB=${MEM_CAP_MB:-4096}
FUZZTIME=${FUZZTIME:-60s}
ONLY=${ONLY:-}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$BENCH_DIR/bin/docker-secure
CORPUS=$BENCH_DIR/corpus
OUT=$BENCH_DIR/out

log() { printf '[hostile %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH"
/usr/bin/time -f '%M' true >/dev/null 2>&1 || die "GNU time is missing (apt-get install time)"
mkdir -p "$(dirname "$BIN")" "$CORPUS" "$OUT"

log "building docker-secure"
(cd "$REPO" && go build -o "$BIN" ./cmd/docker-secure)
log "writing the corpus into $CORPUS"
(cd "$REPO" && go run ./test/bench/hostilegen -out "$CORPUS")

# case name, then the docker-secure arguments.
CASES=(
	"nested-jar|sbom $CORPUS/nested-jar/root"
	"cargo-zlib|sbom $CORPUS/cargo-zlib/root"
	"slow-egg|sbom $CORPUS/slow-egg/root"
	"wheel-bomb|sbom $CORPUS/wheel-bomb/root"
	"dpkg-huge|sbom $CORPUS/dpkg-huge/root"
	"tar-2gib|sbom docker-archive:$CORPUS/tar-2gib/image.tar"
	"yaml-alias|scan --policy $CORPUS/yaml-alias/policy.yaml $CORPUS/yaml-alias/root"
	"rpm-il|sbom $CORPUS/rpm-il/root"
)

# run NAME PROCS ARGS...: one run under the caps; prints its row.
run() {
	local name=$1 procs=$2 rc=0 stats rss_kb secs status verdict
	shift 2
	local base=$OUT/$name.$procs
	(
		ulimit -v $((MEM_CAP_MB * 1024))
		GOMAXPROCS=$procs exec timeout -s KILL "$KILL_AFTER" \
			/usr/bin/time -f '%M %e %x' -o "$base.time" "$BIN" "$@" >"$base.stdout" 2>"$base.stderr"
	) || rc=$?
	if [[ -s $base.time ]] && stats=$(tail -n 1 "$base.time") && [[ $stats =~ ^[0-9]+\ [0-9.]+\ -?[0-9]+$ ]]; then
		read -r rss_kb secs status <<<"$stats"
	else
		# Killed (timeout or out of address space) before GNU time could report.
		rss_kb=0 secs=$KILL_AFTER status="killed($rc)"
	fi
	verdict=PASS
	# A Go runtime crash ("fatal error: out of memory", a panic) exits fast
	# and small: it is a miss too.
	if grep -qE '^(fatal error|panic): ' "$base.stderr"; then
		status="crash($status)"
	fi
	if ((rss_kb > MAX_RSS_MB * 1024)) || awk -v s="$secs" -v m="$MAX_SECONDS" 'BEGIN { exit !(s > m) }' || [[ $status == killed* || $status == crash* ]]; then
		verdict=MISS
	fi
	printf '%-12s %10s %14s %10s %10s %8s\n' "$name" "$procs" "$((rss_kb / 1024))" "$secs" "$status" "$verdict"
}

printf '%-12s %10s %14s %10s %10s %8s\n' case GOMAXPROCS "peak RSS MB" "wall s" exit bounds
for c in "${CASES[@]}"; do
	name=${c%%|*}
	[[ -z $ONLY || " $ONLY " == *" $name "* ]] || continue
	read -r -a args <<<"${c#*|}"
	for p in $PROCS; do
		run "$name" "$p" "${args[@]}"
	done
done
log "bounds: peak RSS <= $MAX_RSS_MB MB, wall <= $MAX_SECONDS s; outputs in $OUT"

# Every parser of untrusted input the project wrote or wraps: package
# databases, os-release, image layers, nested archives, binaries, the policy
# file, OpenVEX and OSV records.
FUZZ_TARGETS=(
	sbom:FuzzDpkgStatus sbom:FuzzApkInstalled sbom:FuzzOSRelease sbom:FuzzUnpackLayer
	sbom:FuzzJavaArchiveCheck sbom:FuzzZippedPython sbom:FuzzRustDepSection sbom:FuzzMayHoldGoBuildInfo
	sbom:FuzzManifestValues sbom:FuzzParseComposerInstalled
	sbom:FuzzRPMHeaderCheck policy:FuzzParse policy:FuzzAddVEX vuln:FuzzParseRecord registry:FuzzOpenTar
)
if [[ $FUZZTIME != 0 ]]; then
	for t in "${FUZZ_TARGETS[@]}"; do
		pkg=${t%%:*} target=${t#*:}
		[[ -z $ONLY || " $ONLY " == *" $target "* ]] || continue
		log "fuzzing $pkg $target for $FUZZTIME"
		# A short minimize time: the default minute would be spent shrinking
		# the first interesting input instead of fuzzing.
		(cd "$REPO" && go test "./$pkg" -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s) | tail -n 2
	done
fi
