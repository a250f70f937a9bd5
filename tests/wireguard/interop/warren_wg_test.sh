#!/usr/bin/env bash
# warren-wg against wireguard-go, and against itself, in two network namespaces joined by a
# veth pair that this test creates: configuration with wg setconf, handshakes with either side
# initiating over IPv4 and IPv6 endpoints, ping over IPv4 and IPv6 inside, a 100 MiB TCP
# transfer with matching checksums, roaming, persistent keepalive, and what wg show prints.
# Usage: warren_wg_test.sh <warren-wg binary> [peer: wireguard-go | warren-wg]
# Exit 77 (skipped) without root or the tools.
set -uo pipefail
# A pipeline ending in `grep -q` fails under pipefail when grep exits at its first match and
# the writer gets SIGPIPE; `contains` reads everything first, then greps.
contains() { local all; all=$(cat); grep -q "$@" <<<"$all"; }
warren=${1:?usage: warren_wg_test.sh <warren-wg binary> [wireguard-go|warren-wg]}
peer_kind=${2:-wireguard-go}
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }
for t in wg nc ping sha256sum; do command -v $t >/dev/null || { echo "skipped: $t missing (./dev deps installs it)"; exit 77; }; done
if [ "$peer_kind" = wireguard-go ]; then
  command -v wireguard-go >/dev/null || { echo "skipped: wireguard-go missing"; exit 77; }
  peer_cmd=(wireguard-go -f)
else
  peer_cmd=("$warren" -f)
fi

A=wwa$$; B=wwb$$
pids=()
tmp=$(mktemp -d)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -15 "$f"; }; done; exit 1; }
a() { ip netns exec "$A" "$@"; }
b() { ip netns exec "$B" "$@"; }
umask 077

ip netns add "$A" && ip netns add "$B" || fail "namespaces"
a ip link set lo up; b ip link set lo up
ip link add vwa netns "$A" type veth peer name vwb netns "$B" || fail "veth"
a ip addr add 198.18.0.1/24 dev vwa; b ip addr add 198.18.0.2/24 dev vwb
a ip addr add fd00:1::1/64 dev vwa nodad; b ip addr add fd00:1::2/64 dev vwb nodad
a ip link set vwa up; b ip link set vwb up
for side in a b; do wg genkey >"$tmp/$side.key"; wg pubkey <"$tmp/$side.key" >"$tmp/$side.pub"; done

start() {  # start <namespace> <ifname> <log> <command...>
  local ns=$1 ifname=$2 log=$3; shift 3
  # Not through a shell function: $! must be the daemon itself (ip netns exec execs it).
  ip netns exec "$ns" "$@" "$ifname" >"$tmp/$log.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -S "/var/run/wireguard/$ifname.sock" ] && return 0; sleep 0.1; done
  fail "$* $ifname did not create its UAPI socket"
}
ifa=wwa$$; ifb=wwb$$
start "$A" "$ifa" warren-wg "$warren" -f
start "$B" "$ifb" "peer-$peer_kind" "${peer_cmd[@]}"
# With WARREN_WG_CRYPTO_THREADS set (ctest does for warren-wg against itself), the daemons must
# have taken it: their start-up line says how many helper threads seal and open.
if [ -n "${WARREN_WG_CRYPTO_THREADS:-}" ]; then
  for log in warren-wg $([ "$peer_kind" = warren-wg ] && echo peer-warren-wg); do
    for _ in $(seq 50); do grep -q "crypto helper threads" "$tmp/$log.log" && break; sleep 0.1; done
    grep -q "crypto helper threads: $WARREN_WG_CRYPTO_THREADS\$" "$tmp/$log.log" ||
      fail "$log did not start with $WARREN_WG_CRYPTO_THREADS crypto helper threads"
  done
fi

