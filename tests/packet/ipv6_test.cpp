#include <warren/packet/ipv6.hpp>

#include "support/bytes.hpp"

#include <catch2/catch_test_macros.hpp>

#include <initializer_list>
#include <vector>

using namespace warren;
using namespace warren::packet;
using warren::test::hex;
using warren::test::set_byte;

namespace {
// A fixed header fd00::1 -> fd00::2 followed by `rest`, with the first next header given.
std::vector<std::byte> ipv6_with(std::uint8_t next, const std::vector<std::byte>& rest) {
  auto pkt = hex("6000 0000 0000 0040 fd00 0000 0000 0000 0000 0000 0000 0001 fd00 0000 0000 0000 0000 0000 0000 0002");
  store_be16(pkt.data() + 4, static_cast<std::uint16_t>(rest.size()));
  set_byte(pkt, 6, next);
  pkt.insert(pkt.end(), rest.begin(), rest.end());
  return pkt;
}
// An 8-byte options header (Hop-by-Hop or Destination): next header, length 0, PadN.
std::vector<std::byte> opts_header(std::uint8_t next) { return {std::byte{next}, std::byte{0}, std::byte{1}, std::byte{4}, {}, {}, {}, {}}; }
std::vector<std::byte> cat(std::initializer_list<std::vector<std::byte>> parts) {
  std::vector<std::byte> out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
const auto udp_payload = hex("9c40 0007 000d 0000 6865 6c6c 6f");  // checksum not checked here
}  // namespace

TEST_CASE("ipv6 view reads the fixed header", "[packet][ipv6]") {
  auto pkt = ipv6_with(17, udp_payload);
  store_be32(pkt.data(), 0x6ab12345);  // traffic class 0xab, flow label 0x12345
  set_byte(pkt, 7, 9);
  auto v = ipv6_view::parse(pkt);
  REQUIRE(v);
  CHECK(v->traffic_class() == 0xab);
  CHECK(v->flow_label() == 0x12345);
  CHECK(v->payload_length() == 13);
  CHECK(v->hop_limit() == 9);
  CHECK(v->next_header() == ip_protocol::udp);
  CHECK(v->upper_protocol() == ip_protocol::udp);
  CHECK(v->upper_offset() == 40);
  CHECK(v->extension_count() == 0);
  CHECK(v->source().to_string() == "fd00::1");
  CHECK(v->destination().to_string() == "fd00::2");
  CHECK_FALSE(v->is_fragment());
}

TEST_CASE("ipv6 extension headers are walked to the upper layer", "[packet][ipv6]") {
  SECTION("hop-by-hop, routing, destination options, then UDP") {
    auto routing = hex("3c00 0000 0000 0000");  // next: dest opts (60), type 0 segments left 0
    auto pkt = ipv6_with(0, cat({opts_header(43), routing, opts_header(17), udp_payload}));
    auto v = ipv6_view::parse(pkt);
    REQUIRE(v);
    CHECK(v->extension_count() == 3);
    CHECK(v->upper_protocol() == ip_protocol::udp);
    CHECK(v->upper_offset() == 64);
    CHECK(v->upper_payload().size() == udp_payload.size());
  }
  SECTION("first fragment: flagged, upper layer reachable") {
    auto frag = hex("1100 0001 dead beef");  // next UDP, offset 0, M=1
    auto v = ipv6_view::parse(ipv6_with(44, cat({frag, udp_payload})));
    REQUIRE(v);
    CHECK(v->is_fragment());
    CHECK(v->fragment()->offset == 0);
    CHECK(v->fragment()->more_fragments);
    CHECK(v->fragment()->identification == 0xdeadbeef);
    CHECK(v->upper_protocol() == ip_protocol::udp);
  }
  SECTION("later fragment: no upper-layer header to walk into") {
    auto frag = hex("1100 0020 0000 0001");  // offset 4 units = 32 bytes, M=0
    auto v = ipv6_view::parse(ipv6_with(44, cat({frag, hex("0102 0304")})));
    REQUIRE(v);
    CHECK(v->is_fragment());
    CHECK(v->fragment()->offset == 32);
    CHECK(v->upper_payload().size() == 4);
  }
  SECTION("AH counts its length in 4-byte units") {
    auto ah = hex("1101 0000 0000 0000 0000 0000");  // length 1 -> (1+2)*4 = 12
    auto v = ipv6_view::parse(ipv6_with(51, cat({ah, udp_payload})));
    REQUIRE(v);
    CHECK(v->upper_offset() == 52);
    CHECK(v->upper_protocol() == ip_protocol::udp);
  }
  SECTION("no next header ends the walk") {
    auto v = ipv6_view::parse(ipv6_with(59, {}));
    REQUIRE(v);
    CHECK(v->upper_protocol() == ip_protocol::ipv6_no_next);
  }
}

TEST_CASE("malformed ipv6 is refused with the right error", "[packet][ipv6]") {
  auto good = ipv6_with(17, udp_payload);
  auto err = [](byte_view b) { return ipv6_view::parse(b).error(); };
  SECTION("shorter than the fixed header") { CHECK(err(byte_view(good).first(39)) == errc::truncated); }
  SECTION("shorter than the payload length says") { CHECK(err(byte_view(good).first(50)) == errc::truncated); }
  SECTION("wrong version") {
    set_byte(good, 0, 0x40);
    CHECK(err(good) == errc::bad_version);
  }
  SECTION("oversized payload length") {
    store_be16(good.data() + 4, 0xffff);
    CHECK(err(good) == errc::truncated);
  }
  SECTION("jumbogram") {
    auto j = ipv6_with(0, cat({opts_header(17), udp_payload}));
    store_be16(j.data() + 4, 0);
    CHECK(err(j) == errc::unsupported);
  }
  SECTION("extension header running past the end") {
    auto hbh = opts_header(17);
    set_byte(hbh, 1, 4);  // claims 40 bytes
    CHECK(err(ipv6_with(0, cat({hbh, udp_payload}))) == errc::truncated);
  }
  SECTION("hop-by-hop not first") {
    CHECK(err(ipv6_with(60, cat({opts_header(0), opts_header(17), udp_payload}))) == errc::bad_extension_chain);
  }
  SECTION("a looping chain of destination options") {
    std::vector<std::byte> chain;
    for (int i = 0; i < 20; ++i) {
      auto h = opts_header(60);
      chain.insert(chain.end(), h.begin(), h.end());
    }
    CHECK(err(ipv6_with(60, chain)) == errc::bad_extension_chain);
  }
  SECTION("a repeated routing header") {
    auto r1 = hex("2b00 0000 0000 0000");
    auto r2 = hex("1100 0000 0000 0000");
    CHECK(err(ipv6_with(43, cat({r1, r2, udp_payload}))) == errc::bad_extension_chain);
  }
  SECTION("every kind once and destination options twice is still accepted") {
    auto r = hex("2c00 0000 0000 0000");  // routing, next: fragment
    auto f = hex("3300 0000 0000 0000");  // fragment (offset 0, M 0), next: AH
    auto ah = hex("3c01 0000 0000 0000 0000 0000");
    auto pkt = ipv6_with(0, cat({opts_header(60), opts_header(43), r, f, ah, opts_header(17), udp_payload}));
    auto v = ipv6_view::parse(pkt);
    REQUIRE(v);
    CHECK(v->extension_count() == 6);
    CHECK(v->upper_protocol() == ip_protocol::udp);
  }
}

TEST_CASE("a quoted ipv6 packet may stop anywhere after the fixed header", "[packet][ipv6]") {
  auto pkt = ipv6_with(0, cat({opts_header(17), udp_payload}));
  auto v = ipv6_view::parse_quoted(byte_view(pkt).first(44));
  REQUIRE(v);
  CHECK(v->truncated());
  CHECK(ipv6_view::parse(byte_view(pkt).first(44)).error() == errc::truncated);
}

TEST_CASE("write_ipv6_header builds a header that parses", "[packet][ipv6]") {
  auto buf = packet_buffer::allocate();
  REQUIRE(buf.append(as_byte_view("0123456789")));
  ipv6_header_fields f{.source = *ipv6_address::parse("2001:db8::a"),
                       .destination = *ipv6_address::parse("2001:db8::b"),
                       .next_header = ip_protocol::ipv6_no_next, .hop_limit = 3, .traffic_class = 0x12,
                       .flow_label = 0xabcde};
  REQUIRE(write_ipv6_header(buf, f));
  auto v = ipv6_view::parse(buf.bytes());
  REQUIRE(v);
  CHECK(v->payload_length() == 10);
  CHECK(v->hop_limit() == 3);
  CHECK(v->traffic_class() == 0x12);
  CHECK(v->flow_label() == 0xabcde);
  CHECK(v->source() == f.source);
  CHECK(v->destination() == f.destination);
}
