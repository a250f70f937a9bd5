#include <warren/wireguard/replay_window.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <set>

using warren::wireguard::replay_window;

namespace {

constexpr std::uint64_t window = replay_window::window_size;
constexpr std::uint64_t limit = replay_window::reject_after_messages;

// What the window promises, with no bitmap: a counter is fresh if it is below the limit, was not
// accepted before, and is no more than window_size below the newest accepted counter.
struct model {
  std::set<std::uint64_t> seen;
  std::uint64_t newest = 0;

  bool would_accept(std::uint64_t c) const {
    if (c >= limit) return false;
    if (c > newest) return true;
    return newest - c <= window && !seen.contains(c);
  }
  bool accept(std::uint64_t c) {
    if (!would_accept(c)) return false;
    seen.insert(c);
    if (c > newest) newest = c;
    return true;
  }
};

}  // namespace

TEST_CASE("replay window constants match wireguard-go and the paper", "[wireguard]") {
  STATIC_REQUIRE(replay_window::window_size == 8128);  // replay.go: CounterWindowSize on 64-bit
  STATIC_REQUIRE(replay_window::size() >= 2048);
  // RejectAfterMessages = 2^64 - 2^13 - 1, written without wrapping arithmetic.
  STATIC_REQUIRE(limit == 18446744073709543423ULL);
  STATIC_REQUIRE(std::numeric_limits<std::uint64_t>::max() - limit == 8192);
}

TEST_CASE("replay window accepts each counter once, in order", "[wireguard]") {
  replay_window w;
  for (std::uint64_t c = 0; c < 3 * window; ++c) {
    REQUIRE(w.would_accept(c));
    REQUIRE(w.accept(c));
    REQUIRE_FALSE(w.accept(c));
    REQUIRE_FALSE(w.would_accept(c));
  }
  REQUIRE(w.newest() == 3 * window - 1);
}

TEST_CASE("replay window rejects repeated and stale counters", "[wireguard]") {
  replay_window w;
  REQUIRE(w.accept(7));
  SECTION("same counter again") { REQUIRE_FALSE(w.accept(7)); }
  SECTION("older than the window") {
    REQUIRE(w.accept(7 + 2 * w.size()));
    REQUIRE_FALSE(w.would_accept(6));
    REQUIRE_FALSE(w.accept(6));
  }
  SECTION("counter 0 is fresh until seen, even below a later counter") {
    REQUIRE(w.would_accept(0));
    REQUIRE(w.accept(0));
    REQUIRE_FALSE(w.accept(0));
  }
}

TEST_CASE("replay window accepts out-of-order counters within the window", "[wireguard]") {
  replay_window w;
  REQUIRE(w.accept(1000));
  for (std::uint64_t c : {999u, 5u, 998u, 0u, 64u, 63u, 127u, 128u}) {
    CAPTURE(c);
    REQUIRE(w.accept(c));
    REQUIRE_FALSE(w.accept(c));
  }
  REQUIRE(w.newest() == 1000);
  REQUIRE(w.accept(1001));
  REQUIRE_FALSE(w.accept(1000));
  REQUIRE(w.accept(1)) ;  // never seen, still inside
}

TEST_CASE("replay window edges: exactly window_size behind is the oldest accepted", "[wireguard]") {
  // Place the newest counter at every offset within a word, so the edge falls on every bit.
  for (std::uint64_t newest : {window, window + 1, window + 63, window + 64, 5 * window + 17,
                               std::uint64_t{1} << 40, limit - 1}) {
    CAPTURE(newest);
    replay_window w;
    REQUIRE(w.accept(newest));
    REQUIRE_FALSE(w.would_accept(newest - window - 1));
    REQUIRE_FALSE(w.accept(newest - window - 1));  // one too old
    REQUIRE(w.would_accept(newest - window));
    REQUIRE(w.accept(newest - window));  // the oldest in the window
    REQUIRE_FALSE(w.accept(newest - window));
    REQUIRE(w.accept(newest - 1));
    // Moving forward by one drops the oldest: it is now too old rather than a duplicate, and
    // the next one up is the new edge.
    if (newest + 1 < limit) {
      REQUIRE(w.accept(newest + 1));
      REQUIRE_FALSE(w.would_accept(newest - window));
      REQUIRE(w.accept(newest + 1 - window));
    }
  }
}

