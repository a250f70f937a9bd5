// wireguard::engine: the whole core per data packet and per handshake, on one core, with each
// crypto backend. Two engines, A and B, are wired back to back in memory as in
// tests/wireguard/engine_test.cpp; no sockets, and `now` only moves when a benchmark says so.
//
//   wireguard/engine/<backend>/packet/<n>     one n-byte IPv4 packet through the tunnel:
//                                             A.on_packet -> datagram -> B.on_datagram -> packet.
//                                             Both the seal and the open run on this core, so a
//                                             host that only sends (or only receives) does
//                                             roughly half this work per packet.
//   wireguard/engine/<backend>/aead/<n>       the bare AEAD the same packet costs: seal then open
//                                             of n bytes in place, same backend, counter nonce.
//                                             packet - aead is what the engine adds.
//   wireguard/engine/<backend>/pingpong/<n>   A -> B, then B -> A, per iteration (two packets,
//                                             counted as two items): traffic in both directions
//                                             runs the timer work a one-way stream skips (each
//                                             send after a receive re-arms the new-handshake
//                                             timer, with a fresh random jitter).
//   wireguard/engine/fast/batch/<helpers>     64 packets of 1420 bytes per iteration as one batch
//                                             each way (on_packets, then on_datagrams), their
//                                             crypto run by crypto_workers with that many helper
//                                             threads beside this one. Wall-clock time: the
//                                             gain from more cores (helpers/0 is one core).
//   wireguard/engine/<backend>/handshake      initiation -> response -> first data (the key
//                                             confirmation) between fresh ephemerals, both ends
//                                             on this core; initiator_us and responder_us split
//                                             the time between A's calls and B's.
//
// The datapath allocates nothing per packet here: the buffer B delivers is the one A was given
// (sealed and opened in place, the header in the headroom and the tag in the tailroom), so it is
// handed back to A as the next packet, and the engine_output vectors keep their capacity across
// clear(). Bytes are inner IP bytes. The console prints bytes_per_second in binary units
// (M = 2^20), so read Gbit/s as items_per_second * n * 8 / 1e9.
#include <warren/wireguard/engine.hpp>

#include <warren/crypto/fast_backend.hpp>
#include <warren/wireguard/adapters/crypto_workers.hpp>
#include <warren/crypto/mbedtls_backend.hpp>
#include <warren/packet/ipv4.hpp>
#include <warren/packet/udp.hpp>

#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace {

using namespace warren;
using namespace warren::wireguard;
namespace pk = warren::packet;

const endpoint ep_a{pk::ipv4_address::from_uint(0xc0000201u), 51820};  // 192.0.2.1:51820
const endpoint ep_b{pk::ipv4_address::from_uint(0xc0000202u), 51820};  // 192.0.2.2:51820
const pk::ipv4_address addr_a = pk::ipv4_address::from_uint(0x0a000001u);  // 10.0.0.1
const pk::ipv4_address addr_b = pk::ipv4_address::from_uint(0x0a000002u);  // 10.0.0.2

// An IPv4/UDP packet of exactly `total` bytes from `src` to `dst`, in a default packet_buffer
// (96 bytes of headroom, room behind for padding and the tag).
packet_buffer ip_packet(std::size_t total, pk::ipv4_address src, pk::ipv4_address dst) {
  auto buf = packet_buffer::allocate();
  auto payload = buf.append(total - 28);
  if (payload) {
    for (std::size_t i = 0; i < payload->size(); ++i) (*payload)[i] = static_cast<std::byte>(i * 131 + 7);
  }
  (void)pk::write_udp_header(buf, src, dst, 40000, 5201);
  (void)pk::write_ipv4_header(buf, {.source = src, .destination = dst, .protocol = pk::ip_protocol::udp});
  return buf;
}

