#include <warren/provider/server.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "test_support.hpp"

using namespace warren::provider;
using namespace warren::provider::test;

TEST_CASE("region_request matches region, then country and city, ignoring case", "[provider]") {
  auto london = make_server("uk-1", "uk", "GB", "London", 10);
  auto paris = make_server("fr-1", "europe", "FR", "Paris", 10);
  CHECK(region_request{}.matches(london));
  CHECK(region_request{}.matches(paris));
  CHECK(region_request{"UK", {}, {}}.matches(london));
  CHECK_FALSE(region_request{"uk", {}, {}}.matches(paris));
  CHECK(region_request{"uk", "gb", {}}.matches(london));
  CHECK_FALSE(region_request{"uk", "IE", {}}.matches(london));
  CHECK(region_request{"uk", {}, "london"}.matches(london));
  CHECK_FALSE(region_request{"uk", {}, "Manchester"}.matches(london));
  CHECK(region_request{"", "FR", {}}.matches(paris));  // any region in France
  CHECK_FALSE(region_request{"", "", {}}.matches(paris));  // an empty country asked for is a country
}

TEST_CASE("servers compare by every field", "[provider]") {
  auto a = make_server("uk-1", "uk", "GB", "London", 10);
  auto b = a;
  CHECK(a == b);
  b.load = 11;
  CHECK(a != b);
  b = a;
  b.allowed_ips.push_back(prefix("10.0.0.0/8"));
  CHECK(a != b);
  b = a;
  b.client_address = prefix("10.1.0.2/32");
  CHECK(a != b);
}
