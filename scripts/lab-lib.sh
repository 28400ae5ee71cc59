# The lab's building blocks, used by scripts/lab. Sourced, not run.
# Every step checks before it acts, so `up` can be run again and `down` works
# after a partial `up` or a second time.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LAB_BRIDGE="mesh-lab0"
LAB_PREFIX="10.77.0"
LAB_GW="$LAB_PREFIX.1"
LAB_RUN="/run/mesh-lab"
LAB_VAR="/var/lib/mesh-lab"
LAB_MAX_HOSTS=50
LAB_P2P_PORT=7946
LAB_API_PORT=6443
# LoadBalancer IPs the lab's cluster hands out: on the hosts' LAN, above the hosts.
LAB_LB_POOL="$LAB_PREFIX.200-$LAB_PREFIX.220"
# Marks the root namespace's iptables rules that belong to the lab.
LAB_RULE_TAG="mesh-lab"
# MESH_LAB_BIN: another mesh binary (a stub when testing the lab itself).
MESH="${MESH_LAB_BIN:-$MESH_ROOT/bin/mesh}"

ns_name() { echo "mesh-lab-h$1"; }
ns_path() { echo "/run/netns/mesh-lab-h$1"; }
port_name() { echo "mlab-h$1"; }
host_ip() { echo "$LAB_PREFIX.$((10 + $1))"; }
# Each dockerd's own docker0, for containers that are not pods. Pods get the
# Mesh-managed network `mesh-pods` on the node's 10.244.x.0/24 from the agent.
docker0_gw() { echo "172.30.$1.1/24"; }
host_run() { echo "$LAB_RUN/h$1"; }
host_var() { echo "$LAB_VAR/h$1"; }
docker_sock() { echo "$LAB_RUN/h$1/docker.sock"; }
agent_data() { echo "$LAB_VAR/h$1/mesh"; }
agent_pidfile() { echo "$LAB_RUN/h$1/agent.pid"; }
dockerd_pidfile() { echo "$LAB_RUN/h$1/dockerd.pid"; }

hdocker() { local h="$1"; shift; DOCKER_HOST="unix://$(docker_sock "$h")" docker "$@"; }

host_arg() {
  local h="${1#h}"
  [[ "$h" =~ ^[0-9]+$ ]] && [ "$h" -ge 1 ] && [ "$h" -le "$LAB_MAX_HOSTS" ] ||
    die "expected a host number 1..$LAB_MAX_HOSTS (or h1, h2, ...), got '${1:-}'"
  echo "$h"
}

# One lab command at a time. The lock is on this script file, so nothing is left
# behind; every long-lived child is started with fd 9 closed so it can't hold it.
lab_lock() {
  exec 9<"${BASH_SOURCE[0]}"
  flock -w 300 9 || die "another scripts/lab command has held the lock for 300 s"
}

ns_exists() { [ -e "$(ns_path "$1")" ]; }
link_exists() { ip link show "$1" >/dev/null 2>&1; }

