#include <warren/packet/tcp.hpp>

#include "support/bytes.hpp"

#include <catch2/catch_test_macros.hpp>

using namespace warren;
using namespace warren::packet;
using warren::test::hex;
using warren::test::set_byte;

namespace {
const auto src = ip_address(*ipv4_address::parse("192.0.2.1"));
const auto dst = ip_address(*ipv4_address::parse("192.0.2.2"));
// A SYN 40001 -> 80 with MSS 1460, SACK permitted, timestamps, NOP, window scale 7; the
// checksum is for 192.0.2.1 -> 192.0.2.2, computed by hand.
const char* syn = "9c41 0050 0000 03e8 0000 0000 a002 faf0 2891 0000"
                  "0204 05b4 0402 080a 0000 0001 0000 0000 0103 0307";
}  // namespace

TEST_CASE("tcp view reads header fields and options", "[packet][tcp]") {
  auto s = hex(syn);
  auto t = tcp_view::parse(s);
  REQUIRE(t);
  CHECK(t->source_port() == 40001);
  CHECK(t->destination_port() == 80);
  CHECK(t->sequence_number() == 1000);
  CHECK(t->acknowledgment_number() == 0);
  CHECK(t->header_length() == 40);
  CHECK(t->has(tcp_flags::syn));
  CHECK_FALSE(t->has(tcp_flags::ack));
  CHECK(t->window() == 64240);
  CHECK(t->mss() == 1460);
  CHECK(t->window_scale() == 7);
  CHECK(t->sack_permitted());
  CHECK(t->payload().empty());
  CHECK(t->checksum_valid(src, dst));
  int kinds = 0;
  t->for_each_option([&](const tcp_option& o) {
    ++kinds;
    if (o.kind == tcp_option_kind::timestamps) CHECK(load_be32(o.data.data()) == 1);
  });
  CHECK(kinds == 4);
}

TEST_CASE("malformed tcp is refused", "[packet][tcp]") {
  auto s = hex(syn);
  SECTION("shorter than the minimum header") { CHECK(tcp_view::parse(byte_view(s).first(19)).error() == errc::truncated); }
  SECTION("data offset below 5") {
    set_byte(s, 12, 0x40);
    CHECK(tcp_view::parse(s).error() == errc::bad_header_length);
  }
  SECTION("data offset past the segment") {
    set_byte(s, 12, 0xf0);
    CHECK(tcp_view::parse(s).error() == errc::truncated);
  }
  SECTION("option length below 2") {
    set_byte(s, 21, 1);
    CHECK(tcp_view::parse(s).error() == errc::bad_option);
  }
  SECTION("option running past the header") {
    set_byte(s, 38, 9);  // window scale at offset 37 claims 9 bytes
    CHECK(tcp_view::parse(s).error() == errc::bad_option);
  }
  SECTION("option kind as the last byte with no length") {
    set_byte(s, 36, 1);
    set_byte(s, 37, 1);
    set_byte(s, 38, 1);
    set_byte(s, 39, 3);
    CHECK(tcp_view::parse(s).error() == errc::bad_option);
  }
  SECTION("bad checksum") {
    set_byte(s, 17, 0);
    CHECK_FALSE(tcp_view::parse(s)->checksum_valid(src, dst));
  }
}

TEST_CASE("MSS clamping lowers a SYN's MSS and keeps the checksum valid", "[packet][tcp]") {
  auto s = hex(syn);
  SECTION("clamped to 1380") {
    auto changed = clamp_tcp_mss(s, 1380);
    REQUIRE(changed);
    CHECK(*changed);
    auto t = tcp_view::parse(s);
    CHECK(t->mss() == 1380);
    CHECK(t->checksum_valid(src, dst));
  }
  SECTION("already small enough: unchanged") {
    auto before = s;
    CHECK_FALSE(*clamp_tcp_mss(s, 1500));
    CHECK(s == before);
  }
  SECTION("not a SYN: unchanged") {
    set_byte(s, 13, tcp_flags::ack);
    auto before = s;
    CHECK_FALSE(*clamp_tcp_mss(s, 536));
    CHECK(s == before);
  }
  SECTION("MSS at an odd offset after a NOP") {
    // NOP, MSS 1460, NOP NOP NOP, then End: the value straddles two 16-bit words.
    auto odd = hex("9c41 0050 0000 03e8 0000 0000 7002 faf0 0000 0000 0102 0405 b401 0101 0000 0000");
    store_be16(odd.data() + 16, pseudo_header_sum(src, dst, ip_protocol::tcp, 32).add(odd).checksum());
    REQUIRE(tcp_view::parse(odd)->checksum_valid(src, dst));
    REQUIRE(*clamp_tcp_mss(odd, 1200));
    auto t = tcp_view::parse(odd);
    CHECK(t->mss() == 1200);
    CHECK(t->checksum_valid(src, dst));
  }
  SECTION("malformed segment: error") { CHECK_FALSE(clamp_tcp_mss(std::span(s).first(10), 1000)); }
  CHECK(mss_for_mtu(1420, false) == 1380);
  CHECK(mss_for_mtu(1420, true) == 1360);
}

TEST_CASE("write_tcp_header pads options and computes the checksum", "[packet][tcp]") {
  auto buf = packet_buffer::allocate();
  REQUIRE(buf.append(as_byte_view("GET /")));
  auto mss = hex("0204 0578 01");  // MSS 1400 and a NOP: padded to 8
  REQUIRE(write_tcp_header(buf, src, dst,
                           {.source_port = 1, .destination_port = 2, .sequence_number = 3,
                            .acknowledgment_number = 4, .flags = tcp_flags::syn | tcp_flags::ack,
                            .window = 5, .options = mss}));
  auto t = tcp_view::parse(buf.bytes());
  REQUIRE(t);
  CHECK(t->header_length() == 28);
  CHECK(t->mss() == 1400);
  CHECK(t->payload().size() == 5);
  CHECK(t->checksum_valid(src, dst));
}
