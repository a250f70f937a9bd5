#include <warren/probe/wireguard_handshake.hpp>
#include <catch2/catch_test_macros.hpp>

#include <warren/crypto/default_backend.hpp>
#include <warren/wireguard/engine.hpp>

#include <chrono>
#include <vector>

// The WireGuard probe's core against a real wireguard::engine as the server, in memory: the
// test hands the initiation to the server and the server's answer back. No sockets, no sleeps.

using namespace std::chrono_literals;
using namespace warren;
using probe::errc;
using probe::wireguard_handshake;
using probe::wireguard_keys;
using probe::wireguard_reply;
using backend = crypto::default_backend;

namespace {

const wireguard::endpoint client_ep = *wireguard::endpoint::parse("198.51.100.7:40000");

struct server_fixture {
  backend crypto_server, crypto_client;
  wireguard::engine<backend> server{crypto_server};
  crypto::private_key server_key, client_key;
  crypto::public_key server_pub{}, client_pub{};
  time_point now = time_point{} + 1h;
  std::chrono::system_clock::time_point wall = std::chrono::system_clock::now();

  server_fixture() {
    crypto_server.generate_private_key(server_key);
    crypto_client.generate_private_key(client_key);
    crypto_server.x25519_public(server_pub, server_key);
    crypto_client.x25519_public(client_pub, client_key);
    server.set_private_key(server_key);
  }
  void know_client() { REQUIRE(server.set_peer({.public_key = client_pub})); }
  wireguard_keys keys() const { return {client_key, server_pub, {}}; }

  // What the server sends back for a datagram.
  std::vector<packet_buffer> server_answers(byte_view d) {
    wireguard::engine_output out;
    (void)server.on_datagram(client_ep, packet_buffer::copy_of(d), now, out);
    std::vector<packet_buffer> answers;
    for (auto& dg : out.datagrams) answers.push_back(std::move(dg.bytes));
    return answers;
  }
};

}  // namespace

TEST_CASE("wireguard probe: a server that knows our key answers with a handshake response", "[probe]") {
  server_fixture f;
  f.know_client();
  auto a = wireguard_handshake<backend>::start(f.crypto_client, f.keys(), f.now, f.wall);
  REQUIRE(a);
  CHECK(a->initiation().size() == wireguard::initiation_size);
  auto answers = f.server_answers(a->initiation());
  REQUIRE(answers.size() == 1);
  CHECK(f.server.counters().handshakes_completed == 0);  // the responder completes on first data
  auto r = a->on_datagram(answers[0].bytes(), f.now + 5ms);
  REQUIRE(r);
  CHECK(*r == wireguard_reply::handshake_response);
  SECTION("the same response again is not a second answer") {
    CHECK(a->on_datagram(answers[0].bytes(), f.now + 6ms).error() == errc::bad_reply);
  }
}

TEST_CASE("wireguard probe: a server under load answers with a cookie reply, which counts", "[probe]") {
  server_fixture f;
  f.know_client();
  f.server.set_under_load(true);
  auto a = wireguard_handshake<backend>::start(f.crypto_client, f.keys(), f.now, f.wall);
  REQUIRE(a);
  auto answers = f.server_answers(a->initiation());
  REQUIRE(answers.size() == 1);
  REQUIRE(wireguard::classify(answers[0].bytes()) == wireguard::message_type::cookie_reply);
  CHECK(a->on_datagram(answers[0].bytes(), f.now + 5ms) == wireguard_reply::cookie_reply);
}

TEST_CASE("wireguard probe: a server that does not know our key stays silent", "[probe]") {
  server_fixture f;  // no peer configured
  auto a = wireguard_handshake<backend>::start(f.crypto_client, f.keys(), f.now, f.wall);
  REQUIRE(a);
  CHECK(f.server_answers(a->initiation()).empty());
  SECTION("nor does one whose public key we got wrong") {
    server_fixture g;
    g.know_client();
    auto keys = g.keys();
    keys.server_public_key = f.server_pub;  // another server's key: mac1 fails there
    auto b = wireguard_handshake<backend>::start(g.crypto_client, keys, g.now, g.wall);
    REQUIRE(b);
    CHECK(g.server_answers(b->initiation()).empty());
  }
}

TEST_CASE("wireguard probe: a response to an earlier attempt does not answer this one", "[probe]") {
  server_fixture f;
  f.know_client();
  auto first = wireguard_handshake<backend>::start(f.crypto_client, f.keys(), f.now, f.wall);
  REQUIRE(first);
  auto late = f.server_answers(first->initiation());
  REQUIRE(late.size() == 1);
  // The first attempt timed out; the second starts well after the server's rate limit.
  f.now += 100ms;
  auto second = wireguard_handshake<backend>::start(f.crypto_client, f.keys(), f.now, f.wall + 100ms);
  REQUIRE(second);
  CHECK_FALSE(second->on_datagram(late[0].bytes(), f.now + 1ms));
  auto answers = f.server_answers(second->initiation());
  REQUIRE(answers.size() == 1);
  CHECK(second->on_datagram(answers[0].bytes(), f.now + 2ms) == wireguard_reply::handshake_response);
}

TEST_CASE("wireguard probe: what is not a response or cookie reply is ignored", "[probe]") {
  server_fixture f;
  f.know_client();
  auto a = wireguard_handshake<backend>::start(f.crypto_client, f.keys(), f.now, f.wall);
  REQUIRE(a);
  SECTION("our own initiation reflected back") {
    CHECK(a->on_datagram(a->initiation(), f.now).error() == errc::bad_reply);
  }
  SECTION("garbage") {
    std::vector<std::byte> junk(92, std::byte{2});
    CHECK_FALSE(a->on_datagram(junk, f.now));
    CHECK_FALSE(a->on_datagram({}, f.now));
  }
  SECTION("a response with one bit flipped") {
    auto answers = f.server_answers(a->initiation());
    REQUIRE(answers.size() == 1);
    std::vector<std::byte> bad(answers[0].bytes().begin(), answers[0].bytes().end());
    bad[50] ^= std::byte{1};
    CHECK_FALSE(a->on_datagram(bad, f.now));
    // and the real one still answers afterwards
    CHECK(a->on_datagram(answers[0].bytes(), f.now) == wireguard_reply::handshake_response);
  }
}

TEST_CASE("wireguard probe: keys that give no initiation are a bad target", "[probe]") {
  server_fixture f;
  auto keys = f.keys();
  keys.server_public_key = f.client_pub;  // the server would be ourselves
  auto a = wireguard_handshake<backend>::start(f.crypto_client, keys, f.now, f.wall);
  REQUIRE_FALSE(a);
  CHECK(a.error() == errc::bad_target);
}
