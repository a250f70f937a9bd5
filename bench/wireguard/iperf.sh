#!/usr/bin/env bash
# Whole-system comparison of warren-wg with wireguard-go, measured with iperf3.
#
# 1. Two network namespaces joined by one veth pair (198.18.0.1 <-> 198.18.0.2).
# 2. Two tunnels between them side by side, each one daemon per namespace:
#    warren-wg <-> warren-wg        10.101.0.1 <-> 10.101.0.2, UDP port 51801
#    wireguard-go <-> wireguard-go  10.102.0.1 <-> 10.102.0.2, UDP port 51802
#    plus the raw veth as a ceiling for the TCP tests.
# 3. Tests, client in the first namespace, server in the second, each DURATION seconds:
#    tcp x1    one TCP stream                 received bits/s (end.sum_received)
#    tcp x4    four parallel streams (-P 4)   received bits/s
#    udp 64 B  64-byte payloads at -b 0       packets/s delivered, from the server's end.sum
# 4. Each test runs warren, wireguard-go (and veth), then again in the same order, so noise from
#    neighbours on a shared machine falls on both; the table shows the median of the rounds
#    and the CPU the two daemons of each tunnel used while it ran (/proc/<pid>/stat).
#
# Usage: bash bench/wireguard/iperf.sh <build dir>      (as root; ./dev bench wireguard runs it)
# Environment: DURATION (seconds per run, default 10), ROUNDS (default 2),
#              QUICK=1 (DURATION defaults to 3: a smoke run, not numbers to quote).
# Exit status: 0 when every measurement produced a number (whatever the ratios), 1 on a setup
# failure, a daemon that died, or a run that produced nothing.
set -uo pipefail

