#!/usr/bin/env bash
# Benchmark "docker-secure sbom" against syft and trivy on two Debian roots.
#
#   bash test/bench/sbom.sh            (as root; Debian 12 host with go, apt)
#
# Environment:
#   BENCH_DIR  work dir for peer binaries, roots and results
#              (default /var/tmp/secure-build-bench; reused on the next run)
#   RUNS       timed runs per tool and root, after one warm-up run (default 5)
#   ROOTS      which roots to benchmark (default "minbase larger")
#   MIRROR     Debian mirror (default http://deb.debian.org/debian)
#   REPORT_ONLY=BENCH_DIR/results/STAMP   print that run's report again, run nothing
#
# For each root and tool it prints the median wall time, the median peak RSS
# (GNU time), and the packages found per purl type, read from each tool's
# CycloneDX output; then, per ecosystem, the packages a peer finds that we do
# not, and the ones only we find. Raw outputs stay in BENCH_DIR/results/.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-/var/tmp/secure-build-bench}
RUNS=${RUNS:-5}
ROOTS=${ROOTS:-minbase larger}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
SYFT_VERSION=v1.57.1
TRIVY_VERSION=v0.74.0
# Packages put into the larger root (pinned so runs compare).
NPM_PACKAGES=(express@4.21.2 lodash@4.17.21 minimist@1.2.5)
GO_DEP=golang.org/x/text@v0.14.0

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$BENCH_DIR/bin
ROOTS_DIR=$BENCH_DIR/roots
TRIVY_CACHE=$BENCH_DIR/trivy-cache
TOOLS=(docker-secure syft trivy)

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap and chroot need it)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
command -v go >/dev/null || die "go is not on PATH"
mkdir -p "$BIN" "$ROOTS_DIR" "$TRIVY_CACHE"

