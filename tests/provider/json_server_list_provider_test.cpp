#include <warren/provider/json_server_list_provider.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "test_support.hpp"

#include <string>
#include <vector>

using namespace warren::provider;
using namespace warren::provider::test;
using Catch::Matchers::ContainsSubstring;

namespace {

const warren::time_point now{};

const std::string list = R"({"version": 1, "servers": [
  {"id": "uk-1", "region": "uk", "country": "GB", "city": "London", "endpoint": "vpn1.example.com:51820",
   "public_key": ")" + key_b + R"(", "load": 40},
  {"id": "uk-2", "region": "uk", "country": "GB", "city": "London", "endpoint": "192.0.2.2:51820",
   "public_key": ")" + key_c + R"(", "load": 10, "client_address": "10.100.9.9/32", "allowed_ips": ["10.0.0.0/8"]}
]})";

credentials good_credentials() { return {{"private_key", key_a}, {"address", "10.100.0.2/32, fd00::2/128"}}; }

}  // namespace

TEST_CASE("json provider asks for a private key and an address", "[provider][json]") {
  auto p = json_server_list_provider::from_document(list);
  CHECK(p.name() == "json");
  auto fields = p.credential_fields();
  REQUIRE(fields.size() == 2);
  CHECK(fields[0].name == "private_key");
  CHECK(fields[0].kind == field_kind::secret);
  CHECK(fields[0].required);
  CHECK(fields[1].name == "address");
  CHECK(fields[1].kind == field_kind::text);
  CHECK_FALSE(fields[1].required);
  CHECK(p.state(now).status == auth_status::none);
}

TEST_CASE("json provider authenticate checks the credentials it keeps", "[provider][json]") {
  auto p = json_server_list_provider::from_document(list);
  auto refused = [&](credentials c, const char* reason) {
    auto r = p.authenticate(c, now);
    REQUIRE(r);  // refused credentials are a state, not an error
    CHECK(r->status == auth_status::failed);
    CHECK_THAT(r->reason, ContainsSubstring(reason));
    CHECK(p.state(now) == *r);
    CHECK(r->reason.find(key_a.substr(0, 20)) == std::string::npos);  // never echoes the key
  };
  SECTION("no key") { refused({{"address", "10.0.0.2/32"}}, "private_key: required"); }
  SECTION("an empty key") { refused({{"private_key", ""}}, "private_key: required"); }
  SECTION("a bad key") { refused({{"private_key", key_a.substr(0, 40) + "!!!="}}, "private_key: not a base64"); }
  SECTION("a bad address") {
    refused({{"private_key", key_a}, {"address", "10.100.0.2/32, nonsense"}}, "address: 'nonsense'");
  }
  SECTION("good ones, then bad ones again: the state follows the last attempt") {
    auto r = p.authenticate(good_credentials(), now);
    REQUIRE(r);
    CHECK(r->ok());
    CHECK(p.state(now).ok());
    refused({{"private_key", "x"}}, "private_key");
    CHECK_FALSE(p.generate_config(make_server("s", "uk", "", "", {})));
  }
}

TEST_CASE("json provider fetches the list from a document or a file", "[provider][json]") {
  SECTION("a document, replaced by a newer download") {
    auto p = json_server_list_provider::from_document(list);
    auto servers = p.fetch_servers(now);  // a public list: no credentials needed
    REQUIRE(servers);
    CHECK(servers->size() == 2);
    CHECK(p.diagnostic().empty());
    p.set_document(R"({"version": 1, "servers": []})");
    CHECK(p.fetch_servers(now)->empty());
  }
  SECTION("a file, read at every fetch") {
    temp_dir dir;
    auto file = dir / "servers.json";
    write_text(file, list);
    json_server_list_options o;
    o.name = "ops";
    auto p = json_server_list_provider::from_file(file, o);
    CHECK(p.name() == "ops");
    REQUIRE(p.fetch_servers(now));
    CHECK(p.fetch_servers(now)->size() == 2);
    write_text(file, R"({"version": 1, "servers": [{"id": "x", "region": "uk", "endpoint": "h:1", "public_key": 5}]})");
    auto r = p.fetch_servers(now);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_value);
    CHECK(p.diagnostic() == "servers.json: servers[0].public_key: must be a string, not number");
    std::filesystem::remove(file);
    r = p.fetch_servers(now);
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::no_such_file_or_directory);
    CHECK_THAT(p.diagnostic(), ContainsSubstring("servers.json: "));
  }
  SECTION("a broken document") {
    auto p = json_server_list_provider::from_document("{\"version\": 1, \"servers\": [\n}");
    auto r = p.fetch_servers(now);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_json);
    CHECK_THAT(p.diagnostic(), ContainsSubstring("json:2: not valid JSON"));
  }
}

TEST_CASE("json provider generates a config from the credentials and the server", "[provider][json]") {
  json_server_list_provider::options o;
  o.dns = {warren::packet::ip_address::parse("10.100.0.1").value()};
  o.mtu = 1380;
  auto p = json_server_list_provider::from_document(list, o);
  auto servers = p.fetch_servers(now).value();

  SECTION("before authenticate") {
    auto r = p.generate_config(servers[0]);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::not_authenticated);
    CHECK_FALSE(p.diagnostic().empty());
  }

  REQUIRE(p.authenticate(good_credentials(), now));

  SECTION("a server without client_address takes the address credential and all traffic") {
    auto t = p.generate_config(servers[0]);
    REQUIRE(t);
    CHECK(t->server_id == "uk-1");
    const auto& c = t->wireguard;
    REQUIRE(c.interface.private_key);
    CHECK(*c.interface.private_key == private_key(key_a));
    CHECK(c.interface.addresses == std::vector{prefix("10.100.0.2/32"), prefix("fd00::2/128")});
    CHECK(c.interface.dns == o.dns);
    CHECK(c.interface.mtu == std::optional<std::uint16_t>{1380});
    REQUIRE(c.peers.size() == 1);
    CHECK(c.peers[0].public_key == public_key(key_b));
    CHECK(c.peers[0].endpoint == ep("vpn1.example.com:51820"));
    CHECK(c.peers[0].allowed_ips == std::vector{prefix("0.0.0.0/0"), prefix("::/0")});
    CHECK(c.peers[0].persistent_keepalive == std::optional<std::uint16_t>{25});
    CHECK(wg_quick::check_writable(c));
  }
  SECTION("a server's client_address and allowed_ips win") {
    auto t = p.generate_config(servers[1]);
    REQUIRE(t);
    CHECK(t->wireguard.interface.addresses == std::vector{prefix("10.100.9.9/32")});
    CHECK(t->wireguard.peers[0].allowed_ips == std::vector{prefix("10.0.0.0/8")});
  }
  SECTION("no address from either side") {
    REQUIRE(p.authenticate({{"private_key", key_a}}, now)->ok());
    auto r = p.generate_config(servers[0]);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::missing_field);
    CHECK_THAT(p.diagnostic(), ContainsSubstring("'uk-1' has no client_address"));
    CHECK(p.generate_config(servers[1]));  // this one brings its own
  }
  SECTION("keepalive 0 leaves it off") {
    o.persistent_keepalive = 0;
    auto q = json_server_list_provider::from_document(list, o);
    REQUIRE(q.authenticate(good_credentials(), now)->ok());
    CHECK_FALSE(q.generate_config(servers[0])->wireguard.peers[0].persistent_keepalive);
  }
  SECTION("best_server picks by load within the region") {
    auto best = p.best_server({"uk", {}, {}}, servers);
    REQUIRE(best);
    CHECK(best->id == "uk-2");
  }
}
