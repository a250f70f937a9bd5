#include <warren/wireguard/tai64n.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "support/bytes.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

using warren::wireguard::tai64n;
using namespace std::chrono_literals;

namespace {

std::chrono::system_clock::time_point unix_time(std::chrono::nanoseconds since_epoch) {
  return std::chrono::system_clock::time_point{
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch)};
}
std::vector<std::byte> bytes_of(const tai64n& t) {
  const auto a = t.to_bytes();
  return {a.begin(), a.end()};
}

}  // namespace

TEST_CASE("tai64n encodes the Unix epoch as label 2^62 + 10", "[wireguard]") {
  const tai64n t = tai64n::from_system_time(unix_time(0ns));
  REQUIRE(t.label_seconds() == 0x400000000000000aULL);
  REQUIRE(t.nanoseconds() == 0);
  REQUIRE(bytes_of(t) == warren::test::hex("40 00 00 00 00 00 00 0a  00 00 00 00"));
}

TEST_CASE("tai64n encodes a known time big-endian, nanoseconds whitened", "[wireguard]") {
  // 2020-01-01T00:00:00.123456789Z: Unix 1577836800 = 0x5e0be100. The nanoseconds round down
  // to 7 * 2^24 = 117440512 = 0x07000000, as wireguard-go's &^ whitenerMask gives.
  const tai64n t = tai64n::from_system_time(unix_time(1577836800s + 123456789ns));
  REQUIRE(t.label_seconds() == 0x400000005e0be10aULL);
  REQUIRE(t.nanoseconds() == 117440512);
  REQUIRE(bytes_of(t) == warren::test::hex("40 00 00 00 5e 0b e1 0a  07 00 00 00"));
  SECTION("and decodes back") {
    const auto wire = warren::test::hex("40 00 00 00 5e 0b e1 0a  07 00 00 00");
    REQUIRE(tai64n::from_bytes(std::span<const std::byte, 12>{wire.data(), 12}) == t);
  }
}

TEST_CASE("tai64n counts back from the epoch label before 1970", "[wireguard]") {
  // -1.5 s is second -2 plus 0.5 s, as Go's Unix() and Nanosecond() split it.
  const tai64n t = tai64n::from_system_time(unix_time(-1500ms));
  REQUIRE(t.label_seconds() == 0x4000000000000008ULL);
  REQUIRE(t.nanoseconds() == 486539264);  // 500000000 rounded down to 29 * 2^24
  REQUIRE(t < tai64n::from_system_time(unix_time(0ns)));
}

TEST_CASE("tai64n whitening hides time within one 2^24 ns step", "[wireguard]") {
  const auto second = 1700000000s;
  const auto step = std::chrono::nanoseconds{tai64n::whitening_granularity_ns};
  const tai64n start = tai64n::from_system_time(unix_time(second + 3 * step));
  SECTION("the last nanosecond of the step gives the same timestamp: not a newer initiation") {
    const tai64n same = tai64n::from_system_time(unix_time(second + 4 * step - 1ns));
    REQUIRE(same == start);
    REQUIRE_FALSE(same > start);
  }
  SECTION("the next step is strictly greater") {
    REQUIRE(tai64n::from_system_time(unix_time(second + 4 * step)) > start);
  }
  SECTION("the last step of a second is below the next second") {
    const tai64n late = tai64n::from_system_time(unix_time(second + 999'999'999ns));
    REQUIRE(late.nanoseconds() == 59 * tai64n::whitening_granularity_ns);  // 989855744
    REQUIRE(late < tai64n::from_system_time(unix_time(second + 1s)));
  }
  SECTION("one initiation per 20 ms (50 per second) always moves the timestamp forward") {
    tai64n last = start;
    for (int i = 1; i <= 500; ++i) {
      const tai64n next = tai64n::from_system_time(unix_time(second + 3 * step + i * 20ms));
      CAPTURE(i);
      REQUIRE(next > last);
      last = next;
    }
  }
}

TEST_CASE("tai64n orders seconds before nanoseconds", "[wireguard]") {
  const tai64n a{0x4000000000000100ULL, 999'999'999};
  const tai64n b{0x4000000000000101ULL, 0};
  REQUIRE(a < b);
  REQUIRE(b > a);
  REQUIRE(a != b);
  REQUIRE(tai64n{} < a);  // the initial "greatest seen" is below every real timestamp
  REQUIRE(tai64n{5, 1} > tai64n{5, 0});
  REQUIRE(tai64n{5, 1} == tai64n{5, 1});
}

TEST_CASE("tai64n compares as the byte-wise memcmp of its encoding", "[wireguard]") {
  // wireguard-go's After() and Linux's memcmp() see 12 opaque bytes; nanoseconds >= 10^9 from a
  // peer must order the same way here.
  std::mt19937_64 rng(42);
  auto random_bytes = [&] {
    std::array<std::byte, tai64n::size> out;
    for (auto& b : out) b = static_cast<std::byte>(rng() % 4 == 0 ? 0xff : rng() % 3);  // many ties
    return out;
  };
  for (int i = 0; i < 5000; ++i) {
    const auto x = random_bytes(), y = random_bytes();
    const tai64n tx = tai64n::from_bytes(x), ty = tai64n::from_bytes(y);
    REQUIRE(tx.to_bytes() == x);  // round trip keeps every bit
    const auto by_bytes = std::lexicographical_compare_three_way(
        x.begin(), x.end(), y.begin(), y.end(),
        [](std::byte l, std::byte r) { return std::to_integer<unsigned>(l) <=> std::to_integer<unsigned>(r); });
    CAPTURE(i);
    REQUIRE((tx <=> ty) == by_bytes);
  }
}

TEST_CASE("tai64n writes into a caller's buffer", "[wireguard]") {
  std::array<std::byte, 16> message{};
  tai64n{0x0102030405060708ULL, 0x090a0b0cU}.write(std::span{message}.subspan<2, 12>());
  REQUIRE(std::vector<std::byte>(message.begin(), message.end()) ==
          warren::test::hex("00 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 00 00"));
}
