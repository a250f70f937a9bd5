#include <warren/wireguard/adapters/client_tunnel.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "route/packets.hpp"
#include "support/wireguard_echo_server.hpp"

#include <warren/crypto/default_backend.hpp>
#include <warren/packet/ip_packet.hpp>

#include <asio/io_context.hpp>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// A client_tunnel against a WireGuard server made of the engine on a real UDP socket on
// loopback (support/wireguard_echo_server.hpp), which can be stopped to play a dead server.

using namespace std::chrono_literals;
using namespace warren::test::route_packets;
using warren::packet_buffer;
using warren::time_point;
using warren::wireguard::client_tunnel;
using warren::wireguard::client_tunnel_config;
using warren::wireguard::endpoint;
using warren::wireguard::udp_socket;
namespace crypto = warren::crypto;

namespace {

struct fixture {
  asio::io_context io;
  crypto::default_backend c;
  crypto::private_key key;
  crypto::public_key pub{};
  std::unique_ptr<warren::test::wireguard_echo_server> server;
  client_tunnel_config config;

  fixture() {
    c.generate_private_key(key);
    c.x25519_public(pub, key);
    server = std::make_unique<warren::test::wireguard_echo_server>(io, pub, *warren::packet::ip_prefix::parse("10.100.0.2/32"));
    config.private_key = key;
    config.server_key = server->pub;
    config.server = server->where();
  }
  // Runs the loop until `done` or 5 s.
  template <class F>
  bool run_until(F done) {
    const auto limit = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < limit) io.run_for(10ms);
    return done();
  }
};

}  // namespace

TEST_CASE("client tunnel: comes up by itself, carries packets both ways, and says when it is up", "[wireguard]") {
  fixture f;
  bool up = false;
  std::vector<std::string> got;
  auto t = client_tunnel<>::open(f.io.get_executor(), f.config,
                                 {.on_packets = [&](std::span<packet_buffer> ps) {
                                    for (auto& p : ps) got.push_back(warren::packet::parse_ip(p.bytes())->destination().to_string());
                                  },
                                  .on_up = [&] { up = true; },
                                  .on_down = [&](std::string) { FAIL("the server is alive"); }});
  REQUIRE(t);
  // Sent before the handshake completes: held, then delivered.
  (*t)->send(packet_buffer::copy_of(udp("10.100.0.2", 5000, "198.18.1.7", 7)));
  REQUIRE(f.run_until([&] { return up && got.size() == 1; }));
  REQUIRE((*t)->up());
  REQUIRE(got[0] == "10.100.0.2");  // the echo came back to our address
  for (int i = 0; i < 10; ++i) (*t)->send(packet_buffer::copy_of(udp("10.100.0.2", 5000, "198.18.1.7", 7)));
  REQUIRE(f.run_until([&] { return got.size() == 11; }));
  REQUIRE((*t)->counters().packets_sent == 11);
  REQUIRE((*t)->counters().packets_received == 11);
  REQUIRE(f.server->echoed == 11);
}

TEST_CASE("client tunnel: a server that stops answering is reported lost once", "[wireguard]") {
  fixture f;
  f.config.check_after = 200ms;
  f.config.dead_after = 300ms;
  bool up = false;
  int downs = 0;
  std::string why;
  std::unique_ptr<client_tunnel<>> t;
  auto opened = client_tunnel<>::open(f.io.get_executor(), f.config,
                                      {.on_packets = [](std::span<packet_buffer>) {},
                                       .on_up = [&] { up = true; },
                                       .on_down = [&](std::string reason) {
                                         ++downs;
                                         why = std::move(reason);
                                         t.reset();  // destroying it from the handler is allowed
                                       }});
  REQUIRE(opened);
  t = std::move(*opened);
  REQUIRE(f.run_until([&] { return up; }));
  f.server->stop();
  t->send(packet_buffer::copy_of(udp("10.100.0.2", 5000, "198.18.1.7", 7)));
  REQUIRE(f.run_until([&] { return downs == 1; }));
  REQUIRE(why.find("nor to a handshake") != std::string::npos);
  REQUIRE(t == nullptr);
  f.io.run_for(400ms);
  REQUIRE(downs == 1);
}

TEST_CASE("client tunnel: an idle tunnel to a stopped server is not declared lost", "[wireguard]") {
  // Nothing was sent, so nothing is missing an answer: idleness is the orchestrator's business.
  fixture f;
  f.config.dead_after = 100ms;
  bool up = false, down = false;
  auto t = client_tunnel<>::open(f.io.get_executor(), f.config,
                                 {.on_packets = [](std::span<packet_buffer>) {},
                                  .on_up = [&] { up = true; },
                                  .on_down = [&](std::string) { down = true; }});
  REQUIRE(t);
  REQUIRE(f.run_until([&] { return up; }));
  f.server->stop();
  f.io.run_for(500ms);
  REQUIRE_FALSE(down);
  (*t)->close();
  REQUIRE((*t)->closed());
}

TEST_CASE("client tunnel: a server that only listens is asked, answers the handshake, and stays", "[wireguard]") {
  // The last packet of a flow often needs no answer (a final ACK): silence is not loss.
  fixture f;
  f.config.check_after = 100ms;
  f.config.dead_after = 300ms;
  f.server->echo = false;
  bool up = false, down = false;
  auto t = client_tunnel<>::open(f.io.get_executor(), f.config,
                                 {.on_packets = [](std::span<packet_buffer>) {},
                                  .on_up = [&] { up = true; },
                                  .on_down = [&](std::string) { down = true; }});
  REQUIRE(t);
  REQUIRE(f.run_until([&] { return up; }));
  (*t)->send(packet_buffer::copy_of(udp("10.100.0.2", 5000, "198.18.1.7", 7)));
  const auto handshakes = f.server->handshakes();
  REQUIRE(f.run_until([&] { return f.server->handshakes() > handshakes; }));  // the check, answered
  f.io.run_for(600ms);
  REQUIRE_FALSE(down);
  REQUIRE(f.server->received == 1);
}