// Two engines with each other as their only peer. connect() runs one handshake.
template <class Crypto>
struct tunnel_pair {
  Crypto crypto_a, crypto_b;
  engine<Crypto> a{crypto_a};
  engine<Crypto> b{crypto_b};
  time_point now{};
  engine_output out_a, out_b;

  tunnel_pair() {
    crypto::private_key key_a, key_b;
    crypto::public_key pub_a{}, pub_b{};
    crypto_a.generate_private_key(key_a);
    crypto_b.generate_private_key(key_b);
    crypto_a.x25519_public(pub_a, key_a);
    crypto_b.x25519_public(pub_b, key_b);
    a.set_private_key(key_a);
    b.set_private_key(key_b);
    (void)a.set_peer({.public_key = pub_b, .endpoint = ep_b, .allowed_ips = {pk::ip_prefix{addr_b, 32}}});
    (void)b.set_peer({.public_key = pub_a, .endpoint = ep_a, .allowed_ips = {pk::ip_prefix{addr_a, 32}}});
  }
  tunnel_pair(const tunnel_pair&) = delete;
  tunnel_pair& operator=(const tunnel_pair&) = delete;

  // Hands each side's datagrams to the other until both are quiet; keeps the vectors' capacity.
  void exchange() {
    for (int round = 0; round < 10 && (!out_a.datagrams.empty() || !out_b.datagrams.empty()); ++round) {
      std::vector<datagram> to_b, to_a;
      to_b.swap(out_a.datagrams);
      to_a.swap(out_b.datagrams);
      for (auto& d : to_b) (void)b.on_datagram(ep_a, std::move(d.bytes), now, out_b);
      for (auto& d : to_a) (void)a.on_datagram(ep_b, std::move(d.bytes), now, out_a);
    }
  }

  // A handshake and one packet each way, so both sides hold confirmed current keys.
  bool connect() {
    (void)a.on_packet(ip_packet(64, addr_a, addr_b), now, out_a);
    exchange();
    (void)b.on_packet(ip_packet(64, addr_b, addr_a), now, out_b);
    exchange();
    bool ok = out_b.packets.size() == 1 && out_a.packets.size() == 1 && a.counters().handshakes_completed == 1 &&
              b.counters().handshakes_completed == 1;
    out_a.clear();
    out_b.clear();
    return ok;
  }
};

// One packet from `from` to `to`: on_packet, then on_datagram of the single datagram it made.
// Leaves the delivered packet in `pkt`, ready to be sent again.
template <class Crypto>
bool send_one(engine<Crypto>& from, engine_output& out_from, const endpoint& from_ep, engine<Crypto>& to,
              engine_output& out_to, packet_buffer& pkt, time_point now) {
  if (!from.on_packet(std::move(pkt), now, out_from) || out_from.datagrams.size() != 1) return false;
  if (!to.on_datagram(from_ep, std::move(out_from.datagrams.front().bytes), now, out_to) || out_to.packets.size() != 1)
    return false;
  pkt = std::move(out_to.packets.front());
  out_from.clear();
  out_to.clear();
  return true;
}

bool same_bytes(const packet_buffer& a, const packet_buffer& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

void set_rates(benchmark::State& state, std::int64_t packets_per_iteration) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * packets_per_iteration);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * packets_per_iteration * state.range(0));
}

template <class Crypto>
void packet_bench(benchmark::State& state) {
  tunnel_pair<Crypto> t;
  if (!t.connect()) return state.SkipWithError("handshake failed");
  const auto n = static_cast<std::size_t>(state.range(0));
  const packet_buffer reference = ip_packet(n, addr_a, addr_b);
  packet_buffer pkt = ip_packet(n, addr_a, addr_b);
  for (auto _ : state) {
    if (!send_one(t.a, t.out_a, ep_a, t.b, t.out_b, pkt, t.now)) {
      state.SkipWithError("packet lost");
      break;
    }
    benchmark::DoNotOptimize(pkt.data());
  }
  if (!state.error_occurred() && !same_bytes(pkt, reference))
    state.SkipWithError("the delivered packet differs from the one sent");
  set_rates(state, 1);
}

