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

# build_plugin builds the static docker-secure binary into bin/, and beside
# it the scan step binary it sends builders (scripts/build.sh).
build_plugin() {
	local version
	version="$(git describe --tags --always --dirty 2>/dev/null || echo dev)"
	log "building bin/docker-secure and bin/secure-build-scan ($version)"
	"$(dirname "${BASH_SOURCE[0]}")/build.sh" bin "$version"
}

# install_plugin puts bin/docker-secure where the Docker CLI looks for
# plugins, and the scan step binary beside it.
install_plugin() {
	local dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
	mkdir -p "$dir"
	install -m 0755 bin/secure-build-scan "$dir/secure-build-scan"
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

# The Docker Engine the end-to-end tests run against, and buildx for the
# baseline builds. Not dependencies of the project's go.mod: dockerd and
# containerd pull in versions of shared modules (BuildKit, containerd) that
# conflict with ours, so they are built in a scratch module of their own.
DOCKERD_VERSION=v2.0.0-beta.24
CONTAINERD_VERSION=v2.4.2
BUILDX_VERSION=v0.38.2

# build_docker_engine builds dockerd (github.com/moby/moby/v2), containerd and
# containerd-shim-runc-v2 (github.com/containerd/containerd/v2) in the scratch
# module $CACHE_DIR/engine-mod, and installs buildx as docker-buildx, all into
# $CACHE_DIR/bin, unless the binaries of these versions are already there:
# a few minutes on an idle 2-core machine, 14 minutes on a busy one with an
# empty module cache. It exports their paths for the tests:
# SECURE_BUILD_DOCKERD, SECURE_BUILD_CONTAINERD, SECURE_BUILD_CONTAINERD_SHIM
# (the shim's folder, which containerd must find on PATH) and
# SECURE_BUILD_BUILDX.
build_docker_engine() {
	local bin="$CACHE_DIR/bin" mod="$CACHE_DIR/engine-mod" want have=""
	mkdir -p "$bin"
	want="moby/v2 $DOCKERD_VERSION containerd/v2 $CONTAINERD_VERSION buildx $BUILDX_VERSION"
	[ -f "$bin/docker-engine.versions" ] && have="$(cat "$bin/docker-engine.versions")"
	if [ "$have" != "$want" ] || ! _engine_binaries_present "$bin"; then
		rm -f "$bin/docker-engine.versions"
		log "building dockerd $DOCKERD_VERSION, containerd $CONTAINERD_VERSION (scratch module $mod; a few minutes)"
		rm -rf "$mod"
		mkdir -p "$mod"
		# A module of its own; go get records what the three commands need,
		# so no go mod tidy (of all of moby and containerd) is needed.
		(
			cd "$mod" &&
				go mod init secure-build.local/engine >/dev/null 2>&1 &&
				go get "github.com/moby/moby/v2/cmd/dockerd@$DOCKERD_VERSION" \
					"github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
					"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" &&
				go build -o "$bin/dockerd.tmp" github.com/moby/moby/v2/cmd/dockerd &&
				go build -o "$bin/containerd.tmp" github.com/containerd/containerd/v2/cmd/containerd &&
				# The shim runs in containers' namespaces: static, as released.
				CGO_ENABLED=0 go build -o "$bin/containerd-shim-runc-v2.tmp" \
					github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
		) || { log "building the Docker Engine failed"; return 1; }
		local cmd
		for cmd in dockerd containerd containerd-shim-runc-v2; do
			mv "$bin/$cmd.tmp" "$bin/$cmd"
		done
		log "installing buildx $BUILDX_VERSION as $bin/docker-buildx"
		GOBIN="$bin" go install "github.com/docker/buildx/cmd/buildx@$BUILDX_VERSION"
		mv "$bin/buildx" "$bin/docker-buildx"
		printf '%s\n' "$want" >"$bin/docker-engine.versions"
	fi
	export SECURE_BUILD_DOCKERD="$bin/dockerd"
	export SECURE_BUILD_CONTAINERD="$bin/containerd"
	export SECURE_BUILD_CONTAINERD_SHIM="$bin" # containerd-shim-runc-v2's folder
	export SECURE_BUILD_BUILDX="$bin/docker-buildx"
}

# _engine_binaries_present reports whether all of build_docker_engine's
# binaries are in $1.
_engine_binaries_present() {
	local cmd
	for cmd in dockerd containerd containerd-shim-runc-v2 docker-buildx; do
		[ -x "$1/$cmd" ] || return 1
	done
}

# start_docker_engine starts a private Docker Engine as root, as the tests'
# startDockerEngine does: containerd, then dockerd on it, with no iptables
# rules and no userland proxy, a bridge of its own (_engine_bridge) as its
# default network, and their sockets, state and logs in a fresh $1 (keep it short: unix socket paths
# are limited to 108 bytes). $2... are registries ("127.0.0.1:PORT") to reach
# over plain HTTP. It exports DOCKER_HOST for the docker CLI and stops the
# engine when the script exits (an EXIT trap: a script that sets its own
# calls stop_docker_engine from it). build_docker_engine must have run.
start_docker_engine() {
	local dir="$1" r
	shift
	if [ "$(id -u)" -ne 0 ]; then
		log "start_docker_engine: dockerd and containerd need root"
		return 1
	fi
	: "${SECURE_BUILD_DOCKERD:?run build_docker_engine first}"
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	DOCKER_ENGINE_DIR="$dir"
	# What a killed engine left mounted must go before its folders do.
	_unmount_under "$dir"
	rm -rf --one-file-system "${dir:?}"/{containerd,containerd-state,data,exec,*.sock,*.pid}
	printf 'version = 3\ndisabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"]\n' \
		>"$dir/containerd.toml"
	# Debian 12's runc (1.1.5) knows no time namespace, which dockerd puts
	# in containers' specs where the kernel has them.
	printf '{"features": {"time-namespaces": false}}\n' >"$dir/daemon.json"
	log "starting containerd and dockerd in $dir (logs there)"
	# containerd finds its shim on PATH; the shim finds runc there.
	PATH="$SECURE_BUILD_CONTAINERD_SHIM:$PATH:/usr/sbin:/sbin" "$SECURE_BUILD_CONTAINERD" \
		--config "$dir/containerd.toml" --root "$dir/containerd" --state "$dir/containerd-state" \
		--address "$dir/containerd.sock" >"$dir/containerd.log" 2>&1 &
	CONTAINERD_PID=$!
	trap stop_docker_engine EXIT
	for _ in $(seq 1 240); do
		[ -S "$dir/containerd.sock" ] && break
		kill -0 "$CONTAINERD_PID" 2>/dev/null || { tail -20 "$dir/containerd.log" >&2; return 1; }
		sleep 0.25
	done
	_engine_bridge "$dir" || return 1
	# Not --bridge=none: the engine's BuildKit runs RUN steps on the network
	# called bridge. Not docker0: an engine with --bridge=none deletes it.
	local args=(--config-file "$dir/daemon.json" --host "unix://$dir/docker.sock"
		--containerd "$dir/containerd.sock" --data-root "$dir/data" --exec-root "$dir/exec"
		--pidfile "$dir/dockerd.pid" --bridge "$DOCKER_ENGINE_BRIDGE"
		--iptables=false --ip6tables=false --userland-proxy=false)
	for r in "$@"; do args+=(--insecure-registry "$r"); done
	PATH="$SECURE_BUILD_CONTAINERD_SHIM:$PATH:/usr/sbin:/sbin" "$SECURE_BUILD_DOCKERD" "${args[@]}" \
		>"$dir/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	export DOCKER_HOST="unix://$dir/docker.sock"
	for _ in $(seq 1 360); do
		docker version >/dev/null 2>&1 && return 0
		kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -20 "$dir/dockerd.log" >&2; return 1; }
		sleep 0.25
	done
	log "dockerd did not answer at $DOCKER_HOST in 90 s"
	tail -20 "$dir/dockerd.log" >&2
	return 1
}

