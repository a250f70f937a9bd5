#include <warren/provider/wg_quick.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "test_support.hpp"

#include <cstddef>
#include <string>
#include <string_view>

using namespace warren::provider;
using namespace warren::provider::test;
using Catch::Matchers::ContainsSubstring;
using warren::packet::ip_address;

namespace {

// A file with every key wg-quick and wg read, in a messy but valid spelling.
const std::string every_field =
    "# a VPN service's config\n"
    "[Interface]\n"
    "PrivateKey = " + key_a + "\n" +
    "ListenPort = 51820\n"
    "FwMark = 0x1234\n"
    "Address = 10.0.0.2/24, fd00::2/64\n"
    "Address = 10.0.1.2\n"                             // repeatable; no prefix: /32
    "DNS = 1.1.1.1, 2606:4700:4700::1111, example.com\n"
    "DNS = corp.example\n"
    "MTU = 1420\n"
    "Table = off\n"
    "PreUp = echo pre-up\n"
    "PostUp = iptables -A FORWARD -i %i -j ACCEPT; echo a=b\n"  // '=' inside the value
    "PostUp = echo second\n"
    "PreDown = echo pre-down\n"
    "PostDown = iptables -D FORWARD -i %i -j ACCEPT\n"
    "SaveConfig = true\n"
    "\n"
    "[Peer]\n"
    "PublicKey = " + key_b + "\n" +
    "PresharedKey = " + key_c + "\n" +
    "AllowedIPs = 0.0.0.0/0, ::/0\n"
    "Endpoint = vpn.example.com:51820\n"
    "PersistentKeepalive = 25\n"
    "\n"
    "[Peer]\n"
    "PublicKey = " + key_d + "\n" +
    "AllowedIPs = 10.9.0.0/16\n"
    "AllowedIPs = 10.8.0.1/32\n"
    "Endpoint = [2001:db8::1]:51821\n"
    "PersistentKeepalive = off\n";

wg_quick::config parsed(std::string_view text) {
  auto r = wg_quick::parse(text);
  INFO((r ? std::string() : r.error().message("test.conf")));
  REQUIRE(r);
  return *r;
}

parse_error parse_failure(std::string_view text) {
  auto r = wg_quick::parse(text);
  REQUIRE_FALSE(r);
  return r.error();
}

}  // namespace

TEST_CASE("wg-quick parse reads every field", "[provider][wg_quick]") {
  auto c = parsed(every_field);
  const auto& i = c.interface;
  REQUIRE(i.private_key);
  CHECK(*i.private_key == private_key(key_a));
  CHECK(i.listen_port == std::optional<std::uint16_t>{51820});
  CHECK(i.fwmark == std::optional<std::uint32_t>{0x1234});
  CHECK(i.addresses == std::vector{prefix("10.0.0.2/24"), prefix("fd00::2/64"), prefix("10.0.1.2/32")});
  CHECK(i.dns == std::vector{ip_address::parse("1.1.1.1").value(), ip_address::parse("2606:4700:4700::1111").value()});
  CHECK(i.dns_search == std::vector<std::string>{"example.com", "corp.example"});
  CHECK(i.mtu == std::optional<std::uint16_t>{1420});
  REQUIRE(i.table);
  CHECK(i.table->type == wg_quick::routing_table::kind::off);
  CHECK(i.pre_up == std::vector<std::string>{"echo pre-up"});
  CHECK(i.post_up == std::vector<std::string>{"iptables -A FORWARD -i %i -j ACCEPT; echo a=b", "echo second"});
  CHECK(i.pre_down == std::vector<std::string>{"echo pre-down"});
  CHECK(i.post_down == std::vector<std::string>{"iptables -D FORWARD -i %i -j ACCEPT"});
  CHECK(i.save_config);

  REQUIRE(c.peers.size() == 2);
  const auto& p1 = c.peers[0];
  CHECK(p1.public_key == public_key(key_b));
  REQUIRE(p1.preshared_key);
  CHECK(*p1.preshared_key == private_key(key_c));
  CHECK(p1.allowed_ips == std::vector{prefix("0.0.0.0/0"), prefix("::/0")});
  REQUIRE(p1.endpoint);
  CHECK(p1.endpoint->host == "vpn.example.com");
  CHECK(p1.endpoint->port == 51820);
  CHECK(p1.persistent_keepalive == std::optional<std::uint16_t>{25});
  const auto& p2 = c.peers[1];
  CHECK(p2.public_key == public_key(key_d));
  CHECK_FALSE(p2.preshared_key);
  CHECK(p2.allowed_ips == std::vector{prefix("10.9.0.0/16"), prefix("10.8.0.1/32")});
  CHECK(p2.endpoint == ep("[2001:db8::1]:51821"));
  CHECK(p2.persistent_keepalive == std::optional<std::uint16_t>{0});
}

