#include <warren/probe/error.hpp>
#include <catch2/catch_test_macros.hpp>

#include <cerrno>
#include <string>

using warren::probe::classify_socket_error;
using warren::probe::errc;

TEST_CASE("probe errors carry the warren.probe category and a message each", "[probe]") {
  std::error_code ec = errc::timeout;
  CHECK(std::string(ec.category().name()) == "warren.probe");
  for (auto e : {errc::timeout, errc::refused, errc::unreachable, errc::bad_reply, errc::bad_target}) {
    std::error_code c = e;
    CHECK(c.message().find("unknown") == std::string::npos);
  }
  CHECK(std::error_code(99, warren::probe::error_category()).message().find("unknown") != std::string::npos);
}

TEST_CASE("classify_socket_error maps socket errors to probe errors", "[probe]") {
  auto sys = [](int e) { return std::error_code(e, std::system_category()); };
  CHECK(classify_socket_error(sys(ECONNREFUSED)) == errc::refused);
  CHECK(classify_socket_error(sys(ENETUNREACH)) == errc::unreachable);
  CHECK(classify_socket_error(sys(EHOSTUNREACH)) == errc::unreachable);
  CHECK(classify_socket_error(sys(ETIMEDOUT)) == errc::timeout);
  CHECK(classify_socket_error(std::make_error_code(std::errc::connection_refused)) == errc::refused);
  CHECK(classify_socket_error(sys(ENOBUFS)) == sys(ENOBUFS));
  CHECK_FALSE(classify_socket_error({}));
}
