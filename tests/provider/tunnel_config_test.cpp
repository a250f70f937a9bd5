#include <warren/provider/tunnel_config.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "test_support.hpp"

using namespace warren::provider;
using namespace warren::provider::test;

TEST_CASE("tunnel_config compares server id and the whole WireGuard config", "[provider]") {
  tunnel_config a;
  a.server_id = "uk-1";
  a.wireguard.interface.private_key = private_key(key_a);
  auto b = a;
  CHECK(a == b);
  b.wireguard.interface.private_key = private_key(key_c);
  CHECK(a != b);
  b = a;
  b.server_id = "uk-2";
  CHECK(a != b);
}
