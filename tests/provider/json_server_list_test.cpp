#include <warren/provider/json_server_list.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "test_support.hpp"

#include <string>
#include <vector>

using namespace warren::provider;
using namespace warren::provider::test;
using Catch::Matchers::ContainsSubstring;

namespace {

const std::string good_list = R"({
  "version": 1,
  "generated_by": "ops tooling, a field this version ignores",
  "servers": [
    { "id": "uk-lon-1", "region": "uk", "country": "GB", "city": "London",
      "endpoint": "vpn1.example.com:51820", "public_key": ")" + key_b + R"(", "load": 20 },
    { "id": "us-nyc-1", "region": "us-east", "country": "US", "city": "New York",
      "endpoint": "[2001:db8::7]:443", "public_key": ")" + key_c + R"(",
      "client_address": "10.100.7.2/32", "allowed_ips": ["10.0.0.0/8", "fd00::/8"], "load": null },
    { "id": "bare", "region": "x", "endpoint": "198.51.100.1:51820", "public_key": ")" + key_d + R"(" }
  ]
})";

std::vector<server> parsed(std::string_view text) {
  auto r = parse_server_list(text);
  INFO((r ? std::string() : r.error().message("servers.json")));
  REQUIRE(r);
  return *r;
}

// A list with one server whose field `field` holds `value` (raw JSON), every other field good.
std::string list_with(const std::string& field, const std::string& value) {
  std::string fields[][2] = {{"id", "\"s1\""},
                             {"region", "\"uk\""},
                             {"endpoint", "\"192.0.2.1:51820\""},
                             {"public_key", "\"" + key_b + "\""}};
  std::string body;
  bool replaced = false;
  for (auto& [name, v] : fields) {
    if (name == field) {
      v = value;
      replaced = true;
    }
    if (!v.empty()) body += (body.empty() ? "" : ", ") + ("\"" + name + "\": " + v);
  }
  if (!replaced) body += ", \"" + field + "\": " + value;
  return R"({"version": 1, "servers": [{"id": "s0", "region": "uk", "endpoint": "192.0.2.9:1", "public_key": ")" +
         key_e + "\"}, {" + body + "}]}";
}

}  // namespace

TEST_CASE("server list reads what an operator publishes", "[provider][json]") {
  auto servers = parsed(good_list);
  REQUIRE(servers.size() == 3);
  const auto& uk = servers[0];
  CHECK(uk.id == "uk-lon-1");
  CHECK(uk.region == "uk");
  CHECK(uk.country == "GB");
  CHECK(uk.city == "London");
  CHECK(uk.endpoint == ep("vpn1.example.com:51820"));
  CHECK(uk.public_key == public_key(key_b));
  CHECK(uk.load == std::optional<std::uint8_t>{20});
  CHECK(uk.allowed_ips.empty());
  CHECK_FALSE(uk.client_address);
  const auto& us = servers[1];
  CHECK(us.city == "New York");
  CHECK(us.endpoint == ep("[2001:db8::7]:443"));
  CHECK_FALSE(us.load);  // null is absent
  CHECK(us.client_address == prefix("10.100.7.2/32"));
  CHECK(us.allowed_ips == std::vector{prefix("10.0.0.0/8"), prefix("fd00::/8")});
  const auto& bare = servers[2];
  CHECK(bare.country.empty());
  CHECK(bare.city.empty());
  CHECK_FALSE(bare.load);

  SECTION("write_server_list round-trips") {
    auto text = write_server_list(servers);
    CHECK(parsed(text) == servers);
  }
  SECTION("an empty list is a list") { CHECK(parsed(R"({"version":1,"servers":[]})").empty()); }
}

