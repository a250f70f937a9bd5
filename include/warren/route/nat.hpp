#pragma once
// Per-tunnel source NAT: the TUN has one address, each tunnel the address its server assigned,
// and the router swaps one for the other in place as a packet crosses. Outbound (TUN → tunnel)
// the source becomes the tunnel's address; inbound (tunnel → TUN) the destination becomes the
// TUN's. Ports are never touched: each tunnel has its own address, so flows through different
// tunnels cannot collide and the mapping needs no state.
//
// Every checksum that covers a changed address is updated incrementally (RFC 1624 eqn. 3), never
// recomputed, so the cost does not grow with the payload:
//   - the IPv4 header checksum;
//   - the TCP, UDP and ICMPv6 checksums, through their pseudo-header (a UDP-over-IPv4 checksum
//     of 0 means "none" and stays 0; a computed 0 is sent as 0xffff, RFC 768);
//   - ICMP errors (RFC 792, RFC 4443 §2.4): the quoted packet is one this host sent or received,
//     so its *other* address is the one to rewrite (an error about a packet we sent quotes our
//     address as its source, and arrives with our address as its destination). The quoted IPv4
//     header checksum and the quoted transport checksum are updated when the quote holds them,
//     and the outer ICMP checksum takes the difference of every word changed in the quote. (A
//     quote that ends inside a checksum field holds half of it, whose new value cannot be
//     known; it is left as it came.)
// An IPv6 destination is covered by the transport checksum only when it is the final one: with
// a Routing header in flight the pseudo-header holds the last segment (RFC 8200 §8.1) instead.
//
// Non-first fragments carry no transport header; their IP header is rewritten alone, and the
// transport checksum in the first fragment, updated by the same difference, stays right for the
// reassembled packet.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/packet/icmpv4.hpp>
#include <warren/packet/icmpv6.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/packet/ipv4.hpp>
#include <warren/packet/ipv6.hpp>
#include <warren/route/detail/checksum_delta.hpp>
#include <warren/route/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace warren::route {

enum class nat_side { source, destination };

namespace detail {

// Rewrites address `side` of the IP packet quoted at [q, end) from `from` to `to` when it holds
// `from` (an error about someone else's packet is left alone). Returns the difference of the
// words it changed, for the checksum of the ICMP message that holds the quote.
inline checksum_delta rewrite_quoted(std::byte* q, std::size_t length, bool v6, nat_side side,
                                     const packet::ip_address& from, const packet::ip_address& to) noexcept {
  checksum_delta changed;
  const std::size_t alen = v6 ? 16 : 4;
  const byte_view quote{q, length};
  if (!v6) {
    auto view = packet::ipv4_view::parse_quoted(quote);
    if (!view) return changed;
    std::byte* field = q + (side == nat_side::source ? 12 : 16);
    if (std::memcmp(field, from.bytes().data(), alen) != 0) return changed;
    const std::size_t header_length = view->header_length();
    const bool has_transport = view->fragment_offset() == 0;
    const auto protocol = view->protocol();

    checksum_delta address;
    address.add_change(field, to.bytes().data(), alen);
    std::memcpy(field, to.bytes().data(), alen);
    changed.add(address);
    const auto header = address.apply(q + 10);
    changed.add_change(header.before, header.after);
    if (!has_transport) return changed;
    const std::size_t t = header_length;
    if (protocol == packet::ip_protocol::tcp && length >= t + 18) {
      const auto u = address.apply(q + t + 16);
      changed.add_change(u.before, u.after);
    } else if (protocol == packet::ip_protocol::udp && length >= t + 8 && load_be16(q + t + 6) != 0) {
      const auto u = address.apply_udp(q + t + 6);
      changed.add_change(u.before, u.after);
    }
    return changed;
  }

  auto view = packet::ipv6_view::parse_quoted(quote);
  if (length < 40) return changed;
  std::byte* field = q + (side == nat_side::source ? 8 : 24);
  if (std::memcmp(field, from.bytes().data(), alen) != 0) return changed;
  // Whether the quoted transport checksum covers this address (see the file comment).
  const bool in_pseudo_header =
      view && (side == nat_side::source || !view->routing_in_transit());
  const bool has_transport = view && !(view->fragment() && view->fragment()->offset != 0);
  const std::size_t t = view ? view->upper_offset() : 0;
  const auto protocol = view ? view->upper_protocol() : packet::ip_protocol{};

  checksum_delta address;
  address.add_change(field, to.bytes().data(), alen);
  std::memcpy(field, to.bytes().data(), alen);
  changed.add(address);
  if (!in_pseudo_header || !has_transport) return changed;
  std::size_t at = 0;
  if (protocol == packet::ip_protocol::tcp && length >= t + 18) at = t + 16;
  if (protocol == packet::ip_protocol::udp && length >= t + 8 && load_be16(q + t + 6) != 0) at = t + 6;
  if (protocol == packet::ip_protocol::icmpv6 && length >= t + 4) at = t + 2;
  if (at != 0) {
    const auto u = protocol == packet::ip_protocol::udp ? address.apply_udp(q + at) : address.apply(q + at);
    changed.add_change(u.before, u.after);
  }
  return changed;
}

}  // namespace detail

