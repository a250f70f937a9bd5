#include <warren/probe/sample_stats.hpp>
#include <catch2/catch_test_macros.hpp>

#include <warren/probe/error.hpp>

#include <chrono>
#include <vector>

// Hand-made samples with known answers; every expected value is worked out in the comment.

using namespace std::chrono_literals;
using warren::duration;
using warren::probe::errc;
using warren::probe::sample;
using warren::probe::summarize;

namespace {
sample ms(long long v) { return sample::measured(std::chrono::milliseconds(v)); }
sample lost() { return sample::lost_by(make_error_code(errc::timeout)); }
}  // namespace

TEST_CASE("sample_stats of measured samples: min, max, median, mean and jitter", "[probe]") {
  SECTION("odd count: the middle one is the median") {
    // 10 30 20 50 40 -> sorted 10 20 30 40 50; mean 30; steps 20 10 30 10 -> jitter 70/4 = 17.5
    std::vector<sample> s{ms(10), ms(30), ms(20), ms(50), ms(40)};
    auto st = summarize(s);
    CHECK(st.sent == 5);
    CHECK(st.received == 5);
    CHECK(st.loss == 0.0);
    CHECK(st.min == 10ms);
    CHECK(st.max == 50ms);
    CHECK(st.median == 30ms);
    CHECK(st.mean == 30ms);
    CHECK(st.jitter == 17500us);
    CHECK(st.reachable());
  }
  SECTION("even count: the mean of the middle two") {
    // 40 10 30 20 -> sorted 10 20 30 40, median (20 + 30) / 2 = 25; mean 25
    std::vector<sample> s{ms(40), ms(10), ms(30), ms(20)};
    auto st = summarize(s);
    CHECK(st.median == 25ms);
    CHECK(st.mean == 25ms);
    // steps 30 20 10 -> 60 / 3 = 20
    CHECK(st.jitter == 20ms);
  }
  SECTION("one sample: no jitter") {
    std::vector<sample> s{ms(7)};
    auto st = summarize(s);
    CHECK(st.median == 7ms);
    CHECK(st.min == 7ms);
    CHECK(st.max == 7ms);
    CHECK(st.jitter == 0ms);
  }
  SECTION("steady samples have no jitter, whatever the latency") {
    std::vector<sample> s{ms(80), ms(80), ms(80)};
    CHECK(summarize(s).jitter == 0ms);
  }
}

TEST_CASE("sample_stats jitter follows the send order, not the sorted order", "[probe]") {
  // Same values, different order: 10 20 30 40 has jitter 10; 10 40 20 30 has (30+20+10)/3 = 20.
  std::vector<sample> smooth{ms(10), ms(20), ms(30), ms(40)};
  std::vector<sample> jumpy{ms(10), ms(40), ms(20), ms(30)};
  CHECK(summarize(smooth).jitter == 10ms);
  CHECK(summarize(jumpy).jitter == 20ms);
  CHECK(summarize(smooth).median == summarize(jumpy).median);
}

TEST_CASE("sample_stats counts losses and leaves them out of the latencies", "[probe]") {
  SECTION("two lost of five") {
    // measured 10, 30, 20 in that order (lost ones skipped): jitter (20 + 10) / 2 = 15
    std::vector<sample> s{ms(10), lost(), ms(30), lost(), ms(20)};
    auto st = summarize(s);
    CHECK(st.sent == 5);
    CHECK(st.received == 3);
    CHECK(st.loss == 0.4);
    CHECK(st.median == 20ms);
    CHECK(st.min == 10ms);
    CHECK(st.jitter == 15ms);
  }
  SECTION("all lost: unreachable, loss 1, no latencies") {
    std::vector<sample> s{lost(), lost()};
    auto st = summarize(s);
    CHECK(st.sent == 2);
    CHECK(st.received == 0);
    CHECK(st.loss == 1.0);
    CHECK_FALSE(st.reachable());
    CHECK(st.median == duration{});
  }
  SECTION("nothing sent counts as all lost, so it is never chosen") {
    auto st = summarize({});
    CHECK(st.sent == 0);
    CHECK(st.loss == 1.0);
    CHECK_FALSE(st.reachable());
  }
  SECTION("a refused connect that measured a round trip counts as received") {
    std::vector<sample> s{sample::measured(5ms, make_error_code(errc::refused))};
    auto st = summarize(s);
    CHECK(st.received == 1);
    CHECK(st.median == 5ms);
  }
}