# configure <ns> <if> <key> <peer pub> <peer allowed> [endpoint]
configure() {
  local ns=$1 ifname=$2 key=$3 pub=$4 allowed=$5 ep=${6:-}
  { echo "[Interface]"; echo "PrivateKey = $(cat "$key")"; echo "ListenPort = 51820"
    echo "[Peer]"; echo "PublicKey = $(cat "$pub")"; echo "AllowedIPs = $allowed"
    [ -n "$ep" ] && echo "Endpoint = $ep"; } >"$tmp/$ifname.conf"
  $ns wg setconf "$ifname" "$tmp/$ifname.conf" || fail "wg setconf $ifname"
}
# Readiness: one echo answered within 15 s, which allows for one handshake retransmission
# (REKEY_TIMEOUT, 5 s) when the first initiation is lost, as a kernel may lose the first
# datagram on a path it has not used yet.
tunnel_up() { local ns=$1; shift; ip netns exec "$ns" ping -c 1 -w 15 "$@" >/dev/null; }
address() { local ns=$1 ifname=$2 n=$3
  $ns ip addr add 10.0.0.$n/24 dev "$ifname"; $ns ip addr add fd10::$n/64 dev "$ifname" nodad; $ns ip link set "$ifname" up; }
address a "$ifa" 1; address b "$ifb" 2

echo "--- warren-wg initiates over an IPv4 endpoint"
configure a "$ifa" "$tmp/a.key" "$tmp/b.pub" "10.0.0.2/32, fd10::2/128" 198.18.0.2:51820
configure b "$ifb" "$tmp/b.key" "$tmp/a.pub" "10.0.0.1/32, fd10::1/128"
tunnel_up "$A" 10.0.0.2 || fail "no handshake from warren-wg"
a ping -c 3 -i 0.2 -W 3 10.0.0.2 >/dev/null || fail "ping 10.0.0.2"
a ping -6 -c 3 -i 0.2 -W 3 fd10::2 >/dev/null || fail "ping fd10::2"
b wg show "$ifb" endpoints | contains "198.18.0.1:51820" || fail "$peer_kind did not learn warren's endpoint"

echo "--- $peer_kind initiates over an IPv6 endpoint"
configure a "$ifa" "$tmp/a.key" "$tmp/b.pub" "10.0.0.2/32, fd10::2/128"
configure b "$ifb" "$tmp/b.key" "$tmp/a.pub" "10.0.0.1/32, fd10::1/128" "[fd00:1::1]:51820"
tunnel_up "$B" 10.0.0.1 || fail "no handshake from $peer_kind"
b ping -c 3 -i 0.2 -W 3 10.0.0.1 >/dev/null || fail "ping 10.0.0.1 from $peer_kind"
b ping -6 -c 3 -i 0.2 -W 3 fd10::1 >/dev/null || fail "ping fd10::1 from $peer_kind"
a wg show "$ifa" endpoints | contains "\[fd00:1::2\]:51820" || fail "warren did not learn the IPv6 endpoint: $(a wg show "$ifa" endpoints)"

