// The Internet checksum against memcpy of the same sizes, in one run: memcpy is the floor for
// touching every byte once, so the ratio says how much the checksum costs beyond reading the
// packet. Sizes: a minimum packet, the IPv4 minimum MTU datagram, a WireGuard-sized inner
// packet and a full Ethernet frame. Then the RFC 1624 incremental updates NAT and MSS clamping
// use, in ns per update.
#include <warren/packet/checksum.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using namespace warren;
using namespace warren::packet;

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 131 + 7);
  return v;
}

void BM_internet_checksum(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  auto buf = pattern(n);
  for (auto _ : state) {
    // The buffer "may have changed": the sum cannot be hoisted out of the loop.
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
    auto sum = internet_checksum(buf);
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_internet_checksum)->Arg(64)->Arg(576)->Arg(1420)->Arg(1500);

void BM_memcpy(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  auto src = pattern(n);
  std::vector<std::byte> dst(n);
  for (auto _ : state) {
    benchmark::DoNotOptimize(src.data());
    benchmark::DoNotOptimize(dst.data());
    std::memcpy(dst.data(), src.data(), n);
    benchmark::ClobberMemory();  // the copy must land in memory, every time
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_memcpy)->Arg(64)->Arg(576)->Arg(1420)->Arg(1500);

// A 16-bit field (a port, a TCP MSS value) rewritten. Each update feeds the next, so this is
// the latency of one update.
void BM_checksum_update16(benchmark::State& state) {
  std::uint16_t sum = 0x1c46, old_value = 1460, new_value = 1380;
  for (auto _ : state) {
    benchmark::DoNotOptimize(old_value);
    benchmark::DoNotOptimize(new_value);
    sum = checksum_update(sum, old_value, new_value);
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_checksum_update16);

// An IPv4 address rewritten by NAT (header and pseudo-header checksums each take one).
void BM_checksum_update32(benchmark::State& state) {
  std::uint16_t sum = 0x9a82;
  std::uint32_t old_address = 0xc0000201, new_address = 0x0a000001;
  for (auto _ : state) {
    benchmark::DoNotOptimize(old_address);
    benchmark::DoNotOptimize(new_address);
    sum = checksum_update32(sum, old_address, new_address);
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_checksum_update32);

// An IPv6 address (16 bytes) rewritten through the byte-span overload.
void BM_checksum_update_ipv6_address(benchmark::State& state) {
  std::uint16_t sum = 0x9a82;
  auto old_address = pattern(16), new_address = pattern(16);
  new_address[15] = std::byte{0x42};
  for (auto _ : state) {
    benchmark::DoNotOptimize(old_address.data());
    benchmark::DoNotOptimize(new_address.data());
    sum = checksum_update(sum, byte_view(old_address), byte_view(new_address));
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_checksum_update_ipv6_address);

}  // namespace
