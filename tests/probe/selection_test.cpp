#include <warren/probe/selection.hpp>
#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <string>
#include <vector>

// Selection from hand-made statistics: no sockets, no clock.

using namespace std::chrono_literals;
using warren::duration;
using warren::probe::best;
using warren::probe::candidate;
using warren::probe::sample_stats;
using warren::probe::score;
using warren::probe::selection_options;
using warren::probe::selector;

namespace {
// A candidate with this median (and jitter), `received` of `sent` samples back.
candidate server(std::string id, duration median, double load = 0, std::size_t received = 5, std::size_t sent = 5,
                 duration jitter = {}) {
  sample_stats st;
  st.sent = sent;
  st.received = received;
  st.loss = sent ? static_cast<double>(sent - received) / static_cast<double>(sent) : 1.0;
  if (received) st.min = st.max = st.median = st.mean = median;
  st.jitter = jitter;
  return {std::move(id), st, load};
}
}  // namespace

TEST_CASE("score is the median weighted by jitter, loss and load as documented", "[probe]") {
  selection_options o;
  SECTION("defaults: median times (1 + loss)") {
    CHECK(*score(server("a", 20ms), o) == 20ms);
    CHECK(*score(server("a", 20ms, 0, 9, 10), o) == 22ms);  // 10% loss
    CHECK(*score(server("a", 20ms, 100), o) == 20ms);       // load ignored by default
  }
  SECTION("load weight: a full server counts as twice as far with weight 1") {
    o.load_weight = 1;
    CHECK(*score(server("a", 20ms, 100), o) == 40ms);
    CHECK(*score(server("a", 20ms, 50), o) == 30ms);
    CHECK(*score(server("a", 20ms, 250), o) == 40ms);  // clamped to 100
    CHECK(*score(server("a", 20ms, -5), o) == 20ms);   // clamped to 0
  }
  SECTION("jitter weight adds jitter to the median") {
    o.jitter_weight = 2;
    CHECK(*score(server("a", 20ms, 0, 5, 5, 3ms), o) == 26ms);
  }
  SECTION("negative weights are ignored rather than rewarding loss") {
    o.loss_weight = -1;
    CHECK(*score(server("a", 20ms, 0, 5, 10), o) == 20ms);
  }
  SECTION("nothing received: not eligible") { CHECK_FALSE(score(server("a", 20ms, 0, 0, 5), o)); }
  SECTION("more loss than max_loss: not eligible") {
    o.max_loss = 0.5;
    CHECK_FALSE(score(server("a", 20ms, 0, 2, 5), o));  // 60% lost
    CHECK(score(server("a", 20ms, 0, 3, 5), o));         // 40% lost
  }
}

TEST_CASE("best picks the lowest score, deterministically", "[probe]") {
  selection_options o;
  SECTION("lowest median") {
    std::vector<candidate> cs{server("a", 30ms), server("b", 10ms), server("c", 20ms)};
    CHECK(best(cs, o) == 1u);
  }
  SECTION("candidates that received nothing are never chosen, however low their numbers") {
    std::vector<candidate> cs{server("dead", 0ms, 0, 0, 5), server("slow", 300ms)};
    CHECK(best(cs, o) == 1u);
  }
  SECTION("none eligible: no choice") {
    std::vector<candidate> cs{server("a", 10ms, 0, 0, 5), server("b", 10ms, 0, 0, 0)};
    CHECK_FALSE(best(cs, o));
    CHECK_FALSE(best({}, o));
  }
  SECTION("loss outweighs a slightly lower median") {
    // 20 ms with 40% loss scores 28 ms; 25 ms clean scores 25 ms.
    std::vector<candidate> cs{server("lossy", 20ms, 0, 3, 5), server("clean", 25ms)};
    CHECK(best(cs, o) == 1u);
  }
  SECTION("load weighting moves the choice off a busy server") {
    std::vector<candidate> cs{server("busy", 20ms, 90), server("idle", 30ms, 10)};
    CHECK(best(cs, o) == 0u);  // load ignored
    o.load_weight = 1;         // 20 * 1.9 = 38 against 30 * 1.1 = 33
    CHECK(best(cs, o) == 1u);
  }
  SECTION("ties go to the smaller id, whatever the order") {
    std::vector<candidate> ab{server("a", 10ms), server("b", 10ms)};
    std::vector<candidate> ba{server("b", 10ms), server("a", 10ms)};
    CHECK(best(ab, o) == 0u);
    CHECK(best(ba, o) == 1u);
  }
  SECTION("equal ids and scores: the earlier candidate") {
    std::vector<candidate> cs{server("x", 10ms), server("x", 10ms)};
    CHECK(best(cs, o) == 0u);
  }
}