# stop_docker_engine stops what start_docker_engine started: dockerd, then
# containerd, then the shims of containers still running, and unmounts what
# they left under the engine's folder.
stop_docker_engine() {
	local pid
	for pid in ${DOCKERD_PID:-} ${CONTAINERD_PID:-}; do
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 1 120); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -KILL "$pid" 2>/dev/null && log "killed $pid: it did not stop on SIGTERM in 30 s"
		wait "$pid" 2>/dev/null || true
	done
	DOCKERD_PID='' CONTAINERD_PID=''
	[ -n "${DOCKER_ENGINE_DIR:-}" ] || return 0
	# A shim's command line names its containerd's socket, which is ours.
	for pid in $(pgrep -f "containerd-shim-runc-v2 .*$DOCKER_ENGINE_DIR/containerd.sock" || true); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	_unmount_under "$DOCKER_ENGINE_DIR"
	if [ -n "${DOCKER_ENGINE_BRIDGE:-}" ]; then
		ip link del "$DOCKER_ENGINE_BRIDGE" 2>/dev/null || true
	fi
}

# _engine_bridge creates the Linux bridge of the engine in $1, named after
# that folder (a stale one of a killed run is replaced), with a free /24 of
# 198.18.0.0/15 (set aside for benchmarks, RFC 2544), and sets
# DOCKER_ENGINE_BRIDGE. dockerd neither creates nor deletes such a bridge.
_engine_bridge() {
	local hash x i cidr=""
	hash="$(printf '%s' "$1" | sha256sum)"
	DOCKER_ENGINE_BRIDGE="sb${hash:0:8}"
	ip link del "$DOCKER_ENGINE_BRIDGE" 2>/dev/null || true
	for i in $(seq 0 255); do
		x=$(((16#${hash:8:2} + i) % 256))
		if ! ip -4 -o addr show | grep -q " 198\.18\.$x\."; then
			cidr="198.18.$x.1/24"
			break
		fi
	done
	[ -n "$cidr" ] || { log "no free /24 in 198.18.0.0/16 for the engine's bridge"; return 1; }
	ip link add "$DOCKER_ENGINE_BRIDGE" type bridge &&
		ip addr add "$cidr" dev "$DOCKER_ENGINE_BRIDGE" &&
		ip link set "$DOCKER_ENGINE_BRIDGE" up
}

# _unmount_under unmounts every mount point under $1, deepest first.
_unmount_under() {
	local m
	findmnt -rn -o TARGET | awk -v d="$1/" 'index($0, d) == 1' | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" || true
	done
}

# The cosign the signing tests verify with: v3 reads both cosign's
# sha256-<digest>.att tag (--new-bundle-format=false) and Sigstore bundle
# referrers, and its go line (1.26.0) builds with this machine's Go.
COSIGN_VERSION=v3.1.3

# build_cosign builds cosign $COSIGN_VERSION in the scratch module
# $CACHE_DIR/cosign-mod, so that its dependencies stay out of go.mod, into
# $CACHE_DIR/bin (about 3 minutes on an idle 2-core machine, far more on a
# busy one), unless that version is there; it exports SECURE_BUILD_COSIGN.
build_cosign() {
	local bin="$CACHE_DIR/bin" mod="$CACHE_DIR/cosign-mod" have=""
	mkdir -p "$bin"
	[ -f "$bin/cosign.version" ] && have="$(cat "$bin/cosign.version")"
	if [ "$have" != "$COSIGN_VERSION" ] || [ ! -x "$bin/cosign" ]; then
		rm -f "$bin/cosign.version"
		log "building cosign $COSIGN_VERSION (scratch module $mod; a few minutes)"
		rm -rf "$mod"
		mkdir -p "$mod"
		(
			cd "$mod" &&
				go mod init secure-build.local/cosign >/dev/null 2>&1 &&
				go get "github.com/sigstore/cosign/v3/cmd/cosign@$COSIGN_VERSION" &&
				CGO_ENABLED=0 go build -o "$bin/cosign.tmp" github.com/sigstore/cosign/v3/cmd/cosign
		) || { log "building cosign failed"; return 1; }
		mv "$bin/cosign.tmp" "$bin/cosign"
		printf '%s\n' "$COSIGN_VERSION" >"$bin/cosign.version"
	fi
	export SECURE_BUILD_COSIGN="$bin/cosign"
}