TEST_CASE("replay window slides by a far jump and forgets the old bitmap", "[wireguard]") {
  replay_window w;
  for (std::uint64_t c = 0; c < 200; ++c) REQUIRE(w.accept(c));
  SECTION("a jump of exactly one ring of words reuses every word: none may look seen") {
    const std::uint64_t far = 8192 + 150;  // same word positions as 128..191
    REQUIRE(w.accept(far));
    for (std::uint64_t c = far - window; c < far; ++c) {
      CAPTURE(c);
      REQUIRE(w.would_accept(c));
    }
    REQUIRE_FALSE(w.would_accept(150));
  }
  SECTION("a jump of billions") {
    const std::uint64_t far = 5'000'000'000ULL;
    REQUIRE(w.accept(far));
    REQUIRE_FALSE(w.accept(far));
    REQUIRE_FALSE(w.accept(199));
    for (std::uint64_t c = far - window; c < far; c += 61) REQUIRE(w.accept(c));
  }
  SECTION("a jump smaller than the window keeps what is still inside it") {
    REQUIRE(w.accept(window + 100));
    REQUIRE_FALSE(w.accept(100));  // seen, and still inside
    REQUIRE_FALSE(w.accept(99));   // fell out
    REQUIRE(w.accept(200));
  }
}

TEST_CASE("replay window rejects counters at and past Reject-After-Messages", "[wireguard]") {
  replay_window w;
  REQUIRE_FALSE(w.would_accept(limit));
  REQUIRE_FALSE(w.accept(limit));
  REQUIRE_FALSE(w.accept(std::numeric_limits<std::uint64_t>::max()));
  REQUIRE(w.newest() == 0);  // a rejected counter does not move the window
  REQUIRE(w.accept(0));
  REQUIRE(w.accept(limit - 1));
  REQUIRE_FALSE(w.accept(limit - 1));
  REQUIRE_FALSE(w.accept(limit));
  REQUIRE(w.accept(limit - 2));
}

TEST_CASE("replay window would_accept marks nothing", "[wireguard]") {
  replay_window w;
  REQUIRE(w.would_accept(10'000));
  REQUIRE(w.newest() == 0);
  REQUIRE(w.accept(0));  // not pushed out of the window by the check above
  REQUIRE(w.would_accept(10'000));
  REQUIRE(w.accept(10'000));
}

TEST_CASE("replay window reset forgets everything, even after the window wrapped", "[wireguard]") {
  replay_window w;
  for (std::uint64_t c = 0; c < 3 * 8192; c += 3) REQUIRE(w.accept(c));
  w.reset();
  REQUIRE(w.newest() == 0);
  // Every counter of a fresh keypair's first window must be fresh, whatever the old words held.
  for (std::uint64_t c = 0; c < 2 * 8192; ++c) {
    CAPTURE(c);
    REQUIRE(w.accept(c));
  }
  const replay_window fresh;
  REQUIRE(fresh.would_accept(0));
  REQUIRE(fresh.newest() == 0);
}

TEST_CASE("replay window agrees with a set-based model on random traffic", "[wireguard]") {
  std::mt19937_64 rng(0x5eed'1234);
  for (int round = 0; round < 20; ++round) {
    replay_window w;
    model m;
    std::uint64_t base = round % 4 == 3 ? limit - 40'000 : 0;  // some rounds run into the limit
    if (base != 0) {
      REQUIRE(w.accept(base));
      REQUIRE(m.accept(base));
    }
    for (int step = 0; step < 20'000; ++step) {
      std::uint64_t c = 0;
      const std::uint64_t newest = m.newest;
      switch (rng() % 8) {
        case 0: case 1: case 2: c = newest + 1 + rng() % 4; break;           // mostly in order
        case 3: c = newest - std::min(newest, rng() % (window + 200)); break;  // late, maybe too late
        case 4: c = newest - std::min(newest, window + (rng() % 3)) + 1; break;  // at the edge
        case 5: c = newest; break;                                             // duplicate
        case 6: c = newest + rng() % (2 * window); break;                      // jump
        default: c = rng() % 64 == 0 ? newest + (rng() % 100'000) : newest - std::min(newest, rng() % 64); break;
      }
      CAPTURE(round, step, c, newest);
      const bool expect_check = m.would_accept(c);
      REQUIRE(w.would_accept(c) == expect_check);
      REQUIRE(w.accept(c) == m.accept(c));
      REQUIRE(w.newest() == m.newest);
    }
  }
}
