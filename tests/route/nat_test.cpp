#include <warren/route/nat.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include <warren/packet/checksum.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

// The NAT's incremental updates are checked against packets built from scratch: a packet is
// described by a spec, built with every checksum computed over the whole packet, rewritten by
// the NAT, and compared byte for byte with the packet built from the spec with the new address.
// One's-complement arithmetic makes the two agree exactly: neither an RFC 1624 eqn. 3 update
// nor a full sum of non-zero data ever yields 0xffff, so each value has one representation.

using namespace warren::packet;
using warren::route::nat_side;
using bytes = std::vector<std::byte>;

namespace {

struct spec {
  bool v6 = false;
  ip_address src, dst;
  ip_protocol proto = ip_protocol::udp;
  std::uint16_t sport = 0, dport = 0;
  bytes payload;
  bool udp_zero_checksum = false;    // IPv4 only: "no checksum"
  std::size_t ipv4_option_words = 0;
  bool hop_by_hop = false;           // IPv6: a Hop-by-Hop header before the rest
  std::optional<ipv6_address> routing_final;  // IPv6: a type 2 Routing header with a segment left
  int fragment = 0;                  // 0 whole, 1 first fragment (MF), 2 a later fragment
  std::size_t first_fragment_bytes = 0;
  // ICMP errors: the packet quoted and how much of it
  std::shared_ptr<spec> quoted;
  std::size_t quote_length = 0;
  std::uint8_t icmp_type = 0, icmp_code = 0;
};

void put16(bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = std::byte(v >> 8);
  b[at + 1] = std::byte(v & 0xff);
}
void append(bytes& b, std::initializer_list<int> v) {
  for (int x : v) b.push_back(std::byte(x));
}
void append(bytes& b, const bytes& v) { b.insert(b.end(), v.begin(), v.end()); }

bytes build(const spec& s);

// The upper-layer segment, whole, with its checksum computed over all of it.
bytes segment(const spec& s, const ip_address& pseudo_dst) {
  bytes t;
  const bool icmp = s.proto == ip_protocol::icmp || s.proto == ip_protocol::icmpv6;
  if (s.proto == ip_protocol::tcp) {
    append(t, {0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0});
    put16(t, 0, s.sport);
    put16(t, 2, s.dport);
  } else if (s.proto == ip_protocol::udp) {
    append(t, {0, 0, 0, 0, 0, 0, 0, 0});
    put16(t, 0, s.sport);
    put16(t, 2, s.dport);
  } else if (icmp) {
    const bool error = s.quoted != nullptr;
    const std::uint8_t type = error ? s.icmp_type : (s.v6 ? icmpv6_type::echo_request : icmpv4_type::echo_request);
    append(t, {type, s.icmp_code, 0, 0, 0, 0, 0, 0});
    if (error && s.v6 && type == icmpv6_type::packet_too_big) put16(t, 6, 1280);
    if (!error) {
      put16(t, 4, s.sport);
      put16(t, 6, 7);
    }
  }
  if (s.quoted) {
    bytes inner = build(*s.quoted);
    inner.resize(std::min(inner.size(), s.quote_length));
    append(t, inner);
  } else {
    append(t, s.payload);
  }
  if (s.proto == ip_protocol::udp) put16(t, 4, static_cast<std::uint16_t>(t.size()));
  const auto length = static_cast<std::uint32_t>(t.size());
  std::uint16_t sum = 0;
  if (s.proto == ip_protocol::icmp) {
    sum = internet_checksum(t);
  } else {
    sum = pseudo_header_sum(s.src, pseudo_dst, s.proto, length).add(t).checksum();
  }
  const std::size_t at = s.proto == ip_protocol::tcp ? 16 : s.proto == ip_protocol::udp ? 6 : 2;
  if (s.proto == ip_protocol::udp) {
    if (s.udp_zero_checksum) sum = 0;
    else if (sum == 0) sum = 0xffff;
  }
  put16(t, at, sum);
  return t;
}

bytes build(const spec& s) {
  const ip_address pseudo_dst = s.routing_final ? ip_address(*s.routing_final) : s.dst;
  bytes upper = segment(s, pseudo_dst);
  if (s.fragment == 1) upper.resize(s.first_fragment_bytes);
  if (s.fragment == 2) upper = s.payload;  // a later fragment: data, no transport header
  bytes p;
  if (!s.v6) {
    const std::size_t ihl = 5 + s.ipv4_option_words;
    append(p, {int(0x40 | ihl), 0, 0, 0, 0x1c, 0x46, 0, 0, 64, int(s.proto), 0, 0});
    append(p, bytes(s.src.bytes().begin(), s.src.bytes().end()));
    append(p, bytes(s.dst.bytes().begin(), s.dst.bytes().end()));
    for (std::size_t i = 0; i < s.ipv4_option_words * 4; ++i) p.push_back(std::byte{1});  // NOPs
    put16(p, 2, static_cast<std::uint16_t>(p.size() + upper.size()));
    if (s.fragment == 1) put16(p, 6, 0x2000);
    if (s.fragment == 2) put16(p, 6, 0x2000 | 185);
    put16(p, 10, internet_checksum(p));
  } else {
    append(p, {0x60, 0, 0, 0, 0, 0, 0, 64});
    append(p, bytes(s.src.bytes().begin(), s.src.bytes().end()));
    append(p, bytes(s.dst.bytes().begin(), s.dst.bytes().end()));
    // Extension headers, each naming the next; the last names the upper protocol.
    std::vector<std::pair<int, bytes>> ext;
    if (s.hop_by_hop) ext.push_back({0, bytes{std::byte{0}, std::byte{0}, std::byte{1}, std::byte{4}, {}, {}, {}, {}}});
    if (s.routing_final) {
      bytes r{std::byte{0}, std::byte{2}, std::byte{2}, std::byte{1}, {}, {}, {}, {}};
      append(r, bytes(s.routing_final->bytes().begin(), s.routing_final->bytes().end()));
      ext.push_back({43, r});
    }
    if (s.fragment != 0) {
      bytes f{std::byte{0}, std::byte{0}, {}, {}, std::byte{0xde}, std::byte{0xad}, std::byte{0xbe}, std::byte{0xef}};
      put16(f, 2, s.fragment == 1 ? 1 : static_cast<std::uint16_t>(185 << 3 | 1));
      ext.push_back({44, f});
    }
    p[6] = ext.empty() ? std::byte(s.proto) : std::byte(ext.front().first);
    for (std::size_t i = 0; i < ext.size(); ++i) {
      ext[i].second[0] = i + 1 < ext.size() ? std::byte(ext[i + 1].first) : std::byte(s.proto);
      append(p, ext[i].second);
    }
    put16(p, 4, static_cast<std::uint16_t>(p.size() - 40 + upper.size()));
  }
  append(p, upper);
  return p;
}

// The size of a packet's upper-layer segment (the packet minus its IP and extension headers).
std::size_t build_upper_size(const spec& s) { return segment(s, s.dst).size(); }

struct generator {
  std::mt19937_64 rng;
  explicit generator(std::uint64_t seed) : rng(seed) {}

