#include <warren/provider/provider.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "archetypes.hpp"
#include "test_support.hpp"

#include <warren/provider/json_server_list_provider.hpp>
#include <warren/provider/registry.hpp>
#include <warren/provider/wg_quick_provider.hpp>

#include <string>

using namespace warren::provider;
using namespace warren::provider::test;

namespace {

const warren::time_point now{};

// What an app does with any provider: sign in, list, pick, configure. Written against the
// concept only; it compiles for the archetype, so it asks for nothing more.
template <provider P>
warren::result<tunnel_config> connect_to(P& p, const credentials& given, const region_request& where) {
  if (auto s = p.authenticate(given, now); !s) return warren::unexpected(s.error());
  else if (!s->ok()) return warren::unexpected(make_error_code(errc::not_authenticated));
  auto servers = p.fetch_servers(now);
  if (!servers) return warren::unexpected(servers.error());
  auto best = p.best_server(where, *servers, nullptr);
  if (!best) return warren::unexpected(best.error());
  return p.generate_config(*best);
}

}  // namespace

TEST_CASE("generic code drives every provider the same way", "[provider]") {
  SECTION("the archetype compiles and answers") {
    provider_archetype a{archetype_tag{}};
    auto r = connect_to(a, {}, {});
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::no_matching_server);
  }
  SECTION("the fake, refusing then accepting") {
    fake_provider f("fake", {make_server("uk-1", "uk", "GB", "London", 10)});
    CHECK(connect_to(f, {{"token", "bad"}}, {}).error() == errc::not_authenticated);
    auto t = connect_to(f, {{"token", "good"}}, {"uk", {}, {}});
    REQUIRE(t);
    CHECK(t->server_id == "uk-1");
  }
  SECTION("the JSON list") {
    auto list = R"({"version": 1, "servers": [{"id": "uk-1", "region": "uk", "endpoint": "192.0.2.1:51820",
                   "public_key": ")" + key_b + R"(", "client_address": "10.1.0.2/32"}]})";
    auto j = json_server_list_provider::from_document(list);
    auto t = connect_to(j, {{"private_key", key_a}}, {"UK", {}, {}});
    REQUIRE(t);
    CHECK(t->wireguard.interface.addresses == std::vector{prefix("10.1.0.2/32")});
  }
  SECTION("a folder of wg-quick files") {
    temp_dir dir;
    write_text(dir / "home.conf", "# warren: region=home\n[Interface]\nPrivateKey = " + key_a +
                                      "\n[Peer]\nPublicKey = " + key_b + "\nEndpoint = 192.0.2.1:51820\n");
    wg_quick_provider w(dir.path());
    auto t = connect_to(w, {}, {"home", {}, {}});
    REQUIRE(t);
    CHECK(t->server_id == "home");
  }
  SECTION("through any_provider") {
    any_provider a = fake_provider("fake", {make_server("uk-1", "uk", "GB", "London", 10)});
    CHECK(connect_to(a, {{"token", "good"}}, {})->server_id == "uk-1");
  }
}
