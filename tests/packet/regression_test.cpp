#include <warren/packet/ip_packet.hpp>  // first: proves the header stands alone
#include <warren/packet/flow_key.hpp>

#include "support/bytes.hpp"

#include <catch2/catch_test_macros.hpp>

#include <string>

// Wrong results found while writing the packet fuzz targets and seeds. Each case fails against
// the headers as they were found and passes once the behaviour is fixed; the packets were built
// by the seed generator with correct checksums (192.0.2.1 -> 192.0.2.2, 2001:db8::1 -> ::2).

using namespace warren;
using namespace warren::packet;
using warren::test::hex;

namespace {
// For the failure message: why parse_ip refused.
std::string why(const result<ip_packet>& p) { return p ? "parsed" : p.error().message(); }
}  // namespace

TEST_CASE("parse_ip accepts the first fragment of a fragmented UDP datagram", "[packet][ip][regression]") {
  // The first fragment carries the UDP header, whose length field counts the whole datagram
  // (56 bytes) while the fragment holds 32 of them. udp_view::parse() compares the two and
  // parse_ip() returned errc::truncated, so every fragmented UDP datagram lost its first
  // fragment (large DNS answers, IKE, any UDP over an MTU smaller than the sender's).
  SECTION("IPv4: offset 0, MF set") {
    auto b = hex("450000345151200040118564c0000201c00002029c4000090038b4ee"
                 "000102030405060708090a0b0c0d0e0f1011121314151617");
    for (auto check : {verify::structure, verify::checksums}) {
      auto p = parse_ip(b, check);
      INFO(why(p));
      REQUIRE(p);
      CHECK(p->is_fragment());
      CHECK(p->protocol() == ip_protocol::udp);
    }
  }
  SECTION("IPv6: Fragment header with offset 0, M set") {
    auto b = hex("6001234500282c4020010db800000000000000000000000120010db8000000000000000000000002"
                 "11000001cafe0003"
                 "9c4000090038dd7d000102030405060708090a0b0c0d0e0f1011121314151617");
    for (auto check : {verify::structure, verify::checksums}) {
      auto p = parse_ip(b, check);
      INFO(why(p));
      REQUIRE(p);
      CHECK(p->is_fragment());
      CHECK(p->protocol() == ip_protocol::udp);
    }
  }
}

TEST_CASE("every fragment of one datagram gets the same flow key", "[packet][flow][regression]") {
  // flow_key.hpp: "Fragments and protocols without ports key on addresses and protocol alone
  // (ports zero)". The first fragment of a TCP segment got the TCP ports instead (parse_ip sets
  // its tcp view), the second got zeros: one datagram split across two flows, so per-flow
  // queues may reorder its fragments and a tracker cannot match the later ones.
  auto first = hex("4500002c7777200040065f51c0000201c00002029c410050000003e8000000005018faf0d97d0000"
                   "00010203");
  auto second = hex("4500002c7777000340067f4ec0000201c0000202"
                    "0405060708090a0b0c0d0e0f101112131415161718191a1b");
  auto p1 = parse_ip(first);
  auto p2 = parse_ip(second);
  REQUIRE(p1);
  REQUIRE(p2);
  REQUIRE(p1->is_fragment());
  REQUIRE(p2->is_fragment());
  auto k1 = flow_key::of(*p1);
  auto k2 = flow_key::of(*p2);
  CHECK(k1.source_port == k2.source_port);
  CHECK(k1.destination_port == k2.destination_port);
  CHECK(k1 == k2);
}

TEST_CASE("UDP over IPv6 with a routing header is summed with the final destination", "[packet][ip][regression]") {
  // RFC 8200 §8.1: with a Routing header, the pseudo-header's destination is the final one, which
  // a packet still in transit carries in the Routing header, not in the IPv6 header. Here a
  // Segment Routing header (RFC 8754, type 4) with Segments Left 1: the IPv6 destination is the
  // next segment 2001:db8::99, the final destination (Segment List[0]) is 2001:db8::2, and the
  // UDP checksum is right for 2001:db8::1 -> 2001:db8::2. parse_ip(verify::checksums) summed
  // with 2001:db8::99 and returned errc::bad_checksum for this valid packet.
  auto b = hex("60012345003a2b4020010db800000000000000000000000120010db8000000000000000000000099"
               "1104040101000000"
               "20010db8000000000000000000000002"
               "20010db8000000000000000000000099"
               "04d20035001271b368656c6c6f2073727636");
  REQUIRE(parse_ip(b, verify::structure));
  auto p = parse_ip(b, verify::checksums);
  INFO(why(p));
  REQUIRE(p);
  CHECK(p->udp);
}