  std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng() % n); }
  bool coin() { return rng() % 2 == 0; }
  ip_address address(bool v6) {
    if (!v6) return ipv4_address::from_uint(static_cast<std::uint32_t>(rng()));
    ipv6_address a;
    for (auto& o : a.octets) o = static_cast<std::uint8_t>(rng());
    return a;
  }
  bytes payload(std::size_t max) {
    bytes b(below(max + 1));
    for (auto& x : b) x = std::byte(rng());
    return b;
  }

  // A packet of any kind this host might send or receive.
  spec packet(bool v6, bool allow_error) {
    spec s;
    s.v6 = v6;
    s.src = address(v6);
    s.dst = address(v6);
    s.sport = static_cast<std::uint16_t>(rng());
    s.dport = static_cast<std::uint16_t>(rng());
    s.payload = payload(300);
    const auto kind = below(allow_error ? 5 : 3);
    const ip_protocol icmp = v6 ? ip_protocol::icmpv6 : ip_protocol::icmp;
    s.proto = kind == 0 ? ip_protocol::tcp : kind == 1 ? ip_protocol::udp : icmp;
    if (!v6 && s.proto == ip_protocol::udp && below(4) == 0) s.udp_zero_checksum = true;
    if (!v6 && below(4) == 0) s.ipv4_option_words = 1 + below(10);
    if (v6 && below(4) == 0) s.hop_by_hop = true;
    if (s.proto != icmp && below(6) == 0) {
      s.fragment = 1 + static_cast<int>(below(2));
      s.payload.resize(std::max<std::size_t>(s.payload.size(), 64));
      s.first_fragment_bytes = 24;  // a multiple of 8 past the TCP/UDP checksum
    }
    if (kind >= 3) {
      // An ICMP error about another packet; its addresses are fixed by the caller.
      s.proto = icmp;
      s.quoted = std::make_shared<spec>(packet(v6, false));
      s.quoted->fragment = 0;
      const std::size_t full = build(*s.quoted).size();
      const std::size_t header = v6 ? 40 : 20 + 4 * s.quoted->ipv4_option_words;
      // RFC 792 routers quote the header and 8 bytes; others quote as much as fits.
      const auto pick = below(3);
      s.quote_length = pick == 0 ? header + 8 : pick == 1 ? full : header + below(full - header + 1);
      // A quote that ends in the middle of the transport checksum holds half a field, which no
      // update can know the new value of; the NAT leaves it, so the rebuild cannot be compared.
      const std::size_t upper = full - build_upper_size(*s.quoted);
      const std::size_t field = s.quoted->proto == ip_protocol::tcp ? 16 : s.quoted->proto == ip_protocol::udp ? 6 : 2;
      if (s.quote_length == upper + field + 1) ++s.quote_length;
      if (!v6) {
        s.icmp_type = below(2) ? icmpv4_type::destination_unreachable : icmpv4_type::time_exceeded;
        s.icmp_code = 3;
      } else {
        const std::uint8_t types[] = {icmpv6_type::destination_unreachable, icmpv6_type::packet_too_big,
                                      icmpv6_type::time_exceeded};
        s.icmp_type = types[below(3)];
      }
    }
    if (v6 && !s.quoted && below(8) == 0) s.routing_final = address(true).v6();
    return s;
  }
};

