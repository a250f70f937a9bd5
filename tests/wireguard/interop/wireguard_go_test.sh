#!/usr/bin/env bash
# The warren WireGuard engine against the current wireguard-go, in a network namespace this
# test creates: handshakes both ways (either side initiating), ICMP across the tunnel, and a
# pre-shared key (a mismatched one must fail). Usage: wireguard_go_test.sh <engine_peer binary>.
# Exit 77 (skipped) without root or without wireguard-go/wg.
set -uo pipefail
# A pipeline ending in `grep -q` fails under pipefail when grep exits at its first match and
# the writer gets SIGPIPE; `contains` reads everything first, then greps.
contains() { local all; all=$(cat); grep -q "$@" <<<"$all"; }
peer_bin=${1:?usage: wireguard_go_test.sh <engine_peer binary>}
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }
command -v wireguard-go >/dev/null && command -v wg >/dev/null || { echo "skipped: wireguard-go or wg missing (./dev deps installs them)"; exit 77; }

ns=warren-wgi-$$
ifname=wgi$$
ifname=${ifname:0:15}
tmp=$(mktemp -d)
wgpid=
cleanup() {
  [ -n "$wgpid" ] && kill "$wgpid" 2>/dev/null && wait "$wgpid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/wg.log" ] && tail -20 "$tmp/wg.log"; exit 1; }
umask 077

ip netns add "$ns" && ip -n "$ns" link set lo up || fail "cannot create namespace"
ip netns exec "$ns" wireguard-go -f "$ifname" >"$tmp/wg.log" 2>&1 &
wgpid=$!
for _ in $(seq 100); do [ -S "/var/run/wireguard/$ifname.sock" ] && break; sleep 0.1; done
[ -S "/var/run/wireguard/$ifname.sock" ] || fail "wireguard-go did not create its socket"

wg genkey >"$tmp/go.key"; wg pubkey <"$tmp/go.key" >"$tmp/go.pub"
wg genkey >"$tmp/w.key"; wg pubkey <"$tmp/w.key" >"$tmp/w.pub"
wg genpsk >"$tmp/psk"; wg genpsk >"$tmp/other.psk"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns wg set "$ifname" private-key "$tmp/go.key" listen-port 51820 \
  peer "$(cat "$tmp/w.pub")" allowed-ips 10.0.0.1/32 endpoint 127.0.0.1:51821 || fail "wg set"
in_ns ip addr add 10.0.0.2/24 dev "$ifname" && in_ns ip link set "$ifname" up || fail "address"
run_peer() { in_ns "$peer_bin" --private-key "$(cat "$tmp/w.key")" --peer "$(cat "$tmp/go.pub")" \
  --allowed-ip 10.0.0.2/32 --listen 127.0.0.1:51821 "$@"; }

echo "--- warren initiates: 3 pings answered by wireguard-go's side"
run_peer --endpoint 127.0.0.1:51820 --ping 3 --from 10.0.0.1 --to 10.0.0.2 --timeout 20 || fail "warren-initiated"
in_ns wg show "$ifname" latest-handshakes | contains -v '	0$' || fail "wireguard-go saw no handshake"

echo "--- wireguard-go initiates: ping from its side answered by warren"
in_ns wg set "$ifname" peer "$(cat "$tmp/w.pub")" remove
in_ns wg set "$ifname" peer "$(cat "$tmp/w.pub")" allowed-ips 10.0.0.1/32 endpoint 127.0.0.1:51821
run_peer --serve 3 --timeout 20 &
peer_pid=$!
# Ready when warren's UDP socket is bound (bounded: 5 s).
for _ in $(seq 50); do [ -n "$(in_ns ss -Hlun 'sport = :51821')" ] && break; sleep 0.1; done
in_ns ping -c 3 -i 0.3 -W 5 10.0.0.1 || { kill $peer_pid; fail "ping from wireguard-go's side"; }
wait $peer_pid || fail "warren did not answer 3 echoes"

echo "--- pre-shared key: the same on both sides works"
in_ns wg set "$ifname" peer "$(cat "$tmp/w.pub")" remove
in_ns wg set "$ifname" peer "$(cat "$tmp/w.pub")" allowed-ips 10.0.0.1/32 preshared-key "$tmp/psk"
run_peer --endpoint 127.0.0.1:51820 --preshared-key "$(cat "$tmp/psk")" --ping 2 --from 10.0.0.1 --to 10.0.0.2 || fail "psk"

echo "--- pre-shared key: a mismatched one never completes a handshake"
in_ns wg set "$ifname" peer "$(cat "$tmp/w.pub")" remove
in_ns wg set "$ifname" peer "$(cat "$tmp/w.pub")" allowed-ips 10.0.0.1/32 preshared-key "$tmp/psk"
if run_peer --endpoint 127.0.0.1:51820 --preshared-key "$(cat "$tmp/other.psk")" --ping 1 --from 10.0.0.1 --to 10.0.0.2 --timeout 7 >"$tmp/bad.log"; then
  fail "a mismatched pre-shared key got through"
fi
grep -q "handshakes 0" "$tmp/bad.log" || fail "mismatched psk: $(cat "$tmp/bad.log")"
echo PASS
