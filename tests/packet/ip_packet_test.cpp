#include <warren/packet/ip_packet.hpp>

#include "support/bytes.hpp"

#include <catch2/catch_test_macros.hpp>

#include <random>

using namespace warren;
using namespace warren::packet;
using warren::test::hex;
using namespace warren::test::samples;
using warren::test::set_byte;

namespace {

packet_buffer udp6_packet() {
  auto s = *ipv6_address::parse("2001:db8::1");
  auto d = *ipv6_address::parse("2001:db8::2");
  auto buf = packet_buffer::allocate();
  (void)buf.append(as_byte_view("hello over v6"));
  (void)write_udp_header(buf, s, d, 1234, 53);
  (void)write_ipv6_header(buf, {.source = s, .destination = d, .next_header = ip_protocol::udp});
  return buf;
}
}  // namespace

TEST_CASE("parse_ip gives every layer of IPv4 packets", "[packet][ip]") {
  SECTION("UDP") {
    auto b = hex(udp4);
    auto p = parse_ip(b, verify::checksums);
    REQUIRE(p);
    CHECK(p->ipv4);
    CHECK_FALSE(p->ipv6);
    REQUIRE(p->udp);
    CHECK(p->udp->destination_port() == 7);
    CHECK(p->protocol() == ip_protocol::udp);
    CHECK(p->source().to_string() == "192.0.2.1");
    CHECK(p->transport_offset() == 20);
  }
  SECTION("ICMP") {
    auto b = hex(echo4);
    auto p = parse_ip(b, verify::checksums);
    REQUIRE(p);
    REQUIRE(p->icmpv4);
    CHECK(p->icmpv4->is_echo());
  }
  SECTION("TCP") {
    auto b = hex(syn4);
    auto p = parse_ip(b, verify::checksums);
    REQUIRE(p);
    REQUIRE(p->tcp);
    CHECK(p->tcp->mss() == 1460);
  }
}

TEST_CASE("parse_ip gives every layer of IPv6 packets", "[packet][ip]") {
  auto buf = udp6_packet();
  auto p = parse_ip(buf.bytes(), verify::checksums);
  REQUIRE(p);
  CHECK(p->is_v6());
  REQUIRE(p->udp);
  CHECK(p->udp->payload().size() == 13);
  CHECK(p->destination().to_string() == "2001:db8::2");
}

TEST_CASE("parse_ip with verify::checksums refuses every bad checksum", "[packet][ip]") {
  SECTION("IPv4 header") {
    auto b = hex(udp4);
    set_byte(b, 11, 0);
    CHECK(parse_ip(b).has_value());
    CHECK(parse_ip(b, verify::checksums).error() == errc::bad_checksum);
  }
  SECTION("UDP over IPv4") {
    auto b = hex(udp4);
    set_byte(b, 32, 'O');
    CHECK(parse_ip(b, verify::checksums).error() == errc::bad_checksum);
  }
  SECTION("TCP") {
    auto b = hex(syn4);
    set_byte(b, 24, 0xff);
    CHECK(parse_ip(b, verify::checksums).error() == errc::bad_checksum);
  }
  SECTION("ICMP") {
    auto b = hex(echo4);
    set_byte(b, 35, 0);
    CHECK(parse_ip(b, verify::checksums).error() == errc::bad_checksum);
  }
  SECTION("UDP over IPv6") {
    auto buf = udp6_packet();
    buf.bytes()[buf.size() - 1] = std::byte{0};
    CHECK(parse_ip(buf.bytes(), verify::checksums).error() == errc::bad_checksum);
  }
}

TEST_CASE("parse_ip leaves non-first fragments without a transport view", "[packet][ip]") {
  auto b = hex(udp4);
  store_be16(b.data() + 6, 0x0001);  // offset 8
  store_be16(b.data() + 10, 0);
  store_be16(b.data() + 10, internet_checksum(byte_view(b).first(20)));
  auto p = parse_ip(b, verify::checksums);
  REQUIRE(p);
  CHECK(p->is_fragment());
  CHECK_FALSE(p->udp);
}

TEST_CASE("parse_ip refuses what is not IP", "[packet][ip]") {
  CHECK(parse_ip({}).error() == errc::truncated);
  CHECK(parse_ip(hex("0000")).error() == errc::bad_version);
  CHECK(parse_ip(hex("45")).error() == errc::truncated);
  auto b = hex(udp4);
  store_be16(b.data() + 24, 4);  // UDP length 4
  CHECK(parse_ip(b).error() == errc::bad_header_length);
}

TEST_CASE("clamp_mss_to_mtu works on whole packets", "[packet][ip]") {
  auto b = hex(syn4);
  REQUIRE(*clamp_mss_to_mtu(b, 1420));
  auto p = parse_ip(b, verify::checksums);
  REQUIRE(p);
  CHECK(p->tcp->mss() == 1380);
  auto u = hex(udp4);
  CHECK_FALSE(*clamp_mss_to_mtu(u, 1420));
}

TEST_CASE("random bytes never crash the parser", "[packet][ip]") {
  // The fuzz targets do this at scale; this keeps a cheap version in every test run.
  std::mt19937 rng(42);
  std::vector<std::byte> data(128);
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    for (auto& x : data) x = static_cast<std::byte>(rng());
    data[0] = static_cast<std::byte>((i % 2 ? 0x45 : 0x60) | (rng() & 0x0f));
    std::size_t len = rng() % data.size();
    if (parse_ip(byte_view(data).first(len))) ++parsed;
  }
  CHECK(parsed < 20000);
}