void require_rewrite_matches_rebuild(const spec& before, nat_side side, const ip_address& to) {
  // The expected packet: the same spec with the address changed, and in an ICMP error the
  // quoted packet's other address, if it was ours.
  spec after = before;
  const ip_address from = side == nat_side::source ? before.src : before.dst;
  (side == nat_side::source ? after.src : after.dst) = to;
  if (before.quoted) {
    after.quoted = std::make_shared<spec>(*before.quoted);
    ip_address& quoted = side == nat_side::source ? after.quoted->dst : after.quoted->src;
    if (quoted == from) quoted = to;
  }
  bytes packet = build(before);
  const bytes want = build(after);
  auto parsed = parse_ip(packet, verify::checksums);
  REQUIRE(parsed);
  REQUIRE(warren::route::rewrite_address(packet, *parsed, side, to));
  REQUIRE(packet == want);
  REQUIRE(parse_ip(packet, verify::checksums));
}

}  // namespace

TEST_CASE("nat: rewrites keep every checksum equal to a full recomputation", "[route]") {
  generator g(0x9a7'0001);
  int errors_about_ours = 0, fragments = 0, zero_udp = 0, routed = 0;
  for (int i = 0; i < 20000; ++i) {
    const bool v6 = g.coin();
    spec s = g.packet(v6, true);
    const nat_side side = g.coin() ? nat_side::source : nat_side::destination;
    const ip_address to = g.address(v6);
    if (s.quoted && g.below(5) != 0) {
      // The error is about a packet of ours: outbound (source rewrite) the host reports on a
      // packet it received, so the quote's destination is our address; inbound the quote is a
      // packet we sent, so its source is.
      if (side == nat_side::source) s.quoted->dst = s.src;
      else s.quoted->src = s.dst;
      ++errors_about_ours;
    }
    fragments += s.fragment != 0;
    zero_udp += s.udp_zero_checksum;
    routed += s.routing_final.has_value();
    CAPTURE(i, v6, int(s.proto), s.fragment, s.quote_length, int(side));
    require_rewrite_matches_rebuild(s, side, to);
  }
  // The generator reached every kind it is meant to.
  REQUIRE(errors_about_ours > 1000);
  REQUIRE(fragments > 500);
  REQUIRE(zero_udp > 100);
  REQUIRE(routed > 100);
}

TEST_CASE("nat: an error quoting our packet gets our address back inside the quote", "[route]") {
  // A router on the path returns "port unreachable" for a UDP datagram we sent from 10.100.0.2;
  // inbound, the destination and the quoted source both become the TUN's 10.0.0.1.
  spec inner;
  inner.src = *ip_address::parse("10.100.0.2");
  inner.dst = *ip_address::parse("192.0.2.7");
  inner.proto = ip_protocol::udp;
  inner.sport = 40000;
  inner.dport = 53;
  inner.payload = bytes(20, std::byte{0x61});
  spec error;
  error.src = *ip_address::parse("192.0.2.7");
  error.dst = inner.src;
  error.proto = ip_protocol::icmp;
  error.icmp_type = icmpv4_type::destination_unreachable;
  error.icmp_code = 3;
  error.quoted = std::make_shared<spec>(inner);
  error.quote_length = 48;

  bytes packet = build(error);
  const ip_address tun = *ip_address::parse("10.0.0.1");
  REQUIRE(warren::route::rewrite_address(packet, nat_side::destination, tun));
  auto parsed = parse_ip(packet, verify::checksums);
  REQUIRE(parsed);
  REQUIRE(parsed->destination() == tun);
  auto quoted = parsed->icmpv4->quoted_packet();
  REQUIRE(quoted);
  REQUIRE(ip_address(quoted->source()) == tun);
  REQUIRE(quoted->checksum_valid());
  auto udp = udp_view::parse(quoted->payload());
  REQUIRE(udp);
  REQUIRE(udp->checksum_valid(tun, *ip_address::parse("192.0.2.7")));
  SECTION("and an error about someone else's packet keeps its quote") {
    error.quoted->src = *ip_address::parse("10.100.0.77");
    bytes other = build(error);
    const bytes original = other;
    REQUIRE(warren::route::rewrite_address(other, nat_side::destination, tun));
    // The outer destination and the IPv4 header checksum changed; the ICMPv4 message (its
    // checksum covers no address) and the quote in it did not.
    REQUIRE(std::equal(other.begin() + 20, other.end(), original.begin() + 20));
    REQUIRE_FALSE(std::equal(other.begin(), other.begin() + 20, original.begin()));
    REQUIRE(parse_ip(other, verify::checksums));
  }
}

TEST_CASE("nat: a packet of the other family is refused and left unchanged", "[route]") {
  spec s;
  s.src = *ip_address::parse("10.0.0.1");
  s.dst = *ip_address::parse("192.0.2.1");
  s.payload = bytes(10, std::byte{1});
  bytes packet = build(s);
  const bytes original = packet;
  auto r = warren::route::rewrite_address(packet, nat_side::source, *ip_address::parse("fd00::1"));
  REQUIRE_FALSE(r);
  REQUIRE(r.error() == warren::route::errc::family_mismatch);
  REQUIRE(packet == original);
  SECTION("and malformed bytes are an error of the packet layer") {
    bytes junk(7, std::byte{0x45});
    REQUIRE_FALSE(warren::route::rewrite_address(junk, nat_side::source, *ip_address::parse("10.0.0.2")));
  }
}

TEST_CASE("nat: a UDP checksum that updates to zero is sent as 0xffff", "[route]") {
  // Search the new source's low 16 bits for the one that makes the computed checksum 0: RFC 768
  // says to send that as all ones, since 0 means "no checksum".
  spec s;
  s.src = *ip_address::parse("10.0.0.1");
  s.dst = *ip_address::parse("192.0.2.53");
  s.proto = ip_protocol::udp;
  s.sport = 5353;
  s.dport = 53;
  s.payload = bytes{std::byte{0x12}, std::byte{0x34}, std::byte{0x56}};
  bytes segment_without_sum = segment(s, s.dst);
  put16(segment_without_sum, 6, 0);
  for (bool v6 : {false, true}) {
    spec t = s;
    if (v6) {
      t.v6 = true;
      t.src = *ip_address::parse("fd00::1");
      t.dst = *ip_address::parse("2001:db8::53");
    }
    std::optional<ip_address> zeroing;
    for (unsigned w = 0; w <= 0xffff && !zeroing; ++w) {
      auto raw = t.src.raw();
      const std::size_t at = v6 ? 14 : 2;
      raw[at] = static_cast<std::uint8_t>(w >> 8);
      raw[at + 1] = static_cast<std::uint8_t>(w);
      const ip_address candidate = v6 ? ip_address(ipv6_address{raw}) : ip_address(ipv4_address{{raw[0], raw[1], raw[2], raw[3]}});
      if (pseudo_header_sum(candidate, t.dst, ip_protocol::udp, static_cast<std::uint32_t>(segment_without_sum.size()))
              .add(segment_without_sum)
              .checksum() == 0)
        zeroing = candidate;
    }
    REQUIRE(zeroing);
    bytes packet = build(t);
    REQUIRE(warren::route::rewrite_address(packet, nat_side::source, *zeroing));
    const std::size_t udp_at = v6 ? 40 : 20;
    REQUIRE(packet[udp_at + 6] == std::byte{0xff});
    REQUIRE(packet[udp_at + 7] == std::byte{0xff});
    REQUIRE(parse_ip(packet, verify::checksums));
  }
}
