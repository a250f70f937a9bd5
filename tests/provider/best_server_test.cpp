#include <warren/provider/best_server.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "test_support.hpp"

#include <chrono>
#include <vector>

using namespace warren::provider;
using namespace warren::provider::test;
using namespace std::chrono_literals;

namespace {
std::string best_id(const region_request& r, const std::vector<server>& servers, const latency_map* l = nullptr) {
  auto best = pick_best_server(r, servers, l);
  REQUIRE(best);
  return best->id;
}
}  // namespace

TEST_CASE("best server without latencies is the least loaded match", "[provider]") {
  std::vector<server> servers = {
      make_server("uk-lon-1", "uk", "GB", "London", 70),
      make_server("uk-man-1", "uk", "GB", "Manchester", 30),
      make_server("uk-lon-2", "uk", "GB", "London", 40),
      make_server("fr-par-1", "europe", "FR", "Paris", 0),
  };
  CHECK(best_id({"uk", {}, {}}, servers) == "uk-man-1");
  CHECK(best_id({"uk", {}, "London"}, servers) == "uk-lon-2");
  CHECK(best_id({}, servers) == "fr-par-1");
  SECTION("ties keep the list's order") {
    servers[2].load = 30;
    CHECK(best_id({"uk", {}, {}}, servers) == "uk-man-1");
    std::swap(servers[1], servers[2]);
    CHECK(best_id({"uk", {}, {}}, servers) == "uk-lon-2");
  }
  SECTION("an unpublished load counts as 50") {
    servers[1].load.reset();  // Manchester: 50 now, London-2 at 40 wins
    CHECK(best_id({"uk", {}, {}}, servers) == "uk-lon-2");
    servers[2].load = 60;  // London-2 at 60 loses to the unknown 50
    CHECK(best_id({"uk", {}, {}}, servers) == "uk-man-1");
  }
  SECTION("nothing matches") {
    auto r = pick_best_server({"us", {}, {}}, servers);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::no_matching_server);
    CHECK_FALSE(pick_best_server({}, {}));
  }
}

TEST_CASE("best server with latencies weighs round trip by load", "[provider]") {
  std::vector<server> servers = {
      make_server("near-busy", "eu", "", "", 50),   // 15 ms * 1.5 = 22.5
      make_server("far-idle", "eu", "", "", 0),     // 20 ms * 1.0 = 20
      make_server("unmeasured", "eu", "", "", 0),   // no measurement: after every measured one
      make_server("full", "eu", "", "", 100),       // 11 ms * 2.0 = 22
  };
  latency_map rtt = {{"near-busy", 15ms}, {"far-idle", 20ms}, {"full", 11ms}};
  CHECK(best_id({"eu", {}, {}}, servers, &rtt) == "far-idle");
  SECTION("a faster round trip can beat a lower load") {
    rtt["near-busy"] = 13ms;  // 19.5 < 20
    CHECK(best_id({"eu", {}, {}}, servers, &rtt) == "near-busy");
  }
  SECTION("a full server counts twice as far") {
    rtt["full"] = 9ms;  // 18 < 20
    CHECK(best_id({"eu", {}, {}}, servers, &rtt) == "full");
  }
  SECTION("with no measurement for any match, load decides") {
    latency_map other = {{"elsewhere", 1ms}};
    CHECK(best_id({"eu", {}, {}}, servers, &other) == "far-idle");
  }
  SECTION("a null map is the same as no latencies") {
    CHECK(best_id({"eu", {}, {}}, servers, nullptr) == "far-idle");
  }
  SECTION("bogus measurements neither overflow nor win by being negative") {
    rtt["near-busy"] = -5s;                        // clamped to 0: best
    rtt["far-idle"] = warren::duration::max();     // clamped to an hour
    CHECK(best_id({"eu", {}, {}}, servers, &rtt) == "near-busy");
  }
}
