# The fixtures test/bench/build.sh and test/bench/docker.sh build the same
# way: the Debian root, the project and the vulnerability database, each
# remade only when what it is made of changed; and the medians of the
# timings. Sourced after the script has set REPO, W, BIN, OUT, NPM, SEED,
# RECORDS and DB and defined log and die.

# build_our_tools puts docker-secure (SECURE_BIN, else this checkout's),
# osvgen and buildgen into BIN, and names the binary timed in OURS_REV.
build_our_tools() {
	if [[ -n ${SECURE_BIN:-} ]]; then
		log "timing $SECURE_BIN; building osvgen and buildgen"
		install -m 0755 "$SECURE_BIN" "$BIN/docker-secure"
		# Its scan step binary, if it was built with one (scripts/build.sh).
		rm -f "$BIN/secure-build-scan"
		[[ ! -f $(dirname "$SECURE_BIN")/secure-build-scan ]] ||
			install -m 0755 "$(dirname "$SECURE_BIN")/secure-build-scan" "$BIN/secure-build-scan"
		OURS_REV="$SECURE_BIN ($(sha256sum "$SECURE_BIN" | cut -c1-12))"
	else
		log "building docker-secure (CGO_ENABLED=0), osvgen and buildgen"
		# As released (make build): static, stripped, with the scan step
		# binary beside it, which is what the builder is sent.
		(cd "$REPO" && ./scripts/build.sh "$BIN")
		OURS_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
		if [[ -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]]; then OURS_REV+=" (with uncommitted changes)"; fi
	fi
	(cd "$REPO" && go build -o "$BIN/osvgen" ./test/bench/osvgen)
	(cd "$REPO" && go build -o "$BIN/buildgen" ./test/bench/buildgen)
}

# key_matches NAME KEY: whether the fixture NAME was made with KEY.
key_matches() { [[ -f $W/$1.key && $(cat "$W/$1.key") == "$2" ]]; }

find_root() {
	if [[ -n ${ROOT:-} ]]; then
		:
	elif [[ -f /work/cache/minbase/var/lib/dpkg/status ]]; then
		ROOT=/work/cache/minbase
	elif [[ -f $REPO/.cache/debian-bookworm-minbase/var/lib/dpkg/status ]]; then
		ROOT=$REPO/.cache/debian-bookworm-minbase
	else
		log "no Debian root yet: making one with scripts/lib.sh debian_root"
		# shellcheck disable=SC1091 # sourced from the repository root
		ROOT=$(cd "$REPO" && . scripts/lib.sh && debian_root "$REPO/.cache/debian-bookworm-minbase")
	fi
	[[ -f $ROOT/var/lib/dpkg/status ]] || die "ROOT=$ROOT is not a Debian root (no var/lib/dpkg/status)"
	DEB_PACKAGES=$(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W | wc -l)
}

