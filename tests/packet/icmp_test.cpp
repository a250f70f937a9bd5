#include <warren/packet/icmpv4.hpp>
#include <warren/packet/icmpv6.hpp>
#include <warren/packet/udp.hpp>

#include "support/bytes.hpp"

#include <catch2/catch_test_macros.hpp>

using namespace warren;
using namespace warren::packet;
using warren::test::hex;
using namespace warren::test::samples;
using warren::test::set_byte;

TEST_CASE("icmpv4 echo request is read", "[packet][icmp]") {
  auto pkt = hex(echo4);
  auto ip = ipv4_view::parse(pkt);
  REQUIRE(ip);
  auto e = icmpv4_view::parse(ip->payload());
  REQUIRE(e);
  CHECK(e->type() == icmpv4_type::echo_request);
  CHECK(e->code() == 0);
  CHECK(e->identifier() == 0x1234);
  CHECK(e->sequence() == 1);
  CHECK(e->is_echo());
  CHECK_FALSE(e->is_error());
  CHECK(e->payload().size() == 8);
  CHECK(e->checksum_valid());
  CHECK(e->quoted_packet().error() == errc::wrong_protocol);
  set_byte(pkt, 30, 0x41);
  CHECK_FALSE(icmpv4_view::parse(ipv4_view::parse(pkt)->payload())->checksum_valid());
  CHECK(icmpv4_view::parse(ip->payload().first(7)).error() == errc::truncated);
}

TEST_CASE("an icmpv4 error quotes the packet that caused it", "[packet][icmp]") {
  // "fragmentation needed", next-hop MTU 1280, quoting the header and 8 bytes of a UDP packet.
  auto offending = hex(udp4);
  auto buf = packet_buffer::allocate();
  REQUIRE(buf.append(byte_view(offending).first(28)));
  REQUIRE(write_icmpv4_header(buf, icmpv4_type::destination_unreachable, icmpv4_code_fragmentation_needed, 1280));
  auto e = icmpv4_view::parse(buf.bytes());
  REQUIRE(e);
  CHECK(e->checksum_valid());
  CHECK(e->is_error());
  CHECK(e->next_hop_mtu() == 1280);
  auto q = e->quoted_packet();
  REQUIRE(q);
  CHECK(q->truncated());
  CHECK(q->source().to_string() == "192.0.2.1");
  CHECK(q->protocol() == ip_protocol::udp);
  CHECK(load_be16(q->payload().data() + 2) == 7);  // the quoted UDP destination port

  SECTION("a quote too short for an IP header") {
    auto b2 = packet_buffer::allocate();
    REQUIRE(b2.append(byte_view(offending).first(12)));
    REQUIRE(write_icmpv4_header(b2, icmpv4_type::time_exceeded, 0, 0));
    CHECK(icmpv4_view::parse(b2.bytes())->quoted_packet().error() == errc::truncated);
  }
}

TEST_CASE("icmpv6 echo and packet too big", "[packet][icmp]") {
  auto s = *ipv6_address::parse("fd00::1");
  auto d = *ipv6_address::parse("fd00::2");
  SECTION("echo request") {
    auto buf = packet_buffer::allocate();
    REQUIRE(buf.append(as_byte_view("ping")));
    REQUIRE(write_icmpv6_header(buf, s, d, icmpv6_type::echo_request, 0, 0xbeef0007));
    auto e = icmpv6_view::parse(buf.bytes());
    REQUIRE(e);
    CHECK(e->is_echo());
    CHECK_FALSE(e->is_error());
    CHECK(e->identifier() == 0xbeef);
    CHECK(e->sequence() == 7);
    CHECK(e->checksum_valid(s, d));
    CHECK_FALSE(e->checksum_valid(d, d));
    CHECK_FALSE(e->mtu());
  }
  SECTION("packet too big quotes an IPv6 packet") {
    auto inner = packet_buffer::allocate();
    REQUIRE(inner.append(as_byte_view("0123456789abcdef")));
    REQUIRE(write_udp_header(inner, d, s, 5353, 53));
    REQUIRE(write_ipv6_header(inner, {.source = d, .destination = s}));
    auto buf = packet_buffer::allocate();
    REQUIRE(buf.append(inner.bytes().first(48)));
    REQUIRE(write_icmpv6_header(buf, s, d, icmpv6_type::packet_too_big, 0, 1280));
    auto e = icmpv6_view::parse(buf.bytes());
    REQUIRE(e);
    CHECK(e->is_error());
    CHECK(e->mtu() == 1280);
    auto q = e->quoted_packet();
    REQUIRE(q);
    CHECK(q->truncated());
    CHECK(q->source() == d);
    CHECK(q->upper_protocol() == ip_protocol::udp);
    CHECK(q->upper_payload().size() == 8);
  }
  CHECK(icmpv6_view::parse(hex("8000 0000")).error() == errc::truncated);
}
