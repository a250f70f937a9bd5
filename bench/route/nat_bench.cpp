// route::rewrite_address: the per-tunnel source NAT, in ns per packet.
//
//   route/nat/parsed/<shape>/<n>   on a packet parse_ip has already read: the router's case
//                                  (on_outbound and on_inbound parse once and rewrite with the
//                                  same ip_packet).
//   route/nat/raw/<shape>/<n>      from raw bytes: parse_ip (structure only) plus the rewrite,
//                                  as a caller without a parsed packet pays.
//
// Shapes: ipv4_udp, ipv4_tcp, ipv6_tcp, and icmpv4_error_udp, an ICMP port unreachable this
// host sends about a UDP packet it received (the outer source and the quoted destination are
// rewritten, with the quoted IPv4 header checksum, the quoted UDP checksum and the ICMP
// checksum). Sizes are whole IP packets: 64 and 1420 bytes; an ICMPv4 error is at most 576
// bytes (RFC 1812 §4.3.2.3; Linux quotes up to that), so it runs at 64 and 576. Every checksum is
// updated incrementally, so the time should not grow with n: compare /64 with /1420.
//
// Each iteration rewrites the source to the other of two addresses (the TUN's and a tunnel's),
// so every call changes the packet; nothing is copied between iterations. After the loop the
// packet must equal, byte for byte, one built from scratch with the final address (every
// checksum computed in full), or the benchmark fails.
#include <warren/route/nat.hpp>

#include <warren/core/packet_buffer.hpp>
#include <warren/packet/icmpv4.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/packet/ipv4.hpp>
#include <warren/packet/ipv6.hpp>
#include <warren/packet/tcp.hpp>
#include <warren/packet/udp.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace {

using namespace warren;
using namespace warren::packet;
using warren::route::nat_side;
using warren::route::rewrite_address;

using bytes = std::vector<std::byte>;

