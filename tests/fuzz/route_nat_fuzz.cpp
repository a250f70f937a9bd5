// Fuzz target for warren::route::rewrite_address, the per-tunnel source NAT (route/nat.hpp).
//
// Input: one flag byte, 16 bytes of address material, then the IP packet. Each side (source,
// then destination) of a packet that parses is rewritten to a new address of the packet's
// family (from the material, the packet's other address, or the address already there, as the
// flags say) and then back to the original. Properties:
//   - a packet that parse_ip refuses is refused by the raw overload too, with the same error,
//     and left alone;
//   - an address of the other family is family_mismatch, and nothing changes;
//   - a rewrite of the packet's family always succeeds, the result still parses, with the new
//     address on that side and the other side as it was; a packet that verified with
//     verify::checksums before still verifies after (the incremental checksum property);
//   - the raw overload (which parses first) writes the same bytes as the parsed one;
//   - a UDP checksum of 0 ("none" over IPv4) stays 0, and a non-zero one never becomes 0;
//   - rewriting to the address already there changes nothing;
//   - rewriting back restores the original bytes exactly, with two exceptions that hold by
//     construction and are checked as such:
//       * a checksum other than UDP's that held 0xffff (the one's-complement "negative zero",
//         which verifies like 0x0000) may come back as 0x0000: RFC 1624 eqn. 3 yields 0x0000
//         for a zero sum. Every changed 16-bit word must be exactly ffff -> 0000.
//         A UDP checksum never changes on a round trip: 0 is never touched, and a non-zero
//         value comes back in [1, 0xffff], where each residue mod 0xffff has one spelling (0
//         -> 0xffff cannot happen; the UDP checksum field is compared byte for byte).
//       * an ICMP error whose quote already held the new address, on the side a rewrite of the
//         quote touches, is not restored: the forward rewrite left the quote alone (it did not
//         hold the old address) and the way back rewrites it (it holds the "from" address
//         then). Only "parses and verifies" is checked for those.
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/route/error.hpp>
#include <warren/route/nat.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <source_location>
#include <vector>

namespace {

namespace pk = warren::packet;
namespace route = warren::route;
using bytes = std::vector<std::byte>;

void check(bool ok, std::source_location at = std::source_location::current()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken at %s:%u\n", at.file_name(), static_cast<unsigned>(at.line()));
  __builtin_trap();
}

pk::ip_address address_from(const std::uint8_t* material, bool v6) {
  if (v6) {
    pk::ipv6_address a{};
    std::memcpy(a.octets.data(), material, 16);
    return a;
  }
  pk::ipv4_address a{};
  std::memcpy(a.octets.data(), material, 4);
  return a;
}

pk::ip_address side_of(const pk::ip_packet& p, route::nat_side side) {
  return side == route::nat_side::source ? p.source() : p.destination();
}

std::uint16_t be16(const bytes& b, std::size_t at) { return warren::load_be16(b.data() + at); }

// Where the address of an ICMP error's quote lies that a rewrite of the outer `side` may
// touch (the quote's other side), if the quote is long enough to hold it.
std::optional<std::size_t> quoted_field(const pk::ip_packet& p, route::nat_side side, std::size_t size) {
  const std::size_t quote = p.transport_offset() + 8;
  std::size_t at = 0, length = 0;
  if (p.icmpv4 && p.icmpv4->is_error()) {
    at = quote + (side == route::nat_side::source ? 16 : 12);
    length = 4;
  } else if (p.icmpv6 && p.icmpv6->is_error()) {
    at = quote + (side == route::nat_side::source ? 24 : 8);
    length = 16;
  } else {
    return std::nullopt;
  }
  if (at + length > size) return std::nullopt;
  return at;
}

void round_trip(const bytes& original, const pk::ip_packet& parsed, bool verified, route::nat_side side,
                std::uint8_t mode, const std::uint8_t* material) {
  const bool v6 = parsed.is_v6();
  const auto old = side_of(parsed, side);
  const auto other = side_of(parsed, side == route::nat_side::source ? route::nat_side::destination : route::nat_side::source);
  pk::ip_address to = address_from(material, v6);
  if (mode == 2) to = other;
  if (mode == 3) to = old;

  // The other family: refused, untouched.
  {
    bytes b = original;
    auto r = route::rewrite_address(b, parsed, side, address_from(material, !v6));
    check(!r && r.error() == route::errc::family_mismatch);
    check(b == original);
  }

  bytes b = original;
  auto r = route::rewrite_address(b, parsed, side, to);
  check(r.has_value());
  if (to == old) {
    check(b == original);
    return;
  }
  auto after = pk::parse_ip(b);
  check(after.has_value());
  check(after->is_v6() == v6 && after->protocol() == parsed.protocol());
  check(after->transport_offset() == parsed.transport_offset());
  check(side_of(*after, side) == to);
  check(side_of(*after, side == route::nat_side::source ? route::nat_side::destination : route::nat_side::source) == other);
  if (verified) check(pk::parse_ip(b, pk::verify::checksums).has_value());
  std::optional<std::size_t> udp_sum;
  if (parsed.udp && parsed.udp->bytes().size() >= 8) udp_sum = parsed.transport_offset() + 6;
  if (udp_sum) check((be16(original, *udp_sum) == 0) == (be16(b, *udp_sum) == 0));

  // The raw overload parses first and must write the same bytes.
  {
    bytes raw = original;
    check(route::rewrite_address(raw, side, to).has_value());
    check(raw == b);
  }

  // And back.
  auto reparsed = pk::parse_ip(b);
  check(reparsed.has_value());
  check(route::rewrite_address(b, *reparsed, side, old).has_value());
  auto restored = pk::parse_ip(b);
  check(restored.has_value());
  check(side_of(*restored, side) == old);
  if (verified) check(pk::parse_ip(b, pk::verify::checksums).has_value());

  if (auto q = quoted_field(parsed, side, original.size());
      q && std::memcmp(original.data() + *q, to.bytes().data(), to.bytes().size()) == 0)
    return;  // the quote held the new address already: see the file comment

  if (udp_sum) check(be16(b, *udp_sum) == be16(original, *udp_sum));
  for (std::size_t i = 0; i < original.size(); i += 2) {
    if (i + 1 == original.size()) {
      check(b[i] == original[i]);  // an odd last byte is never part of a rewritten field
      break;
    }
    if (be16(b, i) == be16(original, i)) continue;
    check(be16(original, i) == 0xffff && be16(b, i) == 0x0000);  // only "negative zero" checksums
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 17) return 0;
  const std::uint8_t flags = data[0];
  const std::uint8_t* material = data + 1;
  const auto* first = reinterpret_cast<const std::byte*>(data + 17);
  const bytes original(first, first + (size - 17));

  auto parsed = pk::parse_ip(original);
  if (!parsed) {
    bytes b = original;
    auto r = route::rewrite_address(b, route::nat_side::source, address_from(material, (flags & 1) != 0));
    check(!r && r.error() == parsed.error());
    check(b == original);
    return 0;
  }
  const bool verified = pk::parse_ip(original, pk::verify::checksums).has_value();
  // Bits 1-2 choose the new source, bits 3-4 the new destination: 0 and 1 the material, 2 the
  // packet's other address, 3 the address already there.
  round_trip(original, *parsed, verified, route::nat_side::source, static_cast<std::uint8_t>(flags >> 1 & 3), material);
  round_trip(original, *parsed, verified, route::nat_side::destination, static_cast<std::uint8_t>(flags >> 3 & 3),
             material);
  return 0;
}