template <class Crypto>
void pingpong_bench(benchmark::State& state) {
  tunnel_pair<Crypto> t;
  if (!t.connect()) return state.SkipWithError("handshake failed");
  const auto n = static_cast<std::size_t>(state.range(0));
  const packet_buffer ref_ab = ip_packet(n, addr_a, addr_b), ref_ba = ip_packet(n, addr_b, addr_a);
  packet_buffer ab = ip_packet(n, addr_a, addr_b), ba = ip_packet(n, addr_b, addr_a);
  for (auto _ : state) {
    if (!send_one(t.a, t.out_a, ep_a, t.b, t.out_b, ab, t.now) ||
        !send_one(t.b, t.out_b, ep_b, t.a, t.out_a, ba, t.now)) {
      state.SkipWithError("packet lost");
      break;
    }
    benchmark::DoNotOptimize(ab.data());
    benchmark::DoNotOptimize(ba.data());
  }
  if (!state.error_occurred() && (!same_bytes(ab, ref_ab) || !same_bytes(ba, ref_ba)))
    state.SkipWithError("a delivered packet differs from the one sent");
  set_rates(state, 2);
}

// The same AEAD work as one tunnelled packet: seal n bytes in place behind a 16-byte header,
// then open them in place, with a fresh counter each time as the engine uses.
template <class Crypto>
void aead_bench(benchmark::State& state) {
  Crypto b;
  const auto n = static_cast<std::size_t>(state.range(0));
  std::array<std::byte, crypto::key_size> raw{};
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::byte>(i + 1);
  const crypto::symmetric_key key(raw);
  std::vector<std::byte> buf(transport_header_size + n + crypto::tag_size);
  std::byte* body = buf.data() + transport_header_size;
  for (std::size_t i = 0; i < n; ++i) body[i] = static_cast<std::byte>(i * 131 + 7);
  std::uint64_t counter = 0;
  for (auto _ : state) {
    b.seal(key, counter, byte_view(body, n), {}, mutable_byte_view(body, n + crypto::tag_size));
    if (!b.open(key, counter, byte_view(body, n + crypto::tag_size), {}, mutable_byte_view(body, n))) {
      state.SkipWithError("open failed");
      break;
    }
    ++counter;
    benchmark::DoNotOptimize(body);
    benchmark::ClobberMemory();
  }
  set_rates(state, 1);
}