# ---------------------------------------------------------------- mounts ---
MOUNTS=()
# unmount_under DIR: unmount everything mounted at or below DIR, deepest first.
unmount_under() {
	local dir m
	dir=$(realpath -m "$1")
	findmnt -rn -o TARGET 2>/dev/null | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' |
		sort -r | while read -r m; do
		log "unmounting $m"
		umount "$m" 2>/dev/null || umount -l "$m" || log "WARNING: could not unmount $m"
	done
}
cleanup() {
	local rc=$? m
	for m in "${MOUNTS[@]}"; do
		if mountpoint -q "$m"; then umount "$m" 2>/dev/null || umount -l "$m" || true; fi
	done
	[[ $rc -eq 0 ]] || log "failed (exit $rc); mounts cleaned up"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# safe_rm DIR: remove a (partial) root, never across a mount point.
safe_rm() {
	[[ -e $1 ]] || return 0
	unmount_under "$1"
	rm -rf --one-file-system "$1"
}

# ---------------------------------------------------------- host packages ---
ensure_host_packages() {
	local missing=()
	command -v debootstrap >/dev/null || [[ -x /usr/sbin/debootstrap ]] || missing+=(debootstrap)
	/usr/bin/time -f '%M' true >/dev/null 2>&1 || missing+=(time)
	command -v python3 >/dev/null || missing+=(python3)
	command -v npm >/dev/null || missing+=(nodejs npm)
	command -v findmnt >/dev/null || missing+=(util-linux)
	if ((${#missing[@]})); then
		log "apt-get install ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	export PATH=$PATH:/usr/sbin:/sbin
}

# ------------------------------------------------------------------ tools ---
ensure_peers() {
	if [[ ! -x $BIN/syft ]]; then
		log "installing syft $SYFT_VERSION (about 3 min)"
		GOBIN=$BIN GOFLAGS=-buildvcs=false go install "github.com/anchore/syft/cmd/syft@$SYFT_VERSION"
	fi
	if [[ ! -x $BIN/trivy ]]; then
		log "installing trivy $TRIVY_VERSION (about 8 min)"
		GOEXPERIMENT=jsonv2 GOBIN=$BIN GOFLAGS=-buildvcs=false \
			go install "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION"
	fi
}

build_ours() {
	log "building docker-secure from $REPO (CGO_ENABLED=0)"
	(cd "$REPO" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -o "$BIN/docker-secure" ./cmd/docker-secure)
	OURS_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]]; then OURS_REV+="+dirty"; fi
}

# Trivy offline refuses roots with .jar files until a Java DB exists. Give it
# an empty one: the schema of trivy-java-db's pkg/db (SchemaVersion 1) and a
# metadata.json whose NextUpdate lies far in the future.
ensure_trivy_java_db() {
	local dir=$TRIVY_CACHE/java-db
	[[ -s $dir/trivy-java.db && -s $dir/metadata.json ]] && return 0
	log "creating an empty trivy Java DB in $dir"
	mkdir -p "$dir"
	python3 - "$dir" <<'PY'
import json, os, sqlite3, sys
d = sys.argv[1]
db = os.path.join(d, "trivy-java.db")
if os.path.exists(db):
    os.remove(db)
c = sqlite3.connect(db)
c.executescript("""
CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);
CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT,
    foreign key (artifact_id) references artifacts(id));
CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);
CREATE INDEX indices_artifact_idx ON indices(artifact_id);
CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);
""")
c.commit()
c.close()
with open(os.path.join(d, "metadata.json"), "w") as f:
    json.dump({"Version": 1, "NextUpdate": "2999-01-01T00:00:00Z",
               "UpdatedAt": "2024-01-01T00:00:00Z",
               "DownloadedAt": "2024-01-01T00:00:00Z"}, f)
PY
}

# ------------------------------------------------------------------ roots ---
debootstrap_into() { # DIR [extra debootstrap args...]
	local dir=$1
	shift
	log "debootstrap --variant=minbase $* $SUITE $dir"
	debootstrap --variant=minbase "$@" "$SUITE" "$dir" "$MIRROR" >"$dir.debootstrap.log" 2>&1 ||
		{ tail -20 "$dir.debootstrap.log" >&2; die "debootstrap failed (log: $dir.debootstrap.log)"; }
}

drop_debs() { rm -f "$1"/var/cache/apt/archives/*.deb; }

make_minbase() {
	local dir=$1
	debootstrap_into "$dir"
	drop_debs "$dir"
}

make_larger() {
	local dir=$1
	debootstrap_into "$dir" --include=python3,python3-requests,python3-urllib3,git,curl,ca-certificates
	cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
	printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
	chmod +x "$dir/usr/sbin/policy-rc.d"
	MOUNTS+=("$dir/proc")
	mount -t proc proc "$dir/proc"
	log "chroot: apt-get install nodejs npm openjdk-17-jre-headless (a few minutes)"
	if ! chroot "$dir" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -ec '
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends nodejs npm openjdk-17-jre-headless
		apt-get clean' >"$dir.apt.log" 2>&1; then
		tail -20 "$dir.apt.log" >&2
		die "apt-get in the chroot failed (log: $dir.apt.log)"
	fi
	umount "$dir/proc"
	rm -f "$dir/usr/sbin/policy-rc.d"
	drop_debs "$dir"

	log "npm install ${NPM_PACKAGES[*]} into /app"
	mkdir -p "$dir/app"
	npm install --prefix "$dir/app" --no-audit --no-fund --loglevel=error "${NPM_PACKAGES[@]}" >&2

	log "building a Go binary that needs $GO_DEP"
	local src=$BENCH_DIR/src/gohello
	rm -rf "$src"
	mkdir -p "$src"
	cat >"$src/go.mod" <<-'EOF'
		module example.com/benchhello

		go 1.22
	EOF
	cat >"$src/main.go" <<-'EOF'
		package main

		import (
			"fmt"

			"golang.org/x/text/cases"
			"golang.org/x/text/language"
		)

		func main() { fmt.Println(cases.Title(language.English).String("hello, bench")) }
	EOF
	(cd "$src" && GOFLAGS=-mod=mod go get "$GO_DEP" >&2 &&
		CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -o "$dir/usr/local/bin/benchhello" .)
}

# ensure_root NAME: build ROOTS_DIR/NAME once; a stamp marks it complete.
ensure_root() {
	local name=$1 dir=$ROOTS_DIR/$1
	if [[ -f $dir.done && -d $dir ]]; then
		unmount_under "$dir" # left over from a killed run
		return 0
	fi
	log "making root '$name' in $dir"
	safe_rm "$dir"
	rm -f "$dir.done"
	mkdir -p "$dir"
	"make_$name" "$dir"
	touch "$dir.done"
}

# ---------------------------------------------------------------- running ---
# run_tool TOOL ROOT OUTFILE ERRFILE TIMEFILE: one measured run.
run_tool() {
	local tool=$1 root=$2 out=$3 err=$4 tf=$5
	local -a cmd
	case $tool in
	docker-secure) cmd=("$BIN/docker-secure" sbom --format cyclonedx-json "$root") ;;
	syft) cmd=("$BIN/syft" scan "dir:$root" -o cyclonedx-json) ;;
	trivy) cmd=("$BIN/trivy" rootfs --cache-dir "$TRIVY_CACHE" --offline-scan --skip-db-update
		--skip-java-db-update --skip-version-check --disable-telemetry --format cyclonedx "$root") ;;
	esac
	SYFT_CHECK_FOR_APP_UPDATE=false /usr/bin/time -f '%e %M' -o "$tf" "${cmd[@]}" >"$out" 2>"$err"
}

# bench_root NAME: warm-up + RUNS runs of every tool; results in RES/NAME.
bench_root() {
	local name=$1 root=$ROOTS_DIR/$1 d=$RES/$1 tool i
	mkdir -p "$d"
	for tool in "${TOOLS[@]}"; do
		log "$name: $tool (1 warm-up + $RUNS runs)"
		: >"$d/$tool.times"
		rm -f "$d/$tool.failed"
		if ! run_tool "$tool" "$root" "$d/$tool.json" "$d/$tool.warmup.err" "$d/$tool.t"; then
			log "WARNING: $tool failed on $name; last lines of stderr:"
			tail -5 "$d/$tool.warmup.err" >&2
			echo "warm-up failed" >"$d/$tool.failed"
			continue
		fi
		for ((i = 1; i <= RUNS; i++)); do
			if ! run_tool "$tool" "$root" "$d/$tool.json" "$d/$tool.err" "$d/$tool.t"; then
				log "WARNING: $tool failed on $name in run $i"
				tail -5 "$d/$tool.err" >&2
				echo "run $i failed" >"$d/$tool.failed"
				break
			fi
			cat "$d/$tool.t" >>"$d/$tool.times"
		done
	done
	{
		echo "path=$root"
		echo "size=$(du -sh --apparent-size "$root" | cut -f1)"
		echo "files=$(find "$root" -xdev | wc -l)"
	} >"$d/root.info"
}

# ----------------------------------------------------------------- report ---
report() {
	python3 - "$RES" "${ROOTS_LIST[@]}" <<'PY'
import json, os, re, statistics, sys
from collections import defaultdict
from urllib.parse import unquote

res, roots = sys.argv[1], sys.argv[2:]
TOOLS = ["docker-secure", "syft", "trivy"]
PEERS = TOOLS[1:]
CAP = 30

def parse_purl(p):
    """-> (type, namespace/name, version, qualifiers dict) or None."""
    if not p.startswith("pkg:"):
        return None
    p = p[4:].split("#", 1)[0]
    p, _, q = p.partition("?")
    quals = {}
    for kv in filter(None, q.split("&")):
        k, _, v = kv.partition("=")
        quals[k.lower()] = unquote(v)
    path, _, ver = p.rpartition("@") if "@" in p.split("/")[-1] else (p, "", "")
    typ, _, name = path.strip("/").partition("/")
    return typ.lower(), unquote(name), unquote(ver), quals

def components(doc):
    stack = list(doc.get("components") or [])
    while stack:
        c = stack.pop()
        yield c
        stack.extend(c.get("components") or [])

def norm_key(typ, name, ver, quals):
    """Comparison key: loose about spelling differences between tools."""
    if typ == "deb" and quals.get("epoch") and ":" not in ver:
        ver = quals["epoch"] + ":" + ver
    if typ == "pypi":
        name = re.sub(r"[-_.]+", "-", name.lower())
    if typ == "golang":
        if name in ("stdlib", "go", "golang.org/go", "std"):
            name = "stdlib"
            ver = re.sub(r"^go", "", ver)
        ver = ver[1:] if ver.startswith("v") else ver
        if ver == "(devel)":  # main module of a binary built outside VCS
            ver = ""
    if typ in ("npm", "gem", "cargo", "nuget", "composer"):
        name = name.lower()
    return (typ, name, ver)

LOCATION_PROPS = ("secure-build:location", "syft:location:0:path", "aquasecurity:trivy:FilePath")

def location(c):
    for p in c.get("properties") or []:
        if p.get("name") in LOCATION_PROPS and p.get("value"):
            return p["value"]
    return ""

def load(path):
    with open(path) as f:
        doc = json.load(f)
    purls, nv, keys, nopurl, locs = defaultdict(set), defaultdict(set), set(), 0, {}
    for c in components(doc):
        if c.get("type") in ("operating-system", "file"):
            continue
        p = c.get("purl")
        parsed = parse_purl(p) if p else None
        if not parsed:
            nopurl += 1
            continue
        typ, name, ver, quals = parsed
        base = p.split("?", 1)[0].split("#", 1)[0]
        if typ == "deb" and quals.get("epoch"):
            base += "?epoch=" + quals["epoch"]
        purls[typ].add(base)
        nv[typ].add(name + "@" + ver)
        k = norm_key(typ, name, ver, quals)
        keys.add(k)
        locs.setdefault(k, location(c))
    return purls, nv, keys, nopurl, locs

def by_location(keys, loc):
    """One line: how many of keys were found under each top directory."""
    dirs = defaultdict(int)
    for k in keys:
        dirs["/".join(loc(k).split("/")[:4]) or "?"] += 1
    top = sorted(dirs.items(), key=lambda x: -x[1])
    print("    all %d by location: %s%s" % (len(keys), ", ".join("%s %d" % x for x in top[:6]),
                                           ", ..." if len(top) > 6 else ""))

def med(xs):
    return statistics.median(xs) if xs else None

def fmt(x, spec):
    return "-" if x is None else format(x, spec)

def ratio(a, b):
    return "-" if a is None or not b else "%.2f" % (a / b)

for root in roots:
    d = os.path.join(res, root)
    info = dict(l.strip().split("=", 1) for l in open(os.path.join(d, "root.info")))
    data = {}
    for t in TOOLS:
        r = {"status": "ok", "wall": None, "rss": None, "stderr": []}
        tf = os.path.join(d, t + ".times")
        times = [l.split() for l in open(tf)] if os.path.exists(tf) else []
        walls = [float(a) for a, b in times]
        rsses = [int(b) / 1024 for a, b in times]
        r["wall"], r["rss"], r["n"] = med(walls), med(rsses), len(times)
        if walls:
            r["range"] = "%.2f-%.2f" % (min(walls), max(walls))
        failed = os.path.join(d, t + ".failed")
        if os.path.exists(failed):
            r["status"] = "FAILED (" + open(failed).read().strip() + ")"
        try:
            r["purls"], r["nv"], r["keys"], r["nopurl"], r["locs"] = load(os.path.join(d, t + ".json"))
        except Exception as e:  # noqa: BLE001
            r["status"] = "no usable output (%s)" % e.__class__.__name__
            r["purls"], r["nv"], r["keys"], r["nopurl"], r["locs"] = {}, {}, set(), 0, {}
        errf = os.path.join(d, t + ".warmup.err")
        if os.path.exists(errf):
            r["stderr"] = [l.rstrip("\n") for l in open(errf, errors="replace") if l.strip()]
        data[t] = r

    print()
    print("=" * 78)
    print("root %s: %s (%s, %s files)" % (root, info.get("path"), info.get("size"), info.get("files")))
    print("=" * 78)
    W = 16
    head = "%-26s" % "" + "".join("%*s" % (W, t) for t in TOOLS) + "%12s%12s" % ("ours/trivy", "ours/syft")
    print(head)
    print("-" * len(head))
    o, s, tv = data["docker-secure"], data["syft"], data["trivy"]
    print("%-26s" % ("wall time, median (s)") + "".join("%*s" % (W, fmt(data[t]["wall"], ".2f")) for t in TOOLS)
          + "%12s%12s" % (ratio(o["wall"], tv["wall"]), ratio(o["wall"], s["wall"])))
    print("%-26s" % ("  min-max over runs") + "".join("%*s" % (W, data[t].get("range", "-")) for t in TOOLS))
    print("%-26s" % ("peak RSS, median (MiB)") + "".join("%*s" % (W, fmt(data[t]["rss"], ".0f")) for t in TOOLS)
          + "%12s%12s" % (ratio(o["rss"], tv["rss"]), ratio(o["rss"], s["rss"])))
    print("%-26s" % ("timed runs") + "".join("%*s" % (W, data[t]["n"]) for t in TOOLS))
    types = sorted({ty for t in TOOLS for ty in data[t]["purls"]},
                   key=lambda ty: (-max(len(data[t]["purls"].get(ty, ())) for t in TOOLS), ty))
    print("packages by purl type:     unique purls / unique name@version")
    for ty in types:
        cells = []
        for t in TOOLS:
            a, b = len(data[t]["purls"].get(ty, ())), len(data[t]["nv"].get(ty, ()))
            cells.append("-" if not a else ("%d / %d" % (a, b)))
        print("%-26s" % ("  " + ty) + "".join("%*s" % (W, c) for c in cells))
    print("%-26s" % "  total" + "".join(
        "%*s" % (W, "%d / %d" % (sum(map(len, data[t]["purls"].values())), sum(map(len, data[t]["nv"].values()))))
        for t in TOOLS))
    print("%-26s" % "  other comps without purl" + "".join("%*s" % (W, data[t]["nopurl"]) for t in TOOLS))
    for t in TOOLS:
        r = data[t]
        if r["status"] != "ok":
            print("!! %s: %s" % (t, r["status"]))
    errs = data["docker-secure"]["stderr"]
    print("docker-secure stderr (warm-up run): %d line(s)" % len(errs))
    for l in errs[:10]:
        print("    " + l[:200])
    if len(errs) > 10:
        print("    ... %d more in %s" % (len(errs) - 10, os.path.join(d, "docker-secure.warmup.err")))

    # ---- differences
    ours = data["docker-secure"]["keys"]
    peer_keys = {t: data[t]["keys"] for t in PEERS}
    union = set().union(*peer_keys.values())
    names_by = {t: defaultdict(set) for t in TOOLS}
    for t in TOOLS:
        for ty, n, v in data[t]["keys"]:
            names_by[t][(ty, n)].add(v)
    print()
    print("--- %s: differences by ecosystem (type/name@version, qualifiers dropped; where found) ---" % root)
    for ty in types:
        missing = sorted(k for k in union - ours if k[0] == ty)
        only = sorted(k for k in ours - union if k[0] == ty)
        if not missing and not only:
            print("[%s] same set (%d)" % (ty, len({k for k in ours if k[0] == ty})))
            continue
        print("[%s] found by a peer, not by ours: %d  (syft-only %d, trivy-only %d, both %d)" % (
            ty, len(missing),
            sum(1 for k in missing if k in peer_keys["syft"] and k not in peer_keys["trivy"]),
            sum(1 for k in missing if k in peer_keys["trivy"] and k not in peer_keys["syft"]),
            sum(1 for k in missing if k in peer_keys["trivy"] and k in peer_keys["syft"])))
        for k in missing[:CAP]:
            who = [t for t in PEERS if k in peer_keys[t]]
            other = sorted(names_by["docker-secure"].get((k[0], k[1]), ()))
            note = ("  (ours has " + ", ".join(v or "no version" for v in other) + ")") if other else ""
            print("    %-50s [%s] %s%s" % ("%s/%s@%s" % k, ",".join(who), data[who[0]]["locs"].get(k, ""), note))
        if len(missing) > CAP:
            print("    ... %d more" % (len(missing) - CAP))
            by_location(missing, lambda k: next(data[t]["locs"][k] for t in PEERS if k in peer_keys[t]))
        print("[%s] found by ours only: %d" % (ty, len(only)))
        for k in only[:CAP]:
            other = sorted(set().union(*(names_by[t].get((k[0], k[1]), set()) for t in PEERS)))
            note = ("  (peers have " + ", ".join(v or "no version" for v in other) + ")") if other else ""
            print("    %-50s %s%s" % ("%s/%s@%s" % k, data["docker-secure"]["locs"].get(k, ""), note))
        if len(only) > CAP:
            print("    ... %d more" % (len(only) - CAP))
            by_location(only, lambda k: data["docker-secure"]["locs"].get(k, ""))
PY
}

# ------------------------------------------------------------------- main ---
START=$SECONDS
if [[ -n ${REPORT_ONLY:-} ]]; then # REPORT_ONLY=RESULTS_DIR: print an earlier run's report again
	RES=$REPORT_ONLY
	ROOTS_LIST=()
	for r in "$RES"/*/root.info; do ROOTS_LIST+=("$(basename "$(dirname "$r")")"); done
	report
	exit 0
fi
ensure_host_packages
ensure_peers
build_ours
ensure_trivy_java_db
read -r -a ROOTS_LIST <<<"$ROOTS"
for r in "${ROOTS_LIST[@]}"; do
	declare -F "make_$r" >/dev/null || die "unknown root '$r' (known: minbase larger)"
	ensure_root "$r"
done
RES=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES"
for r in "${ROOTS_LIST[@]}"; do bench_root "$r"; done

echo "docker-secure sbom benchmark: ours=$OURS_REV syft=$SYFT_VERSION trivy=$TRIVY_VERSION," \
	"RUNS=$RUNS (+1 warm-up), $(nproc) CPUs, warm page cache; go $(go env GOVERSION)"
report | tee "$RES/report.txt"
echo
echo "raw outputs: $RES  (whole run: $((SECONDS - START)) s)"