echo "--- 100 MiB over TCP, checksums compared"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$tmp/payload"
want=$(sha256sum <"$tmp/payload" | cut -d' ' -f1)
b nc -l 10.0.0.2 5001 >"$tmp/received" 2>"$tmp/nc.log" &
ncpid=$!; pids+=($ncpid)
for _ in $(seq 50); do [ -n "$(b ss -Hltn 'sport = :5001')" ] && break; sleep 0.1; done
start_ns=$(date +%s%N)
timeout 120 ip netns exec "$A" nc -N 10.0.0.2 5001 <"$tmp/payload" || fail "sending 100 MiB"
wait $ncpid
ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
got=$(sha256sum <"$tmp/received" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "checksum mismatch: sent $want, received $got ($(stat -c %s "$tmp/received") bytes)"
echo "ok: 100 MiB in ${ms} ms, sha256 $want"

echo "--- roaming: warren's source address changes, the tunnel follows"
a ip addr add fd00:1::3/64 dev vwa nodad
a ip -6 route replace fd00:1::/64 dev vwa src fd00:1::3
a ping -c 2 -i 0.2 -W 3 10.0.0.2 >/dev/null || fail "ping after the address change"
b wg show "$ifb" endpoints | contains "\[fd00:1::3\]:51820" || fail "$peer_kind did not follow warren to fd00:1::3: $(b wg show "$ifb" endpoints)"

echo "--- persistent keepalive reaches the peer while idle"
a wg set "$ifa" peer "$(cat "$tmp/b.pub")" persistent-keepalive 1
rx() { b wg show "$ifb" transfer | awk '{print $2}'; }
before=$(rx)
for _ in $(seq 50); do [ "$(rx)" -gt "$before" ] && break; sleep 0.1; done
[ "$(rx)" -gt "$before" ] || fail "no keepalive arrived"
a wg show "$ifa" persistent-keepalive | contains "	1$" || fail "wg show persistent-keepalive"

echo "--- wg show, dump and showconf"
a wg show "$ifa" >"$tmp/show.txt" || fail "wg show"
grep -q "latest handshake" "$tmp/show.txt" || fail "wg show has no handshake: $(cat "$tmp/show.txt")"
a wg show "$ifa" dump >"$tmp/dump.txt" || fail "wg show dump"
[ "$(head -1 "$tmp/dump.txt" | awk -F'\t' '{print NF}')" -eq 4 ] || fail "dump interface line"
[ "$(sed -n 2p "$tmp/dump.txt" | awk -F'\t' '{print NF}')" -eq 8 ] || fail "dump peer line"
a wg showconf "$ifa" >"$tmp/showconf.txt" || fail "wg showconf"
grep -q "PrivateKey = $(cat "$tmp/a.key")" "$tmp/showconf.txt" || fail "showconf private key"
grep -q "AllowedIPs = 10.0.0.2/32, fd10::2/128" "$tmp/showconf.txt" || fail "showconf allowed ips: $(cat "$tmp/showconf.txt")"
# The same shape as the peer's own output.
b wg show "$ifb" dump >"$tmp/peer_dump.txt"
[ "$(sed -n 2p "$tmp/peer_dump.txt" | awk -F'\t' '{print NF}')" -eq 8 ] || fail "peer dump shape"

echo "--- a bad configuration is refused and the last good one stays"
printf '[Interface]\nPrivateKey = not-a-key\n' >"$tmp/bad.conf"
a wg setconf "$ifa" "$tmp/bad.conf" 2>/dev/null && fail "a bad config was accepted"
a ping -c 1 -W 3 10.0.0.2 >/dev/null || fail "tunnel lost after a refused config"

echo "--- SIGTERM removes the socket and the interface"
kill -TERM "${pids[0]}"; wait "${pids[0]}"
[ -S "/var/run/wireguard/$ifa.sock" ] && fail "socket left behind"
a ip link show "$ifa" >/dev/null 2>&1 && fail "interface left behind"
if [ "$peer_kind" = wireguard-go ] && command -v wg-quick >/dev/null; then
  echo "--- wg-quick up/down with WG_QUICK_USERSPACE_IMPLEMENTATION=warren-wg"
  mkdir -p "$tmp/bin"; ln -s "$(readlink -f "$warren")" "$tmp/bin/warren-wg"
  q=wwq$$; q=${q:0:15}
  printf '[Interface]\nPrivateKey = %s\nAddress = 10.88.0.1/24\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.88.0.2/32\n' \
    "$(cat "$tmp/a.key")" "$(cat "$tmp/b.pub")" >"$tmp/$q.conf"
  a env PATH="$tmp/bin:$PATH" WG_QUICK_USERSPACE_IMPLEMENTATION=warren-wg wg-quick up "$tmp/$q.conf" >"$tmp/wgq.log" 2>&1 ||
    fail "wg-quick up: $(cat "$tmp/wgq.log")"
  if ! a ip -o addr show dev "$q" | contains 10.88.0.1/24; then
    # Once seen after a passing wg-quick up: say what was there, and whether the daemon lives.
    fail "wg-quick did not address $q: $(a ip -o addr show 2>&1); links: $(a ip -o link show 2>&1);" \
      "daemon: $(pgrep -a -f "warren-wg $q" || echo gone)"
  fi
  a wg show "$q" peers | contains "$(cat "$tmp/b.pub")" || fail "wg-quick did not configure the peer"
  a wg-quick down "$tmp/$q.conf" >>"$tmp/wgq.log" 2>&1 || fail "wg-quick down"
  # The daemon exits when its interface is deleted, taking its socket with it (bounded: 5 s).
  for _ in $(seq 50); do [ -S "/var/run/wireguard/$q.sock" ] || break; sleep 0.1; done
  [ -S "/var/run/wireguard/$q.sock" ] && fail "warren-wg kept running after wg-quick down"
fi
echo PASS