// Rewrites the `side` address of `packet` to `to`, in place, keeping every checksum valid (see
// the file comment). `parsed` must be packet::parse_ip of these same bytes, unchanged since;
// after the call it still describes the packet's layout but its address accessors read the new
// bytes. Errors: family_mismatch when `to` is not of the packet's family (nothing is changed).
inline result<void> rewrite_address(mutable_byte_view packet, const packet::ip_packet& parsed, nat_side side,
                                    const packet::ip_address& to) noexcept {
  const bool v6 = parsed.is_v6();
  if (to.is_v6() != v6) return unexpected(make_error_code(errc::family_mismatch));
  const std::size_t alen = v6 ? 16 : 4;
  std::byte* const base = packet.data();
  std::byte* const field = base + (v6 ? (side == nat_side::source ? 8 : 24) : (side == nat_side::source ? 12 : 16));
  // Fixed-size compares and copies, so that every compiler inlines them (clang calls libc for a
  // length it only knows at run time, which doubled its cost here).
  const std::byte* const want = to.bytes().data();
  const bool same = v6 ? std::memcmp(field, want, 16) == 0 : std::memcmp(field, want, 4) == 0;
  if (same) return {};

  // Read everything that depends on the old address before writing the new one.
  const packet::ip_address from = side == nat_side::source ? parsed.source() : parsed.destination();
  const bool in_pseudo_header =
      side == nat_side::source || !v6 || !parsed.ipv6->routing_in_transit();
  const std::size_t t = parsed.transport_offset();

  detail::checksum_delta address;
  address.add_change(field, want, alen);
  if (v6) std::memcpy(field, want, 16);
  else std::memcpy(field, want, 4);
  if (!v6) address.apply(base + 10);

  if (parsed.tcp) {
    if (in_pseudo_header) address.apply(base + t + 16);
  } else if (parsed.udp) {
    // Over IPv4, 0 means the sender computed none; over IPv6 a 0 is invalid and the packet is
    // the receiver's to drop, so it is left as it came.
    if (in_pseudo_header && load_be16(base + t + 6) != 0) address.apply_udp(base + t + 6);
  } else if (parsed.icmpv4) {
    if (parsed.icmpv4->is_error()) {
      const std::size_t size = parsed.icmpv4->bytes().size();
      const auto quoted = detail::rewrite_quoted(base + t + 8, size - 8, false,
                                                 side == nat_side::source ? nat_side::destination : nat_side::source,
                                                 from, to);
      if (!quoted.empty()) quoted.apply(base + t + 2);
    }
  } else if (parsed.icmpv6) {
    detail::checksum_delta outer;
    if (in_pseudo_header) outer.add(address);
    if (parsed.icmpv6->is_error()) {
      const std::size_t size = parsed.icmpv6->bytes().size();
      outer.add(detail::rewrite_quoted(base + t + 8, size - 8, true,
                                       side == nat_side::source ? nat_side::destination : nat_side::source,
                                       from, to));
    }
    if (!outer.empty()) outer.apply(base + t + 2);
  }
  return {};
}

inline result<void> rewrite_source(mutable_byte_view packet, const packet::ip_packet& parsed,
                                   const packet::ip_address& to) noexcept {
  return rewrite_address(packet, parsed, nat_side::source, to);
}
inline result<void> rewrite_destination(mutable_byte_view packet, const packet::ip_packet& parsed,
                                        const packet::ip_address& to) noexcept {
  return rewrite_address(packet, parsed, nat_side::destination, to);
}

// The same on raw bytes: parses first (structure only). Errors: those of packet::parse_ip, and
// family_mismatch.
inline result<void> rewrite_address(mutable_byte_view packet, nat_side side, const packet::ip_address& to) noexcept {
  auto parsed = packet::parse_ip(packet);
  if (!parsed) return unexpected(parsed.error());
  return rewrite_address(packet, *parsed, side, to);
}

}  // namespace warren::route