TEST_CASE("server list refuses hostile documents with the field and server index", "[provider][json]") {
  struct bad {
    const char* why;
    std::string text;
    errc code;
    const char* detail;
  };
  auto c = GENERATE_COPY(values<bad>({
      {"not JSON", "{\"version\": 1,\n \"servers\": [,]}", errc::invalid_json, "syntax error"},
      {"truncated", good_list.substr(0, good_list.size() / 2), errc::invalid_json, "syntax error"},
      {"empty text", "", errc::invalid_json, "not valid JSON"},
      {"nested too deep", std::string(100, '[') + std::string(100, ']'), errc::invalid_json, "nested deeper"},
      {"an array at the top", "[]", errc::invalid_value, "must be an object, not array"},
      {"no version", R"({"servers": []})", errc::missing_field, "version: required"},
      {"a newer version", R"({"version": 2, "servers": []})", errc::unsupported_version, "not '2'"},
      {"version as a string", R"({"version": "1", "servers": []})", errc::unsupported_version, "version"},
      {"version as a float", R"({"version": 1.0, "servers": []})", errc::unsupported_version, "version"},
      {"no servers", R"({"version": 1})", errc::missing_field, "servers: required"},
      {"servers an object", R"({"version": 1, "servers": {}})", errc::invalid_value, "servers: must be an array"},
      {"a server that is a number", R"({"version": 1, "servers": [7]})", errc::invalid_value,
       "servers[0]: must be an object, not number"},
      {"missing id", list_with("id", ""), errc::missing_field, "servers[1].id: required"},
      {"empty id", list_with("id", "\"\""), errc::missing_field, "servers[1].id: must not be empty"},
      {"id a number", list_with("id", "42"), errc::invalid_value, "servers[1].id: must be a string, not number"},
      {"id too long", list_with("id", "\"" + std::string(300, 'x') + "\""), errc::invalid_value, "servers[1].id: longer"},
      {"missing region", list_with("region", ""), errc::missing_field, "servers[1].region: required"},
      {"city an array", list_with("city", "[\"London\"]"), errc::invalid_value, "servers[1].city: must be a string"},
      {"missing endpoint", list_with("endpoint", ""), errc::missing_field, "servers[1].endpoint: required"},
      {"endpoint without port", list_with("endpoint", "\"vpn.example.com\""), errc::invalid_value,
       "servers[1].endpoint: 'vpn.example.com' is not host:port"},
      {"missing key", list_with("public_key", ""), errc::missing_field, "servers[1].public_key: required"},
      {"short key", list_with("public_key", "\"" + key_b.substr(4) + "\""), errc::invalid_key,
       "servers[1].public_key"},
      {"key of hex", list_with("public_key", "\"" + std::string(64, 'a') + "\""), errc::invalid_key,
       "servers[1].public_key"},
      {"key a number", list_with("public_key", "12"), errc::invalid_value, "servers[1].public_key: must be a string"},
      {"load too high", list_with("load", "101"), errc::invalid_value, "servers[1].load: must be an integer from 0 to 100"},
      {"negative load", list_with("load", "-1"), errc::invalid_value, "servers[1].load"},
      {"fractional load", list_with("load", "20.5"), errc::invalid_value, "servers[1].load"},
      {"huge load", list_with("load", "18446744073709551616"), errc::invalid_value, "servers[1].load"},
      {"a float too large for a double", list_with("load", "1e400"), errc::invalid_json, "not valid JSON"},
      {"load as a string", list_with("load", "\"20\""), errc::invalid_value, "servers[1].load"},
      {"load as a bool", list_with("load", "true"), errc::invalid_value, "servers[1].load"},
      {"allowed_ips a string", list_with("allowed_ips", "\"0.0.0.0/0\""), errc::invalid_value,
       "servers[1].allowed_ips: must be a non-empty array"},
      {"allowed_ips empty", list_with("allowed_ips", "[]"), errc::invalid_value, "servers[1].allowed_ips"},
      {"allowed_ips bad item", list_with("allowed_ips", "[\"0.0.0.0/0\", \"::/129\"]"), errc::invalid_value,
       "servers[1].allowed_ips[1]: '::/129' is not an IP prefix"},
      {"allowed_ips a number item", list_with("allowed_ips", "[1]"), errc::invalid_value,
       "servers[1].allowed_ips[0]: must be a string"},
      {"bad client_address", list_with("client_address", "\"10.0.0.300\""), errc::invalid_value,
       "servers[1].client_address: '10.0.0.300'"},
      {"same id twice", list_with("id", "\"s0\""), errc::duplicate_server,
       "servers[1].id: 's0' is also the id of servers[0]"},
      {"control characters are not echoed", list_with("endpoint", "\"a\\nb:1\""), errc::invalid_value, "'a?b:1'"},
  }));
  INFO(c.why);
  auto r = parse_server_list(c.text);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == make_error_code(c.code));
  CHECK_THAT(r.error().detail, ContainsSubstring(c.detail));
}

TEST_CASE("server list syntax errors carry the line", "[provider][json]") {
  auto r = parse_server_list("{\n  \"version\": 1,\n  \"servers\": [\n    oops\n  ]\n}\n");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == make_error_code(errc::invalid_json));
  CHECK(r.error().line == 4);
  CHECK_THAT(r.error().message("servers.json"), ContainsSubstring("servers.json:4: "));
}

TEST_CASE("server list refuses documents over the size limit unread", "[provider][json]") {
  std::string huge(max_server_list_size + 1, ' ');
  auto r = parse_server_list(huge);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == make_error_code(errc::file_too_large));
}

TEST_CASE("server list survives strings with escapes and non-ASCII", "[provider][json]") {
  auto text = list_with("city", R"("Z\u00fcrich \"centre\"")");
  auto servers = parsed(text);
  REQUIRE(servers.size() == 2);
  CHECK(servers[1].city == "Z\xc3\xbcrich \"centre\"");
  CHECK(parsed(write_server_list(servers)) == servers);
}
