#!/usr/bin/env bash
# warren-tun-echo in network namespaces this test creates: it answers real ping and UDP, it
# refuses bad input with clear errors, and the demo cleans up when interrupted.
# Usage: tun_echo_test.sh <build dir>. Exit 77 (skipped) without root.
set -uo pipefail
# A pipeline ending in `grep -q` fails under pipefail when grep exits at its first match and
# the writer gets SIGPIPE; `contains` reads everything first, then greps.
contains() { local all; all=$(cat); grep -q "$@" <<<"$all"; }
build=${1:?usage: tun_echo_test.sh <build dir>}
src=$(cd "$(dirname "$0")/../.." && pwd)
echo_bin=$build/examples/tun-echo/warren-tun-echo
udp_ping=$build/examples/udp-ping/warren-udp-ping
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }

ns=warren-test-echo-$$
pids=()
tmp=$(mktemp -d)
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  ip netns del "$ns-demo" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect_error() {  # expect_error <exit code> <text in stderr> <command...>
  local code=$1 text=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  [ $rc -eq "$code" ] || fail "$* exited $rc, expected $code: $(cat "$tmp/err")"
  grep -qi -- "$text" "$tmp/err" || fail "$* said '$(cat "$tmp/err")', expected '$text'"
  grep -q 'terminate called\|Aborted' "$tmp/err" && fail "$* crashed: $(cat "$tmp/err")"
  echo "ok: $* -> $(head -1 "$tmp/err")"
}
wait_ready() {  # wait_ready <pid>: the interface is up with its IPv6 address (bounded: 10 s)
  for _ in $(seq 100); do
    ip -n "$ns" -o addr show dev wrn0 2>/dev/null | contains 'fd00:77::1/64' &&
      ip -n "$ns" link show wrn0 2>/dev/null | contains ',UP' && return 0
    kill -0 "$1" 2>/dev/null || fail "warren-tun-echo exited early: $(cat "$tmp/echo.log")"
    sleep 0.1
  done
  fail "wrn0 did not come up"
}

ip netns add "$ns" && ip -n "$ns" link set lo up || fail "cannot create namespace"
in_ns() { ip netns exec "$ns" "$@"; }

echo "--- bad input gets a clear error"
expect_error 106 "address is required" in_ns "$echo_bin"
expect_error 2 "not an address with a prefix" in_ns "$echo_bin" -a 300.1.2.3/24
expect_error 1 "too long" in_ns "$echo_bin" -n this-name-is-far-too-long -a 192.0.2.1/24
expect_error 1 "already exists" in_ns "$echo_bin" -n lo -a 192.0.2.1/24
expect_error 1 "CAP_NET_ADMIN" in_ns setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
  "$echo_bin" -a 192.0.2.1/24
expect_error 2 "not an IPv4 or IPv6 address" "$udp_ping" not-an-address
in_ns "$echo_bin" --help | contains -- "--address" || fail "--help does not list --address"

echo "--- it answers ping and UDP echo over IPv4 and IPv6"
# Not through in_ns: $! must be the program itself (ip netns exec execs it), not a subshell.
ip netns exec "$ns" "$echo_bin" -n wrn0 -a 192.0.2.1/24 -a fd00:77::1/64 >"$tmp/echo.log" 2>&1 &
echo_pid=$!; pids+=($echo_pid)
wait_ready "$echo_pid"
in_ns ping -c 3 -i 0.2 -W 2 192.0.2.2 || fail "ping 192.0.2.2"
in_ns ping -6 -c 3 -i 0.2 -W 2 fd00:77::2 || fail "ping fd00:77::2"
in_ns "$udp_ping" 192.0.2.2 -c 4 || fail "udp echo over IPv4"
in_ns "$udp_ping" fd00:77::2 -c 4 || fail "udp echo over IPv6"
echo "--- nothing answers for the interface's own address range outside the prefixes"
in_ns ip route add 198.18.0.0/24 dev wrn0
in_ns ping -c 1 -W 1 198.18.0.9 && fail "an address outside the prefixes was answered"
kill -INT "$echo_pid"; wait "$echo_pid"; rc=$?
[ $rc -eq 0 ] || fail "warren-tun-echo exited $rc on SIGINT"
cat "$tmp/echo.log"
grep -q 'answered 3 ICMP, 3 ICMPv6, 8 UDP; dropped 0 malformed' "$tmp/echo.log" || fail "summary counts are wrong"
in_ns ip link show wrn0 >/dev/null 2>&1 && fail "wrn0 still exists after the program exited"

echo "--- the demo cleans up when interrupted"
# SIGTERM: a script started in the background here inherits SIGINT ignored, which bash cannot
# trap; the demo's INT and TERM traps run the same cleanup.
setsid bash "$src/examples/demo.sh" "$build" >"$tmp/demo.log" 2>&1 &
demo_pid=$!; pids+=($demo_pid)
for _ in $(seq 100); do grep -q 'ping 192.0.2.2' "$tmp/demo.log" && break; sleep 0.1; done
grep -q 'ping 192.0.2.2' "$tmp/demo.log" || fail "the demo did not start: $(cat "$tmp/demo.log")"
demo_ns=$(grep -o 'warren-demo-[0-9]*' "$tmp/demo.log" | head -1)
[ "$demo_ns" = "warren-demo-$demo_pid" ] || fail "the demo named its namespace $demo_ns, not after its pid $demo_pid"
kill -TERM "$demo_pid"; wait "$demo_pid"; rc=$?
[ $rc -eq 143 ] || fail "terminated demo exited $rc, expected 143: $(cat "$tmp/demo.log")"
# Only this demo's namespaces: other tests may be making their own at the same time.
ip netns list | contains -E "^warren-demo(-wg|-go)?-$demo_pid( |$)" && fail "the interrupted demo left a namespace behind"
pgrep -f "warren-tun-echo.*$demo_ns" >/dev/null && fail "the terminated demo left warren-tun-echo running"
echo "ok: terminated demo exited 143 and removed $demo_ns"
echo "PASS"
