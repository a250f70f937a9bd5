#!/usr/bin/env bash
# The main job (./dev demo). Part 1: a warren TUN in a network namespace, answering ping and
# UDP echo from user space. Part 2: warren-wg and wireguard-go in two namespaces, a ping and a
# file through the tunnel. Part 3: the client engine: an armed warren-client and two regions
# served by wireguard-go and warren-wg at different delays; tunnels come up just in time, to
# the nearer server, and both regions carry traffic at once from their own assigned addresses.
# Usage: examples/demo.sh <build dir>. Needs root. Cleans up on any exit, Ctrl-C included.
set -uo pipefail
# A pipeline ending in `grep -q` fails under pipefail when grep exits at its first match and
# the writer gets SIGPIPE; `contains` reads everything first, then greps.
contains() { local all; all=$(cat); grep -q "$@" <<<"$all"; }
build=${1:?usage: demo.sh <build dir>}
echo_bin=$build/examples/tun-echo/warren-tun-echo
udp_ping=$build/examples/udp-ping/warren-udp-ping
warren_wg=$build/examples/warren-wg/warren-wg
client_bin=$build/examples/warren-client/warren-client
relay=$build/tests/warren_udp_delay_relay
for b in "$echo_bin" "$udp_ping" "$warren_wg" "$client_bin" "$relay"; do [ -x "$b" ] || { echo "demo: $b is missing: build first (./dev demo does)" >&2; exit 1; }; done
command -v ping >/dev/null || { echo "demo: ping is missing: apt-get install iputils-ping" >&2; exit 1; }

