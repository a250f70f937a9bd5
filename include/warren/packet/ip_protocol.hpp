#pragma once
// IP protocol numbers (IANA "Assigned Internet Protocol Numbers"), as carried in the IPv4
// protocol field and the IPv6 next-header chain.

#include <cstdint>

namespace warren::packet {

enum class ip_protocol : std::uint8_t {
  hop_by_hop = 0,      // IPv6 Hop-by-Hop Options, RFC 8200 §4.3
  icmp = 1,
  tcp = 6,
  udp = 17,
  ipv6_routing = 43,   // RFC 8200 §4.4
  ipv6_fragment = 44,  // RFC 8200 §4.5
  esp = 50,
  ah = 51,
  icmpv6 = 58,
  ipv6_no_next = 59,
  ipv6_dest_opts = 60, // RFC 8200 §4.6
};

// What a parse checks: the structure only, or the checksums too (IPv4 header, TCP, UDP, ICMP).
enum class verify { structure, checksums };

}  // namespace warren::packet
