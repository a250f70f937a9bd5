// parse_ip() as a TUN reader calls it, in ns per packet: structure only (the views and every
// length check) and with verify::checksums (adds a pass over the transport bytes, so it grows
// with the packet). Packets are IPv4+UDP and IPv6+TCP (with timestamps, as Linux sends), built
// with the module's own builders, at 64 (IPv6+TCP: 80, its smallest with 8 bytes of data) and
// 1420 bytes.
#include <warren/packet/ip_packet.hpp>

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

std::vector<std::byte> payload(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i);
  return v;
}

// A whole IPv4+UDP packet of `size` bytes (at least 28).
std::vector<std::byte> ipv4_udp(std::size_t size) {
  auto buf = packet_buffer::allocate();
  (void)buf.append(payload(size - 28));
  (void)write_udp_header(buf, src4, dst4, 40000, 51820);
  (void)write_ipv4_header(buf, {.source = src4, .destination = dst4, .protocol = ip_protocol::udp});
  return {buf.bytes().begin(), buf.bytes().end()};
}

// A whole IPv6+TCP packet of `size` bytes (at least 72): an ACK carrying data, with NOP NOP
// timestamps.
std::vector<std::byte> ipv6_tcp(std::size_t size) {
  const std::byte options[12] = {std::byte{1}, std::byte{1}, std::byte{8}, std::byte{10}};
  auto buf = packet_buffer::allocate();
  (void)buf.append(payload(size - 40 - 32));
  tcp_header_fields f{.source_port = 50000, .destination_port = 443, .sequence_number = 1,
                      .acknowledgment_number = 1, .flags = tcp_flags::ack | tcp_flags::psh,
                      .options = byte_view(options)};
  (void)write_tcp_header(buf, src6, dst6, f);
  (void)write_ipv6_header(buf, {.source = src6, .destination = dst6, .next_header = ip_protocol::tcp});
  return {buf.bytes().begin(), buf.bytes().end()};
}

template <class Make>
void BM_parse_ip(benchmark::State& state, Make make, verify check) {
  auto packet = make(static_cast<std::size_t>(state.range(0)));
  if (!parse_ip(packet, verify::checksums)) {
    state.SkipWithError("benchmark packet does not parse");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(packet.data());
    auto p = parse_ip(packet, check);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK_CAPTURE(BM_parse_ip, ipv4_udp_structure, ipv4_udp, verify::structure)->Arg(64)->Arg(1420);
BENCHMARK_CAPTURE(BM_parse_ip, ipv4_udp_checksums, ipv4_udp, verify::checksums)->Arg(64)->Arg(1420);
BENCHMARK_CAPTURE(BM_parse_ip, ipv6_tcp_structure, ipv6_tcp, verify::structure)->Arg(80)->Arg(1420);
BENCHMARK_CAPTURE(BM_parse_ip, ipv6_tcp_checksums, ipv6_tcp, verify::checksums)->Arg(80)->Arg(1420);

}  // namespace
