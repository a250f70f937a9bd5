#include <warren/provider/auth_state.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

using namespace warren::provider;

TEST_CASE("auth_state starts at none and is ok only when authenticated", "[provider]") {
  auth_state s;
  CHECK(s.status == auth_status::none);
  CHECK_FALSE(s.ok());
  for (auto status : {auth_status::none, auth_status::pending, auth_status::expired, auth_status::failed})
    CHECK_FALSE(auth_state{status, {}}.ok());
  CHECK(auth_state{auth_status::authenticated, {}}.ok());
  CHECK(to_string(auth_status::none) == "none");
  CHECK(to_string(auth_status::pending) == "pending");
  CHECK(to_string(auth_status::authenticated) == "authenticated");
  CHECK(to_string(auth_status::expired) == "expired");
  CHECK(to_string(auth_status::failed) == "failed");
  CHECK(auth_state{auth_status::failed, "a"} != auth_state{auth_status::failed, "b"});
}