// The TUN's address and a tunnel's (what its server assigned), and the remote end.
const ipv4_address tun4{{10, 0, 0, 1}}, tunnel4{{10, 100, 0, 2}}, remote4{{198, 18, 1, 7}};
const ipv6_address tun6{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const ipv6_address tunnel6{{0xfd, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
const ipv6_address remote6{{0xfd, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}};

enum class shape { ipv4_udp, ipv4_tcp, ipv6_tcp, icmpv4_error_udp };

bytes to_vector(const packet_buffer& buf) { return {buf.bytes().begin(), buf.bytes().end()}; }

void fill(packet_buffer& buf, std::size_t n) {
  auto room = buf.append(n);
  if (!room) return;
  for (std::size_t i = 0; i < n; ++i) (*room)[i] = static_cast<std::byte>(i * 131 + 7);
}

bytes ipv4_udp(std::size_t size, ipv4_address src, ipv4_address dst, std::uint16_t sport, std::uint16_t dport) {
  auto buf = packet_buffer::allocate();
  fill(buf, size - 28);
  (void)write_udp_header(buf, src, dst, sport, dport);
  (void)write_ipv4_header(buf, {.source = src, .destination = dst, .protocol = ip_protocol::udp});
  return to_vector(buf);
}

template <class Address>
bytes tcp_packet(std::size_t size, Address src, Address dst) {
  constexpr bool v6 = std::is_same_v<Address, ipv6_address>;
  auto buf = packet_buffer::allocate();
  fill(buf, size - (v6 ? 40 : 20) - 20);
  tcp_header_fields f;
  f.source_port = 40000;
  f.destination_port = 443;
  f.sequence_number = 1000;
  f.acknowledgment_number = 2000;
  f.flags = tcp_flags::ack | tcp_flags::psh;
  (void)write_tcp_header(buf, src, dst, f);
  if constexpr (v6) {
    (void)write_ipv6_header(buf, {.source = src, .destination = dst, .next_header = ip_protocol::tcp});
  } else {
    (void)write_ipv4_header(buf, {.source = src, .destination = dst, .protocol = ip_protocol::tcp});
  }
  return to_vector(buf);
}

// A port unreachable from `host` to the remote end, quoting the first size - 28 bytes of the
// 1420-byte UDP datagram the remote end sent to `host`.
bytes icmpv4_error(std::size_t size, ipv4_address host) {
  const bytes received = ipv4_udp(1420, remote4, host, 5201, 40000);
  auto buf = packet_buffer::allocate();
  (void)buf.append(byte_view(received).first(size - 28));
  (void)write_icmpv4_header(buf, icmpv4_type::destination_unreachable, 3, 0);
  (void)write_ipv4_header(buf, {.source = host, .destination = remote4, .protocol = ip_protocol::icmp});
  return to_vector(buf);
}

// The shape's packet of n bytes with `source` as this host's address.
bytes make(shape s, std::size_t n, const ip_address& source) {
  switch (s) {
    case shape::ipv4_udp: return ipv4_udp(n, source.v4(), remote4, 40000, 5201);
    case shape::ipv4_tcp: return tcp_packet(n, source.v4(), remote4);
    case shape::ipv6_tcp: return tcp_packet(n, source.v6(), remote6);
    case shape::icmpv4_error_udp: return icmpv4_error(n, source.v4());
  }
  return {};
}

// One rewrite per iteration; the loop is written twice so that the mode is not a branch in it.
template <class Rewrite>
void run(benchmark::State& state, bytes& pkt, const ip_address (&to)[2], std::size_t& i, Rewrite rewrite) {
  for (auto _ : state) {
    if (!rewrite(to[++i & 1])) {
      state.SkipWithError("rewrite_address failed");
      break;
    }
    benchmark::DoNotOptimize(pkt.data());
    benchmark::ClobberMemory();
  }
}

void nat_bench(benchmark::State& state, shape s, bool preparsed) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const bool v6 = s == shape::ipv6_tcp;
  // to[0] is the packet's source as built; the first iteration writes to[1].
  const ip_address to[2] = {v6 ? ip_address(tun6) : ip_address(tun4), v6 ? ip_address(tunnel6) : ip_address(tunnel4)};
  bytes pkt = make(s, n, to[0]);
  const auto parsed = parse_ip(pkt, verify::checksums);
  if (pkt.size() != n || !parsed) return state.SkipWithError("the benchmark packet does not parse");
  if (s == shape::icmpv4_error_udp && !(parsed->icmpv4 && parsed->icmpv4->quoted_packet()))
    return state.SkipWithError("the benchmark packet is no ICMP error with a quote");

  std::size_t i = 0;
  if (preparsed) {
    // The router's case: `parsed` still describes the layout after each rewrite (nat.hpp).
    run(state, pkt, to, i, [&](const ip_address& a) {
      return rewrite_address(pkt, *parsed, nat_side::source, a).has_value();
    });
  } else {
    run(state, pkt, to, i, [&](const ip_address& a) { return rewrite_address(pkt, nat_side::source, a).has_value(); });
  }
  if (!state.error_occurred() && pkt != make(s, n, to[i & 1]))
    state.SkipWithError("the rewritten packet differs from one built with the new address");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

#define WARREN_NAT_BENCHMARKS(mode, preparsed)                                                              \
  BENCHMARK_CAPTURE(nat_bench, mode##_ipv4_udp, shape::ipv4_udp, preparsed)                               \
      ->Name("route/nat/" #mode "/ipv4_udp")->Arg(64)->Arg(1420);                                         \
  BENCHMARK_CAPTURE(nat_bench, mode##_ipv4_tcp, shape::ipv4_tcp, preparsed)                               \
      ->Name("route/nat/" #mode "/ipv4_tcp")->Arg(64)->Arg(1420);                                         \
  BENCHMARK_CAPTURE(nat_bench, mode##_ipv6_tcp, shape::ipv6_tcp, preparsed)                               \
      ->Name("route/nat/" #mode "/ipv6_tcp")->Arg(64)->Arg(1420);                                         \
  BENCHMARK_CAPTURE(nat_bench, mode##_icmpv4_error_udp, shape::icmpv4_error_udp, preparsed)               \
      ->Name("route/nat/" #mode "/icmpv4_error_udp")->Arg(64)->Arg(576)

WARREN_NAT_BENCHMARKS(parsed, true);
WARREN_NAT_BENCHMARKS(raw, false);

}  // namespace
