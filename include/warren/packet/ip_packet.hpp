#pragma once
// parse_ip(): one call from the bytes a TUN hands over to the views of every layer, which is
// what a router or a responder wants. The network layer is IPv4 or IPv6 by the version nibble;
// the transport view is set when the packet carries TCP, UDP, ICMP or ICMPv6 and is not a
// non-first fragment. With verify::checksums every checksum present is checked as well.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/packet/error.hpp>
#include <warren/packet/icmpv4.hpp>
#include <warren/packet/icmpv6.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_protocol.hpp>
#include <warren/packet/ipv4.hpp>
#include <warren/packet/ipv6.hpp>
#include <warren/packet/tcp.hpp>
#include <warren/packet/udp.hpp>

#include <optional>

namespace warren::packet {

struct ip_packet {
  std::optional<ipv4_view> ipv4;  // exactly one of ipv4, ipv6 is set
  std::optional<ipv6_view> ipv6;
  std::optional<tcp_view> tcp;    // at most one transport view is set
  std::optional<udp_view> udp;
  std::optional<icmpv4_view> icmpv4;
  std::optional<icmpv6_view> icmpv6;

  bool is_v6() const noexcept { return ipv6.has_value(); }
  ip_address source() const noexcept { return ipv6 ? ip_address(ipv6->source()) : ip_address(ipv4->source()); }
  ip_address destination() const noexcept {
    return ipv6 ? ip_address(ipv6->destination()) : ip_address(ipv4->destination());
  }
  // The destination the transport checksum covers: the final one, which an IPv6 packet still
  // on its source route carries in its Routing header (RFC 8200 §8.1).
  ip_address checksum_destination() const noexcept {
    return ipv6 ? ip_address(ipv6->final_destination()) : ip_address(ipv4->destination());
  }
  // The upper-layer protocol (after IPv6 extension headers).
  ip_protocol protocol() const noexcept { return ipv6 ? ipv6->upper_protocol() : ipv4->protocol(); }
  // The upper-layer header and data.
  byte_view transport_bytes() const noexcept { return ipv6 ? ipv6->upper_payload() : ipv4->payload(); }
  bool is_fragment() const noexcept { return ipv6 ? ipv6->is_fragment() : ipv4->is_fragment(); }
  // Offset of the upper layer from the start of the packet.
  std::size_t transport_offset() const noexcept {
    return ipv6 ? ipv6->upper_offset() : ipv4->header_length();
  }
  byte_view bytes() const noexcept { return ipv6 ? ipv6->bytes() : ipv4->bytes(); }
};

inline result<ip_packet> parse_ip(byte_view bytes, verify check = verify::structure) noexcept {
  auto fail = [](auto e) { return unexpected(make_error_code(e)); };
  if (bytes.empty()) return fail(errc::truncated);
  ip_packet pkt;
  auto version = load_u8(bytes.data()) >> 4;
  if (version == 4) {
    auto v4 = ipv4_view::parse(bytes);
    if (!v4) return unexpected(v4.error());
    if (check == verify::checksums && !v4->checksum_valid()) return fail(errc::bad_checksum);
    pkt.ipv4 = *v4;
    // Only the first fragment holds the transport header, and its checksum covers data the
    // other fragments carry: check structure only.
    if (v4->fragment_offset() != 0) return pkt;
    if (v4->more_fragments()) check = verify::structure;
  } else if (version == 6) {
    auto v6 = ipv6_view::parse(bytes);
    if (!v6) return unexpected(v6.error());
    pkt.ipv6 = *v6;
    if (v6->fragment()) {
      if (v6->fragment()->offset != 0) return pkt;
      if (v6->fragment()->more_fragments) check = verify::structure;
    }
  } else {
    return fail(errc::bad_version);
  }

  auto l4 = pkt.transport_bytes();
  auto src = pkt.source();
  auto dst = pkt.checksum_destination();
  bool sums = check == verify::checksums;
  bool first_fragment = pkt.is_fragment();
  switch (pkt.protocol()) {
    case ip_protocol::tcp: {
      auto t = tcp_view::parse(l4);
      if (!t) return unexpected(t.error());
      if (sums && !t->checksum_valid(src, dst)) return fail(errc::bad_checksum);
      pkt.tcp = *t;
      break;
    }
    case ip_protocol::udp: {
      auto u = first_fragment ? udp_view::parse_first_fragment(l4) : udp_view::parse(l4);
      if (!u) return unexpected(u.error());
      if (sums && !u->checksum_valid(src, dst)) return fail(errc::bad_checksum);
      pkt.udp = *u;
      break;
    }
    case ip_protocol::icmp: {
      if (pkt.is_v6()) break;  // ICMPv4 inside IPv6 is meaningless: leave it opaque
      auto i = icmpv4_view::parse(l4);
      if (!i) return unexpected(i.error());
      if (sums && !i->checksum_valid()) return fail(errc::bad_checksum);
      pkt.icmpv4 = *i;
      break;
    }
    case ip_protocol::icmpv6: {
      if (!pkt.is_v6()) break;
      auto i = icmpv6_view::parse(l4);
      if (!i) return unexpected(i.error());
      if (sums && !i->checksum_valid(src, dst)) return fail(errc::bad_checksum);
      pkt.icmpv6 = *i;
      break;
    }
    default: break;
  }
  return pkt;
}

// MSS clamping on a whole IP packet from a TUN: lowers the MSS of a TCP SYN to what fits
// `mtu` (see clamp_tcp_mss). Returns true if the packet changed. Non-TCP packets: false.
inline result<bool> clamp_mss_to_mtu(mutable_byte_view packet, std::size_t mtu) noexcept {
  auto parsed = parse_ip(packet);
  if (!parsed) return unexpected(parsed.error());
  if (!parsed->tcp) return false;
  auto off = parsed->transport_offset();
  auto len = parsed->tcp->bytes().size();
  return clamp_tcp_mss(packet.subspan(off, len), mss_for_mtu(mtu, parsed->is_v6()));
}

}  // namespace warren::packet
