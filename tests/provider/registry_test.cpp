#include <warren/provider/registry.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "archetypes.hpp"
#include "test_support.hpp"

#include <warren/provider/json_server_list_provider.hpp>
#include <warren/provider/wg_quick_provider.hpp>

#include <string>
#include <vector>

using namespace warren::provider;
using namespace warren::provider::test;

namespace {
const warren::time_point now{};
}

TEST_CASE("any_provider forwards every call to the provider inside", "[provider]") {
  any_provider p = fake_provider("fake", {make_server("a", "uk", "GB", "London", 50), make_server("b", "uk", "GB", "Leeds", 10)});
  CHECK(p.name() == "fake");
  REQUIRE(p.credential_fields().size() == 1);
  CHECK(p.credential_fields()[0].name == "token");
  CHECK(p.state(now).status == auth_status::none);
  CHECK(p.authenticate({{"token", "bad"}}, now)->status == auth_status::failed);
  CHECK_FALSE(p.generate_config(make_server("a", "uk", "", "", {})));
  CHECK(p.diagnostic() == "authenticate first");
  CHECK(p.authenticate({{"token", "good"}}, now)->ok());
  CHECK(p.state(now).ok());
  auto servers = p.fetch_servers(now);
  REQUIRE(servers);
  CHECK(servers->size() == 2);
  auto best = p.best_server({"uk", {}, {}}, *servers);
  REQUIRE(best);
  CHECK(best->id == "b");
  auto t = p.generate_config(*best);
  REQUIRE(t);
  CHECK(t->server_id == "b");
  CHECK(p.diagnostic().empty());

  REQUIRE(p.target<fake_provider>() != nullptr);
  CHECK(p.target<fake_provider>()->fetches == 1);
  CHECK(p.target<wg_quick_provider>() == nullptr);
  const any_provider& cp = p;
  CHECK(cp.target<fake_provider>() != nullptr);

  any_provider moved = std::move(p);
  CHECK(moved.name() == "fake");
}

TEST_CASE("registry holds providers by unique name", "[provider]") {
  registry r;
  CHECK(r.empty());
  REQUIRE(r.add(fake_provider("zeta", {})));
  REQUIRE(r.add(wg_quick_provider("/nonexistent", "files")));
  json_server_list_options ops;
  ops.name = "ops";
  REQUIRE(r.add(json_server_list_provider::from_document(R"({"version":1,"servers":[]})", ops)));
  CHECK(r.size() == 3);
  CHECK(r.names() == std::vector<std::string>{"files", "ops", "zeta"});

  auto dup = r.add(fake_provider("ops", {}));
  REQUIRE_FALSE(dup);
  CHECK(dup.error() == errc::duplicate_provider);
  CHECK(r.size() == 3);
  REQUIRE(r.find("ops") != nullptr);
  CHECK(r.find("ops")->target<json_server_list_provider>() != nullptr);  // the first one stayed

  auto* zeta = r.find("zeta");
  REQUIRE(zeta != nullptr);
  REQUIRE(r.add(fake_provider("alpha", {})));
  CHECK(r.find("zeta") == zeta);  // adding does not move the others
  CHECK(zeta->fetch_servers(now));

  CHECK(r.find("nope") == nullptr);
  const registry& cr = r;
  CHECK(cr.find("files") != nullptr);
  CHECK(r.remove("files"));
  CHECK(r.find("files") == nullptr);
  auto gone = r.remove("files");
  REQUIRE_FALSE(gone);
  CHECK(gone.error() == errc::unknown_provider);
}
