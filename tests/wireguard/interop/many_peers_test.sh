#!/usr/bin/env bash
# Cryptokey routing with several peers: a hub running warren-wg with three peers (two
# wireguard-go, one warren-wg) in namespaces of their own, joined by a bridge in a fourth.
# Each peer owns an inner address and a routed prefix behind it; the hub reaches each by its
# allowed IPs, and moving a prefix from one peer to another moves the traffic.
# Usage: many_peers_test.sh <warren-wg binary>. Exit 77 (skipped) without root or the tools.
set -uo pipefail
# A pipeline ending in `grep -q` fails under pipefail when grep exits at its first match and
# the writer gets SIGPIPE; `contains` reads everything first, then greps.
contains() { local all; all=$(cat); grep -q "$@" <<<"$all"; }
warren=${1:?usage: many_peers_test.sh <warren-wg binary>}
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }
for t in wg wireguard-go ping; do command -v $t >/dev/null || { echo "skipped: $t missing"; exit 77; }; done

p=wmp$$
hub=${p}h; br=${p}br
names=("${p}1" "${p}2" "${p}3")
kinds=(wireguard-go warren-wg wireguard-go)
pids=()
tmp=$(mktemp -d)
cleanup() {
  for x in "${pids[@]}"; do kill "$x" 2>/dev/null; wait "$x" 2>/dev/null; done
  for n in "$hub" "$br" "${names[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
umask 077

ip netns add "$br" || fail "namespace"
ip -n "$br" link add br0 type bridge && ip -n "$br" link set br0 up
attach() {  # attach <ns> <underlay address>
  ip netns add "$1"; ip -n "$1" link set lo up
  ip link add "v$1" netns "$1" type veth peer name "b$1" netns "$br"
  ip -n "$br" link set "b$1" master br0 up
  ip -n "$1" addr add "$2/24" dev "v$1"; ip -n "$1" link set "v$1" up
}
attach "$hub" 198.18.5.1
for i in 0 1 2; do attach "${names[$i]}" "198.18.5.$((i + 2))"; done

daemon() {  # daemon <ns> <ifname> <kind>
  if [ "$3" = warren-wg ]; then ip netns exec "$1" "$warren" -f "$2" >"$tmp/$2.log" 2>&1 &
  else ip netns exec "$1" wireguard-go -f "$2" >"$tmp/$2.log" 2>&1 &
  fi
  pids+=($!)
  for _ in $(seq 100); do [ -S "/var/run/wireguard/$2.sock" ] && return 0; sleep 0.1; done
  fail "$3 $2 did not start"
}
key() { wg genkey >"$tmp/$1.key"; wg pubkey <"$tmp/$1.key" >"$tmp/$1.pub"; }

key hub
daemon "$hub" "${p}w" warren-wg
{ echo "[Interface]"; echo "PrivateKey = $(cat "$tmp/hub.key")"; echo "ListenPort = 51820"; } >"$tmp/hub.conf"
for i in 0 1 2; do
  n=$((i + 2))
  key "peer$i"
  daemon "${names[$i]}" "${p}w$i" "${kinds[$i]}"
  { echo "[Peer]"; echo "PublicKey = $(cat "$tmp/peer$i.pub")"; echo "Endpoint = 198.18.5.$n:51820"
    echo "AllowedIPs = 10.66.0.$n/32, 10.66.$n.0/24"; } >>"$tmp/hub.conf"
  printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n[Peer]\nPublicKey = %s\nEndpoint = 198.18.5.1:51820\nAllowedIPs = 10.66.0.0/16\n' \
    "$(cat "$tmp/peer$i.key")" "$(cat "$tmp/hub.pub")" >"$tmp/peer$i.conf"
  ip netns exec "${names[$i]}" wg setconf "${p}w$i" "$tmp/peer$i.conf" || fail "setconf peer $i"
  ip -n "${names[$i]}" addr add "10.66.0.$n/16" dev "${p}w$i"
  ip -n "${names[$i]}" addr add "10.66.$n.1/24" dev "${p}w$i"  # the prefix routed behind the peer
  ip -n "${names[$i]}" link set "${p}w$i" up
done
ip netns exec "$hub" wg setconf "${p}w" "$tmp/hub.conf" || fail "setconf hub"
ip -n "$hub" addr add 10.66.0.1/16 dev "${p}w"
ip -n "$hub" link set "${p}w" up

echo "--- the hub reaches each peer by its allowed IPs"
for i in 0 1 2; do
  n=$((i + 2))
  ip netns exec "$hub" ping -c 1 -w 15 "10.66.0.$n" >/dev/null || fail "no handshake with peer $i (${kinds[$i]})"
  ip netns exec "$hub" ping -c 2 -i 0.2 -W 3 "10.66.$n.1" >/dev/null || fail "routed prefix behind peer $i"
done
[ "$(ip netns exec "$hub" wg show "${p}w" latest-handshakes | awk '$2 != 0' | wc -l)" -eq 3 ] || fail "not three handshakes"

echo "--- a destination no peer owns is not sent anywhere"
ip netns exec "$hub" ping -c 1 -W 1 10.66.9.9 >/dev/null 2>&1 && fail "10.66.9.9 answered"

echo "--- moving a prefix to another peer moves the traffic"
# 10.66.4.0/24 (peer 2's) goes to peer 1, which now answers for it.
ip netns exec "$hub" wg set "${p}w" peer "$(cat "$tmp/peer0.pub")" allowed-ips "10.66.0.2/32, 10.66.2.0/24, 10.66.4.0/24"
ip netns exec "$hub" wg show "${p}w" allowed-ips | grep "$(cat "$tmp/peer2.pub")" | contains "10.66.4.0/24" && fail "prefix still listed under peer 2"
ip -n "${names[0]}" addr add 10.66.4.1/32 dev "${p}w0"
ip -n "${names[2]}" addr del 10.66.4.1/24 dev "${p}w2"
ip netns exec "$hub" ping -c 2 -i 0.2 -W 3 10.66.4.1 >/dev/null || fail "moved prefix not reached through peer 1"
echo PASS