TEST_CASE("wg-quick write gives a canonical form that parses back to the same config", "[provider][wg_quick]") {
  auto c = parsed(every_field);
  auto text = wg_quick::write(c);
  CHECK(text ==
        "[Interface]\n"
        "PrivateKey = " + key_a + "\n" +
        "ListenPort = 51820\n"
        "FwMark = 0x1234\n"
        "Address = 10.0.0.2/24, fd00::2/64, 10.0.1.2/32\n"
        "DNS = 1.1.1.1, 2606:4700:4700::1111, example.com, corp.example\n"
        "MTU = 1420\n"
        "Table = off\n"
        "PreUp = echo pre-up\n"
        "PostUp = iptables -A FORWARD -i %i -j ACCEPT; echo a=b\n"
        "PostUp = echo second\n"
        "PreDown = echo pre-down\n"
        "PostDown = iptables -D FORWARD -i %i -j ACCEPT\n"
        "SaveConfig = true\n"
        "\n"
        "[Peer]\n"
        "PublicKey = " + key_b + "\n" +
        "PresharedKey = " + key_c + "\n" +
        "AllowedIPs = 0.0.0.0/0, ::/0\n"
        "Endpoint = vpn.example.com:51820\n"
        "PersistentKeepalive = 25\n"
        "\n"
        "[Peer]\n"
        "PublicKey = " + key_d + "\n" +
        "AllowedIPs = 10.9.0.0/16, 10.8.0.1/32\n"
        "Endpoint = [2001:db8::1]:51821\n"
        "PersistentKeepalive = off\n");
  SECTION("parse(write(c)) == c") { CHECK(parsed(text) == c); }
  SECTION("the canonical form is a fixed point") { CHECK(wg_quick::write(parsed(text)) == text); }
  SECTION("check_writable accepts what parse gives") { CHECK(wg_quick::check_writable(c)); }
}

TEST_CASE("wg-quick round-trips small and empty configs", "[provider][wg_quick]") {
  SECTION("an empty file is an empty config") {
    auto c = parsed("");
    CHECK(c == wg_quick::config{});
    CHECK(wg_quick::write(c) == "[Interface]\n");
    CHECK(parsed(wg_quick::write(c)) == c);
  }
  SECTION("only comments and blank lines") { CHECK(parsed("# nothing\n\n   \n\t# more\n") == wg_quick::config{}); }
  SECTION("a client config as services hand them out") {
    auto text = "[Interface]\nPrivateKey = " + key_a + "\nAddress = 10.64.0.2/32\nDNS = 10.64.0.1\n\n[Peer]\nPublicKey = " +
                key_b + "\nAllowedIPs = 0.0.0.0/0\nEndpoint = 198.51.100.7:51820\n";
    CHECK(wg_quick::write(parsed(text)) == text);
  }
  SECTION("a hand-built config") {
    wg_quick::config c;
    c.interface.listen_port = 0;
    c.interface.fwmark = 0;  // written "off"
    c.interface.table = wg_quick::routing_table{wg_quick::routing_table::kind::number, 1234, {}};
    wg_quick::peer_config p;
    p.public_key = public_key(key_e);
    p.persistent_keepalive = 65535;
    c.peers.push_back(p);
    auto text = wg_quick::write(c);
    CHECK_THAT(text, ContainsSubstring("FwMark = off\n"));
    CHECK_THAT(text, ContainsSubstring("Table = 1234\n"));
    CHECK(parsed(text) == c);
  }
}

