// Fuzz target for warren::packet::parse_ip, flow_key and clamp_mss_to_mtu: the input is a whole
// IP packet as a TUN hands it over.
//
//  1. parse_ip with verify::structure and with verify::checksums. The second accepts exactly
//     when the first does and every checksum it covers verifies by the views' own checks.
//  2. Walk the network view and the transport view (every accessor, option and quoted packet):
//     they must lie inside the input and agree with each other.
//  3. flow_key::of the packet: it must name the packet's addresses, protocol and ports.
//  4. MSS clamping on a mutable copy: only the MSS value and TCP checksum may change, and the
//     result must parse again, with checksums if the original verified.
#include <warren/packet/flow_key.hpp>
#include <warren/packet/ip_packet.hpp>

#include "packet_fuzz_support.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace {

using namespace warren;
using fuzz::check;

void walk(const packet::ip_packet& p, byte_view input) {
  using packet::ip_protocol;
  check(p.ipv4.has_value() != p.ipv6.has_value());
  check(p.is_v6() == p.ipv6.has_value());
  if (p.ipv4) fuzz::walk(*p.ipv4, input, false);
  if (p.ipv6) fuzz::walk(*p.ipv6, input, false);
  int transports = p.tcp.has_value() + p.udp.has_value() + p.icmpv4.has_value() + p.icmpv6.has_value();
  check(transports <= 1);

  auto l4 = p.transport_bytes();
  check(p.bytes().data() == input.data());
  check(l4.data() == p.bytes().data() + p.transport_offset() || l4.empty());
  check(p.transport_offset() + l4.size() == p.bytes().size());
  fuzz::touch(l4, p.bytes());
  fuzz::use(static_cast<std::uint8_t>(p.protocol()));
  fuzz::use(p.is_fragment());

  bool non_first = p.ipv4 ? p.ipv4->fragment_offset() != 0 : (p.ipv6->fragment() && p.ipv6->fragment()->offset != 0);
  if (non_first) {
    check(transports == 0);
    return;
  }
  // Every transport parse_ip knows is either parsed or the whole parse fails.
  switch (p.protocol()) {
    case ip_protocol::tcp: check(p.tcp.has_value()); break;
    case ip_protocol::udp: check(p.udp.has_value()); break;
    case ip_protocol::icmp: check(p.icmpv4.has_value() == !p.is_v6()); break;
    case ip_protocol::icmpv6: check(p.icmpv6.has_value() == p.is_v6()); break;
    default: check(transports == 0); break;
  }
  if (p.tcp) {
    check(p.tcp->bytes().data() == l4.data() && p.tcp->bytes().size() == l4.size());
    fuzz::walk(*p.tcp, l4);
  }
  if (p.udp) fuzz::walk(*p.udp, l4, p.is_fragment());
  if (p.icmpv4) fuzz::walk(*p.icmpv4, l4);
  if (p.icmpv6) fuzz::walk(*p.icmpv6, l4);
}

// What verify::checksums must have decided, from the views' own checks.
bool checksums_verify(const packet::ip_packet& p) {
  if (p.ipv4 && !p.ipv4->checksum_valid()) return false;
  // A first fragment's transport checksum covers bytes in later fragments: not checked.
  bool first_of_many = p.ipv4 ? p.ipv4->more_fragments() : (p.ipv6->fragment() && p.ipv6->fragment()->more_fragments);
  if (first_of_many) return true;
  auto s = p.source(), d = p.checksum_destination();
  if (p.tcp) return p.tcp->checksum_valid(s, d);
  if (p.udp) return p.udp->checksum_valid(s, d);
  if (p.icmpv4) return p.icmpv4->checksum_valid();
  if (p.icmpv6) return p.icmpv6->checksum_valid(s, d);
  return true;
}

void check_flow_key(const packet::ip_packet& p) {
  auto k = packet::flow_key::of(p);
  check(k.family == (p.is_v6() ? 6 : 4));
  check(k.ip_proto() == p.protocol());
  check(k.source_address() == p.source());
  check(k.destination_address() == p.destination());
  if (p.is_fragment()) check(k.source_port == 0 && k.destination_port == 0);  // all fragments alike
  else if (p.tcp) check(k.source_port == p.tcp->source_port() && k.destination_port == p.tcp->destination_port());
  else if (p.udp) check(k.source_port == p.udp->source_port() && k.destination_port == p.udp->destination_port());
  else if (p.icmpv4 && p.icmpv4->is_echo()) check(k.source_port == p.icmpv4->identifier() && k.destination_port == k.source_port);
  else if (p.icmpv6 && p.icmpv6->is_echo()) check(k.source_port == p.icmpv6->identifier() && k.destination_port == k.source_port);
  else check(k.source_port == 0 && k.destination_port == 0);
  auto r = k.reversed();
  check(r.source_address() == k.destination_address() && r.source_port == k.destination_port);
  check(r.reversed() == k);
  packet::flow_key again = k;
  check(again.hash(0x5eed) == k.hash(0x5eed));
  check(packet::flow_key_hash{7}(k) == packet::flow_key_hash{7}(again));
  fuzz::use(k.hash() ^ r.hash(1));
}

void check_clamp(const packet::ip_packet& p, byte_view input, bool verified) {
  bool syn = p.tcp && p.tcp->has(packet::tcp_flags::syn);
  std::initializer_list<std::size_t> syn_mtus = {0, 576, 1280, 1420, 65535};
  std::initializer_list<std::size_t> other_mtus = {1280};
  for (std::size_t mtu : syn ? syn_mtus : other_mtus) {
    std::vector<std::byte> copy(input.begin(), input.end());
    auto changed = packet::clamp_mss_to_mtu(copy, mtu);
    check(changed.has_value());  // parse_ip accepted these bytes a moment ago
    if (!*changed) {
      check(std::equal(copy.begin(), copy.end(), input.begin()));
      continue;
    }
    check(syn);
    std::size_t differing = 0;
    for (std::size_t i = 0; i < copy.size(); ++i) differing += copy[i] != input[i];
    check(differing <= 4);  // two bytes of MSS, two of TCP checksum
    auto again = packet::parse_ip(copy, verified ? packet::verify::checksums : packet::verify::structure);
    check(again.has_value());
    check(again->tcp && again->tcp->mss() == packet::mss_for_mtu(mtu, p.is_v6()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto input = std::as_bytes(std::span{data, size});
  auto structure = packet::parse_ip(input, packet::verify::structure);
  auto checksums = packet::parse_ip(input, packet::verify::checksums);
  if (!structure) {
    // The IPv4 header checksum is checked before the transport structure, so the error may be
    // bad_checksum instead.
    check(!checksums && (checksums.error() == structure.error() || checksums.error() == packet::errc::bad_checksum));
    return 0;
  }
  walk(*structure, input);
  check(checksums.has_value() == checksums_verify(*structure));
  if (checksums) {
    check(checksums->tcp.has_value() == structure->tcp.has_value());
    check(checksums->udp.has_value() == structure->udp.has_value());
    check(checksums->icmpv4.has_value() == structure->icmpv4.has_value());
    check(checksums->icmpv6.has_value() == structure->icmpv6.has_value());
    check(checksums->transport_offset() == structure->transport_offset());
  } else {
    check(checksums.error() == packet::errc::bad_checksum);
  }
  check_flow_key(*structure);
  check_clamp(*structure, input, checksums.has_value());
  return 0;
}
