#include <warren/probe/echo_responder.hpp>
#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <vector>

// The responder core with a time value the test advances: what it answers, and its rate limit.

using namespace std::chrono_literals;
using warren::time_point;
using warren::probe::echo_probe;
using warren::probe::echo_responder;

namespace {
std::vector<std::byte> request(std::uint32_t seq) {
  echo_probe p;
  p.nonce.fill(std::byte{3});
  std::vector<std::byte> d(p.size);
  p.write_request(seq, d);
  return d;
}
}  // namespace

TEST_CASE("echo_responder turns a request into the reply the prober expects", "[probe]") {
  echo_responder r;
  echo_probe p;
  p.nonce.fill(std::byte{3});
  auto d = request(9);
  REQUIRE(r.on_datagram(d, time_point{}));
  CHECK(p.match_reply(d) == 9u);
  CHECK(r.counters().echoed == 1);
  SECTION("the reply fed back is not answered") {
    CHECK_FALSE(r.on_datagram(d, time_point{}));
    CHECK(r.counters().not_requests == 1);
  }
}

TEST_CASE("echo_responder ignores what is not a request", "[probe]") {
  echo_responder r;
  std::vector<std::byte> junk(100, std::byte{0xff});
  CHECK_FALSE(r.on_datagram(junk, time_point{}));
  CHECK_FALSE(r.on_datagram({}, time_point{}));
  CHECK(r.counters().not_requests == 2);
  CHECK(r.counters().echoed == 0);
}

TEST_CASE("echo_responder rate limit: a burst, then the sustained rate", "[probe]") {
  echo_responder r({.replies_per_second = 10, .burst = 3});
  time_point now{};
  int answered = 0;
  for (int i = 0; i < 5; ++i) {
    auto d = request(static_cast<std::uint32_t>(i));
    answered += r.on_datagram(d, now);
  }
  CHECK(answered == 3);
  CHECK(r.counters().rate_limited == 2);
  SECTION("100 ms later one more token at 10 per second") {
    now += 100ms;
    auto a = request(10), b = request(11);
    CHECK(r.on_datagram(a, now));
    CHECK_FALSE(r.on_datagram(b, now));
  }
  SECTION("a long quiet spell refills to the burst, no more") {
    now += 1h;
    int later = 0;
    for (int i = 0; i < 10; ++i) {
      auto d = request(static_cast<std::uint32_t>(i));
      later += r.on_datagram(d, now);
    }
    CHECK(later == 3);
  }
  SECTION("time going backwards adds nothing") {
    auto d = request(20);
    CHECK_FALSE(r.on_datagram(d, now - 1s));
  }
}