TEST_CASE("wg-quick parse reads keys and values the way wg-quick does", "[provider][wg_quick]") {
  SECTION("sections and keys are case-insensitive") {
    auto c = parsed("[INTERFACE]\nprivatekey=" + key_a + "\nlistenPORT = 1\n[peer]\npublickey = " + key_b + "\n");
    CHECK(c.interface.listen_port == std::optional<std::uint16_t>{1});
    CHECK(c.peers.size() == 1);
  }
  SECTION("comments anywhere, blanks and CRLF") {
    auto c = parsed("  [Interface]   # the interface\r\n\tListenPort\t=\t51820 # the port\r\n# [Peer]\r\n");
    CHECK(c.interface.listen_port == std::optional<std::uint16_t>{51820});
    CHECK(c.peers.empty());
  }
  SECTION("a '#' cuts a hook command short, as in wg-quick") {
    auto c = parsed("[Interface]\nPostUp = echo a # not part of the command\n");
    CHECK(c.interface.post_up == std::vector<std::string>{"echo a"});
  }
  SECTION("the last line needs no newline") {
    CHECK(parsed("[Interface]\nMTU = 1280").interface.mtu == std::optional<std::uint16_t>{1280});
  }
  SECTION("several [Interface] sections add up") {
    auto c = parsed("[Interface]\nMTU = 1280\n[Peer]\nPublicKey = " + key_b + "\n[Interface]\nListenPort = 7\n");
    CHECK(c.interface.mtu == std::optional<std::uint16_t>{1280});
    CHECK(c.interface.listen_port == std::optional<std::uint16_t>{7});
  }
  SECTION("FwMark: decimal, hex, off") {
    CHECK(parsed("[Interface]\nFwMark = 51820").interface.fwmark == std::optional<std::uint32_t>{51820});
    CHECK(parsed("[Interface]\nFwMark = 0xffffffff").interface.fwmark == std::optional<std::uint32_t>{0xffffffffu});
    CHECK(parsed("[Interface]\nFwMark = OFF").interface.fwmark == std::optional<std::uint32_t>{0});
    CHECK(parsed("[Interface]\nFwMark = 0").interface.fwmark == std::optional<std::uint32_t>{0});
  }
  SECTION("Table: auto, number, name; Off is a name, as in wg-quick") {
    using kind = wg_quick::routing_table::kind;
    CHECK(parsed("[Interface]\nTable = auto").interface.table->type == kind::automatic);
    auto n = parsed("[Interface]\nTable = 51820").interface.table;
    CHECK((n->type == kind::number && n->number == 51820));
    auto name = parsed("[Interface]\nTable = main").interface.table;
    CHECK((name->type == kind::name && name->name == "main"));
    CHECK(parsed("[Interface]\nTable = Off").interface.table->type == kind::name);
  }
  SECTION("Address and DNS split on blanks as well as commas") {
    auto c = parsed("[Interface]\nAddress = 10.0.0.2/32 fd00::2/128,,10.0.0.3\nDNS = 9.9.9.9 search.example\n");
    CHECK(c.interface.addresses == std::vector{prefix("10.0.0.2/32"), prefix("fd00::2/128"), prefix("10.0.0.3/32")});
    CHECK(c.interface.dns == std::vector{ip_address::parse("9.9.9.9").value()});
    CHECK(c.interface.dns_search == std::vector<std::string>{"search.example"});
  }
  SECTION("AllowedIPs keep their host bits, as wg does") {
    auto c = parsed("[Peer]\nPublicKey = " + key_b + "\nAllowedIPs = 10.0.0.1/8, 2001:db8::1/32\n");
    CHECK(c.peers[0].allowed_ips == std::vector{prefix("10.0.0.1/8"), prefix("2001:db8::1/32")});
  }
  SECTION("SaveConfig false is the default and is not written") {
    auto c = parsed("[Interface]\nSaveConfig = False\n");
    CHECK_FALSE(c.interface.save_config);
    CHECK(wg_quick::write(c) == "[Interface]\n");
  }
  SECTION("IPv6 endpoints are kept in canonical form") {
    auto c = parsed("[Peer]\nPublicKey = " + key_b + "\nEndpoint = [2001:DB8:0:0::1]:443\n");
    CHECK(c.peers[0].endpoint->host == "2001:db8::1");
  }
}

