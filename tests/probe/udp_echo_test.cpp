#include <warren/probe/udp_echo.hpp>
#include <catch2/catch_test_macros.hpp>

#include <cstddef>
#include <vector>

// The echo datagrams: a reply must be the request byte for byte, with only the type changed.

using warren::probe::echo_max_size;
using warren::probe::echo_min_size;
using warren::probe::echo_nonce;
using warren::probe::echo_probe;
using warren::probe::errc;
using warren::probe::is_echo_request;
using warren::probe::make_echo_reply;

namespace {
echo_probe probe_of(std::size_t size, std::byte fill = std::byte{0x5a}) {
  echo_probe p;
  p.nonce.fill(fill);
  p.size = size;
  return p;
}
std::vector<std::byte> request(const echo_probe& p, std::uint32_t seq) {
  std::vector<std::byte> d(p.size);
  p.write_request(seq, d);
  return d;
}
}  // namespace

TEST_CASE("udp echo request has the documented layout", "[probe]") {
  auto p = probe_of(40);
  auto d = request(p, 0x01020304);
  REQUIRE(d.size() == 40);
  CHECK(d[0] == std::byte{'w'});
  CHECK(d[7] == std::byte{'e'});
  CHECK(d[8] == std::byte{1});  // request
  CHECK(d[12] == std::byte{1});
  CHECK(d[15] == std::byte{4});
  CHECK(d[16] == std::byte{0x5a});
  CHECK(d[31] == std::byte{0x5a});
  CHECK(d[39] == std::byte{0});
  CHECK(is_echo_request(d));
}

TEST_CASE("udp echo reply matches only the exact echo of our request", "[probe]") {
  auto p = probe_of(64);
  auto d = request(p, 7);
  SECTION("the request itself is not a reply") {
    CHECK(p.match_reply(d).error() == errc::bad_reply);
  }
  REQUIRE(make_echo_reply(d));
  REQUIRE(p.match_reply(d));
  CHECK(*p.match_reply(d) == 7u);

  SECTION("another nonce (another prober, or an earlier round)") {
    auto other = probe_of(64, std::byte{0x11});
    CHECK_FALSE(other.match_reply(d));
  }
  SECTION("truncated or extended") {
    CHECK_FALSE(p.match_reply(std::span(d).first(63)));
    d.push_back(std::byte{0});
    CHECK_FALSE(p.match_reply(d));
  }
  SECTION("padding changed on the way") {
    d[50] = std::byte{1};
    CHECK_FALSE(p.match_reply(d));
  }
  SECTION("magic changed") {
    d[0] = std::byte{'W'};
    CHECK_FALSE(p.match_reply(d));
  }
  SECTION("reserved bytes set") {
    d[9] = std::byte{1};
    CHECK_FALSE(p.match_reply(d));
  }
  SECTION("shorter than a header") { CHECK_FALSE(p.match_reply(std::span(d).first(10))); }
}

TEST_CASE("udp echo responder side answers requests only", "[probe]") {
  auto p = probe_of(echo_min_size);
  auto d = request(p, 1);
  SECTION("a reply is not answered again, so two responders cannot loop") {
    REQUIRE(make_echo_reply(d));
    CHECK_FALSE(is_echo_request(d));
    CHECK_FALSE(make_echo_reply(d));
  }
  SECTION("too short or too long") {
    CHECK_FALSE(is_echo_request(std::span(d).first(echo_min_size - 1)));
    std::vector<std::byte> big(echo_max_size + 1);
    echo_probe q = probe_of(echo_max_size);
    q.write_request(1, std::span(big).first(echo_max_size));
    CHECK(is_echo_request(std::span(big).first(echo_max_size)));
    CHECK_FALSE(is_echo_request(big));
  }
  SECTION("other traffic: a WireGuard initiation's first bytes") {
    std::vector<std::byte> wg(148);
    wg[0] = std::byte{1};
    CHECK_FALSE(is_echo_request(wg));
    CHECK_FALSE(make_echo_reply(wg));
    CHECK(wg[0] == std::byte{1});
  }
}

TEST_CASE("udp echo sizes outside the range are not valid", "[probe]") {
  CHECK(probe_of(echo_min_size).valid_size());
  CHECK(probe_of(echo_max_size).valid_size());
  CHECK_FALSE(probe_of(echo_min_size - 1).valid_size());
  CHECK_FALSE(probe_of(echo_max_size + 1).valid_size());
}

TEST_CASE("udp echo: a probe larger than the largest datagram matches nothing and stays in bounds", "[probe]") {
  // Found by probe_echo_fuzz: match_reply built the expected reply in a buffer of the largest
  // legal size with the probe's own, larger size.
  warren::probe::echo_probe p;
  p.size = warren::probe::echo_max_size + 1;
  std::vector<std::byte> d(p.size);
  auto r = p.match_reply(d);
  REQUIRE_FALSE(r);
  REQUIRE(r.error() == warren::probe::errc::bad_reply);
}
