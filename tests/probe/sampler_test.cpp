#include <warren/probe/sampler.hpp>
#include <catch2/catch_test_macros.hpp>

#include <chrono>

// The sampler driven by hand with a time value the test advances: which sample goes out when,
// what times out, and that a late reply never counts.

using namespace std::chrono_literals;
using warren::time_point;
using warren::probe::errc;
using warren::probe::sampler;

TEST_CASE("sampler sends the first sample at once and then one per interval", "[probe]") {
  time_point now{};
  sampler s({.count = 3, .interval = 100ms, .timeout = 50ms});
  REQUIRE(s.next_deadline());
  CHECK(*s.next_deadline() <= now);  // due before the first poll

  auto st = s.poll(now);
  REQUIRE(st.send == 0u);
  CHECK_FALSE(st.expired);
  CHECK(s.next_deadline() == now + 50ms);  // the timeout of sample 0

  CHECK(s.on_reply(0, now + 10ms));
  CHECK(s.next_deadline() == now + 100ms);  // the interval, counted from the send
  CHECK_FALSE(s.poll(now + 99ms).send);
  CHECK(s.poll(now + 100ms).send == 1u);
  CHECK(s.on_reply(1, now + 130ms));
  CHECK(s.poll(now + 200ms).send == 2u);
  CHECK(s.on_reply(2, now + 201ms));
  CHECK(s.done());
  CHECK_FALSE(s.next_deadline());

  REQUIRE(s.samples().size() == 3);
  CHECK(s.samples()[0].rtt == 10ms);
  CHECK(s.samples()[1].rtt == 30ms);
  CHECK(s.samples()[2].rtt == 1ms);
}

TEST_CASE("sampler times a sample out at its deadline and counts it lost", "[probe]") {
  time_point now{};
  sampler s({.count = 2, .interval = 10ms, .timeout = 100ms});
  REQUIRE(s.poll(now).send == 0u);
  CHECK_FALSE(s.poll(now + 99ms).expired);
  auto st = s.poll(now + 100ms);
  CHECK(st.expired == 0u);
  CHECK(st.send == 1u);  // the interval has long passed: the next goes at once
  REQUIRE(s.samples().size() == 1);
  CHECK(s.samples()[0].lost());
  CHECK(s.samples()[0].error == errc::timeout);

  SECTION("a reply to the expired sample does not count for the one in flight") {
    CHECK_FALSE(s.on_reply(0, now + 150ms));
    CHECK(s.in_flight() == 1u);
    CHECK(s.samples().size() == 1);
  }
  SECTION("a reply after the deadline that gets in before the poll is lost all the same") {
    // The adapter's timer fired late: the reply came at 250 ms for a send at 100 ms.
    CHECK_FALSE(s.on_reply(1, now + 250ms));
    CHECK(s.done());
    CHECK(s.samples()[1].lost());
    CHECK(s.samples()[1].error == errc::timeout);
  }
}

TEST_CASE("sampler ignores replies it is not waiting for", "[probe]") {
  time_point now{};
  sampler s({.count = 2, .interval = 10ms, .timeout = 100ms});
  REQUIRE(s.poll(now).send == 0u);
  CHECK_FALSE(s.on_reply(1, now + 1ms));   // not sent yet
  CHECK_FALSE(s.on_reply(77, now + 1ms));  // never
  CHECK(s.on_reply(0, now + 2ms));
  CHECK_FALSE(s.on_reply(0, now + 3ms));  // a duplicate
  REQUIRE(s.samples().size() == 1);
  CHECK(s.samples()[0].rtt == 2ms);
}

TEST_CASE("sampler records failures with their reason", "[probe]") {
  time_point now{};
  sampler s({.count = 2, .interval = 10ms, .timeout = 100ms});
  REQUIRE(s.poll(now).send == 0u);
  CHECK(s.on_failure(0, make_error_code(errc::refused), now + 1ms));
  CHECK_FALSE(s.on_failure(0, make_error_code(errc::refused), now + 2ms));
  CHECK(s.samples()[0].error == errc::refused);
  CHECK(s.samples()[0].lost());
  SECTION("a measured sample can carry a note") {
    REQUIRE(s.poll(now + 10ms).send == 1u);
    CHECK(s.on_reply(1, now + 15ms, make_error_code(errc::refused)));
    CHECK(s.samples()[1].rtt == 5ms);
    CHECK(s.samples()[1].error == errc::refused);
  }
}

TEST_CASE("sampler waits min_gap after a slow sample before the next", "[probe]") {
  time_point now{};
  sampler s({.count = 3, .interval = 10ms, .timeout = 1s, .min_gap = 40ms});
  REQUIRE(s.poll(now).send == 0u);
  CHECK(s.on_reply(0, now + 30ms));
  // interval says 10 ms, but the gap after the reply at 30 ms says 70 ms
  CHECK(s.next_deadline() == now + 70ms);
  CHECK_FALSE(s.poll(now + 69ms).send);
  CHECK(s.poll(now + 70ms).send == 1u);
  SECTION("after a timeout the gap counts from the deadline") {
    auto st = s.poll(now + 70ms + 1s);
    CHECK(st.expired == 1u);
    CHECK_FALSE(st.send);
    CHECK(s.next_deadline() == now + 70ms + 1s + 40ms);
  }
}

TEST_CASE("sampler on_sent moves the start of the round trip and of the timeout", "[probe]") {
  time_point now{};
  sampler s({.count = 1, .interval = 10ms, .timeout = 100ms});
  REQUIRE(s.poll(now).send == 0u);
  s.on_sent(0, now + 5ms);  // building the request took 5 ms
  CHECK(s.next_deadline() == now + 105ms);
  CHECK_FALSE(s.poll(now + 100ms).expired);
  CHECK(s.on_reply(0, now + 25ms));
  CHECK(s.samples()[0].rtt == 20ms);
}

TEST_CASE("sampler abort loses every unfinished sample", "[probe]") {
  time_point now{};
  sampler s({.count = 4, .interval = 10ms, .timeout = 100ms});
  REQUIRE(s.poll(now).send == 0u);
  CHECK(s.on_reply(0, now + 1ms));
  REQUIRE(s.poll(now + 10ms).send == 1u);
  s.abort(make_error_code(errc::unreachable));
  CHECK(s.done());
  CHECK_FALSE(s.next_deadline());
  REQUIRE(s.samples().size() == 4);
  CHECK_FALSE(s.samples()[0].lost());
  for (std::size_t i = 1; i < 4; ++i) {
    CHECK(s.samples()[i].lost());
    CHECK(s.samples()[i].error == errc::unreachable);
  }
  CHECK_FALSE(s.poll(now + 1s).send);
}

TEST_CASE("sampler with no samples is done at once", "[probe]") {
  sampler s({.count = 0});
  CHECK(s.done());
  CHECK_FALSE(s.next_deadline());
  CHECK_FALSE(s.poll(time_point{}).send);
}
