# A lab for warren-client, sourced by the demo (examples/demo.sh) and the end-to-end test
# (tests/jit/warren_client_test.sh): a client namespace and WireGuard servers in namespaces of
# their own, each over its own veth pair with its own round-trip delay, each assigning the
# client its own tunnel address and serving one address behind it.
#
# The delay is `tc qdisc ... netem delay` on the client's side of the veth. Where the kernel has
# no sch_netem, a UDP relay in front of the server's daemon holds each datagram for half the
# delay each way instead (tests/support/udp_delay_relay.cpp).
#
# Set before sourcing: lab_tmp (a private directory), lab_warren_wg, lab_relay (binaries),
# lab_tag (a short unique suffix). Call lab_cleanup on exit. Functions fail through lab_fail,
# which the caller defines.

lab_client=wcc$lab_tag
lab_pids=()
lab_namespaces=()

lab_cleanup() {
  local p ns
  for p in "${lab_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for ns in "${lab_namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
  lab_pids=()
  lab_namespaces=()
}

# The client namespace, the client's key, and how delays are made.
lab_init() {
  ip netns add "$lab_client" || lab_fail "namespace $lab_client"
  lab_namespaces+=("$lab_client")
  ip -n "$lab_client" link set lo up
  (umask 077; wg genkey >"$lab_tmp/client.key")
  wg pubkey <"$lab_tmp/client.key" >"$lab_tmp/client.pub"
  if ip netns exec "$lab_client" tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
    ip netns exec "$lab_client" tc qdisc del dev lo root
    lab_delay_by=netem
  else
    lab_delay_by=relay
  fi
}

# lab_server <n> <round-trip ms> <wireguard-go|warren-wg> <inner net> <client address> <service address>
# Server n lives in namespace wc<n>$lab_tag, listens on 192.0.2.(4n-2):51820, has interface
# wcg<n>$lab_tag with <inner net>, lets <client address> in, and answers on <service address>.
lab_server() {
  local n=$1 rtt=$2 kind=$3 net=$4 client_addr=$5 service=$6
  local ns=wc$n$lab_tag ifname=wcg$n$lab_tag port=51820
  ip netns add "$ns" || lab_fail "namespace $ns"
  lab_namespaces+=("$ns")
  ip -n "$ns" link set lo up
  ip link add "wcv$n$lab_tag" netns "$lab_client" type veth peer name "wcs$n" netns "$ns" || lab_fail "veth $n"
  ip -n "$lab_client" addr add "192.0.2.$((4 * n - 3))/30" dev "wcv$n$lab_tag"
  ip -n "$ns" addr add "192.0.2.$((4 * n - 2))/30" dev "wcs$n"
  ip -n "$lab_client" link set "wcv$n$lab_tag" up; ip -n "$ns" link set "wcs$n" up
  ip -n "$ns" addr add "$service/32" dev lo
  if [ "$lab_delay_by" = netem ]; then
    ip netns exec "$lab_client" tc qdisc add dev "wcv$n$lab_tag" root netem delay "${rtt}ms" || lab_fail "netem on wcv$n"
  else
    port=51821
    ip netns exec "$ns" "$lab_relay" "192.0.2.$((4 * n - 2))" 51820 127.0.0.1 $port $((rtt / 2)) >"$lab_tmp/relay$n.log" 2>&1 &
    lab_pids+=($!)
  fi
  (umask 077; wg genkey >"$lab_tmp/s$n.key")
  wg pubkey <"$lab_tmp/s$n.key" >"$lab_tmp/s$n.pub"
  # Started directly (not through a function of ours), so that $! is the daemon itself.
  if [ "$kind" = wireguard-go ]; then
    ip netns exec "$ns" wireguard-go -f "$ifname" >"$lab_tmp/s$n-$kind.log" 2>&1 &
  else
    ip netns exec "$ns" "$lab_warren_wg" -f "$ifname" >"$lab_tmp/s$n-$kind.log" 2>&1 &
  fi
  lab_pids+=($!)
  eval "lab_server_pid_$n=$!"
  local _
  for _ in $(seq 100); do [ -S "/var/run/wireguard/$ifname.sock" ] && break; sleep 0.1; done
  [ -S "/var/run/wireguard/$ifname.sock" ] || lab_fail "$kind did not create its UAPI socket"
  ip netns exec "$ns" wg set "$ifname" private-key "$lab_tmp/s$n.key" listen-port $port \
    peer "$(cat "$lab_tmp/client.pub")" allowed-ips "$client_addr/32" || lab_fail "wg set $ifname"
  ip -n "$ns" addr add "$net" dev "$ifname"
  ip -n "$ns" link set "$ifname" up
}

# lab_server_conf <id> <region> <n> <assigned address>: the client's wg-quick file for server n.
lab_server_conf() {
  mkdir -p "$lab_tmp/servers"
  { echo "# warren: region=$2"
    echo "[Interface]"; echo "PrivateKey = $(cat "$lab_tmp/client.key")"; echo "Address = $4/32"
    echo "[Peer]"; echo "PublicKey = $(cat "$lab_tmp/s$3.pub")"; echo "Endpoint = 192.0.2.$((4 * $3 - 2)):51820"
    echo "AllowedIPs = 0.0.0.0/0"; } >"$lab_tmp/servers/$1.conf"
  chmod 600 "$lab_tmp/servers/$1.conf"
}
