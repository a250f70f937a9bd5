#include <warren/probe/adapters/udp_echo_responder.hpp>
#include <catch2/catch_test_macros.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <vector>

// The responder on a real socket on 127.0.0.1, with a plain UDP socket as the client. Datagrams
// from one socket to another on loopback keep their order, so when the reply to a later
// request arrives, everything sent before it has been handled.

using namespace std::chrono_literals;
using warren::probe::echo_probe;
using warren::probe::udp_echo_responder;
namespace ip = asio::ip;

namespace {

struct client {
  asio::io_context& io;
  ip::udp::socket socket{io, ip::udp::endpoint(ip::make_address("127.0.0.1"), 0)};
  ip::udp::endpoint server;
  echo_probe probe;
  std::vector<std::vector<std::byte>> received;

  client(asio::io_context& i, std::uint16_t port) : io(i), server(ip::make_address("127.0.0.1"), port) {
    probe.nonce.fill(std::byte{0x42});
    receive();
  }
  void send(std::uint32_t seq) {
    std::vector<std::byte> d(probe.size);
    probe.write_request(seq, d);
    socket.send_to(asio::buffer(d), server);
  }
  void send_raw(const std::vector<std::byte>& d) { socket.send_to(asio::buffer(d), server); }
  // Runs the io_context until `done` holds (bounded: a broken test fails rather than hangs).
  void run_until(const std::function<bool()>& done) {
    auto give_up = std::chrono::steady_clock::now() + 60s;
    while (!done() && std::chrono::steady_clock::now() < give_up) io.run_one_for(1s);
    REQUIRE(done());
  }

 private:
  std::array<std::byte, 2048> buffer_{};
  void receive() {
    socket.async_receive(asio::buffer(buffer_), [this](std::error_code ec, std::size_t n) {
      if (ec) return;
      received.emplace_back(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
      receive();
    });
  }
};

}  // namespace

TEST_CASE("udp_echo_responder echoes requests so that the prober's check passes", "[probe]") {
  asio::io_context io;
  auto r = udp_echo_responder::open(io.get_executor(), {ip::make_address("127.0.0.1"), 0});
  REQUIRE(r);
  REQUIRE(r->port() != 0);
  client c(io, r->port());
  c.send(1);
  c.send(2);
  c.run_until([&] { return c.received.size() == 2; });
  CHECK(c.probe.match_reply(c.received[0]) == 1u);
  CHECK(c.probe.match_reply(c.received[1]) == 2u);
  CHECK(r->counters().echo.echoed == 2);
}

TEST_CASE("udp_echo_responder leaves other datagrams unanswered", "[probe]") {
  asio::io_context io;
  auto r = udp_echo_responder::open(io.get_executor(), {ip::make_address("127.0.0.1"), 0});
  REQUIRE(r);
  client c(io, r->port());
  c.send_raw(std::vector<std::byte>(148, std::byte{1}));  // not a request
  std::vector<std::byte> reply(c.probe.size);
  c.probe.write_request(5, reply);
  REQUIRE(warren::probe::make_echo_reply(reply));
  c.send_raw(reply);  // a reply: answering it would let two responders loop
  c.send(9);
  c.run_until([&] { return !c.received.empty(); });
  REQUIRE(c.received.size() == 1);
  CHECK(c.probe.match_reply(c.received[0]) == 9u);
  CHECK(r->counters().echo.not_requests == 2);
}

TEST_CASE("udp_echo_responder limits its reply rate", "[probe]") {
  asio::io_context io;
  auto r = udp_echo_responder::open(io.get_executor(), {ip::make_address("127.0.0.1"), 0},
                                    {.replies_per_second = 0.001, .burst = 2});
  REQUIRE(r);
  client c(io, r->port());
  for (std::uint32_t i = 0; i < 5; ++i) c.send(i);
  c.run_until([&] {
    auto k = r->counters().echo;
    return k.echoed + k.rate_limited == 5 && c.received.size() == 2;
  });
  CHECK(r->counters().echo.echoed == 2);
  CHECK(r->counters().echo.rate_limited == 3);
}

TEST_CASE("udp_echo_responder stops when closed or destroyed", "[probe]") {
  asio::io_context io;
  auto r = udp_echo_responder::open(io.get_executor(), {ip::make_address("127.0.0.1"), 0});
  REQUIRE(r);
  SECTION("close") { r->close(); }
  SECTION("destroy") { r = warren::unexpected(std::error_code()); }
  io.run_for(10s);
  CHECK(io.stopped());  // its receive was its only work
}

TEST_CASE("udp_echo_responder reports a port it cannot bind", "[probe]") {
  asio::io_context io;
  auto a = udp_echo_responder::open(io.get_executor(), {ip::make_address("127.0.0.1"), 0});
  REQUIRE(a);
  auto b = udp_echo_responder::open(io.get_executor(), {ip::make_address("127.0.0.1"), a->port()});
  REQUIRE_FALSE(b);
  CHECK(b.error() == std::errc::address_in_use);
}
