#!/usr/bin/env bash
# warren-client end to end, in network namespaces this test creates: a client namespace and
# three servers, each reachable over its own veth pair with its own delay (tc netem), each
# assigning the client a different tunnel address:
#
#   uk-near  wireguard-go   6 ms   assigns 10.100.0.2   serves 198.18.1.1 (prefix A, region uk)
#   uk-far   warren-wg     60 ms   assigns 10.102.0.2   serves 198.18.1.1 (prefix A, region uk)
#   fr-1     warren-wg     20 ms   assigns 10.101.0.2   serves 198.18.2.1 (prefix B, region fr)
#
# (round-trip delays: netem, or a UDP delay relay where the kernel has no netem; the lab is
# examples/warren-client/lab.sh, which the demo uses too).
#
# Shown: no handshake before the first packet; the first ping to A is answered (held while the
# tunnel came up, not lost); the nearer uk server is chosen; TCP transfers to A and B at the
# same time, through different tunnels, arrive with matching checksums from the addresses each
# server assigned; an idle tunnel closes and the next packet brings it back; killing the uk
# server in use fails over to the other; Ctrl-C closes everything and removes the routes.
# Usage: warren_client_test.sh <warren-client> <warren-wg> <udp_delay_relay>. Exit 77 (skipped)
# without root or tools.
set -uo pipefail
contains() { local all; all=$(cat); grep -q "$@" <<<"$all"; }
client_bin=${1:?usage: warren_client_test.sh <warren-client> <warren-wg>}
warren_wg=${2:?usage: warren_client_test.sh <warren-client> <warren-wg> <udp_delay_relay>}
relay=${3:?usage: warren_client_test.sh <warren-client> <warren-wg> <udp_delay_relay>}
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }
for t in wg wireguard-go nc ping sha256sum tc ss; do
  command -v $t >/dev/null || { echo "skipped: $t missing (./dev deps installs it)"; exit 77; }
done

tmp=$(mktemp -d)
lab_tmp=$tmp; lab_warren_wg=$warren_wg; lab_relay=$relay; lab_tag=$$
# shellcheck source=../../examples/warren-client/lab.sh
source "$(dirname "$0")/../../examples/warren-client/lab.sh"
C=$lab_client; S1=wc1$$; S2=wc2$$; S3=wc3$$
pids=()
client_pid=
cleanup() {
  [ -n "$client_pid" ] && { kill "$client_pid" 2>/dev/null; wait "$client_pid" 2>/dev/null; }
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  lab_cleanup
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -25 "$f"; }; done
  exit 1
}
lab_fail() { fail "$@"; }
c() { ip netns exec "$C" "$@"; }
umask 077

lab_init
echo "delays by: $lab_delay_by"
lab_server 1 6 wireguard-go 10.100.0.1/16 10.100.0.2 198.18.1.1
lab_server 2 60 warren-wg 10.102.0.1/16 10.102.0.2 198.18.1.1
lab_server 3 20 warren-wg 10.101.0.1/16 10.101.0.2 198.18.2.1
lab_server_conf uk-near uk 1 10.100.0.2
lab_server_conf uk-far uk 2 10.102.0.2
lab_server_conf fr-1 fr 3 10.101.0.2
cat >"$tmp/client.json" <<EOF
{
  "tun": {"name": "wcc$$", "addresses": ["10.0.0.1/32"]},
  "providers": {"files": {"type": "wg-quick", "directory": "servers"}},
  "targets": {"uk": {"provider": "files", "region": "uk"}, "fr": {"provider": "files", "region": "fr"}},
  "rules": [{"destinations": ["198.18.1.0/24"], "target": "uk"},
            {"destinations": ["198.18.2.0/24"], "target": "fr"}],
  "default": "drop",
  "idle_timeout_seconds": 4,
  "check_after_seconds": 1,
  "dead_after_seconds": 2
}
EOF

echo "--- the configuration reads, without root or a TUN"
"$client_bin" --check "$tmp/client.json" >"$tmp/check.log" 2>&1 || fail "warren-client --check"
contains "uk: 2 servers" <"$tmp/check.log" || fail "--check did not list uk's two servers"

echo "--- armed: the TUN is up, no tunnel, no handshake"
ip netns exec "$C" "$client_bin" --plain "$tmp/client.json" >"$tmp/client.log" 2>&1 &
client_pid=$!
for _ in $(seq 100); do grep -q "armed:" "$tmp/client.log" && break; sleep 0.1; done
grep -q "armed:" "$tmp/client.log" || fail "warren-client did not arm"
c ip route show 198.18.1.0/24 | contains "wcc$$" || fail "no route for prefix A into the TUN"
handshakes() { ip netns exec "$1" wg show "$2" latest-handshakes | awk '{print $2}'; }
for s in "$S1 wcg1$$" "$S2 wcg2$$" "$S3 wcg3$$"; do
  [ "$(handshakes $s)" = 0 ] || fail "a handshake happened before the first packet ($s)"
