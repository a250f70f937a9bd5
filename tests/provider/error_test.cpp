#include <warren/provider/error.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <string>
#include <system_error>

using namespace warren::provider;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("provider errors have their own category and a message for each code", "[provider]") {
  std::error_code ec = errc::duplicate_key;  // implicit: is_error_code_enum
  CHECK(std::string(ec.category().name()) == "warren.provider");
  CHECK(ec == make_error_code(errc::duplicate_key));
  CHECK(ec != std::error_code(static_cast<int>(errc::duplicate_key), std::generic_category()));
  for (int e = static_cast<int>(errc::syntax_error); e <= static_cast<int>(errc::corrupt_cache); ++e) {
    auto text = make_error_code(static_cast<errc>(e)).message();
    INFO(e);
    CHECK_FALSE(text.empty());
    CHECK(text.find("unknown warren.provider") == std::string::npos);
  }
  CHECK(error_category().message(0) == "unknown warren.provider error");
}

TEST_CASE("parse_error messages read like compiler diagnostics", "[provider]") {
  parse_error e{make_error_code(errc::invalid_value), 7, "AllowedIPs: '10.0.0.0/33' is not an IP prefix"};
  CHECK(e.message("wg0.conf") == "wg0.conf:7: AllowedIPs: '10.0.0.0/33' is not an IP prefix");
  CHECK(e.message() == "line 7: AllowedIPs: '10.0.0.0/33' is not an IP prefix");
  SECTION("without a line") {
    e.line = 0;
    CHECK(e.message("servers.json") == "servers.json: AllowedIPs: '10.0.0.0/33' is not an IP prefix");
    CHECK(e.message() == "AllowedIPs: '10.0.0.0/33' is not an IP prefix");
  }
  SECTION("without a detail, the code's message") {
    e.detail.clear();
    CHECK_THAT(e.message("x"), ContainsSubstring("x:7: invalid value"));
  }
}
