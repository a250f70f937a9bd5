#include <warren/packet/ipv4.hpp>

#include "support/bytes.hpp"

#include <catch2/catch_test_macros.hpp>

using namespace warren;
using namespace warren::packet;
using warren::test::hex;
using namespace warren::test::samples;
using warren::test::set_byte;

namespace {
// The same with a Router Alert option (RFC 2113): IHL 6.
const char* udp4_opts = "460000251c4640004011057ac0000201c0000202940400009c400007000d9bb668656c6c6f";
}  // namespace

TEST_CASE("ipv4 view reads every header field", "[packet][ipv4]") {
  auto bytes = hex(udp4);
  auto v = ipv4_view::parse(bytes);
  REQUIRE(v);
  CHECK(v->header_length() == 20);
  CHECK(v->total_length() == 33);
  CHECK(v->identification() == 0x1c46);
  CHECK(v->dont_fragment());
  CHECK_FALSE(v->more_fragments());
  CHECK(v->fragment_offset() == 0);
  CHECK_FALSE(v->is_fragment());
  CHECK(v->ttl() == 64);
  CHECK(v->protocol() == ip_protocol::udp);
  CHECK(v->source().to_string() == "192.0.2.1");
  CHECK(v->destination().to_string() == "192.0.2.2");
  CHECK(v->checksum() == 0x9a82);
  CHECK(v->checksum_valid());
  CHECK(v->payload().size() == 13);
  CHECK(v->options().empty());
}

TEST_CASE("ipv4 options are walked", "[packet][ipv4]") {
  auto bytes = hex(udp4_opts);
  auto v = ipv4_view::parse(bytes);
  REQUIRE(v);
  CHECK(v->header_length() == 24);
  CHECK(v->checksum_valid());
  int count = 0;
  v->for_each_option([&](const ipv4_option& o) {
    ++count;
    CHECK(o.type == 0x94);
    CHECK(o.data.size() == 2);
  });
  CHECK(count == 1);
}

TEST_CASE("ipv4 fragments are flagged", "[packet][ipv4]") {
  auto bytes = hex(udp4);
  SECTION("first fragment: more fragments set") {
    store_be16(bytes.data() + 6, 0x2000);
    auto v = ipv4_view::parse(bytes);
    REQUIRE(v);
    CHECK(v->is_fragment());
    CHECK(v->fragment_offset() == 0);
  }
  SECTION("later fragment: offset in 8-byte units") {
    store_be16(bytes.data() + 6, 0x0003);
    auto v = ipv4_view::parse(bytes);
    REQUIRE(v);
    CHECK(v->is_fragment());
    CHECK(v->fragment_offset() == 24);
  }
}

TEST_CASE("ipv4 trailing link padding is ignored", "[packet][ipv4]") {
  auto bytes = hex(udp4);
  bytes.resize(bytes.size() + 7);
  auto v = ipv4_view::parse(bytes);
  REQUIRE(v);
  CHECK(v->bytes().size() == 33);
  CHECK(v->payload().size() == 13);
}

TEST_CASE("malformed ipv4 is refused with the right error", "[packet][ipv4]") {
  auto bytes = hex(udp4);
  auto err = [](byte_view b) { return ipv4_view::parse(b).error(); };
  SECTION("empty") { CHECK(err({}) == errc::truncated); }
  SECTION("shorter than the minimum header") { CHECK(err(byte_view(bytes).first(19)) == errc::truncated); }
  SECTION("shorter than the total length says") { CHECK(err(byte_view(bytes).first(32)) == errc::truncated); }
  SECTION("wrong version") {
    set_byte(bytes, 0, 0x65);
    CHECK(err(bytes) == errc::bad_version);
  }
  SECTION("IHL below 5") {
    set_byte(bytes, 0, 0x44);
    CHECK(err(bytes) == errc::bad_header_length);
  }
  SECTION("IHL past the buffer") {
    set_byte(bytes, 0, 0x4f);
    CHECK(err(byte_view(bytes).first(24)) == errc::truncated);
  }
  SECTION("total length below the header length") {
    store_be16(bytes.data() + 2, 19);
    CHECK(err(bytes) == errc::bad_length);
  }
  SECTION("oversized: total length beyond the bytes present") {
    store_be16(bytes.data() + 2, 0xffff);
    CHECK(err(bytes) == errc::truncated);
  }
  SECTION("option length zero") {
    auto o = hex(udp4_opts);
    set_byte(o, 21, 0);
    CHECK(err(o) == errc::bad_option);
  }
  SECTION("option running past the header") {
    auto o = hex(udp4_opts);
    set_byte(o, 21, 9);
    CHECK(err(o) == errc::bad_option);
  }
  SECTION("bad checksum parses but does not verify") {
    set_byte(bytes, 10, 0);
    auto v = ipv4_view::parse(bytes);
    REQUIRE(v);
    CHECK_FALSE(v->checksum_valid());
  }
}

TEST_CASE("a quoted ipv4 packet may stop after its header", "[packet][ipv4]") {
  auto bytes = hex(udp4);
  byte_view quote = byte_view(bytes).first(28);
  CHECK(ipv4_view::parse(quote).error() == errc::truncated);
  auto v = ipv4_view::parse_quoted(quote);
  REQUIRE(v);
  CHECK(v->truncated());
  CHECK(v->payload().size() == 8);
  CHECK(ipv4_view::parse_quoted(byte_view(bytes).first(19)).error() == errc::truncated);
}

TEST_CASE("write_ipv4_header builds a header that parses and verifies", "[packet][ipv4]") {
  auto buf = packet_buffer::allocate();
  REQUIRE(buf.append(as_byte_view("payload!")));
  ipv4_header_fields f{.source = *ipv4_address::parse("198.18.0.1"),
                       .destination = *ipv4_address::parse("198.18.0.2"),
                       .protocol = ip_protocol::tcp, .ttl = 7, .identification = 99, .dont_fragment = false,
                       .dscp = 46, .ecn = 1};
  REQUIRE(write_ipv4_header(buf, f));
  auto v = ipv4_view::parse(buf.bytes());
  REQUIRE(v);
  CHECK(v->checksum_valid());
  CHECK(v->total_length() == 28);
  CHECK(v->ttl() == 7);
  CHECK(v->identification() == 99);
  CHECK_FALSE(v->dont_fragment());
  CHECK(v->dscp() == 46);
  CHECK(v->ecn() == 1);
  CHECK(v->protocol() == ip_protocol::tcp);
  CHECK(v->source() == f.source);
  CHECK(v->destination() == f.destination);

  SECTION("no headroom is an error, not an overflow") {
    packet_buffer tight = packet_buffer::allocate(64, 10);
    CHECK(write_ipv4_header(tight, f).error() == core::errc::no_headroom);
  }
}