build=${1:?usage: iperf.sh <build dir>}
warren=$build/examples/warren-wg/warren-wg
if [ "${QUICK:-0}" = 1 ]; then DURATION=${DURATION:-3}; else DURATION=${DURATION:-10}; fi
ROUNDS=${ROUNDS:-2}
[[ $DURATION =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 600 ] || { echo "iperf.sh: DURATION must be 1..600 seconds"; exit 1; }
[[ $ROUNDS =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 10 ] || { echo "iperf.sh: ROUNDS must be 1..10"; exit 1; }

[ "$(id -u)" -eq 0 ] || { echo "iperf.sh: needs root for network namespaces"; exit 1; }
[ -x "$warren" ] || { echo "iperf.sh: no warren-wg at $warren (build the examples: ./dev bench wireguard)"; exit 1; }
command -v iperf3 >/dev/null || { echo "iperf.sh: iperf3 missing: apt-get install iperf3 (or ./dev deps)"; exit 1; }
for t in wireguard-go wg ip ping ss; do
  command -v $t >/dev/null || { echo "iperf.sh: $t missing (./dev deps installs it)"; exit 1; }
done
if command -v python3 >/dev/null; then json=python3
elif command -v jq >/dev/null; then json=jq
else echo "iperf.sh: needs python3 or jq to read iperf3's JSON"; exit 1; fi

# Our own names only: other sessions' tests use ww*, wga*, warren-* at the same time.
A=wgbench-$$-a; B=wgbench-$$-b
if_wa=wbw$$a; if_wb=wbw$$b; if_ga=wbg$$a; if_gb=wbg$$b   # at most 15 bytes
tmp=$(mktemp -d /tmp/wgbench.XXXXXX)
pids=()          # everything we started in the background, killed by pid in cleanup
hz=$(getconf CLK_TCK)

stop_pid() {  # SIGTERM, up to 5 s, then SIGKILL
  local p=$1
  kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
  kill -TERM "$p" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
}
cleanup() {
  trap - EXIT INT TERM
  local p
  for p in "${pids[@]}"; do stop_pid "$p"; done
  ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null
  # A daemon that had to be killed cannot remove its socket.
  for p in "$if_wa" "$if_wb" "$if_ga" "$if_gb"; do rm -f "/var/run/wireguard/$p.sock"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo; echo "iperf.sh: interrupted"; exit 130' INT TERM
fail() {
  echo "iperf.sh: $*"
  for f in "$tmp"/*.log; do [ -s "$f" ] && { echo "== $(basename "$f")"; tail -15 "$f"; }; done
  exit 1
}
a() { ip netns exec "$A" "$@"; }
b() { ip netns exec "$B" "$@"; }

# jget <file> <dotted.path>: a number from iperf3's JSON, or nothing.
jget() {
  if [ "$json" = python3 ]; then
    python3 - "$1" "$2" <<'PY' 2>/dev/null
import json, sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2].split('.'):
        v = v[k]
    print(v)
except Exception:
    pass
PY
  else
    jq -r ".${2} // empty" "$1" 2>/dev/null
  fi
}
calc() { awk "BEGIN { printf \"%s\", ($*) }"; }   # floating point via awk; parenthesised so > compares

# --- the two namespaces and the veth between them
umask 077
for s in "$if_wa" "$if_wb" "$if_ga" "$if_gb"; do
  [ -e "/var/run/wireguard/$s.sock" ] && fail "/var/run/wireguard/$s.sock exists already"
done
ip netns add "$A" && ip netns add "$B" || fail "cannot create namespaces $A and $B"
a ip link set lo up; b ip link set lo up
ip link add vba netns "$A" type veth peer name vbb netns "$B" || fail "cannot create the veth pair"
a ip addr add 198.18.0.1/24 dev vba && b ip addr add 198.18.0.2/24 dev vbb || fail "veth addresses"
a ip link set vba up && b ip link set vbb up || fail "veth up"

# --- the daemons
declare -A daemon_pid
start() {  # start <namespace> <ifname> <command...>
  local ns=$1 ifname=$2; shift 2
  # Not through a shell function: $! must be the daemon itself (ip netns exec execs it).
  ip netns exec "$ns" "$@" "$ifname" >"$tmp/$ifname.log" 2>&1 &
  pids+=($!); daemon_pid[$ifname]=$!
  for _ in $(seq 100); do [ -S "/var/run/wireguard/$ifname.sock" ] && return 0; sleep 0.1; done
  fail "$* $ifname did not create its UAPI socket"
}
start "$A" "$if_wa" "$warren" -f
start "$B" "$if_wb" "$warren" -f
start "$A" "$if_ga" wireguard-go -f
start "$B" "$if_gb" wireguard-go -f

for k in a b ga gb; do wg genkey >"$tmp/$k.key"; wg pubkey <"$tmp/$k.key" >"$tmp/$k.pub"; done
# tunnel <ns> <ifname> <key> <peer pub> <port> <subnet> <own host> <peer host> <peer veth addr>
tunnel() {
  local ns=$1 ifname=$2 key=$3 pub=$4 port=$5 net=$6 me=$7 peer=$8 ep=$9
  printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n[Peer]\nPublicKey = %s\nAllowedIPs = %s.%s/32\nEndpoint = %s:%s\n' \
    "$(cat "$key")" "$port" "$(cat "$pub")" "$net" "$peer" "$ep" "$port" >"$tmp/$ifname.conf"
  ip netns exec "$ns" wg setconf "$ifname" "$tmp/$ifname.conf" || fail "wg setconf $ifname"
  ip netns exec "$ns" ip addr add "$net.$me/24" dev "$ifname" || fail "address on $ifname"
  ip netns exec "$ns" ip link set "$ifname" up || fail "$ifname up"
}
tunnel "$A" "$if_wa" "$tmp/a.key" "$tmp/b.pub" 51801 10.101.0 1 2 198.18.0.2
tunnel "$B" "$if_wb" "$tmp/b.key" "$tmp/a.pub" 51801 10.101.0 2 1 198.18.0.1
tunnel "$A" "$if_ga" "$tmp/ga.key" "$tmp/gb.pub" 51802 10.102.0 1 2 198.18.0.2
tunnel "$B" "$if_gb" "$tmp/gb.key" "$tmp/ga.pub" 51802 10.102.0 2 1 198.18.0.1

# Per target: the server address, the iperf3 port and the daemons whose CPU is counted.
declare -A addr=([warren]=10.101.0.2 [wggo]=10.102.0.2 [veth]=198.18.0.2)
declare -A port=([warren]=5301 [wggo]=5302 [veth]=5303)
declare -A dpids=([warren]="${daemon_pid[$if_wa]} ${daemon_pid[$if_wb]}"
                  [wggo]="${daemon_pid[$if_ga]} ${daemon_pid[$if_gb]}" [veth]="")
declare -A label=([warren]=warren-wg [wggo]=wireguard-go [veth]="raw veth")

# Readiness: one echo answered within 15 s, which allows for one handshake retransmission
# (REKEY_TIMEOUT, 5 s) if the first initiation is lost.
for t in warren wggo veth; do
  a ping -c 1 -w 15 "${addr[$t]}" >/dev/null || fail "no answer from ${addr[$t]} (${label[$t]}) through the tunnel"
done

ticks() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }; s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }
alive() {
  local t=$1 p
  for p in ${dpids[$t]}; do kill -0 "$p" 2>/dev/null || return 1; done
}

# run <test> <target> <round>: one iperf3 run; sets result[<test>,<target>,<round>] and cpu[...].
declare -A result cpu
run() {
  local test=$1 t=$2 r=$3 opts=() srv cli spid p start_ns wall value="" c0=() c1=() i cpus=""
  case $test in
    tcp1) opts=(-O 1) ;;
    tcp4) opts=(-O 1 -P 4) ;;
    udp64) opts=(-u -b 0 -l 64) ;;
  esac
  srv=$tmp/$test.$t.$r.server.json; cli=$tmp/$test.$t.$r.client.json
  a ping -c 1 -w 15 "${addr[$t]}" >/dev/null || echo "  warning: warm-up ping through ${label[$t]} went unanswered"
  # -1: the server ends after one test; it is killed by pid below if the client never came.
  b iperf3 -s -1 -J -B "${addr[$t]}" -p "${port[$t]}" >"$srv" 2>&1 &
  spid=$!; pids+=($spid)
  for _ in $(seq 50); do [ -n "$(b ss -Hltn "sport = :${port[$t]}")" ] && break; sleep 0.1; done
  for p in ${dpids[$t]}; do c0+=("$(ticks "$p")"); done
  start_ns=$(date +%s%N)
  timeout $((DURATION + 30)) ip netns exec "$A" iperf3 -c "${addr[$t]}" -p "${port[$t]}" -t "$DURATION" -J "${opts[@]}" \
    >"$cli" 2>&1
  wall=$(calc "($(date +%s%N) - $start_ns) / 1e9")
  for p in ${dpids[$t]}; do c1+=("$(ticks "$p")"); done
  for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$spid"
  if [ "$test" = udp64 ]; then
    # The receiver's end.sum: "packets" is the highest sequence number seen, so what arrived
    # is packets - lost_packets.
    local pk lost secs lp
    pk=$(jget "$srv" end.sum.packets); lost=$(jget "$srv" end.sum.lost_packets)
    secs=$(jget "$srv" end.sum.seconds); lp=$(jget "$srv" end.sum.lost_percent)
    if [ -n "$pk" ] && [ -n "$lost" ] && [ -n "$secs" ] && [ "$(calc "$secs > 0")" = 1 ]; then
      value=$(calc "($pk - $lost) / $secs")
      loss[$test,$t,$r]=$(calc "sprintf(\"%.1f\", ${lp:-0})")
    fi
  else
    value=$(jget "$cli" end.sum_received.bits_per_second)
  fi
  for i in "${!c0[@]}"; do cpus+="${cpus:++}$(calc "int(100 * (${c1[$i]} - ${c0[$i]}) / $hz / $wall + 0.5)")%"; done
  cpu[$test,$t,$r]=$cpus
  if [ -z "$value" ]; then
    local err; err=$(jget "$cli" error); [ -n "$err" ] || err=$(jget "$srv" error)
    [ -n "$err" ] || err=$(tail -c 300 "$cli" | tr '\n' ' ')
    echo "  round $r ${label[$t]}: no result: $err"
    missing=1
  else
    result[$test,$t,$r]=$value
    printf '  round %s %-13s %s%s\n' "$r" "${label[$t]}" "$(show "$test" "$value")" \
      "${cpus:+   cpu $cpus (client side+server side daemon)}${loss[$test,$t,$r]:+   lost ${loss[$test,$t,$r]}%}"
  fi
  if ! alive "$t"; then echo "  ${label[$t]}: a daemon died during the run"; fail "${label[$t]} daemon died"; fi
}
declare -A loss
missing=0
show() {  # show <test> <value>
  case $1 in
    udp64) calc "sprintf(\"%.0f kpps\", $2 / 1000)" ;;
    *) calc "sprintf(\"%.2f Gbit/s\", $2 / 1e9)" ;;
  esac
}
median() {  # median of the arguments
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A test_name=([tcp1]="TCP, 1 stream" [tcp4]="TCP, 4 streams" [udp64]="UDP 64 B, delivered")
tests=(tcp1 tcp4 udp64)
echo "warren-wg:    $warren"
# The Debian package's own version: the binary's --version string lags behind it.
echo "wireguard-go: $(command -v wireguard-go) $(dpkg-query -W -f='${Version}' wireguard-go 2>/dev/null || wireguard-go --version | head -1)"
echo "iperf3 $(iperf3 --version | head -1 | awk '{print $2}'), ${DURATION} s per run, ${ROUNDS} rounds interleaved, $(nproc) CPUs"
for test in "${tests[@]}"; do
  echo "--- ${test_name[$test]}"
  targets=(warren wggo); [ "$test" = udp64 ] || targets+=(veth)
  for r in $(seq "$ROUNDS"); do
    for t in "${targets[@]}"; do run "$test" "$t" "$r"; done
  done
done

# --- the table: medians over the rounds
declare -A med medcpu
for test in "${tests[@]}"; do
  for t in warren wggo veth; do
    vals=(); cw=(); cs=()
    for r in $(seq "$ROUNDS"); do
      [ -n "${result[$test,$t,$r]:-}" ] && vals+=("${result[$test,$t,$r]}")
      if [ -n "${cpu[$test,$t,$r]:-}" ]; then
        IFS=+ read -r x y <<<"${cpu[$test,$t,$r]//%/}"; cw+=("$x"); cs+=("$y")
      fi
    done
    [ ${#vals[@]} -gt 0 ] && med[$test,$t]=$(median "${vals[@]}")
    [ ${#cw[@]} -gt 0 ] && medcpu[$test,$t]="$(calc "sprintf(\"%.0f%%+%.0f%%\", $(median "${cw[@]}"), $(median "${cs[@]}"))")"
  done
done
ratio() { [ -n "${med[$1,warren]:-}" ] && [ -n "${med[$1,wggo]:-}" ] && calc "sprintf(\"%.2f\", ${med[$1,warren]} / ${med[$1,wggo]})"; }
echo
printf '%-22s | %-13s | %-13s | %-22s | %s\n' "test (median of $ROUNDS)" warren-wg wireguard-go "ratio warren/wg-go" "raw veth"
printf -- '%.0s-' $(seq 92); echo
for test in "${tests[@]}"; do
  w=${med[$test,warren]:+$(show "$test" "${med[$test,warren]}")}; g=${med[$test,wggo]:+$(show "$test" "${med[$test,wggo]}")}
  v=${med[$test,veth]:+$(show "$test" "${med[$test,veth]}")}
  rt=$(ratio "$test"); rt=${rt:+${rt}x}
  printf '%-22s | %-13s | %-13s | %-22s | %s\n' "${test_name[$test]}" "${w:-n/a}" "${g:-n/a}" "${rt:-n/a}" "${v:--}"
done
echo
echo "CPU of the two daemons while each ran (client side + server side, % of one core; $(nproc) cores shared with iperf3),"
echo "and what each tunnel carried per core its daemons used:"
per_core() {  # per_core <test> <target>: the median result over the daemons' summed CPU
  local c=${medcpu[$1,$2]:-} x y
  [ -n "$c" ] && [ -n "${med[$1,$2]:-}" ] || { echo "n/a"; return; }
  IFS=+ read -r x y <<<"${c//%/}"
  [ "$(calc "$x + $y > 0")" = 1 ] || { echo "n/a"; return; }
  show "$1" "$(calc "${med[$1,$2]} * 100 / ($x + $y)")"
}
for test in "${tests[@]}"; do
  printf '  %-22s warren-wg %-9s (%s/core)   wireguard-go %-9s (%s/core)\n' "${test_name[$test]}" \
    "${medcpu[$test,warren]:-n/a}" "$(per_core "$test" warren)" "${medcpu[$test,wggo]:-n/a}" "$(per_core "$test" wggo)"
done
for test in udp64; do
  lw=(); lg=()
  for r in $(seq "$ROUNDS"); do
    [ -n "${loss[$test,warren,$r]:-}" ] && lw+=("${loss[$test,warren,$r]}")
    [ -n "${loss[$test,wggo,$r]:-}" ] && lg+=("${loss[$test,wggo,$r]}")
  done
  [ ${#lw[@]} -gt 0 ] && [ ${#lg[@]} -gt 0 ] &&
    echo "UDP 64 B lost at the receiver (median): warren-wg $(calc "sprintf(\"%.1f\", $(median "${lw[@]}"))")%, wireguard-go $(calc "sprintf(\"%.1f\", $(median "${lg[@]}"))")%"
done

# --- against the targets: TCP >= 1.5x wireguard-go, small packets >= 2x
verdict() {  # verdict <test> <target ratio>
  local rt; rt=$(ratio "$1") || { echo "${test_name[$1]} n/a"; return; }
  if [ "$(calc "$rt >= $2")" = 1 ]; then echo "${test_name[$1]} ${rt}x (target ${2}x: met)"
  else echo "${test_name[$1]} ${rt}x (target ${2}x: not met)"; fi
}
echo
echo "summary: $(verdict tcp1 1.5); $(verdict tcp4 1.5); $(verdict udp64 2)"
[ "$missing" = 0 ] || { echo "iperf.sh: some runs produced no result (see above)"; exit 1; }
exit 0
