#include <warren/packet/checksum.hpp>

#include "support/bytes.hpp"

#include <catch2/catch_test_macros.hpp>

#include <random>

using namespace warren;
using namespace warren::packet;
using warren::test::hex;

namespace {
// The textbook definition (RFC 1071 §4.1), one 16-bit big-endian word at a time.
std::uint16_t reference_checksum(byte_view d) {
  std::uint32_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < d.size(); i += 2) sum += load_be16(d.data() + i);
  if (i < d.size()) sum += std::uint32_t{load_u8(d.data() + i)} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}
}  // namespace

TEST_CASE("internet checksum matches known values", "[packet][checksum]") {
  SECTION("RFC 1071 §3 example words") {
    auto d = hex("0001 f203 f4f5 f6f7");
    REQUIRE(internet_checksum(d) == static_cast<std::uint16_t>(~0xddf2u));
  }
  SECTION("an IPv4 header with its checksum field zeroed") {
    auto h = hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7");
    REQUIRE(internet_checksum(h) == 0xb861);
  }
  SECTION("the same header with the checksum in place verifies") {
    auto h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
    REQUIRE(checksum_accumulator{}.add(h).verifies());
    h[11] = std::byte{0x62};
    REQUIRE_FALSE(checksum_accumulator{}.add(h).verifies());
  }
  SECTION("odd length pads the last byte with zero") {
    auto d = hex("0102 03");
    REQUIRE(internet_checksum(d) == static_cast<std::uint16_t>(~(0x0102u + 0x0300u)));
  }
  SECTION("empty data") { REQUIRE(internet_checksum({}) == 0xffff); }
}

TEST_CASE("fast checksum equals the word-by-word definition at every length and offset", "[packet][checksum]") {
  std::mt19937 rng(1071);
  std::vector<std::byte> data(4000);
  for (auto& b : data) b = static_cast<std::byte>(rng());
  for (std::size_t len = 0; len < 300; ++len) {
    for (std::size_t off = 0; off < 4; ++off) {
      byte_view d{data.data() + off, len};
      REQUIRE(internet_checksum(d) == reference_checksum(d));
    }
  }
  byte_view big{data.data() + 1, 3999};
  REQUIRE(internet_checksum(big) == reference_checksum(big));
}

TEST_CASE("parts summed in order equal the whole", "[packet][checksum]") {
  auto d = hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7 0102 0304 05");
  byte_view all = d;
  auto split = checksum_accumulator{}.add(all.first(6)).add(all.subspan(6, 10)).add(all.subspan(16)).checksum();
  REQUIRE(split == internet_checksum(all));
  REQUIRE(checksum_accumulator{}.add16(0x1234).add32(0x56789abc).checksum() ==
          internet_checksum(hex("1234 5678 9abc")));
}

TEST_CASE("incremental update (RFC 1624) equals full recomputation on random packets", "[packet][checksum]") {
  std::mt19937 rng(1624);
  for (int round = 0; round < 2000; ++round) {
    std::size_t len = 20 + rng() % 1480;
    len &= ~std::size_t{1};
    std::vector<std::byte> pkt(len);
    for (auto& b : pkt) b = static_cast<std::byte>(rng());
    store_be16(pkt.data() + 10, 0);
    store_be16(pkt.data() + 10, internet_checksum(pkt));
    auto sum = load_be16(pkt.data() + 10);

    // Change a random 16-bit word (not the checksum) or a 32-bit "address".
    std::size_t at = (12 + rng() % (len - 16)) & ~std::size_t{1};
    if (rng() % 2) {
      auto old_v = load_be16(pkt.data() + at);
      auto new_v = static_cast<std::uint16_t>(rng());
      store_be16(pkt.data() + at, new_v);
      sum = checksum_update(sum, old_v, new_v);
    } else {
      auto old_v = load_be32(pkt.data() + at);
      auto new_v = static_cast<std::uint32_t>(rng());
      store_be32(pkt.data() + at, new_v);
      sum = checksum_update32(sum, old_v, new_v);
    }
    store_be16(pkt.data() + 10, sum);
    INFO("round " << round << " length " << len << " at " << at);
    REQUIRE(checksum_accumulator{}.add(pkt).verifies());
    store_be16(pkt.data() + 10, 0);
    auto full = internet_checksum(pkt);
    // 0x0000 and 0xffff are the same number in one's complement.
    REQUIRE((sum == full || (sum == 0xffff && full == 0) || (sum == 0 && full == 0xffff)));
  }
}

TEST_CASE("byte-span update handles a NAT address rewrite", "[packet][checksum]") {
  auto h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
  auto old_src = hex("c0a8 0001");
  auto new_src = hex("0a64 0002");
  std::memcpy(h.data() + 12, new_src.data(), 4);
  store_be16(h.data() + 10, checksum_update(0xb861, old_src, new_src));
  REQUIRE(checksum_accumulator{}.add(h).verifies());
}

TEST_CASE("pseudo-header sum covers addresses, protocol and length", "[packet][checksum]") {
  auto src = ip_address(*ipv4_address::parse("192.0.2.1"));
  auto dst = ip_address(*ipv4_address::parse("192.0.2.2"));
  auto expect = internet_checksum(hex("c000 0201 c000 0202 0011 0008"));
  REQUIRE(pseudo_header_sum(src, dst, ip_protocol::udp, 8).checksum() == expect);
  auto v6 = ip_address(*ipv6_address::parse("2001:db8::1"));
  REQUIRE(pseudo_header_sum(v6, v6, ip_protocol::udp, 8).checksum() != pseudo_header_sum(v6, v6, ip_protocol::tcp, 8).checksum());
}