TEST_CASE("wg-quick parse refuses corrupt files with the line to fix", "[provider][wg_quick]") {
  struct bad {
    const char* why;
    std::string text;
    std::size_t line;
    errc code;
    const char* detail;
  };
  const std::string peer = "[Peer]\nPublicKey = " + key_b + "\n";
  auto c = GENERATE_COPY(values<bad>({
      {"key before any section", "ListenPort = 1\n", 1, errc::key_outside_section, "'ListenPort': keys belong in"},
      {"unknown section", "[Interface]\n\n[Server]\n", 3, errc::unknown_section, "'[Server]'"},
      {"header not closed", "[Interface\n", 1, errc::syntax_error, "not a section header"},
      {"a line without '='", "[Interface]\nListenPort 51820\n", 2, errc::syntax_error, "'ListenPort 51820' is not"},
      {"'=' without a key", "[Interface]\n = 3\n", 2, errc::syntax_error, "no key"},
      {"unknown interface key", "[Interface]\nJc = 4\n", 2, errc::unknown_key, "'Jc': not a key of [Interface]"},
      {"unknown peer key", peer + "Routes = 10.0.0.0/8\n", 3, errc::unknown_key, "'Routes': not a key of [Peer]"},
      {"peer key in the interface", "[Interface]\nEndpoint = 192.0.2.1:1\n", 2, errc::unknown_key, "belongs in a [Peer]"},
      {"interface key in a peer", peer + "MTU = 1420\n", 3, errc::unknown_key, "belongs in the [Interface]"},
      {"duplicate ListenPort", "[Interface]\nListenPort = 1\n# x\nListenPort = 2\n", 4, errc::duplicate_key,
       "ListenPort: given again (first on line 2)"},
      {"duplicate across [Interface] sections", "[Interface]\nMTU = 1280\n[Interface]\nMTU = 1400\n", 4,
       errc::duplicate_key, "first on line 2"},
      {"duplicate PublicKey", peer + "PublicKey = " + key_c + "\n", 3, errc::duplicate_key, "PublicKey: given again"},
      {"prefix too long", "[Interface]\nAddress = 10.0.0.2/24\n" + peer + "AllowedIPs = 10.0.0.0/33\n", 5,
       errc::invalid_value, "AllowedIPs: '10.0.0.0/33' is not an IP address or prefix"},
      {"empty AllowedIPs item", peer + "AllowedIPs = 10.0.0.0/8,,10.1.0.0/16\n", 3, errc::invalid_value, "AllowedIPs: ''"},
      {"empty value", "[Interface]\nAddress =\n", 2, errc::invalid_value, "Address: needs a value"},
      {"bad address", "[Interface]\nAddress = 10.0.0.256/24\n", 2, errc::invalid_value, "'10.0.0.256/24'"},
      {"bad DNS address", "[Interface]\nDNS = 1.1.1\n", 2, errc::invalid_value, "DNS: '1.1.1' is not an IP address"},
      {"bad DNS name", "[Interface]\nDNS = exa$mple.com\n", 2, errc::invalid_value, "neither an IP address nor"},
      {"port too large", "[Interface]\nListenPort = 65536\n", 2, errc::invalid_value, "'65536' is not a port"},
      {"negative port", "[Interface]\nListenPort = -1\n", 2, errc::invalid_value, "ListenPort"},
      {"fwmark too large", "[Interface]\nFwMark = 0x100000000\n", 2, errc::invalid_value, "FwMark"},
      {"fwmark not hex", "[Interface]\nFwMark = 0xzz\n", 2, errc::invalid_value, "FwMark"},
      {"MTU too small", "[Interface]\nMTU = 67\n", 2, errc::invalid_value, "MTU: '67'"},
      {"bad table name", "[Interface]\nTable = a b\n", 2, errc::invalid_value, "Table"},
      {"bad SaveConfig", "[Interface]\nSaveConfig = yes\n", 2, errc::invalid_value, "neither true nor false"},
      {"empty hook", "[Interface]\nPostUp =   # nothing\n", 2, errc::invalid_value, "PostUp: needs a value"},
      {"key too short", "[Interface]\nPrivateKey = " + key_a.substr(1) + "\n", 2, errc::invalid_key, "PrivateKey"},
      {"key not base64", peer + "PresharedKey = " + std::string(43, '!') + "=\n", 3, errc::invalid_key, "PresharedKey"},
      {"key of 33 bytes", "[Peer]\nPublicKey = " + std::string(44, 'A') + "\n", 2, errc::invalid_key, "PublicKey"},
      {"key with stray bits", "[Peer]\nPublicKey = " + key_b.substr(0, 42) + "h=\n", 2, errc::invalid_key, "PublicKey"},
      {"endpoint without port", peer + "Endpoint = vpn.example.com\n", 3, errc::invalid_value, "Endpoint"},
      {"endpoint with port 0", peer + "Endpoint = 192.0.2.1:0\n", 3, errc::invalid_value, "Endpoint"},
      {"IPv6 endpoint without brackets", peer + "Endpoint = 2001:db8::1:51820\n", 3, errc::invalid_value, "Endpoint"},
      {"endpoint that is a bad IPv4", peer + "Endpoint = 300.1.2.3:1\n", 3, errc::invalid_value, "Endpoint"},
      {"keepalive too large", peer + "PersistentKeepalive = 65536\n", 3, errc::invalid_value, "PersistentKeepalive"},
      {"peer without PublicKey", "[Interface]\n[Peer]\nAllowedIPs = 0.0.0.0/0\n[Peer]\nPublicKey = " + key_b + "\n", 2,
       errc::missing_field, "[Peer] has no PublicKey"},
      {"last peer without PublicKey", peer + "\n[Peer]\n# empty\n", 4, errc::missing_field, "[Peer] has no PublicKey"},
  }));
  INFO(c.why);
  auto e = parse_failure(c.text);
  CHECK(e.line == c.line);
  CHECK(e.code == make_error_code(c.code));
  CHECK_THAT(e.detail, ContainsSubstring(c.detail));
  CHECK_THAT(e.message("wg0.conf"), ContainsSubstring("wg0.conf:" + std::to_string(c.line) + ": "));
}

