#include <warren/probe/target.hpp>
#include <catch2/catch_test_macros.hpp>

#include <warren/wireguard/constants.hpp>
#include <warren/wireguard/tai64n.hpp>

// What a target says about how its samples may be paced.

using warren::probe::min_gap;
using warren::probe::target;

TEST_CASE("target kinds: WireGuard probes keep clear of the server's initiation rate limit", "[probe]") {
  target wg{"wg", *warren::probe::endpoint::parse("192.0.2.1:51820"), warren::probe::wireguard_probe{}};
  target tcp{"tcp", *warren::probe::endpoint::parse("192.0.2.1:443"), warren::probe::tcp_probe{}};
  target echo{"echo", *warren::probe::endpoint::parse("[2001:db8::1]:7"), warren::probe::udp_echo_probe{}};
  CHECK(min_gap(wg.kind) > warren::wireguard::initiation_rate_interval);
  // whitened TAI64N timestamps (16.8 ms steps) must differ too
  CHECK(min_gap(wg.kind) > std::chrono::nanoseconds(warren::wireguard::tai64n::whitening_granularity_ns));
  CHECK(min_gap(tcp.kind) == warren::duration{});
  CHECK(min_gap(echo.kind) == warren::duration{});
}
