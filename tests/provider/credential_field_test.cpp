#include <warren/provider/credential_field.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include <vector>

using namespace warren::provider;

TEST_CASE("first_missing finds the first required field without a value", "[provider]") {
  std::vector<credential_field> fields = {
      {"user", "User name", field_kind::text, true, "alice"},
      {"password", "Password", field_kind::secret, true, ""},
      {"otp", "One-time code", field_kind::text, false, "123456"},
  };
  credentials given;
  REQUIRE(first_missing(fields, given) != nullptr);
  CHECK(first_missing(fields, given)->name == "user");
  given["user"] = "alice";
  CHECK(first_missing(fields, given)->name == "password");
  given["password"] = "";  // present but empty still counts as missing
  CHECK(first_missing(fields, given)->name == "password");
  given["password"] = "hunter2";
  CHECK(first_missing(fields, given) == nullptr);  // otp is optional
  const std::vector<credential_field> none;
  CHECK(first_missing(none, given) == nullptr);
}