TEST_CASE("wg-quick errors never repeat a private or preshared key", "[provider][wg_quick]") {
  // One character short: the message must not quote what is nearly a secret.
  auto almost = key_a.substr(0, 43);
  auto e1 = parse_failure("[Interface]\nPrivateKey = " + almost + "\n");
  CHECK(e1.detail.find(almost) == std::string::npos);
  auto e2 = parse_failure("[Peer]\nPublicKey = " + key_b + "\nPresharedKey = " + almost + "\n");
  CHECK(e2.detail.find(almost) == std::string::npos);
}

TEST_CASE("wg-quick check_writable names what a hand-built config cannot hold", "[provider][wg_quick]") {
  wg_quick::config c;
  SECTION("a hook with a '#'") {
    c.interface.post_up = {"echo a # b"};
    auto r = wg_quick::check_writable(c);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().detail, ContainsSubstring("PostUp"));
  }
  SECTION("a hook with a newline would inject a line") {
    c.interface.pre_up = {"true\n[Peer]"};
    CHECK_FALSE(wg_quick::check_writable(c));
  }
  SECTION("a table named off") {
    c.interface.table = wg_quick::routing_table{wg_quick::routing_table::kind::name, 0, "off"};
    auto r = wg_quick::check_writable(c);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().detail, ContainsSubstring("Table"));
  }
  SECTION("an unwritable search domain") {
    c.interface.dns_search = {"has space"};
    CHECK_FALSE(wg_quick::check_writable(c));
  }
  SECTION("a fine config") {
    c.interface.post_up = {"echo fine"};
    CHECK(wg_quick::check_writable(c));
  }
}