# Hosts that exist in any form (namespace, link or directory), for down/status.
known_hosts() {
  {
    ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^mesh-lab-h\([0-9]\+\)$/\1/p'
    ip -o link show 2>/dev/null | sed -n 's/^[0-9]\+: mlab-h\([0-9]\+\)[@:].*/\1/p'
    for d in "$LAB_RUN"/h* "$LAB_VAR"/h* /sys/fs/cgroup/*/mesh-lab-h*; do
      if [ -d "$d" ]; then basename "$d" | sed -n 's/^\(mesh-lab-\)\{0,1\}h\([0-9]\+\)$/\2/p'; fi
    done
    true
  } | sort -nu
}

# pid from FILE if that process is alive and its command line contains MATCH
# (so a recycled pid is never mistaken for ours).
live_pid() {
  local file="$1" match="$2" pid
  [ -f "$file" ] || return 1
  pid="$(tr -dc 0-9 <"$file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$match" || return 1
  echo "$pid"
}

# Progress for a wait: one updating line on a terminal, a line every 5 s otherwise.
_progress_last=-1
progress() {
  local msg="$1" secs="$2"
  if [ -t 2 ]; then
    printf '\r==> %s (%ds)' "$msg" "$secs" >&2
  elif (( secs % 5 == 0 && secs != _progress_last )); then
    printf '==> %s (%ds)\n' "$msg" "$secs" >&2
  fi
  _progress_last=$secs
}
progress_done() {
  if [ -t 2 ]; then printf '\r\033[K' >&2; fi
  _progress_last=-1
  [ -z "${1:-}" ] || printf '==> %s\n' "$1" >&2
}

# wait_until SECONDS WHAT CMD...: polls CMD every 0.5 s, showing progress.
wait_until() {
  local limit="$1" what="$2" start=$SECONDS
  shift 2
  until "$@"; do
    if (( SECONDS - start >= limit )); then
      progress_done
      return 1
    fi
    progress "waiting for $what" $((SECONDS - start))
    sleep 0.5
  done
  progress_done "$what: ok after $((SECONDS - start))s"
}

# Stops a process we started: TERM, wait, then KILL. Waits until it is gone.
stop_pid() {
  local pid="$1" what="$2" grace="${3:-20}" start=$SECONDS
  kill -TERM "$pid" 2>/dev/null || return 0
  until pid_gone "$pid"; do
    if (( SECONDS - start >= grace )); then
      progress_done "$what did not stop within ${grace}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_until 10 "$what to exit after SIGKILL" pid_gone "$pid" || die "$what (pid $pid) survived SIGKILL"
      return 0
    fi
    progress "waiting for $what (pid $pid) to stop" $((SECONDS - start))
    sleep 0.5
  done
  progress_done "$what stopped after $((SECONDS - start))s"
}
# A zombie counts as gone: it has exited and only waits for its parent to reap it.
pid_gone() {
  kill -0 "$1" 2>/dev/null || return 0
  [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# ---------------------------------------------------------------- network

ensure_bridge() {
  local other
  other="$(ip -o route show "$LAB_PREFIX.0/24" 2>/dev/null | grep -v "dev $LAB_BRIDGE" || true)"
  [ -z "$other" ] || die "$LAB_PREFIX.0/24 is already routed elsewhere ($other); the lab needs it"
  link_exists "$LAB_BRIDGE" || ip link add "$LAB_BRIDGE" type bridge
  # No IPv6 on the bridge: the root namespace must never route lab traffic.
  sysctl -qw "net.ipv6.conf.$LAB_BRIDGE.disable_ipv6=1" 2>/dev/null || true
  ip addr replace "$LAB_GW/24" dev "$LAB_BRIDGE"
  ip link set "$LAB_BRIDGE" up
  ensure_forward_rules
}

# With br_netfilter loaded (bridge-nf-call-iptables=1), frames between bridge
# ports pass the root namespace's FORWARD chain, whose policy a root dockerd sets
# to DROP. Let hosts talk to each other, and drop anything routed between the lab
# and any other interface so lab traffic never leaves the machine.
lab_rules() {
  printf '%s\n' \
    "-i $LAB_BRIDGE -o $LAB_BRIDGE -j ACCEPT" \
    "-i $LAB_BRIDGE ! -o $LAB_BRIDGE -j DROP" \
    "! -i $LAB_BRIDGE -o $LAB_BRIDGE -j DROP"
}
ensure_forward_rules() {
  local rule
  while read -r rule; do
    # shellcheck disable=SC2086
    iptables -w -C FORWARD $rule -m comment --comment "$LAB_RULE_TAG" 2>/dev/null ||
      iptables -w -I FORWARD 1 $rule -m comment --comment "$LAB_RULE_TAG"
  done < <(lab_rules)
}
remove_forward_rules() {
  local rule
  while read -r rule; do
    # shellcheck disable=SC2086
    while iptables -w -C FORWARD $rule -m comment --comment "$LAB_RULE_TAG" 2>/dev/null; do
      iptables -w -D FORWARD $rule -m comment --comment "$LAB_RULE_TAG"
    done
  done < <(lab_rules)
}

ensure_host_net() {
  local h="$1" ns port ip
  ns="$(ns_name "$h")" port="$(port_name "$h")" ip="$(host_ip "$h")"
  ns_exists "$h" || ip netns add "$ns"
  # A root-side end whose peer is not our namespace's eth0 is a leftover: redo it.
  if link_exists "$port" && ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
    ip link del "$port"
  fi
  if ! link_exists "$port"; then
    ip -n "$ns" link show eth0 >/dev/null 2>&1 && ip -n "$ns" link del eth0
    ip link add "$port" type veth peer name eth0 netns "$ns"
  fi
  ip link set "$port" master "$LAB_BRIDGE"
  ip link set "$port" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr replace "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route replace default via "$LAB_GW" dev eth0
}

# ---------------------------------------------------------------- dockerd

dockerd_answers() { hdocker "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

ensure_dockerd_in() {
  local h="$1" run var
  run="$(host_run "$h")" var="$(host_var "$h")"
  if live_pid "$(dockerd_pidfile "$h")" "$(docker_sock "$h")" >/dev/null; then
    wait_until 60 "h$h's dockerd" dockerd_answers "$h" ||
      die "h$h's dockerd runs but does not answer; see $var/dockerd.log"
    return
  fi
  mkdir -p "$run/exec" "$var/docker"
  log "h$h: starting dockerd (log: $var/dockerd.log)"
  # nsenter, not `ip netns exec`: that remounts /sys and dockerd then fails with
  # "Devices cgroup isn't mounted". Each dockerd has its own data/exec roots,
  # socket and containerd; its docker0 and iptables rules live in the namespace.
  # --ip-masq=false: Docker masquerades nothing; the agent masquerades only pod
  # traffic that leaves the cluster, so pods keep their IP between hosts (DESIGN §4).
  # --cgroup-parent keeps each host's containers apart from the root dockerd's.
  env -u DOCKER_HOST nsenter --net="$(ns_path "$h")" setsid dockerd \
    --data-root "$var/docker" \
    --exec-root "$run/exec" \
    -H "unix://$(docker_sock "$h")" \
    --pidfile "$(dockerd_pidfile "$h")" \
    --bip "$(docker0_gw "$h")" \
    --ip-masq=false \
    --cgroup-parent "/mesh-lab-h$h" \
    >>"$var/dockerd.log" 2>&1 </dev/null 9<&- &
  wait_until 60 "h$h's dockerd" dockerd_answers "$h" || {
    tail -20 "$var/dockerd.log" >&2
    die "h$h's dockerd did not answer within 60 s; see $var/dockerd.log"
  }
}

# The root dockerd's busybox image, saved once and loaded into every host so all
# hosts hold the same image id.
ensure_lab_image() {
  local h="$1" tar="$LAB_VAR/images.tar"
  hdocker "$h" image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1 && return
  if [ ! -s "$tar" ]; then
    ensure_dockerd 9<&-  # a root dockerd started here must not hold the lab lock
    ensure_images
    docker save "$BUSYBOX_IMAGE" -o "$tar.tmp" && mv "$tar.tmp" "$tar"
  fi
  log "h$h: loading $BUSYBOX_IMAGE"
  hdocker "$h" load -q -i "$tar" >/dev/null
}

remove_containers() {
  local h="$1" ids
  dockerd_answers "$h" || return 0
  ids="$(hdocker "$h" ps -aq)"
  [ -n "$ids" ] || return 0
  log "h$h: removing $(echo "$ids" | wc -l) container(s)"
  # shellcheck disable=SC2086
  hdocker "$h" rm -f $ids >/dev/null || true
}

signal_dockerd() {
  local pid
  if pid="$(live_pid "$(dockerd_pidfile "$1")" "$(docker_sock "$1")")"; then kill -TERM "$pid" 2>/dev/null || true; fi
}

stop_dockerd_in() {
  local h="$1" pid
  remove_containers "$h"
  if pid="$(live_pid "$(dockerd_pidfile "$h")" "$(docker_sock "$h")")"; then
    stop_pid "$pid" "h$h's dockerd" 30
  fi
  # A dockerd that died hard leaves its containerd (and shims) behind; they are
  # ours when their command line names this host's exec root.
  local p
  for p in $(pgrep -f -- "$(host_run "$h")/exec" || true); do
    [ "$p" = "$$" ] || stop_pid "$p" "h$h's leftover $(cat "/proc/$p/comm" 2>/dev/null || echo process)" 10
  done
}

# The cgroups dockerd made under --cgroup-parent outlive it: end what still runs
# in them (container processes of a dockerd that died hard) and remove them.
remove_cgroups() {
  local h="$1" dir pid
  for dir in /sys/fs/cgroup/*/"mesh-lab-h$h"; do
    [ -d "$dir" ] || continue
    for pid in $(cat $(find "$dir" -name cgroup.procs) 2>/dev/null | sort -u); do
      kill -KILL "$pid" 2>/dev/null || true
    done
  done
  for dir in /sys/fs/cgroup/*/"mesh-lab-h$h"; do
    [ -d "$dir" ] || continue
    rmdir_tree "$dir" || wait_until 10 "cgroup $dir to empty" rmdir_tree "$dir" || log "could not remove $dir"
  done
}
rmdir_tree() { find "$1" -depth -type d -exec rmdir {} + 2>/dev/null; [ ! -d "$1" ]; }

# ---------------------------------------------------------------- agent

agent_pid() { live_pid "$(agent_pidfile "$1")" "$(agent_data "$1")"; }

api_ready() { curl -sk --max-time 2 -o /dev/null -w '%{http_code}' "https://$(host_ip "$1"):$LAB_API_PORT/readyz" 2>/dev/null | grep -qx 200; }

mesh_has_join() { "$MESH" join --help 2>&1 | grep -q '^Usage: mesh join'; }

# Starts host H's agent in its namespace: `agent` when it is already a member,
# otherwise `init` on h1 and `join` (with h1's token) elsewhere.
agent_start() {
  local h="$1" data var ip pid mode
  data="$(agent_data "$h")" var="$(host_var "$h")" ip="$(host_ip "$h")"
  if pid="$(agent_pid "$h")"; then
    log "h$h: agent already running (pid $pid)"
    wait_until 60 "h$h's API" api_ready "$h" || die "h$h's agent runs but its API does not answer; see $var/agent.log"
    return
  fi
  mesh_has_join || die "bin/mesh has no 'join' command yet; use 'scripts/lab up N --no-agents' for the infrastructure only"
  mkdir -p "$data" "$(host_run "$h")"
  local common=(--data-dir "$data" --node-name "h$h" --api-host "$ip" --listen-address "$ip"
    --docker-socket "$(docker_sock "$h")")
  # MESH_LAB_AGENT_ARGS: extra flags for every agent; MESH_LAB_INIT_ARGS: for h1's
  # `mesh init` only (cluster settings such as --voters 5).
  local extra=() init_extra=()
  read -r -a extra <<<"${MESH_LAB_AGENT_ARGS:-}"
  read -r -a init_extra <<<"${MESH_LAB_INIT_ARGS:-}"
  common+=("${extra[@]}")
  local args
  if [ -f "$data/admin.kubeconfig" ]; then
    mode=agent args=(agent "${common[@]}")
  elif [ "$h" = 1 ]; then
    mode=init args=(init "${common[@]}" --p2p-port "$LAB_P2P_PORT" --lb-pool "$LAB_LB_POOL" "${init_extra[@]}")
  else
    local tokfile
    tokfile="$(agent_data 1)/join-token"
    wait_until 60 "h1's join token" test -s "$tokfile" || die "no join token at $tokfile; is h1's agent up? (see $(host_var 1)/agent.log)"
    mode=join args=(join "$(host_ip 1):$LAB_P2P_PORT" --token "$(tr -d '[:space:]' <"$tokfile")" "${common[@]}")
  fi
  log "h$h: mesh $mode (log: $var/agent.log)"
  rm -f "$(agent_pidfile "$h")"
  # The shell writes its own pid and then execs the agent, so the pidfile holds
  # the agent's pid however setsid/nsenter fork.
  env -u DOCKER_HOST nsenter --net="$(ns_path "$h")" setsid bash -c 'echo $$ >"$0"; exec "$@"' \
    "$(agent_pidfile "$h")" "$MESH" "${args[@]}" >>"$var/agent.log" 2>&1 </dev/null 9<&- &
  local start=$SECONDS
  until api_ready "$h"; do
    # Only a pid that is gone means the agent exited: its command line reads
    # empty for a moment while bash execs bin/mesh and then node.
    if [ -s "$(agent_pidfile "$h")" ] && ! kill -0 "$(tr -dc 0-9 <"$(agent_pidfile "$h")")" 2>/dev/null; then
      progress_done
      tail -20 "$var/agent.log" >&2
      die "h$h's agent exited; see $var/agent.log"
    fi
    if (( SECONDS - start >= 90 )); then
      progress_done
      tail -20 "$var/agent.log" >&2
      die "h$h's API did not answer within 90 s; see $var/agent.log"
    fi
    progress "waiting for h$h's API at https://$ip:$LAB_API_PORT" $((SECONDS - start))
    sleep 0.5
  done
  progress_done "h$h's API is up after $((SECONDS - start))s"
}

agent_kill9() {
  local h="$1" pid
  pid="$(agent_pid "$h")" || die "h$h's agent is not running"
  kill -KILL "$pid"
  wait_until 10 "h$h's agent to die" pid_gone "$pid" || die "h$h's agent (pid $pid) survived SIGKILL"
  rm -f "$(agent_pidfile "$h")"
}

signal_agent() {
  local pid
  if pid="$(agent_pid "$1")"; then kill -TERM "$pid" 2>/dev/null || true; fi
}

stop_agent() {
  local h="$1" pid
  if pid="$(agent_pid "$h")"; then
    stop_pid "$pid" "h$h's agent" 15
  fi
  rm -f "$(agent_pidfile "$h")"
}

# ---------------------------------------------------------------- up / down / status

lab_up() {
  local n="$1" agents="$2" h existing
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le "$LAB_MAX_HOSTS" ] || die "host count must be 1..$LAB_MAX_HOSTS, got '$n'"
  for h in $(known_hosts); do
    [ "$h" -le "$n" ] || die "the lab already has host h$h; run 'scripts/lab down' before asking for $n hosts"
  done
  command -v nsenter >/dev/null || die "nsenter not found (package util-linux)"
  command -v dockerd >/dev/null || die "dockerd not found; run scripts/setup"
  command -v curl >/dev/null || die "curl not found; run scripts/setup"
  [ -z "$agents" ] || [ -x "$NODE24" ] || die "Node 24 not found; run scripts/setup"
  [ -z "$agents" ] || mesh_has_join || die "bin/mesh has no 'join' command yet; use 'scripts/lab up N --no-agents' for the infrastructure only"
  mkdir -p "$LAB_RUN" "$LAB_VAR"
  log "lab: $n host(s) on $LAB_BRIDGE ($LAB_GW/24)"
  ensure_bridge
  for h in $(seq 1 "$n"); do
    mkdir -p "$(host_run "$h")" "$(host_var "$h")"
    ensure_host_net "$h"
    ensure_dockerd_in "$h"
    ensure_lab_image "$h"
  done
  if [ -n "$agents" ]; then
    for h in $(seq 1 "$n"); do agent_start "$h"; done
  fi
  lab_status
}

lab_down() {
  local h hosts mnt
  hosts="$(known_hosts)"
  # Agents first (they would restart containers), then containers, then the
  # dockerds; each group is signalled at once and then waited for.
  for h in $hosts; do signal_agent "$h"; done
  for h in $hosts; do stop_agent "$h"; done
  for h in $hosts; do remove_containers "$h"; done
  for h in $hosts; do signal_dockerd "$h"; done
  for h in $hosts; do stop_dockerd_in "$h"; done
  for h in $hosts; do remove_cgroups "$h"; done
  # Mounts a dockerd left behind (overlay layers, container netns files).
  for mnt in $(findmnt -rn -o TARGET 2>/dev/null | grep -E "^($LAB_RUN|$LAB_VAR)(/|$)" | sort -r || true); do
    umount -l "$mnt" 2>/dev/null || true
  done
  for h in $hosts; do
    link_exists "$(port_name "$h")" && ip link del "$(port_name "$h")"
    ns_exists "$h" && ip netns del "$(ns_name "$h")"
  done
  link_exists "$LAB_BRIDGE" && ip link del "$LAB_BRIDGE"
  remove_forward_rules
  rm -rf "$LAB_RUN" "$LAB_VAR"
  # iproute2 mounts /run/netns on first use; drop it again once nothing is in it.
  if [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ] && mountpoint -q /run/netns; then
    umount /run/netns 2>/dev/null && rmdir /run/netns 2>/dev/null || true
  fi
  log "lab is down"
}

lab_status() {
  local h hosts ip link dk ag api pid
  hosts="$(known_hosts)"
  if [ -z "$hosts" ]; then
    echo "the lab is down"
    return
  fi
  printf '%-4s %-12s %-6s %-22s %-18s %s\n' HOST IP LINK DOCKERD AGENT API
  for h in $hosts; do
    ip="$(host_ip "$h")"
    if ! link_exists "$(port_name "$h")"; then link=missing
    elif ip link show "$(port_name "$h")" | grep -q 'state UP\|,UP'; then link=up
    else link=cut; fi
    if pid="$(live_pid "$(dockerd_pidfile "$h")" "$(docker_sock "$h")")"; then
      if dockerd_answers "$h"; then dk="up (pid $pid)"; else dk="silent (pid $pid)"; fi
    else dk=down; fi
    if pid="$(agent_pid "$h")"; then ag="up (pid $pid)"; else ag=down; fi
    if [ "$ag" != down ] && api_ready "$h"; then api="https://$ip:$LAB_API_PORT"; else api=-; fi
    printf '%-4s %-12s %-6s %-22s %-18s %s\n' "h$h" "$ip" "$link" "$dk" "$ag" "$api"
  done
}