done
grep -q "probing\|connecting" "$tmp/client.log" && fail "the client started a tunnel before any packet"

echo "--- the first ping to A is answered, through the nearer uk server"
c ping -c 1 -W 10 198.18.1.1 >"$tmp/ping1.log" || fail "the first ping to A was not answered"
contains "uk: probing -> connecting (uk-near)" <"$tmp/client.log" || fail "uk-near (6 ms) was not chosen over uk-far (60 ms)"
contains "uk: connecting -> connected (uk-near)" <"$tmp/client.log" || fail "uk did not connect"

echo "--- A and B at once: TCP through two tunnels, each from its own assigned address"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$tmp/payload"
want=$(sha256sum <"$tmp/payload" | cut -d' ' -f1)
ip netns exec "$S1" nc -l -n -v 198.18.1.1 5001 >"$tmp/got-a" 2>"$tmp/nc-a.log" &
nca=$!; pids+=($nca)
ip netns exec "$S3" nc -l -n -v 198.18.2.1 5002 >"$tmp/got-b" 2>"$tmp/nc-b.log" &
ncb=$!; pids+=($ncb)
for _ in $(seq 50); do
  [ -n "$(ip netns exec "$S1" ss -Hltn 'sport = :5001')" ] && [ -n "$(ip netns exec "$S3" ss -Hltn 'sport = :5002')" ] && break
  sleep 0.1
done
timeout 60 ip netns exec "$C" nc -N 198.18.1.1 5001 <"$tmp/payload" &
senda=$!
timeout 60 ip netns exec "$C" nc -N 198.18.2.1 5002 <"$tmp/payload" &
sendb=$!
wait $senda || fail "sending to A"
wait $sendb || fail "sending to B"
wait $nca; wait $ncb
[ "$(sha256sum <"$tmp/got-a" | cut -d' ' -f1)" = "$want" ] || fail "A: checksum mismatch"
[ "$(sha256sum <"$tmp/got-b" | cut -d' ' -f1)" = "$want" ] || fail "B: checksum mismatch"
contains "Connection received on 10.100.0.2 " <"$tmp/nc-a.log" || fail "A's server did not see uk-near's address 10.100.0.2"
contains "Connection received on 10.101.0.2 " <"$tmp/nc-b.log" || fail "B's server did not see fr-1's address 10.101.0.2"
echo "ok: 8 MiB each way at once, sha256 $want"

echo "--- idle: fr's tunnel closes after 4 s without traffic; the next packet brings it back"
for _ in $(seq 150); do grep -q "fr: connected -> idle (fr-1): no traffic for" "$tmp/client.log" && break; sleep 0.1; done
grep -q "fr: connected -> idle (fr-1): no traffic for" "$tmp/client.log" || fail "fr's tunnel did not close when idle"
contains "lost" <"$tmp/client.log" && fail "a live server was taken for lost"
c ping -c 1 -W 10 198.18.2.1 >/dev/null || fail "the ping after the idle close was not answered"
[ "$(grep -c "fr: connecting -> connected" "$tmp/client.log")" -ge 2 ] || fail "fr did not connect again"

echo "--- failover: the uk server in use dies; the client moves to the other"
c ping -c 1 -W 10 198.18.1.1 >/dev/null || fail "uk is not up before the failover"
kill "$lab_server_pid_1"
answered=
for _ in $(seq 40); do
  if c ping -c 1 -W 1 198.18.1.1 >/dev/null && grep -q "connected (uk-far)" "$tmp/client.log"; then answered=1; break; fi
done
[ -n "$answered" ] || fail "no answer through uk-far after uk-near died"
contains "lost" <"$tmp/client.log" || fail "the client did not report uk-near lost"
[ "$(handshakes "$S2" wcg2$$)" != 0 ] || fail "uk-far never completed a handshake"

echo "--- Ctrl-C: tunnels closed, routes removed"
kill -INT "$client_pid"
wait "$client_pid"; status=$?; client_pid=
[ "$status" = 0 ] || fail "warren-client exited with $status after Ctrl-C"
contains "stopped: tunnels closed, 2 routes removed" <"$tmp/client.log" || fail "no clean stop"
[ -z "$(c ip route show 198.18.1.0/24)" ] || fail "the route to A is still there"
echo "--- the client's view, as it printed it"
cat "$tmp/client.log"
echo "PASS"
