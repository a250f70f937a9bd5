#include <warren/provider/wg_quick_provider.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "test_support.hpp"

#include <filesystem>
#include <string>
#include <vector>

using namespace warren::provider;
using namespace warren::provider::test;
using Catch::Matchers::ContainsSubstring;

namespace {

const warren::time_point now{};

std::string server_file(const std::string& meta, const std::string& peer_key, const std::string& endpoint) {
  return meta + "[Interface]\nPrivateKey = " + key_a + "\nAddress = 10.64.0.2/32\nDNS = 10.64.0.1\n\n[Peer]\nPublicKey = " +
         peer_key + "\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = " + endpoint + "\n";
}

}  // namespace

TEST_CASE("server metadata comments say where a wg-quick server is", "[provider][wg_quick]") {
  SECTION("all keys, over two lines, with a quoted value") {
    auto m = parse_server_metadata("# Provider: Example VPN\n#warren: region=us-east country=US load=35\n"
                                   "  #  warren:   city=\"New York\"  \n[Interface]\n# warren: region=ignored\n");
    REQUIRE(m);
    CHECK(m->region == "us-east");
    CHECK(m->country == "US");
    CHECK(m->city == "New York");
    CHECK(m->load == std::optional<std::uint8_t>{35});
  }
  SECTION("none at all") {
    auto m = parse_server_metadata("[Interface]\n");
    REQUIRE(m);
    CHECK(*m == server_metadata{});
  }
  SECTION("mistakes, with their line") {
    struct bad {
      std::string text;
      errc code;
      const char* detail;
    };
    auto c = GENERATE(values<bad>({
        {"\n# warren: region=uk colour=red\n", errc::unknown_key, "'colour' is not region"},
        {"\n# warren: region=uk region=fr\n", errc::duplicate_key, "region given twice"},
        {"\n# warren: load=101\n", errc::invalid_value, "load: '101'"},
        {"\n# warren: load=\n", errc::invalid_value, "load: ''"},
        {"\n# warren: uk\n", errc::syntax_error, "'uk' is not key=value"},
        {"\n# warren: city=\"New York\n", errc::syntax_error, "no closing"},
        {"\n# warren: city=\"New\"York\n", errc::syntax_error, "a blank must follow"},
    }));
    auto m = parse_server_metadata(c.text);
    REQUIRE_FALSE(m);
    CHECK(m.error().line == 2);
    CHECK(m.error().code == make_error_code(c.code));
    CHECK_THAT(m.error().detail, ContainsSubstring(c.detail));
  }
}