# make_app BASE writes the project: Dockerfile, FROM BASE, and node_modules
# (buildgen).
make_app() {
	APP=$W/app
	local base=$1 dockerfile key
	# A build stage that runs something small, and a final stage that takes
	# its result and the npm packages.
	dockerfile=$(
		cat <<-EOF
			FROM $base AS build
			WORKDIR /src
			RUN echo "built by the build stage" >/src/built.txt && ls /usr/bin | wc -l >/src/usr-bin-count.txt

			FROM $base
			COPY --from=build /src/ /app/build/
			COPY node_modules /app/node_modules
			WORKDIR /app
		EOF
	)
	key=$({
		echo "npm=$NPM seed=$SEED records=$RECORDS"
		echo "$dockerfile"
		cat "$REPO/test/bench/buildgen/main.go" "$REPO"/test/bench/osvgen/corpus/*.go
	} | sha256sum | cut -c1-16)
	if key_matches app "$key" && [[ -f $APP/Dockerfile ]]; then
		log "reusing the project $APP"
		APP_NOTE=$(cat "$W/app.note")
		return 0
	fi
	log "writing the project $APP ($NPM npm packages)"
	rm -rf "$APP" "$W/app.key"
	mkdir -p "$APP"
	echo "$dockerfile" >"$APP/Dockerfile"
	"$BIN/buildgen" -out "$APP" -npm "$NPM" -seed "$SEED" -records "$RECORDS" >"$W/app.note"
	APP_NOTE=$(cat "$W/app.note")
	echo "$key" >"$W/app.key"
}

# make_db imports the vulnerability database the secure build is given.
make_db() {
	SECURE_POLICY=()
	case $DB in
	testdata)
		DB_DIR=$W/db-testdata
		DB_NOTE="vuln/testdata/osv/Debian and npm (6 records), default policy"
		rm -rf "$DB_DIR"
		"$BIN/docker-secure" db import --db "$DB_DIR" "$REPO/vuln/testdata/osv/Debian" "$REPO/vuln/testdata/osv/npm" >"$OUT/db-import.txt"
		;;
	osvgen)
		DB_DIR=$W/db-osvgen
		local corpus=$W/corpus sources=$W/debian-sources.txt key
		dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f '${source:Package} ${source:Version}\n' | sort -u >"$sources"
		key=$({
			echo "records=$RECORDS seed=$SEED"
			cat "$sources" "$REPO"/test/bench/osvgen/corpus/*.go
		} | sha256sum | cut -c1-16)
		if key_matches corpus "$key" && [[ -f $corpus/manifest.json ]]; then
			log "reusing the OSV corpus $corpus"
		else
			log "generating the OSV corpus ($RECORDS records, seed $SEED) in $corpus"
			rm -rf "$corpus" "$W/corpus.key"
			"$BIN/osvgen" corpus -out "$corpus" -records "$RECORDS" -seed "$SEED" -debian-sources "$sources" >"$W/corpus.txt"
			echo "$key" >"$W/corpus.key"
		fi
		# The synthetic records include fixable criticals about the root's
		# packages and the npm ones: the default policy would stop the build.
		SECURE_POLICY=(--fail-on none)
		DB_NOTE="osvgen corpus, $(head -1 "$W/corpus.txt" | sed 's/^corpus: //; s/, in [0-9.]*m\?s$//'); --fail-on none"
		log "importing it into $DB_DIR"
		rm -rf "$DB_DIR"
		"$BIN/docker-secure" db import --db "$DB_DIR" "$corpus"/{Debian,npm,PyPI,Go,Maven}/all.zip >"$OUT/db-import.txt"
		;;
	esac
	DB_MB=$(du -sm --apparent-size "$DB_DIR" | cut -f1)
}

# times_of BUILD CACHE: the timed rounds' seconds of one build (plain,
# buildx or secure) cold or warm, e.g. times_of secure warm | median.
times_of() { awk -v m="$1" -v k="$2" '$1 ~ /^round/ && $2 == m && $3 == k { print $4 }' "$OUT/times"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.2f", a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# scan_step_times: the seconds of the scan step's vertex ("scan the final
# stage", DONE) in the timed rounds' cold secure builds, one a line: the
# scan's own time, what a cold secure build may cost on top of the plain one.
scan_step_times() {
	local f
	for f in "$OUT"/round*.secure.cold.log; do
		awk '/\[secure-build [^]]*\] scan the final stage$/ { id = $1 }
			id != "" && $1 == id && $2 == "DONE" { sub(/s$/, "", $3); print $3; exit }' "$f"
	done
}

# target_table BASELINE: the medians of the BASELINE build (plain, buildx)
# and of the secure build, cold and warm, against the targets (cold at most
# 1.08x and at most the scan step's own time + 0.15 s over the baseline;
# warm at most +0.1 s), the medians of each round's own difference and
# ratio, then every timed run. When the rounds timed an
# offline osv-scanner scan of the baseline's result ("osv"), a column more:
# the baseline build followed by that scan, the user's alternative, which
# the secure build must beat.
target_table() {
	local base=$1 bc sc bw sw step alt_c=- alt_w=- mode kind
	bc=$(times_of "$base" cold | median)
	sc=$(times_of secure cold | median)
	bw=$(times_of "$base" warm | median)
	sw=$(times_of secure warm | median)
	step=$(scan_step_times | median)
	if [[ -n $(times_of osv cold) ]]; then
		alt_c=$(paired_sums "$base" cold | median)
		alt_w=$(paired_sums "$base" warm | median)
	fi
	printf '%-6s %9s %9s %7s %8s %14s   %-44s %s\n' mode "$base s" "secure s" ratio "diff s" "$base+osv s" target result
	awk -v p="$bc" -v s="$sc" -v step="$step" -v alt="$alt_c" 'BEGIN {
		r = s / p; ok = r <= 1.08 + 1e-9 && s - p <= step + 0.15 + 1e-9
		if (alt != "-") ok = ok && s < alt
		printf "%-6s %9.2f %9.2f %7.2f %+8.2f %14s   %-44s %s\n", "cold", p, s, r, s - p, alt,
			sprintf("<= 1.08x, <= scan step %.2f + 0.15 s%s", step, alt != "-" ? ", < alt" : ""), ok ? "PASS" : "MISS" }'
	awk -v p="$bw" -v s="$sw" -v alt="$alt_w" 'BEGIN {
		ok = s - p <= 0.1 + 1e-9
		if (alt != "-") ok = ok && s < alt
		printf "%-6s %9.2f %9.2f %7.2f %+8.2f %14s   %-44s %s\n", "warm", p, s, s / p, s - p, alt,
			sprintf("<= +0.1 s%s", alt != "-" ? ", < alt" : ""), ok ? "PASS" : "MISS" }'
	printf 'paired (each round against its own %s build, medians): cold %+.2f s, %.2fx; warm %+.2f s, %.2fx\n' "$base" \
		"$(round_pairs "$base" cold diff | median)" "$(round_pairs "$base" cold ratio | median)" \
		"$(round_pairs "$base" warm diff | median)" "$(round_pairs "$base" warm ratio | median)"
	echo
	echo "runs (s):"
	for kind in cold warm; do
		for mode in "$base" secure osv; do
			[[ -n $(times_of "$mode" "$kind") ]] || continue
			printf '  %-5s %-7s %s\n' "$kind" "$mode" "$(times_of "$mode" "$kind" | paste -sd' ')"
		done
	done
	printf '  cold  scan step (secure, its vertex) %s\n' "$(scan_step_times | paste -sd' ')"
}

# origins_table: what finding origins cost, the secure build against the
# same build with SECURE_BUILD_ORIGINS=false (mode noorigins), medians:
# cold at most +0.3 s, warm nothing more (+0.05 s, the clock's noise here).
origins_table() {
	local nc nw sc sw
	nc=$(times_of noorigins cold | median)
	nw=$(times_of noorigins warm | median)
	sc=$(times_of secure cold | median)
	sw=$(times_of secure warm | median)
	echo "finding origins (secure build with attribution against SECURE_BUILD_ORIGINS=false):"
	printf '%-6s %13s %9s %8s   %-10s %s\n' mode "no origins s" "secure s" "diff s" target result
	awk -v n="$nc" -v s="$sc" 'BEGIN { printf "%-6s %13.2f %9.2f %+8.2f   %-10s %s\n", "cold", n, s, s - n, "<= +0.3 s", s - n <= 0.3 + 1e-9 ? "PASS" : "MISS" }'
	awk -v n="$nw" -v s="$sw" 'BEGIN { printf "%-6s %13.2f %9.2f %+8.2f   %-10s %s\n", "warm", n, s, s - n, "<= +0.05 s", s - n <= 0.05 + 1e-9 ? "PASS" : "MISS" }'
	printf '  runs (s): cold %s; warm %s\n' "$(times_of noorigins cold | paste -sd' ')" "$(times_of noorigins warm | paste -sd' ')"
}

# round_pairs BASELINE CACHE diff|ratio: per timed round, the secure build's
# seconds less, or over, those of the round's own BASELINE build, one a line.
# The rounds alternate which goes first, so drift over the run (a disk
# slowing down) cancels out of the pairs, not out of the medians above.
round_pairs() {
	awk -v m="$1" -v k="$2" -v how="$3" '$1 ~ /^round/ && $3 == k && $2 == m { b[$1] = $4 }
		$1 ~ /^round/ && $3 == k && $2 == "secure" { s[$1] = $4 }
		END { for (r in s) if (r in b) printf "%.4f\n", how == "ratio" ? s[r] / b[r] : s[r] - b[r] }' "$OUT/times"
}

# paired_sums BUILD CACHE: per timed round, the BUILD's seconds plus those
# of the osv-scanner scan of its result, one a line.
paired_sums() {
	awk -v m="$1" -v k="$2" '$1 ~ /^round/ && $3 == k && ($2 == m || $2 == "osv") { t[$1] += $4; n[$1]++ }
		END { for (r in t) if (n[r] == 2) printf "%.3f\n", t[r] }' "$OUT/times"
}