// A full handshake per iteration. Each starts as a real rekey does after a quiet spell: A's
// session has passed Reject-After-Time, so A's next packet is staged and A initiates; B responds;
// A sends the staged packet on the new keys; B opens it, which confirms them. Both ends use new
// ephemerals every time (four X25519 operations per side, one of them a fixed-base one).
template <class Crypto>
void handshake_bench(benchmark::State& state) {
  using clock = std::chrono::steady_clock;
  tunnel_pair<Crypto> t;
  if (!t.connect()) return state.SkipWithError("handshake failed");
  packet_buffer pkt = ip_packet(64, addr_a, addr_b);
  clock::duration initiator{}, responder{};
  const auto before = t.a.counters().handshakes_completed;
  for (auto _ : state) {
    t.now += reject_after_time;
    bool ok = true;
    auto t0 = clock::now();
    ok = ok && t.a.on_packet(std::move(pkt), t.now, t.out_a) && t.out_a.datagrams.size() == 1;  // initiation
    auto t1 = clock::now();
    ok = ok && t.b.on_datagram(ep_a, std::move(t.out_a.datagrams.front().bytes), t.now, t.out_b) &&
         t.out_b.datagrams.size() == 1;  // response
    auto t2 = clock::now();
    ok = ok && t.a.on_datagram(ep_b, std::move(t.out_b.datagrams.front().bytes), t.now, t.out_a) &&
         t.out_a.datagrams.size() == 2;  // the initiation still in out_a, then the staged packet
    auto t3 = clock::now();
    ok = ok && t.b.on_datagram(ep_a, std::move(t.out_a.datagrams.back().bytes), t.now, t.out_b) &&
         t.out_b.packets.size() == 1;  // key confirmation and delivery
    auto t4 = clock::now();
    if (!ok) {
      state.SkipWithError("handshake failed");
      break;
    }
    initiator += (t1 - t0) + (t3 - t2);
    responder += (t2 - t1) + (t4 - t3);
    pkt = std::move(t.out_b.packets.front());
    t.out_a.clear();
    t.out_b.clear();
  }
  if (!state.error_occurred() &&
      (t.a.counters().handshakes_completed - before != static_cast<std::uint64_t>(state.iterations()) ||
       t.b.counters().handshakes_completed != t.a.counters().handshakes_completed))
    state.SkipWithError("a handshake did not complete");
  using us = std::chrono::duration<double, std::micro>;
  state.counters["initiator_us"] = benchmark::Counter(us(initiator).count(), benchmark::Counter::kAvgIterations);
  state.counters["responder_us"] = benchmark::Counter(us(responder).count(), benchmark::Counter::kAvgIterations);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// 64 packets A -> B as one batch each way, the crypto on crypto_workers; the delivered packets
// are the next iteration's batch.
void batch_bench(benchmark::State& state) {
  constexpr std::size_t n = 1420, batch = 64;
  tunnel_pair<crypto::fast_backend> t;
  if (!t.connect()) return state.SkipWithError("handshake failed");
  crypto_workers<crypto::fast_backend> workers(static_cast<std::size_t>(state.range(0)));
  auto run_a = [&](std::span<crypto_job> jobs) { workers.run(jobs, t.crypto_a); };
  auto run_b = [&](std::span<crypto_job> jobs) { workers.run(jobs, t.crypto_b); };
  std::vector<packet_buffer> pkts;
  for (std::size_t i = 0; i < batch; ++i) pkts.push_back(ip_packet(n, addr_a, addr_b));
  std::vector<packet_buffer> dgrams;
  std::vector<endpoint> from(batch, ep_a);
  for (auto _ : state) {
    t.a.on_packets(pkts, t.now, t.out_a, run_a);
    dgrams.clear();
    for (auto& d : t.out_a.datagrams) dgrams.push_back(std::move(d.bytes));
    t.out_a.clear();
    t.b.on_datagrams(dgrams, from, t.now, t.out_b, run_b);
    if (t.out_b.packets.size() != batch) {
      state.SkipWithError("packets lost");
      break;
    }
    for (std::size_t i = 0; i < batch; ++i) pkts[i] = std::move(t.out_b.packets[i]);
    t.out_b.clear();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(batch * n));
}
BENCHMARK(batch_bench)->Name("wireguard/engine/fast/batch")->Arg(0)->Arg(1)->UseRealTime();

#define WARREN_ENGINE_BENCHMARKS(B, name)                                                                         \
  BENCHMARK_TEMPLATE(packet_bench, B)->Name("wireguard/engine/" name "/packet")->Arg(64)->Arg(576)->Arg(1420);   \
  BENCHMARK_TEMPLATE(aead_bench, B)->Name("wireguard/engine/" name "/aead")->Arg(64)->Arg(576)->Arg(1420);       \
  BENCHMARK_TEMPLATE(pingpong_bench, B)->Name("wireguard/engine/" name "/pingpong")->Arg(64)->Arg(1420);         \
  BENCHMARK_TEMPLATE(handshake_bench, B)->Name("wireguard/engine/" name "/handshake")

WARREN_ENGINE_BENCHMARKS(crypto::fast_backend, "fast");
WARREN_ENGINE_BENCHMARKS(crypto::mbedtls_backend, "mbedtls");

}  // namespace
