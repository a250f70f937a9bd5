#pragma once
// Packets for the route tests, built with the packet layer's own builders (every checksum
// computed in full), as std::vector<std::byte> the router can rewrite in place.

#include <warren/core/packet_buffer.hpp>
#include <warren/packet/icmpv4.hpp>
#include <warren/packet/icmpv6.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ipv4.hpp>
#include <warren/packet/ipv6.hpp>
#include <warren/packet/tcp.hpp>
#include <warren/packet/udp.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

namespace warren::test::route_packets {

using bytes = std::vector<std::byte>;

inline packet::ip_address ip(std::string_view text) { return *packet::ip_address::parse(text); }

inline bytes finish(packet_buffer& buf, const packet::ip_address& src, const packet::ip_address& dst,
                    packet::ip_protocol proto) {
  if (src.is_v6()) {
    (void)packet::write_ipv6_header(buf, {.source = src.v6(), .destination = dst.v6(), .next_header = proto});
  } else {
    (void)packet::write_ipv4_header(buf, {.source = src.v4(), .destination = dst.v4(), .protocol = proto});
  }
  return bytes(buf.bytes().begin(), buf.bytes().end());
}

inline bytes udp(std::string_view src, std::uint16_t sport, std::string_view dst, std::uint16_t dport,
                 byte_view payload = as_byte_view("payload")) {
  auto buf = packet_buffer::allocate();
  (void)buf.append(payload);
  (void)packet::write_udp_header(buf, ip(src), ip(dst), sport, dport);
  return finish(buf, ip(src), ip(dst), packet::ip_protocol::udp);
}

inline bytes tcp(std::string_view src, std::uint16_t sport, std::string_view dst, std::uint16_t dport,
                 std::uint8_t flags = packet::tcp_flags::ack, byte_view payload = {}) {
  auto buf = packet_buffer::allocate();
  (void)buf.append(payload);
  packet::tcp_header_fields f;
  f.source_port = sport;
  f.destination_port = dport;
  f.flags = flags;
  f.sequence_number = 1000;
  (void)packet::write_tcp_header(buf, ip(src), ip(dst), f);
  return finish(buf, ip(src), ip(dst), packet::ip_protocol::tcp);
}

inline bytes echo_request(std::string_view src, std::string_view dst, std::uint16_t id) {
  auto buf = packet_buffer::allocate();
  (void)buf.append(as_byte_view("ping"));
  const auto s = ip(src), d = ip(dst);
  if (s.is_v6()) {
    (void)packet::write_icmpv6_header(buf, s.v6(), d.v6(), packet::icmpv6_type::echo_request, 0, std::uint32_t{id} << 16 | 1);
    return finish(buf, s, d, packet::ip_protocol::icmpv6);
  }
  (void)packet::write_icmpv4_header(buf, packet::icmpv4_type::echo_request, 0, std::uint32_t{id} << 16 | 1);
  return finish(buf, s, d, packet::ip_protocol::icmp);
}

// An ICMP "port unreachable" from `src` to `dst` quoting `quoted` whole.
inline bytes port_unreachable(std::string_view src, std::string_view dst, const bytes& quoted) {
  auto buf = packet_buffer::allocate();
  (void)buf.append(byte_view(quoted));
  const auto s = ip(src), d = ip(dst);
  if (s.is_v6()) {
    (void)packet::write_icmpv6_header(buf, s.v6(), d.v6(), packet::icmpv6_type::destination_unreachable, 4, 0);
    return finish(buf, s, d, packet::ip_protocol::icmpv6);
  }
  (void)packet::write_icmpv4_header(buf, packet::icmpv4_type::destination_unreachable, 3, 0);
  return finish(buf, s, d, packet::ip_protocol::icmp);
}

}  // namespace warren::test::route_packets
