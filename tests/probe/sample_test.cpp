#include <warren/probe/sample.hpp>
#include <catch2/catch_test_macros.hpp>

#include <warren/probe/error.hpp>

#include <chrono>

using namespace std::chrono_literals;
using warren::probe::errc;
using warren::probe::sample;

TEST_CASE("sample is a round trip or a loss with its reason", "[probe]") {
  SECTION("measured") {
    auto s = sample::measured(12ms);
    CHECK_FALSE(s.lost());
    CHECK(s.rtt == 12ms);
    CHECK_FALSE(s.error);
  }
  SECTION("measured with a note still counts") {
    auto s = sample::measured(3ms, make_error_code(errc::refused));
    CHECK_FALSE(s.lost());
    CHECK(s.error == errc::refused);
  }
  SECTION("lost") {
    auto s = sample::lost_by(make_error_code(errc::timeout));
    CHECK(s.lost());
    CHECK(s.error == errc::timeout);
  }
  SECTION("the default is a loss") { CHECK(sample{}.lost()); }
}
