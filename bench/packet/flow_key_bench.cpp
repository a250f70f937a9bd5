// flow_key: the seeded hash a connection table computes per packet, and flow_key::of() on an
// already parsed packet (reads ports and addresses through the views), in ns per packet.
#include <warren/packet/flow_key.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

using namespace warren;
using namespace warren::packet;

const ipv4_address src4{{192, 0, 2, 1}}, dst4{{192, 0, 2, 2}};
const ipv6_address src6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const ipv6_address dst6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};

std::vector<std::byte> udp_packet(bool v6) {
  auto buf = packet_buffer::allocate();
  (void)buf.append(as_byte_view("flow key benchmark payload"));
  if (v6) {
    (void)write_udp_header(buf, src6, dst6, 40000, 51820);
    (void)write_ipv6_header(buf, {.source = src6, .destination = dst6, .next_header = ip_protocol::udp});
  } else {
    (void)write_udp_header(buf, src4, dst4, 40000, 51820);
    (void)write_ipv4_header(buf, {.source = src4, .destination = dst4, .protocol = ip_protocol::udp});
  }
  return {buf.bytes().begin(), buf.bytes().end()};
}

void BM_flow_key_hash(benchmark::State& state) {
  auto k = flow_key::make(src6, dst6, ip_protocol::udp, 40000, 51820);
  std::uint64_t seed = 0x243f6a8885a308d3u;
  for (auto _ : state) {
    benchmark::DoNotOptimize(k);
    benchmark::DoNotOptimize(seed);
    auto h = k.hash(seed);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_flow_key_hash);

void BM_flow_key_of(benchmark::State& state) {
  auto bytes = udp_packet(state.range(0) == 6);
  auto parsed = parse_ip(bytes);
  if (!parsed) {
    state.SkipWithError("benchmark packet does not parse");
    return;
  }
  auto& p = *parsed;
  for (auto _ : state) {
    benchmark::DoNotOptimize(p);
    auto k = flow_key::of(p);
    benchmark::DoNotOptimize(k);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_flow_key_of)->Arg(4)->Arg(6)->ArgName("ipv");

// The datapath's whole per-packet classification: parse, key, hash.
void BM_flow_key_parse_of_hash(benchmark::State& state) {
  auto bytes = udp_packet(state.range(0) == 6);
  for (auto _ : state) {
    benchmark::DoNotOptimize(bytes.data());
    auto p = parse_ip(bytes);
    auto h = p ? flow_key::of(*p).hash(1) : 0;
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_flow_key_parse_of_hash)->Arg(4)->Arg(6)->ArgName("ipv");

}  // namespace
