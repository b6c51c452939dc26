# Shared steps of the demo and test scripts. Source it from the repository root.

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
CACHE_DIR="${SECURE_BUILD_CACHE:-$PWD/.cache}"

log() { printf '==> %s\n' "$*" >&2; }

# as_root runs a command as root: directly when we are root, else with sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_apt installs the Debian packages that are missing.
ensure_apt() {
	local missing=()
	for pkg in "$@"; do
		dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		log "installing ${missing[*]} with apt-get"
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# build_plugin builds the static docker-secure binary into bin/.
build_plugin() {
	local version
	version="$(git describe --tags --always --dirty 2>/dev/null || echo dev)"
	log "building bin/docker-secure ($version)"
	CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X github.com/secure-build/secure-build/plugin.Version=$version" \
		-o bin/docker-secure ./cmd/docker-secure
}

# install_plugin puts bin/docker-secure where the Docker CLI looks for plugins.
install_plugin() {
	local dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
	mkdir -p "$dir"
	install -m 0755 bin/docker-secure "$dir/docker-secure"
	log "installed $dir/docker-secure: run 'docker secure --help'"
}

# debian_root makes (once) a minimal Debian 12 root filesystem in $1 with
# debootstrap, and prints its path. A half-made root is never reused.
debian_root() {
	local dir="$1"
	if [ ! -f "$dir/.secure-build-complete" ]; then
		ensure_apt debootstrap
		log "debootstrap --variant=minbase bookworm $dir (about a minute)"
		as_root rm -rf "$dir.tmp"
		mkdir -p "$(dirname "$dir")"
		as_root debootstrap --variant=minbase bookworm "$dir.tmp" http://deb.debian.org/debian >"$CACHE_DIR/debootstrap.log" 2>&1 ||
			{ tail -20 "$CACHE_DIR/debootstrap.log" >&2; return 1; }
		# The downloaded .deb files are not installed packages.
		as_root find "$dir.tmp/var/cache/apt/archives" -name '*.deb' -delete
		as_root touch "$dir.tmp/.secure-build-complete"
		as_root rm -rf "$dir"
		as_root mv "$dir.tmp" "$dir"
	fi
	printf '%s\n' "$dir"
}

# build_buildkit builds buildkitd and buildctl from the BuildKit version pinned
# in go.mod (tool dependencies) into $CACHE_DIR/bin, unless they are already
# there and newer than go.mod, and exports their paths for the tests as
# SECURE_BUILD_BUILDKITD and SECURE_BUILD_BUILDCTL.
build_buildkit() {
	local bin="$CACHE_DIR/bin" cmd
	mkdir -p "$bin"
	for cmd in buildkitd buildctl; do
		if [ ! -x "$bin/$cmd" ] || [ go.mod -nt "$bin/$cmd" ]; then
			log "building $cmd from the go.mod-pinned BuildKit (buildkitd: about 2 minutes)"
			go build -o "$bin/$cmd.tmp" "github.com/moby/buildkit/cmd/$cmd"
			mv "$bin/$cmd.tmp" "$bin/$cmd"
		fi
	done
	export SECURE_BUILD_BUILDKITD="$bin/buildkitd"
	export SECURE_BUILD_BUILDCTL="$bin/buildctl"
}

# start_buildkitd starts a private buildkitd (OCI worker, runc) with its state
# and socket under $1, stops it when the script exits, and exports
# BUILDKIT_HOST for the clients.
start_buildkitd() {
	local dir="$1" i
	mkdir -p "$dir"
	export BUILDKIT_HOST="unix://$dir/buildkitd.sock"
	log "starting buildkitd at $BUILDKIT_HOST (log: $dir/buildkitd.log)"
	local cmd=("$SECURE_BUILD_BUILDKITD" --root "$dir/state" --addr "$BUILDKIT_HOST"
		--oci-worker=true --containerd-worker=false)
	# Not through the as_root function: in the background it would be a
	# subshell, and its pid not buildkitd's. sudo passes SIGTERM on.
	if [ "$(id -u)" -eq 0 ]; then
		"${cmd[@]}" >"$dir/buildkitd.log" 2>&1 &
	else
		# Its socket must be this user's to reach, as with a docker group.
		sudo "${cmd[@]}" --group "$(id -g)" >"$dir/buildkitd.log" 2>&1 &
	fi
	BUILDKITD_PID=$!
	trap 'as_root kill "$BUILDKITD_PID" 2>/dev/null; wait "$BUILDKITD_PID" 2>/dev/null || true' EXIT
	for i in $(seq 1 120); do
		"$SECURE_BUILD_BUILDCTL" debug workers >/dev/null 2>&1 && return 0
		kill -0 "$BUILDKITD_PID" 2>/dev/null || { tail -20 "$dir/buildkitd.log" >&2; return 1; }
		sleep 0.5
	done
	log "buildkitd did not answer in 60 s"
	tail -20 "$dir/buildkitd.log" >&2
	return 1
}

# oci_base makes an OCI layout image at $2 holding the root filesystem $1
# (FROM scratch, COPY / /), through the running buildkitd, and prints the
# image's digest.
oci_base() {
	local root="$1" layout="$2" dockerfile
	dockerfile="$(mktemp -d)"
	printf 'FROM scratch\nCOPY / /\n' >"$dockerfile/Dockerfile"
	rm -rf "$layout"
	"$SECURE_BUILD_BUILDCTL" build --progress quiet --frontend dockerfile.v0 \
		--local context="$root" --local dockerfile="$dockerfile" \
		--output "type=oci,dest=$layout,tar=false" >&2
	rm -rf "$dockerfile"
	sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' "$layout/index.json" | head -1
}
