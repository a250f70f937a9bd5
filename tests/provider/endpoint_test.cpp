#include <warren/provider/endpoint.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>

#include <string>

using warren::provider::endpoint;

TEST_CASE("endpoint parses the forms wg's Endpoint takes", "[provider]") {
  SECTION("IPv4") {
    auto e = endpoint::parse("192.0.2.1:51820");
    REQUIRE(e);
    CHECK(e->host == "192.0.2.1");
    CHECK(e->port == 51820);
    CHECK(e->address() == warren::packet::ip_address::parse("192.0.2.1"));
    CHECK(e->to_string() == "192.0.2.1:51820");
  }
  SECTION("IPv6 in brackets, canonicalised") {
    auto e = endpoint::parse("[2001:DB8:0::0:1]:443");
    REQUIRE(e);
    CHECK(e->host == "2001:db8::1");
    CHECK(e->to_string() == "[2001:db8::1]:443");
    CHECK(endpoint::parse(e->to_string()) == e);
  }
  SECTION("a host name, kept as written and not resolved") {
    auto e = endpoint::parse("VPN-1.example.com:1");
    REQUIRE(e);
    CHECK(e->host == "VPN-1.example.com");
    CHECK_FALSE(e->address());
    CHECK(e->to_string() == "VPN-1.example.com:1");
  }
}

TEST_CASE("endpoint refuses what is not host:port", "[provider]") {
  auto bad = GENERATE(as<std::string>{},
                      "",                      // nothing
                      "192.0.2.1",             // no port
                      "192.0.2.1:",            // empty port
                      "192.0.2.1:0",           // port 0: nothing can be sent there
                      "192.0.2.1:65536",       // out of range
                      "192.0.2.1:+5",          // a sign
                      "192.0.2.1:5x",          // trailing junk
                      "2001:db8::1:51820",     // IPv6 without brackets: ambiguous
                      "[2001:db8::1]51820",    // no ':' after the bracket
                      "[2001:db8::1]:",        // no port
                      "[192.0.2.1]:1",         // brackets are for IPv6
                      "[fe80::1%eth0]:1",      // zones unsupported
                      "[vpn.example.com]:1",   // a name in brackets
                      "300.1.2.3:1",           // a mistyped address is not a host name
                      "exa mple.com:1",        // a blank in a name
                      "-:1x",                  // junk
                      ":51820");               // no host
  INFO(bad);
  CHECK_FALSE(endpoint::parse(bad));
}
