#include <warren/core/clock.hpp>

#include <catch2/catch_test_macros.hpp>

using namespace std::chrono_literals;

TEST_CASE("manual clock moves only when told", "[core][clock]") {
  warren::manual_clock c;
  auto t0 = c.now();
  CHECK(c.now() == t0);
  c.advance(5s);
  CHECK(c.now() - t0 == 5s);
  c.set(t0 + 1h);
  CHECK(c.now() - t0 == 1h);
  CHECK(warren::manual_clock(t0 + 3ms).now() == t0 + 3ms);
}

TEST_CASE("steady clock source is monotonic", "[core][clock]") {
  warren::steady_clock_source s;
  auto a = s.now();
  auto b = s.now();
  CHECK(b >= a);
}
