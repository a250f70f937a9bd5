#pragma once
// Shared by the packet fuzz targets: walk every accessor of a parsed view so that ASan sees any
// read outside the input, and check the invariants that are cheap to check. A broken invariant
// traps, which libFuzzer reports as a crash with the input that caused it.
//
// The fuzz build has no optimisation, but every value read still goes into `sink` so that a
// future -O2 build cannot drop the reads.

#include <warren/core/bytes.hpp>
#include <warren/packet/checksum.hpp>
#include <warren/packet/icmpv4.hpp>
#include <warren/packet/icmpv6.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ipv4.hpp>
#include <warren/packet/ipv6.hpp>
#include <warren/packet/tcp.hpp>
#include <warren/packet/udp.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <source_location>
#include <cstring>
#include <optional>
#include <utility>

namespace warren::fuzz {

inline volatile std::uint64_t sink = 0;

// A broken invariant: say where (the fuzz build may have no symbolizer), then crash so that
// libFuzzer records the input.
inline void check(bool ok, std::source_location at = std::source_location::current()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken at %s:%u\n", at.file_name(), static_cast<unsigned>(at.line()));
  __builtin_trap();
}

// Reads every byte of `b` and checks that it lies inside `outer`.
inline void touch(byte_view b, byte_view outer) {
  if (b.empty()) return;
  check(b.data() >= outer.data() && b.data() + b.size() <= outer.data() + outer.size());
  std::uint64_t s = 0;
  for (std::byte x : b) s += std::to_integer<std::uint8_t>(x);
  sink = sink + s;
}
inline void use(std::uint64_t v) { sink = sink + v; }
inline void use(const packet::ipv4_address& a) { use(a.to_uint()); }
inline void use(const packet::ipv6_address& a) { use(std::uint64_t{a.octets[0]} + a.octets[15]); }

// The fixed addresses the transport targets check their checksums with; the seeds are summed
// with the same ones, so the "checksum verifies" paths are reached too.
inline const packet::ip_address src4 = packet::ipv4_address{{192, 0, 2, 1}};
inline const packet::ip_address dst4 = packet::ipv4_address{{192, 0, 2, 2}};
inline const packet::ip_address src6 =
    packet::ipv6_address{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
inline const packet::ip_address dst6 =
    packet::ipv6_address{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};

// RFC 1071 word by word, the definition the vectorised checksum_accumulator must agree with.
// Returns the folded sum (0xffff when data that includes its checksum verifies).
inline std::uint16_t reference_sum(byte_view data, std::uint32_t initial = 0) {
  std::uint64_t s = initial;
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) s += load_be16(data.data() + i);
  if (i < data.size()) s += std::uint32_t{load_u8(data.data() + i)} << 8;
  while (s >> 16) s = (s & 0xffffu) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}
inline std::uint32_t reference_pseudo(const packet::ip_address& s, const packet::ip_address& d,
                                      packet::ip_protocol proto, std::uint32_t length) {
  std::uint32_t sum = 0;
  for (auto a : {s.bytes(), d.bytes()})
    for (std::size_t i = 0; i < a.size(); i += 2) sum += load_be16(a.data() + i);
  return sum + (length >> 16) + (length & 0xffffu) + static_cast<std::uint8_t>(proto);
}
inline bool reference_verifies(byte_view data, std::uint32_t initial = 0) {
  return reference_sum(data, initial) == 0xffff;
}

inline void walk(const packet::ipv4_view& v, byte_view input, bool quoted) {
  check(v.bytes().data() == input.data());
  check(v.header_length() >= packet::ipv4_view::min_header_size);
  check(v.header_length() <= packet::ipv4_view::max_header_size);
  check(v.header_length() <= v.bytes().size());
  check(v.total_length() >= v.header_length());
  if (quoted) {
    check(v.bytes().size() == (input.size() < v.total_length() ? input.size() : v.total_length()));
    check(v.truncated() == (input.size() < v.total_length()));
  } else {
    check(v.total_length() <= input.size());
    check(v.bytes().size() == v.total_length());
    check(!v.truncated());
  }
  touch(v.header(), input);
  touch(v.options(), v.header());
  touch(v.payload(), v.bytes());
  check(v.header().size() + v.payload().size() == v.bytes().size());
  check(v.options().size() == v.header_length() - packet::ipv4_view::min_header_size);
  use(v.dscp());
  use(v.ecn());
  use(v.identification());
  use(v.dont_fragment());
  use(v.more_fragments());
  use(v.fragment_offset());
  check(v.is_fragment() == (v.more_fragments() || v.fragment_offset() != 0));
  use(v.ttl());
  use(static_cast<std::uint8_t>(v.protocol()));
  use(v.checksum());
  use(v.source());
  use(v.destination());
  check(v.checksum_valid() == reference_verifies(v.header()));
  v.for_each_option([&](const packet::ipv4_option& o) {
    check(o.type != 0 && o.type != 1);
    touch(o.data, v.options());
    use(o.type);
  });
}

inline void walk(const packet::ipv6_view& v, byte_view input, bool quoted) {
  using packet::ip_protocol;
  check(v.bytes().data() == input.data());
  check(v.bytes().size() >= packet::ipv6_view::header_size);
  std::size_t total = packet::ipv6_view::header_size + v.payload_length();
  if (quoted) {
    check(v.bytes().size() == (input.size() < total ? input.size() : total));
    check(v.truncated() == (input.size() < total));
  } else {
    check(total <= input.size());
    check(v.bytes().size() == total);
    check(!v.truncated());
  }
  touch(v.header(), input);
  touch(v.payload(), v.bytes());
  touch(v.upper_payload(), v.bytes());
  check(v.upper_offset() >= packet::ipv6_view::header_size);
  check(v.upper_offset() <= v.bytes().size());
  check(v.upper_offset() + v.upper_payload().size() == v.bytes().size());
  check(v.extension_count() <= packet::ipv6_view::max_extension_headers);
  use(v.traffic_class());
  use(v.flow_label());
  check(v.flow_label() <= 0xfffffu);
  use(static_cast<std::uint8_t>(v.next_header()));
  use(v.hop_limit());
  use(v.source());
  use(v.destination());
  use(static_cast<std::uint8_t>(v.upper_protocol()));
  if (const auto& f = v.fragment()) {
    check(f->offset % 8 == 0);
    use(f->offset + f->more_fragments + f->identification);
  }
  check(v.is_fragment() == (v.fragment() && (v.fragment()->offset != 0 || v.fragment()->more_fragments)));
  if (!quoted) {
    // A whole packet's walk ends at an upper layer (or in a non-first fragment), never inside
    // the chain, and every header it passed is at least 8 bytes long.
    check(v.upper_offset() >= packet::ipv6_view::header_size + 8 * std::size_t{v.extension_count()});
    bool non_first = v.fragment() && v.fragment()->offset != 0;
    if (!non_first) {
      auto p = v.upper_protocol();
      check(p != ip_protocol::hop_by_hop && p != ip_protocol::ipv6_routing && p != ip_protocol::ipv6_fragment &&
            p != ip_protocol::ipv6_dest_opts && p != ip_protocol::ah);
    }
  }
}

// A first fragment's UDP length counts the whole datagram, of which `input` holds the start.
inline void walk(const packet::udp_view& u, byte_view input, bool first_fragment = false) {
  check(u.bytes().data() == input.data());
  check(u.length() >= packet::udp_view::header_size);
  check(first_fragment ? u.bytes().size() <= u.length() : u.bytes().size() == u.length());
  check(first_fragment || u.length() <= input.size());
  touch(u.bytes(), input);
  touch(u.payload(), u.bytes());
  check(u.payload().size() + packet::udp_view::header_size == u.bytes().size());
  use(u.source_port());
  use(u.destination_port());
  use(u.checksum());
  for (auto [s, d] : {std::pair{src4, dst4}, std::pair{src6, dst6}}) {
    bool valid = u.checksum_valid(s, d);
    if (u.checksum() == 0) {
      check(valid == s.is_v4());
    } else {
      check(valid == reference_verifies(u.bytes(), reference_pseudo(s, d, packet::ip_protocol::udp, u.length())));
    }
  }
}

inline void walk(const packet::tcp_view& t, byte_view input) {
  check(t.bytes().data() == input.data());
  check(t.bytes().size() == input.size());  // the IP layer gives the length: all of it
  check(t.header_length() >= packet::tcp_view::min_header_size && t.header_length() <= 60);
  check(t.header_length() <= t.bytes().size());
  touch(t.header(), t.bytes());
  touch(t.options(), t.header());
  touch(t.payload(), t.bytes());
  check(t.header().size() + t.payload().size() == t.bytes().size());
  use(t.source_port());
  use(t.destination_port());
  use(t.sequence_number());
  use(t.acknowledgment_number());
  use(t.flags());
  use(t.has(packet::tcp_flags::syn));
  use(t.window());
  use(t.checksum());
  use(t.urgent_pointer());
  std::optional<std::uint16_t> last_mss;
  t.for_each_option([&](const packet::tcp_option& o) {
    check(o.kind != packet::tcp_option_kind::end && o.kind != packet::tcp_option_kind::nop);
    check(o.offset >= packet::tcp_view::min_header_size);
    check(o.offset + 2 + o.data.size() <= t.header_length());
    check(o.data.data() == t.bytes().data() + o.offset + 2);
    touch(o.data, t.options());
    if (o.kind == packet::tcp_option_kind::mss && o.data.size() == 2) last_mss = load_be16(o.data.data());
  });
  check(t.mss() == last_mss);
  if (auto ws = t.window_scale()) use(*ws);
  use(t.sack_permitted());
  for (auto [s, d] : {std::pair{src4, dst4}, std::pair{src6, dst6}}) {
    auto length = static_cast<std::uint32_t>(t.bytes().size());
    check(t.checksum_valid(s, d) ==
          reference_verifies(t.bytes(), reference_pseudo(s, d, packet::ip_protocol::tcp, length)));
  }
}

inline void walk(const packet::icmpv4_view& m, byte_view input) {
  check(m.bytes().data() == input.data() && m.bytes().size() == input.size());
  touch(m.bytes(), input);
  touch(m.payload(), m.bytes());
  check(m.payload().size() + packet::icmpv4_view::header_size == m.bytes().size());
  use(m.type());
  use(m.code());
  use(m.checksum());
  use(m.rest_of_header());
  use(m.identifier());
  use(m.sequence());
  use(m.is_echo());
  if (auto mtu = m.next_hop_mtu()) use(*mtu);
  check(m.checksum_valid() == reference_verifies(m.bytes()));
  auto q = m.quoted_packet();
  if (!m.is_error()) {
    check(!q && q.error() == packet::errc::wrong_protocol);
  } else if (q) {
    walk(*q, m.payload(), true);
  }
}

inline void walk(const packet::icmpv6_view& m, byte_view input) {
  check(m.bytes().data() == input.data() && m.bytes().size() == input.size());
  touch(m.bytes(), input);
  touch(m.payload(), m.bytes());
  check(m.payload().size() + packet::icmpv6_view::header_size == m.bytes().size());
  use(m.type());
  use(m.code());
  use(m.checksum());
  use(m.rest_of_header());
  use(m.identifier());
  use(m.sequence());
  use(m.is_echo());
  check(m.mtu().has_value() == (m.type() == packet::icmpv6_type::packet_too_big));
  for (auto [s, d] : {std::pair{src6, dst6}, std::pair{src4, dst4}}) {
    auto length = static_cast<std::uint32_t>(m.bytes().size());
    check(m.checksum_valid(s, d) ==
          reference_verifies(m.bytes(), reference_pseudo(s, d, packet::ip_protocol::icmpv6, length)));
  }
  auto q = m.quoted_packet();
  if (!m.is_error()) {
    check(!q && q.error() == packet::errc::wrong_protocol);
  } else if (q) {
    walk(*q, m.payload(), true);
  }
}

}  // namespace warren::fuzz
