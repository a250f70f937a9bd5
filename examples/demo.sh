#!/usr/bin/env bash
# The main job (./dev demo): a warren TUN in a network namespace, answering ping and UDP echo
# from user space. Usage: examples/demo.sh <build dir>. Needs root. Cleans up on any exit,
# Ctrl-C included.
set -uo pipefail
build=${1:?usage: demo.sh <build dir>}
echo_bin=$build/examples/tun-echo/warren-tun-echo
udp_ping=$build/examples/udp-ping/warren-udp-ping
for b in "$echo_bin" "$udp_ping"; do [ -x "$b" ] || { echo "demo: $b is missing: build first (./dev demo does)" >&2; exit 1; }; done
command -v ping >/dev/null || { echo "demo: ping is missing: apt-get install iputils-ping" >&2; exit 1; }

ns=warren-demo-$$
pid=
child=
failed=0
cleanup() {
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  ip netns del "$ns" 2>/dev/null
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, cleaning up"; exit 130' INT
trap 'echo; echo "demo: terminated, cleaning up"; exit 143' TERM
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Each step runs in the background and is waited for: a trapped signal interrupts `wait` at
# once, whereas bash would let a foreground command finish and then ignore the Ctrl-C.
run() {
  printf '$ %s\n' "$*"
  "$@" &
  child=$!
  wait "$child"
  local rc=$?
  child=
  [ $rc -eq 0 ] || { failed=1; echo "demo: FAILED: $*"; }
}

step "A network namespace of our own: $ns"
ip netns add "$ns" && ip -n "$ns" link set lo up || exit 1

step "warren-tun-echo creates TUN wrn0 in it, with 192.0.2.1/24 and fd00:77::1/64 (via rtnetlink)"
ip netns exec "$ns" "$echo_bin" --name wrn0 --address 192.0.2.1/24 --address fd00:77::1/64 &
pid=$!
# Ready when the interface is up and holds both addresses (bounded: 10 s).
for _ in $(seq 100); do
  ip -n "$ns" -o addr show dev wrn0 2>/dev/null | grep -q 'fd00:77::1/64' &&
    ip -n "$ns" link show wrn0 2>/dev/null | grep -q ',UP' && break
  kill -0 "$pid" 2>/dev/null || { echo "demo: warren-tun-echo exited early"; pid=; exit 1; }
  sleep 0.1
done
run ip -n "$ns" -brief addr show dev wrn0

step "ping 192.0.2.2: the kernel routes it into the TUN; warren parses it and builds the reply"
run ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 192.0.2.2
step "ping fd00:77::2 over IPv6"
run ip netns exec "$ns" ping -6 -c 3 -i 0.2 -W 2 fd00:77::2
step "UDP echo on port 7, IPv4 and IPv6"
run ip netns exec "$ns" "$udp_ping" 192.0.2.2 --count 3
run ip netns exec "$ns" "$udp_ping" fd00:77::2 --count 3

step "Stop warren-tun-echo as Ctrl-C would (SIGINT)"
kill -INT "$pid"; wait "$pid"; rc=$?; pid=
[ $rc -eq 0 ] || { failed=1; echo "demo: warren-tun-echo exited with $rc"; }
if ip -n "$ns" link show wrn0 >/dev/null 2>&1; then
  failed=1; echo "demo: wrn0 still exists"
else
  echo "wrn0 is gone with it; removing $ns"
fi
[ $failed -eq 0 ] && printf '\n\033[1mdemo: everything answered\033[0m\n' || printf '\ndemo: some steps FAILED\n'
exit $failed
