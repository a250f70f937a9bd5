#include <warren/core/expected.hpp>

#include <warren/core/error.hpp>
#include <warren/packet/error.hpp>

#include <catch2/catch_test_macros.hpp>

namespace {
warren::result<int> half(int x) {
  if (x % 2) return warren::unexpected(warren::packet::errc::bad_length);
  return x / 2;
}
}  // namespace

TEST_CASE("warren::expected carries values and error codes, with the monadic members", "[core][expected]") {
  CHECK(*half(4) == 2);
  CHECK(half(3).error() == warren::packet::errc::bad_length);
  CHECK(half(3).error().category().name() == std::string("warren.packet"));
  auto r = half(8).and_then(half).transform([](int v) { return v + 1; });
  CHECK(*r == 3);
  auto e = half(6).and_then(half);
  CHECK_FALSE(e);
  CHECK(e.error().message() == "inconsistent length fields");
  CHECK(half(1).or_else([](std::error_code) -> warren::result<int> { return 0; }).value() == 0);
}