TEST_CASE("selector does not flap between servers within noise", "[probe]") {
  // Defaults: switch only when the best is better by more than max(5 ms, 10% of the current).
  selector sel;
  std::vector<candidate> round1{server("a", 20ms), server("b", 21ms)};
  REQUIRE(sel.select(round1) == 0u);
  REQUIRE(sel.current() == "a");

  SECTION("b ahead by 1 ms, then a again, then b: stays on a throughout") {
    std::vector<candidate> r2{server("a", 21ms), server("b", 20ms)};
    std::vector<candidate> r3{server("a", 20ms), server("b", 22ms)};
    std::vector<candidate> r4{server("a", 23ms), server("b", 19ms)};  // 4 ms: below 5 ms
    CHECK(sel.select(r2) == 0u);
    CHECK(sel.select(r3) == 0u);
    CHECK(sel.select(r4) == 0u);
    CHECK(sel.current() == "a");
  }
  SECTION("a real gap switches") {
    std::vector<candidate> r2{server("a", 40ms), server("b", 20ms)};
    CHECK(sel.select(r2) == 1u);
    CHECK(sel.current() == "b");
    // and it is sticky the other way too
    std::vector<candidate> r3{server("a", 19ms), server("b", 21ms)};
    CHECK(sel.select(r3) == 1u);
  }
  SECTION("the returned index follows the current server when the order changes") {
    std::vector<candidate> r2{server("b", 20ms), server("c", 50ms), server("a", 21ms)};
    CHECK(sel.select(r2) == 2u);
  }
  SECTION("the current server going dark switches at once, even to a worse one") {
    std::vector<candidate> r2{server("a", 10ms, 0, 0, 5), server("b", 35ms)};
    CHECK(sel.select(r2) == 1u);
    CHECK(sel.current() == "b");
  }
  SECTION("the current server missing from the round switches at once") {
    std::vector<candidate> r2{server("b", 21ms), server("c", 23ms)};
    CHECK(sel.select(r2) == 0u);
    CHECK(sel.current() == "b");
  }
  SECTION("a round with nothing eligible keeps the current choice for later") {
    std::vector<candidate> down{server("a", 0ms, 0, 0, 5), server("b", 0ms, 0, 0, 5)};
    CHECK_FALSE(sel.select(down));
    CHECK(sel.current() == "a");
    std::vector<candidate> back{server("a", 22ms), server("b", 20ms)};
    CHECK(sel.select(back) == 0u);
  }
  SECTION("reset forgets the choice") {
    std::vector<candidate> r2{server("a", 21ms), server("b", 20ms)};
    sel.reset();
    CHECK(sel.select(r2) == 1u);
  }
}

TEST_CASE("selector margins: both the absolute and the relative one must be exceeded", "[probe]") {
  SECTION("far servers: 10 ms of 300 ms is noise (below 10%)") {
    selector sel;
    std::vector<candidate> r1{server("far1", 300ms), server("far2", 310ms)};
    REQUIRE(sel.select(r1) == 0u);
    std::vector<candidate> r2{server("far1", 310ms), server("far2", 300ms)};
    CHECK(sel.select(r2) == 0u);
    std::vector<candidate> r3{server("far1", 340ms), server("far2", 300ms)};  // 40 ms > 34 ms
    CHECK(sel.select(r3) == 1u);
  }
  SECTION("near servers: 2 ms against 3 ms is 33% but below 5 ms") {
    selector sel;
    std::vector<candidate> r1{server("n1", 2ms), server("n2", 3ms)};
    REQUIRE(sel.select(r1) == 0u);
    std::vector<candidate> r2{server("n1", 3ms), server("n2", 2ms)};
    CHECK(sel.select(r2) == 0u);
  }
  SECTION("margins of zero: always the best") {
    selector sel({.switch_margin = {}, .switch_ratio = 0});
    std::vector<candidate> r1{server("a", 20ms), server("b", 21ms)};
    REQUIRE(sel.select(r1) == 0u);
    std::vector<candidate> r2{server("a", 21ms), server("b", 20ms)};
    CHECK(sel.select(r2) == 1u);
  }
}