ns=warren-demo-$$
wa=warren-demo-wg-$$
wb=warren-demo-go-$$
pid=
child=
client_pid=
wgpids=()
tmp=$(mktemp -d)
failed=0
cleanup() {
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  for p in "${wgpids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ -n "$client_pid" ]; then kill -TERM "$client_pid" 2>/dev/null; wait "$client_pid" 2>/dev/null; fi
  declare -F lab_cleanup >/dev/null && lab_cleanup
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

printf '\n\033[1m######## Part 3: the client engine — just-in-time tunnels, two regions, one TUN\033[0m\n'
if ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null || ! command -v nc >/dev/null || ! command -v tc >/dev/null; then
  echo "demo: wireguard-go, wg, nc or tc missing (./dev deps installs them); skipping part 3"
  failed=1
else
  mkdir -p "$tmp/lab"
  lab_tmp=$tmp/lab; lab_warren_wg=$warren_wg; lab_relay=$relay; lab_tag=$$
  lab_fail() { echo "demo: FAILED: $*"; exit 1; }
  # shellcheck source=warren-client/lab.sh
  source "$(dirname "$0")/warren-client/lab.sh"
  step "A client namespace and three servers, each with its own delay and its own address for us"
  lab_init
  lab_server 1 6 wireguard-go 10.100.0.1/16 10.100.0.2 198.18.1.1
  lab_server 2 60 warren-wg 10.102.0.1/16 10.102.0.2 198.18.1.1
  lab_server 3 20 warren-wg 10.101.0.1/16 10.101.0.2 198.18.2.1
  lab_server_conf uk-near uk 1 10.100.0.2
  lab_server_conf uk-far uk 2 10.102.0.2
  lab_server_conf fr-1 fr 3 10.101.0.2
  echo "  uk-near  wireguard-go   6 ms round trip, assigns 10.100.0.2, serves 198.18.1.1"
  echo "  uk-far   warren-wg     60 ms round trip, assigns 10.102.0.2, serves 198.18.1.1"
  echo "  fr-1     warren-wg     20 ms round trip, assigns 10.101.0.2, serves 198.18.2.1"
  echo "  (delays by $lab_delay_by)"
  printf '%s\n' '{' \
    '  "tun": {"name": "wrnc0", "addresses": ["10.0.0.1/32"]},' \
    '  "providers": {"files": {"type": "wg-quick", "directory": "servers"}},' \
    '  "targets": {"uk": {"provider": "files", "region": "uk"}, "fr": {"provider": "files", "region": "fr"}},' \
    '  "rules": [{"destinations": ["198.18.1.0/24"], "target": "uk"},' \
    '            {"destinations": ["198.18.2.0/24"], "target": "fr"}],' \
    '  "default": "drop",' \
    '  "idle_timeout_seconds": 60' \
    '}' >"$lab_tmp/client.json"
  step "The client's configuration: rules send 198.18.1.0/24 to region uk and 198.18.2.0/24 to fr"
  run "$client_bin" --check "$lab_tmp/client.json"

  # New lines of the client's output since the last look.
  seen=0
  show_client() {
    local lines; lines=$(wc -l <"$lab_tmp/client.log")
    tail -n +$((seen + 1)) "$lab_tmp/client.log" | head -n $((lines - seen)) | sed 's/^/  | /'
    seen=$lines
  }
  step "Arm warren-client: TUN wrnc0 (10.0.0.1) up, routes in, no tunnel and no handshake yet"
  ip netns exec "$lab_client" "$client_bin" --table "$lab_tmp/client.json" >"$lab_tmp/client.log" 2>&1 &
  client_pid=$!
  for _ in $(seq 100); do grep -q TARGET "$lab_tmp/client.log" && break; sleep 0.1; done
  for _ in $(seq 100); do [ -n "$(ip -n "$lab_client" route show 198.18.2.0/24)" ] && break; sleep 0.1; done
  show_client
  run ip -n "$lab_client" route show dev wrnc0
  for n in 1 2 3; do
    printf 'server %s latest handshake: %s\n' $n "$(ip netns exec wc$n$lab_tag wg show wcg$n$lab_tag latest-handshakes | awk '{print $2}')"
  done

  step "The first ping to 198.18.1.1 (uk): held while the nearer server's tunnel comes up, then answered"
  run ip netns exec "$lab_client" ping -c 3 -i 0.2 -W 5 198.18.1.1
  show_client

  step "Both regions at once: 16 MiB to 198.18.1.1 (uk) and to 198.18.2.1 (fr)"
  head -c $((16 * 1024 * 1024)) /dev/urandom >"$lab_tmp/file"
  ip netns exec wc1$lab_tag nc -l -n -v 198.18.1.1 5001 >"$lab_tmp/got-uk" 2>"$lab_tmp/nc-uk.log" &
  ncuk=$!
  ip netns exec wc3$lab_tag nc -l -n -v 198.18.2.1 5002 >"$lab_tmp/got-fr" 2>"$lab_tmp/nc-fr.log" &
  ncfr=$!
  for _ in $(seq 50); do
    [ -n "$(ip netns exec wc1$lab_tag ss -Hltn 'sport = :5001')" ] && [ -n "$(ip netns exec wc3$lab_tag ss -Hltn 'sport = :5002')" ] && break
    sleep 0.1
  done
  ip netns exec "$lab_client" timeout 60 nc -N 198.18.1.1 5001 <"$lab_tmp/file" & senduk=$!
  ip netns exec "$lab_client" timeout 60 nc -N 198.18.2.1 5002 <"$lab_tmp/file" & sendfr=$!
  wait $senduk || { failed=1; echo "demo: FAILED: sending to uk"; }
  wait $sendfr || { failed=1; echo "demo: FAILED: sending to fr"; }
  wait $ncuk; wait $ncfr
  sent=$(sha256sum <"$lab_tmp/file" | cut -d' ' -f1)
  for r in uk fr; do
    got=$(sha256sum <"$lab_tmp/got-$r" | cut -d' ' -f1)
    printf '%s server: %s, sha256 %s\n' $r "$(grep -o 'Connection received on [0-9.]*' "$lab_tmp/nc-$r.log")" \
      "$([ "$got" = "$sent" ] && echo matches || echo DIFFERS)"
    [ "$got" = "$sent" ] || failed=1
  done
  show_client

  step "Ctrl-C the client: tunnels closed, routes removed"
  kill -INT "$client_pid"; wait "$client_pid"; rc=$?; client_pid=
  show_client
  [ $rc -eq 0 ] || { failed=1; echo "demo: warren-client exited with $rc"; }
  [ -z "$(ip -n "$lab_client" route show 198.18.1.0/24)" ] && echo "routes removed" || { failed=1; echo "demo: a route is left"; }
  lab_cleanup
fi

[ $failed -eq 0 ] && printf '\n\033[1mdemo: everything answered\033[0m\n' || printf '\ndemo: some steps FAILED\n'
exit $failed