TEST_CASE("wg-quick provider lists one server per .conf file", "[provider][wg_quick]") {
  temp_dir dir;
  write_text(dir / "uk-london.conf", server_file("# warren: region=uk country=GB city=London load=20\n", key_b,
                                                 "uk.vpn.example.com:51820"));
  write_text(dir / "de-berlin.conf", server_file("# warren: region=eu country=DE city=Berlin load=5\n", key_c,
                                                 "[2001:db8::de]:51820"));
  write_text(dir / "plain.conf", server_file("", key_d, "198.51.100.4:51820"));
  write_text(dir / "README.txt", "not a config");
  write_text(dir / ".hidden.conf", "garbage that would not parse");
  std::filesystem::create_directory(dir / "sub.conf");  // a directory: not a server

  wg_quick_provider p(dir.path());
  CHECK(p.name() == "wg-quick");
  CHECK(p.credential_fields().empty());
  CHECK(p.state(now).ok());
  CHECK(p.authenticate({}, now)->ok());

  auto servers = p.fetch_servers(now);
  INFO(p.diagnostic());
  REQUIRE(servers);
  REQUIRE(servers->size() == 3);
  CHECK(p.diagnostic().empty());
  // File-name order.
  const auto& de = (*servers)[0];
  CHECK(de.id == "de-berlin");
  CHECK(de.region == "eu");
  CHECK(de.country == "DE");
  CHECK(de.city == "Berlin");
  CHECK(de.load == std::optional<std::uint8_t>{5});
  CHECK(de.endpoint == ep("[2001:db8::de]:51820"));
  CHECK(de.public_key == public_key(key_c));
  CHECK(de.allowed_ips == std::vector{prefix("0.0.0.0/0"), prefix("::/0")});
  const auto& plain = (*servers)[1];
  CHECK(plain.id == "plain");
  CHECK(plain.region.empty());
  CHECK_FALSE(plain.load);
  CHECK((*servers)[2].id == "uk-london");

  SECTION("best server by region") {
    CHECK(p.best_server({"uk", {}, {}}, *servers)->id == "uk-london");
    CHECK(p.best_server({}, *servers)->id == "de-berlin");  // load 5
    CHECK_FALSE(p.best_server({"us", {}, {}}, *servers));
  }
  SECTION("generate_config returns the file's config") {
    auto t = p.generate_config((*servers)[2]);
    INFO(p.diagnostic());
    REQUIRE(t);
    CHECK(t->server_id == "uk-london");
    auto want = wg_quick::parse(read_text(dir / "uk-london.conf"));
    REQUIRE(want);
    CHECK(t->wireguard == *want);
    CHECK(p.diagnostic().empty());
  }
  SECTION("generate_config works with a server from another run (the cache)") {
    wg_quick_provider later(dir.path());
    CHECK(later.generate_config((*servers)[0]));
  }
  SECTION("generate_config refuses a server whose file changed or went") {
    write_text(dir / "uk-london.conf", server_file("", key_e, "uk.vpn.example.com:51820"));
    auto r = p.generate_config((*servers)[2]);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::unknown_server);
    CHECK_THAT(p.diagnostic(), ContainsSubstring("public key changed"));
    std::filesystem::remove(dir / "uk-london.conf");
    r = p.generate_config((*servers)[2]);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::unknown_server);
    CHECK_THAT(p.diagnostic(), ContainsSubstring("no longer in"));
  }
  SECTION("generate_config reads nothing outside its directory") {
    auto outside = dir / "outside";
    std::filesystem::create_directory(outside);
    write_text(outside / "evil.conf", server_file("", key_b, "192.0.2.1:1"));
    for (const char* id : {"../outside/evil", "..", ".hidden", "", "a/b"}) {
      auto s = (*servers)[2];
      s.id = id;
      auto r = p.generate_config(s);
      INFO(id);
      REQUIRE_FALSE(r);
      CHECK(r.error() == errc::unknown_server);
    }
  }
}

TEST_CASE("wg-quick provider reports the file and line of a broken config", "[provider][wg_quick]") {
  temp_dir dir;
  write_text(dir / "a-good.conf", server_file("", key_b, "192.0.2.1:51820"));
  SECTION("a bad value") {
    write_text(dir / "b-bad.conf", "[Interface]\nPrivateKey = " + key_a + "\n\n[Peer]\nPublicKey = " + key_b +
                                       "\nAllowedIPs = 10.0.0.0/33\nEndpoint = 192.0.2.1:1\n");
    wg_quick_provider p(dir.path());
    auto r = p.fetch_servers(now);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_value);
    CHECK(p.diagnostic() == "b-bad.conf:6: AllowedIPs: '10.0.0.0/33' is not an IP address or prefix");
    std::filesystem::remove(dir / "b-bad.conf");  // fixed: the next fetch works and clears it
    REQUIRE(p.fetch_servers(now));
    CHECK(p.diagnostic().empty());
  }
  SECTION("a bad metadata comment") {
    write_text(dir / "b-bad.conf", server_file("# warren: load=high\n", key_b, "192.0.2.1:51820"));
    wg_quick_provider p(dir.path());
    REQUIRE_FALSE(p.fetch_servers(now));
    CHECK(p.diagnostic() == "b-bad.conf:1: warren: load: 'high' is not a number from 0 to 100");
  }
  SECTION("two peers") {
    write_text(dir / "b-mesh.conf", server_file("", key_b, "192.0.2.1:51820") + "[Peer]\nPublicKey = " + key_c + "\n");
    wg_quick_provider p(dir.path());
    auto r = p.fetch_servers(now);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::missing_field);
    CHECK(p.diagnostic() == "b-mesh.conf: a server file needs exactly one [Peer], not 2");
  }
  SECTION("a peer without endpoint") {
    write_text(dir / "b-server.conf", "[Interface]\nListenPort = 51820\n[Peer]\nPublicKey = " + key_b + "\n");
    wg_quick_provider p(dir.path());
    REQUIRE_FALSE(p.fetch_servers(now));
    CHECK(p.diagnostic() == "b-server.conf: the [Peer] has no Endpoint");
  }
  SECTION("a missing directory") {
    wg_quick_provider p(dir / "nope");
    auto r = p.fetch_servers(now);
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::no_such_file_or_directory);
    CHECK_THAT(p.diagnostic(), ContainsSubstring("nope"));
  }
}
