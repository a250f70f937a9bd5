#include <warren/wireguard/allowed_ips.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

// The one translation unit of warren_wireguard_tests that replaces global operator new/delete;
// other wireguard tests include "buffer/allocation_counter.hpp" without the define.
#define WARREN_DEFINE_ALLOCATION_COUNTER
#include "buffer/allocation_counter.hpp"

#include <cstdint>
#include <string_view>

// The table itself is tested in tests/route/prefix_table_test.cpp; these cases pin down the
// cryptokey-routing behaviour WireGuard relies on (paper §2, `wg set ... allowed-ips`).

using warren::packet::ip_address;
using warren::packet::ip_prefix;
using warren::wireguard::allowed_ips;

namespace {
ip_prefix pfx(std::string_view text) { return *ip_prefix::parse(text); }
int peer_for(const allowed_ips<int>& t, std::string_view text) {
  const int* v = t.lookup(*ip_address::parse(text));
  return v ? *v : -1;
}
}  // namespace

TEST_CASE("allowed ips: a range given to another peer moves, and a removed peer's ranges go", "[wireguard]") {
  allowed_ips<int> t;
  REQUIRE(t.insert(pfx("10.0.0.0/24"), 1));
  REQUIRE(t.insert(pfx("10.0.0.2/32"), 1));
  REQUIRE(t.insert(pfx("fd00::/64"), 1));
  REQUIRE(t.insert(pfx("10.0.1.0/24"), 2));
  REQUIRE_FALSE(t.insert(pfx("10.0.0.0/24"), 2));  // moved, not added
  REQUIRE(peer_for(t, "10.0.0.9") == 2);
  REQUIRE(peer_for(t, "10.0.0.2") == 1);
  REQUIRE(t.remove_value(1) == 2);
  REQUIRE(peer_for(t, "10.0.0.2") == 2);
  REQUIRE(peer_for(t, "fd00::1") == -1);
  REQUIRE(t.size() == 2);
}

TEST_CASE("allowed ips: lookups allocate nothing on the datapath", "[wireguard]") {
  allowed_ips<int> t;
  t.insert(pfx("0.0.0.0/0"), 7);
  t.insert(pfx("::/0"), 8);
  const ip_address a4 = *ip_address::parse("192.0.2.1"), a6 = *ip_address::parse("2001:db8::1");
  std::int64_t sum = 0;
  const auto allocations = warren::test::allocations_during([&] {
    for (int i = 0; i < 100; ++i) sum += *t.lookup(a4) + *t.lookup(a6);
  });
  REQUIRE(allocations == 0);
  REQUIRE(sum == 1500);
}
