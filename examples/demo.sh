#!/usr/bin/env bash
# The main job (./dev demo). Part 1: a warren TUN in a network namespace, answering ping and
# UDP echo from user space. Part 2: warren-wg and wireguard-go in two namespaces, a ping and a
# file through the tunnel. Usage: examples/demo.sh <build dir>. Needs root. Cleans up on any
# exit, Ctrl-C included.
set -uo pipefail
# A pipeline ending in `grep -q` fails under pipefail when grep exits at its first match and
# the writer gets SIGPIPE; `contains` reads everything first, then greps.
contains() { local all; all=$(cat); grep -q "$@" <<<"$all"; }
build=${1:?usage: demo.sh <build dir>}
echo_bin=$build/examples/tun-echo/warren-tun-echo
udp_ping=$build/examples/udp-ping/warren-udp-ping
warren_wg=$build/examples/warren-wg/warren-wg
for b in "$echo_bin" "$udp_ping" "$warren_wg"; do [ -x "$b" ] || { echo "demo: $b is missing: build first (./dev demo does)" >&2; exit 1; }; done
command -v ping >/dev/null || { echo "demo: ping is missing: apt-get install iputils-ping" >&2; exit 1; }

ns=warren-demo-$$
wa=warren-demo-wg-$$
wb=warren-demo-go-$$
pid=
child=
wgpids=()
tmp=$(mktemp -d)
failed=0
cleanup() {
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  for p in "${wgpids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  ip netns del "$wa" 2>/dev/null
  ip netns del "$wb" 2>/dev/null
  rm -rf "$tmp"
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

printf '\033[1m######## Part 1: a warren TUN answering from user space\033[0m\n'
step "A network namespace of our own: $ns"
ip netns add "$ns" && ip -n "$ns" link set lo up || exit 1

step "warren-tun-echo creates TUN wrn0 in it, with 192.0.2.1/24 and fd00:77::1/64 (via rtnetlink)"
ip netns exec "$ns" "$echo_bin" --name wrn0 --address 192.0.2.1/24 --address fd00:77::1/64 &
pid=$!
# Ready when the interface is up and holds both addresses (bounded: 10 s).
for _ in $(seq 100); do
  ip -n "$ns" -o addr show dev wrn0 2>/dev/null | contains 'fd00:77::1/64' &&
    ip -n "$ns" link show wrn0 2>/dev/null | contains ',UP' && break
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
ip netns del "$ns" 2>/dev/null

printf '\n\033[1m######## Part 2: WireGuard — warren-wg and wireguard-go\033[0m\n'
if ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null || ! command -v nc >/dev/null; then
  echo "demo: wireguard-go, wg or nc missing (./dev deps installs them); skipping part 2"
  failed=1
else
  step "Two namespaces joined by a veth pair: $wa (warren-wg) and $wb (wireguard-go)"
  ip netns add "$wa" && ip netns add "$wb" || exit 1
  ip -n "$wa" link set lo up; ip -n "$wb" link set lo up
  ip link add wdva netns "$wa" type veth peer name wdvb netns "$wb"
  ip -n "$wa" addr add 198.18.0.1/24 dev wdva; ip -n "$wb" addr add 198.18.0.2/24 dev wdvb
  ip -n "$wa" link set wdva up; ip -n "$wb" link set wdvb up
  (umask 077; wg genkey >"$tmp/a.key"; wg genkey >"$tmp/b.key")
  wg pubkey <"$tmp/a.key" >"$tmp/a.pub"; wg pubkey <"$tmp/b.key" >"$tmp/b.pub"

  step "Start the daemons: warren-wg wg0 (warren) and wireguard-go wg0"
  ip netns exec "$wa" "$warren_wg" -f wgw$$ >"$tmp/warren-wg.log" 2>&1 & wgpids+=($!)
  ip netns exec "$wb" wireguard-go -f wgg$$ >"$tmp/wireguard-go.log" 2>&1 & wgpids+=($!)
  for _ in $(seq 100); do [ -S /var/run/wireguard/wgw$$.sock ] && [ -S /var/run/wireguard/wgg$$.sock ] && break; sleep 0.1; done
  printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.77.0.2/32\nEndpoint = 198.18.0.2:51820\n' \
    "$(cat "$tmp/a.key")" "$(cat "$tmp/b.pub")" >"$tmp/a.conf"
  printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.77.0.1/32\n' \
    "$(cat "$tmp/b.key")" "$(cat "$tmp/a.pub")" >"$tmp/b.conf"
  run ip netns exec "$wa" wg setconf wgw$$ "$tmp/a.conf"
  run ip netns exec "$wb" wg setconf wgg$$ "$tmp/b.conf"
  ip -n "$wa" addr add 10.77.0.1/24 dev wgw$$; ip -n "$wa" link set wgw$$ up
  ip -n "$wb" addr add 10.77.0.2/24 dev wgg$$; ip -n "$wb" link set wgg$$ up

  step "Ping across the tunnel: warren-wg -> wireguard-go"
  ip netns exec "$wa" ping -c 1 -w 15 10.77.0.2 >/dev/null  # waits for the handshake
  run ip netns exec "$wa" ping -c 3 -i 0.2 -W 2 10.77.0.2

  step "wg show, against warren-wg and against wireguard-go"
  run ip netns exec "$wa" wg show wgw$$
  run ip netns exec "$wb" wg show wgg$$

  step "Move a 64 MiB file through the tunnel and compare checksums"
  head -c $((64 * 1024 * 1024)) /dev/urandom >"$tmp/file"
  ip netns exec "$wb" nc -l 10.77.0.2 5001 >"$tmp/received" &
  ncpid=$!
  for _ in $(seq 50); do [ -n "$(ip netns exec "$wb" ss -Hltn 'sport = :5001')" ] && break; sleep 0.1; done
  start=$(date +%s%N)
  echo "$ ip netns exec $wa nc -N 10.77.0.2 5001 < 64MiB-file"
  # Explicit stdin: a background command would otherwise read /dev/null.
  ip netns exec "$wa" timeout 60 nc -N 10.77.0.2 5001 <"$tmp/file" &
  child=$!
  wait "$child" || { failed=1; echo "demo: FAILED: sending the file"; }
  child=
  wait $ncpid
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  sent=$(sha256sum <"$tmp/file" | cut -d' ' -f1); got=$(sha256sum <"$tmp/received" | cut -d' ' -f1)
  echo "sent     sha256 $sent"
  echo "received sha256 $got  (64 MiB in $ms ms)"
  [ "$sent" = "$got" ] || { failed=1; echo "demo: FAILED: checksums differ"; }

  step "Stop both daemons (SIGTERM): sockets and interfaces go with them"
  for p in "${wgpids[@]}"; do kill -TERM "$p"; wait "$p" 2>/dev/null; done
  wgpids=()
  [ -S /var/run/wireguard/wgw$$.sock ] && { failed=1; echo "demo: warren-wg left its socket"; } || echo "warren-wg removed its socket and interface"
fi

[ $failed -eq 0 ] && printf '\n\033[1mdemo: everything answered\033[0m\n' || printf '\ndemo: some steps FAILED\n'
exit $failed
