#include <warren/probe/tcp_connect.hpp>
#include <catch2/catch_test_macros.hpp>

#include <cerrno>
#include <system_error>

// How a finished connect() counts, for each way it can end.

using warren::probe::classify_connect;
using warren::probe::errc;
using warren::probe::tcp_probe;

namespace {
std::error_code sys(int e) { return {e, std::system_category()}; }
}  // namespace

TEST_CASE("tcp connect: success measures a round trip", "[probe]") {
  auto o = classify_connect({}, tcp_probe{});
  CHECK(o.measured);
  CHECK_FALSE(o.error);
}

TEST_CASE("tcp connect: a refusal measures one too unless told not to", "[probe]") {
  SECTION("default: counted, noted as refused") {
    auto o = classify_connect(sys(ECONNREFUSED), tcp_probe{});
    CHECK(o.measured);
    CHECK(o.error == errc::refused);
  }
  SECTION("count_refused off: lost, as refused") {
    auto o = classify_connect(sys(ECONNREFUSED), tcp_probe{.count_refused = false});
    CHECK_FALSE(o.measured);
    CHECK(o.error == errc::refused);
  }
}

TEST_CASE("tcp connect: unreachable and other errors lose the sample", "[probe]") {
  for (int e : {ENETUNREACH, EHOSTUNREACH, EHOSTDOWN, EADDRNOTAVAIL, EAFNOSUPPORT}) {
    CAPTURE(e);
    auto o = classify_connect(sys(e), tcp_probe{});
    CHECK_FALSE(o.measured);
    CHECK(o.error == errc::unreachable);
  }
  auto t = classify_connect(sys(ETIMEDOUT), tcp_probe{});
  CHECK_FALSE(t.measured);
  CHECK(t.error == errc::timeout);
  auto other = classify_connect(sys(EACCES), tcp_probe{});  // a local firewall: kept as it is
  CHECK_FALSE(other.measured);
  CHECK(other.error == sys(EACCES));
}
