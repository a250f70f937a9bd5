#include <warren/packet/udp.hpp>

#include "support/bytes.hpp"

#include <catch2/catch_test_macros.hpp>

using namespace warren;
using namespace warren::packet;
using warren::test::hex;

namespace {
const auto src4 = ip_address(*ipv4_address::parse("192.0.2.1"));
const auto dst4 = ip_address(*ipv4_address::parse("192.0.2.2"));
const auto src6 = ip_address(*ipv6_address::parse("fd00::1"));
const auto dst6 = ip_address(*ipv6_address::parse("fd00::2"));
// 40000 -> 7, "hello", checksum for 192.0.2.1 -> 192.0.2.2 computed by hand.
const char* datagram = "9c40 0007 000d 9bb6 6865 6c6c 6f";
}  // namespace

TEST_CASE("udp view reads ports, length, payload and checksum", "[packet][udp]") {
  auto d = hex(datagram);
  auto u = udp_view::parse(d);
  REQUIRE(u);
  CHECK(u->source_port() == 40000);
  CHECK(u->destination_port() == 7);
  CHECK(u->length() == 13);
  CHECK(u->payload().size() == 5);
  CHECK(u->checksum_valid(src4, dst4));
  CHECK_FALSE(u->checksum_valid(dst4, ip_address(*ipv4_address::parse("192.0.2.3"))));
}

TEST_CASE("a zero udp checksum is allowed over IPv4 only", "[packet][udp]") {
  auto d = hex(datagram);
  store_be16(d.data() + 6, 0);
  auto u = udp_view::parse(d);
  REQUIRE(u);
  CHECK(u->checksum_valid(src4, dst4));
  CHECK_FALSE(u->checksum_valid(src6, dst6));
}

TEST_CASE("malformed udp is refused", "[packet][udp]") {
  auto d = hex(datagram);
  SECTION("shorter than the header") { CHECK(udp_view::parse(byte_view(d).first(7)).error() == errc::truncated); }
  SECTION("length below 8") {
    store_be16(d.data() + 4, 7);
    CHECK(udp_view::parse(d).error() == errc::bad_header_length);
  }
  SECTION("length beyond the bytes present") {
    store_be16(d.data() + 4, 14);
    CHECK(udp_view::parse(d).error() == errc::truncated);
  }
  SECTION("bad checksum parses but does not verify") {
    store_be16(d.data() + 6, 0x1234);
    REQUIRE(udp_view::parse(d));
    CHECK_FALSE(udp_view::parse(d)->checksum_valid(src4, dst4));
  }
  SECTION("a shorter length field trims the payload") {
    store_be16(d.data() + 4, 10);
    auto u = udp_view::parse(d);
    REQUIRE(u);
    CHECK(u->payload().size() == 2);
  }
}

TEST_CASE("write_udp_header computes a checksum that verifies", "[packet][udp]") {
  for (auto [s, d] : {std::pair{src4, dst4}, std::pair{src6, dst6}}) {
    auto buf = packet_buffer::allocate();
    REQUIRE(buf.append(as_byte_view("hello")));
    REQUIRE(write_udp_header(buf, s, d, 40000, 7));
    auto u = udp_view::parse(buf.bytes());
    REQUIRE(u);
    CHECK(u->length() == 13);
    CHECK(u->checksum() != 0);
    CHECK(u->checksum_valid(s, d));
  }
  auto buf = packet_buffer::allocate();
  REQUIRE(buf.append(as_byte_view("hello")));
  REQUIRE(write_udp_header(buf, src4, dst4, 40000, 7));
  CHECK(std::equal(buf.bytes().begin(), buf.bytes().end(), hex(datagram).begin()));
}
