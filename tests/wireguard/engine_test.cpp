#include <warren/wireguard/engine.hpp>
#include <catch2/catch_test_macros.hpp>

#include <warren/crypto/fast_backend.hpp>
#include <warren/packet/ip_packet.hpp>

#include <string>
#include <vector>

// Two engines, A and B, wired back to back in memory: datagrams one emits are handed to the
// other by the test, and time is a value the test advances. No sockets, no sleeps.

using namespace warren;
using namespace warren::wireguard;
using namespace std::chrono_literals;
namespace pk = warren::packet;

namespace {

const endpoint ep_a = *endpoint::parse("192.0.2.1:51820");
const endpoint ep_b = *endpoint::parse("192.0.2.2:51820");

packet_buffer udp_packet(const char* src, const char* dst, std::string_view payload) {
  auto buf = packet_buffer::allocate();
  (void)buf.append(as_byte_view(payload));
  auto s = *pk::ipv4_address::parse(src), d = *pk::ipv4_address::parse(dst);
  (void)pk::write_udp_header(buf, s, d, 1000, 2000);
  (void)pk::write_ipv4_header(buf, {.source = s, .destination = d, .protocol = pk::ip_protocol::udp});
  return buf;
}

std::string payload_of(const packet_buffer& pkt) {
  auto p = pk::parse_ip(pkt.bytes(), pk::verify::checksums);
  if (!p || !p->udp) return "<not a valid UDP packet>";
  auto b = p->udp->payload();
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

packet_buffer copy(const packet_buffer& b) { return packet_buffer::copy_of(b.bytes()); }

struct pair_fixture {
  crypto::fast_backend crypto_a, crypto_b;
  engine<crypto::fast_backend> a{crypto_a};
  engine<crypto::fast_backend> b{crypto_b};
  crypto::private_key key_a, key_b;
  crypto::public_key pub_a{}, pub_b{};
  time_point now{};
  engine_output out_a, out_b;

  explicit pair_fixture(const crypto::symmetric_key& psk_a = {}, const crypto::symmetric_key& psk_b = {}) {
    crypto_a.generate_private_key(key_a);
    crypto_b.generate_private_key(key_b);
    crypto_a.x25519_public(pub_a, key_a);
    crypto_b.x25519_public(pub_b, key_b);
    a.set_private_key(key_a);
    b.set_private_key(key_b);
    REQUIRE(a.set_peer({.public_key = pub_b, .preshared_key = psk_a, .endpoint = ep_b,
                        .allowed_ips = {*pk::ip_prefix::parse("10.0.0.2/32")}}));
    REQUIRE(b.set_peer({.public_key = pub_a, .preshared_key = psk_b, .endpoint = ep_a,
                        .allowed_ips = {*pk::ip_prefix::parse("10.0.0.1/32")}}));
  }

  // Hands everything A emitted to B and everything B emitted to A, until both are quiet.
  // Returns how many datagrams crossed. `from_a` / `from_b` override the source endpoints.
  int exchange(endpoint from_a = ep_a, endpoint from_b = ep_b) {
    int crossed = 0;
    for (int round = 0; round < 10 && (!out_a.datagrams.empty() || !out_b.datagrams.empty()); ++round) {
      auto to_b = std::move(out_a.datagrams);
      auto to_a = std::move(out_b.datagrams);
      out_a.datagrams.clear();
      out_b.datagrams.clear();
      for (auto& d : to_b) {
        CHECK(d.to == ep_b);
        (void)b.on_datagram(from_a, std::move(d.bytes), now, out_b);
        ++crossed;
      }
      for (auto& d : to_a) {
        (void)a.on_datagram(from_b, std::move(d.bytes), now, out_a);
        ++crossed;
      }
    }
    return crossed;
  }

  void connect() {
    REQUIRE(a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "first"), now, out_a));
    exchange();
    REQUIRE(out_b.packets.size() == 1);
    REQUIRE(payload_of(out_b.packets[0]) == "first");
    out_b.packets.clear();
  }
};

}  // namespace

TEST_CASE("the first packet starts a handshake and arrives once it completes", "[wireguard][engine]") {
  pair_fixture f;
  REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "hello B"), f.now, f.out_a));
  REQUIRE(f.out_a.datagrams.size() == 1);
  CHECK(f.out_a.datagrams[0].bytes.size() == initiation_size);
  CHECK(f.out_b.packets.empty());
  f.exchange();
  REQUIRE(f.out_b.packets.size() == 1);
  CHECK(payload_of(f.out_b.packets[0]) == "hello B");
  CHECK(f.a.counters().handshakes_completed == 1);
  CHECK(f.b.counters().handshakes_completed == 1);

  SECTION("and data flows both ways on the session") {
    REQUIRE(f.b.on_packet(udp_packet("10.0.0.2", "10.0.0.1", "hello A"), f.now, f.out_b));
    REQUIRE(f.out_b.datagrams.size() == 1);
    CHECK(f.out_b.datagrams[0].bytes.size() == transport_header_size + 48 + crypto::tag_size);  // 33 bytes padded to 48
    f.exchange();
    REQUIRE(f.out_a.packets.size() == 1);
    CHECK(payload_of(f.out_a.packets[0]) == "hello A");
    CHECK(f.a.counters().handshakes_initiated == 1);  // no second handshake
  }
  SECTION("status reports bytes and the handshake time") {
    auto s = f.b.status(f.pub_a);
    REQUIRE(s);
    CHECK(s->rx_bytes > 0);
    CHECK(s->last_handshake.has_value());
    CHECK(s->endpoint == ep_a);
  }
}

TEST_CASE("a replayed data packet is dropped", "[wireguard][engine][security]") {
  pair_fixture f;
  f.connect();
  REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "once"), f.now, f.out_a));
  REQUIRE(f.out_a.datagrams.size() == 1);
  auto replay = copy(f.out_a.datagrams[0].bytes);
  f.exchange();
  REQUIRE(f.out_b.packets.size() == 1);
  auto r = f.b.on_datagram(ep_a, std::move(replay), f.now, f.out_b);
  CHECK(r.error() == errc::replayed_counter);
  CHECK(f.out_b.packets.size() == 1);
  CHECK(f.b.counters().drops(errc::replayed_counter) == 1);
}

TEST_CASE("forged and replayed initiations change nothing", "[wireguard][engine][security]") {
  pair_fixture f;
  REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "x"), f.now, f.out_a));
  auto initiation = copy(f.out_a.datagrams[0].bytes);
  f.exchange();
  REQUIRE(f.out_b.packets.size() == 1);
  auto handshakes = f.b.counters().handshakes_completed;

  SECTION("replayed initiation: dropped, the session still works") {
    f.now += 1s;
    CHECK(f.b.on_datagram(ep_a, copy(initiation), f.now, f.out_b).error() == errc::replayed_timestamp);
    CHECK(f.out_b.datagrams.empty());
    REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "still here"), f.now, f.out_a));
    f.exchange();
    REQUIRE(f.out_b.packets.size() == 2);
    CHECK(payload_of(f.out_b.packets[1]) == "still here");
    CHECK(f.b.counters().handshakes_completed == handshakes);
  }
  SECTION("a flipped byte anywhere fails mac1 before any Diffie-Hellman") {
    for (std::size_t i : {8u, 40u, 100u, 120u}) {
      auto forged = copy(initiation);
      forged.bytes()[i] ^= std::byte{1};
      CHECK(f.b.on_datagram(ep_a, std::move(forged), f.now, f.out_b).error() == errc::bad_mac1);
    }
    CHECK(f.out_b.datagrams.empty());
  }
  SECTION("an initiation from a key B does not know") {
    crypto::fast_backend c;
    engine<crypto::fast_backend> stranger(c);
    crypto::private_key k;
    c.generate_private_key(k);
    stranger.set_private_key(k);
    REQUIRE(stranger.set_peer({.public_key = f.pub_b, .endpoint = ep_b, .allowed_ips = {*pk::ip_prefix::parse("10.0.0.2/32")}}));
    engine_output o;
    REQUIRE(stranger.on_packet(udp_packet("10.0.0.9", "10.0.0.2", "?"), f.now, o));
    CHECK(f.b.on_datagram(ep_a, std::move(o.datagrams[0].bytes), f.now, f.out_b).error() == errc::unknown_peer);
  }
}

TEST_CASE("malformed messages of every type are dropped and counted", "[wireguard][engine][security]") {
  pair_fixture f;
  f.connect();
  std::vector<std::size_t> sizes = {0, 1, 3, 4, 31, 63, 91, 147, 149};
  for (std::uint8_t type = 0; type <= 5; ++type) {
    for (auto size : sizes) {
      auto buf = packet_buffer::allocate(2048);
      auto room = buf.append(size);
      REQUIRE(room);
      std::fill(room->begin(), room->end(), std::byte{0});
      if (size > 0) (*room)[0] = std::byte{type};
      auto r = f.b.on_datagram(ep_a, std::move(buf), f.now, f.out_b);
      CHECK_FALSE(r);
    }
  }
  CHECK(f.b.counters().drops(errc::malformed) > 0);
  CHECK(f.out_b.packets.empty());
  CHECK(f.out_b.datagrams.empty());
  SECTION("the tunnel still works afterwards") {
    REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "ok"), f.now, f.out_a));
    f.exchange();
    REQUIRE(f.out_b.packets.size() == 1);
  }
}

TEST_CASE("a tampered data packet fails authentication", "[wireguard][engine][security]") {
  pair_fixture f;
  f.connect();
  REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "secret"), f.now, f.out_a));
  auto d = std::move(f.out_a.datagrams[0].bytes);
  d.bytes()[20] ^= std::byte{0x80};
  CHECK(f.b.on_datagram(ep_a, std::move(d), f.now, f.out_b).error() == errc::decrypt_failed);
  CHECK(f.out_b.packets.empty());
}

TEST_CASE("cryptokey routing: no route out, wrong source in", "[wireguard][engine]") {
  pair_fixture f;
  f.connect();
  CHECK(f.a.on_packet(udp_packet("10.0.0.1", "10.9.9.9", "nowhere"), f.now, f.out_a).error() == errc::no_route);
  // B sends a packet whose source is not in B's allowed IPs on A's side.
  REQUIRE(f.b.set_peer({.public_key = f.pub_a, .endpoint = ep_a,
                        .allowed_ips = {*pk::ip_prefix::parse("10.0.0.1/32"), *pk::ip_prefix::parse("10.0.0.7/32")}}));
  REQUIRE(f.b.on_packet(udp_packet("10.0.0.66", "10.0.0.1", "spoofed"), f.now, f.out_b));
  f.exchange();
  CHECK(f.out_a.packets.empty());
  CHECK(f.a.counters().drops(errc::bad_inner_packet) == 1);
}

TEST_CASE("pre-shared keys: matching works, mismatched fails the handshake", "[wireguard][engine][security]") {
  crypto::symmetric_key psk, other;
  crypto::fast_backend c;
  c.random(psk.bytes());
  c.random(other.bytes());
  SECTION("same key on both sides") {
    pair_fixture f(psk, psk);
    f.connect();
  }
  SECTION("different keys") {
    pair_fixture f(psk, other);
    REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "x"), f.now, f.out_a));
    f.exchange();
    CHECK(f.out_b.packets.empty());
    CHECK(f.a.counters().drops(errc::decrypt_failed) == 1);
    CHECK(f.a.counters().handshakes_completed == 0);
  }
}

TEST_CASE("under load the responder demands a cookie, and the tunnel still comes up", "[wireguard][engine][security]") {
  pair_fixture f;
  f.b.set_under_load(true);
  REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "through the cookie"), f.now, f.out_a));
  f.exchange();
  CHECK(f.b.counters().cookie_replies_sent == 1);
  CHECK(f.b.counters().drops(errc::cookie_required) == 1);
  CHECK(f.out_b.packets.empty());
  // A retries after REKEY_TIMEOUT, now with mac2 from the cookie.
  f.now += rekey_timeout + rekey_timeout_jitter_max;
  f.a.on_timeout(f.now, f.out_a);
  REQUIRE(f.out_a.datagrams.size() == 1);
  f.exchange();
  REQUIRE(f.out_b.packets.size() == 1);
  CHECK(payload_of(f.out_b.packets[0]) == "through the cookie");
  SECTION("a cookie is bound to the source address") {
    f.now += 1s;
    pair_fixture g;
    g.b.set_under_load(true);
    REQUIRE(g.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "y"), g.now, g.out_a));
    g.exchange();
    g.now += rekey_timeout + rekey_timeout_jitter_max;
    g.a.on_timeout(g.now, g.out_a);
    // The retry arrives from another address: its mac2 does not match, another cookie reply.
    g.exchange(*endpoint::parse("198.18.0.9:4000"));
    CHECK(g.b.counters().cookie_replies_sent == 2);
    CHECK(g.out_b.packets.empty());
  }
}

TEST_CASE("an endpoint that moves keeps the tunnel (roaming)", "[wireguard][engine]") {
  pair_fixture f;
  f.connect();
  auto moved = *endpoint::parse("[2001:db8::1]:40000");
  REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "from afar"), f.now, f.out_a));
  f.exchange(moved);
  REQUIRE(f.out_b.packets.size() == 1);
  REQUIRE(f.b.on_packet(udp_packet("10.0.0.2", "10.0.0.1", "back"), f.now, f.out_b));
  REQUIRE(f.out_b.datagrams.size() == 1);
  CHECK(f.out_b.datagrams[0].to == moved);
}

TEST_CASE("timers: retransmit, give up, keepalive, rekey, zeroing", "[wireguard][engine][timers]") {
  SECTION("an unanswered initiation is retried every REKEY_TIMEOUT and abandoned after 90 s") {
    pair_fixture f;
    REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "lost"), f.now, f.out_a));
    f.out_a.clear();  // the initiation is lost
    int sent = 1;
    auto start = f.now;
    while (f.a.next_deadline() && f.now - start < 200s) {
      auto deadline = *f.a.next_deadline();
      CHECK(deadline - f.now <= rekey_timeout + rekey_timeout_jitter_max);
      f.now = deadline;
      f.a.on_timeout(f.now, f.out_a);
      sent += static_cast<int>(f.out_a.datagrams.size());
      f.out_a.clear();
    }
    CHECK(f.now - start >= rekey_attempt_time);
    CHECK(f.now - start < rekey_attempt_time + rekey_timeout + 1s);
    CHECK(sent >= 16);  // 90 s / (5 s + up to 1/3 s)
    CHECK(sent <= 19);
    CHECK(f.a.counters().staged_dropped == 1);
  }
  SECTION("a receiver that has nothing to send answers with a keepalive after 10 s") {
    pair_fixture f;
    f.connect();
    REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "ping"), f.now, f.out_a));
    f.exchange();
    f.out_b.packets.clear();
    auto keepalives = f.b.counters().keepalives_sent;
    f.now += keepalive_timeout - 1s;
    f.b.on_timeout(f.now, f.out_b);
    CHECK(f.b.counters().keepalives_sent == keepalives);
    f.now += 1s;
    f.b.on_timeout(f.now, f.out_b);
    CHECK(f.b.counters().keepalives_sent == keepalives + 1);
    REQUIRE(f.out_b.datagrams.size() == 1);
    CHECK(f.out_b.datagrams[0].bytes.size() == transport_min_size);
  }
  SECTION("the initiator rekeys when sending on keys older than 120 s") {
    pair_fixture f;
    f.connect();
    f.now += rekey_after_time;
    REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "old keys"), f.now, f.out_a));
    REQUIRE(f.out_a.datagrams.size() == 2);  // the data, then a new initiation
    CHECK(f.out_a.datagrams[1].bytes.size() == initiation_size);
    f.exchange();
    CHECK(f.a.counters().handshakes_completed == 2);
  }
  SECTION("keys are not used after 180 s") {
    pair_fixture f;
    f.connect();
    REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "fresh"), f.now, f.out_a));
    auto late = copy(f.out_a.datagrams[0].bytes);
    f.out_a.clear();
    f.now += reject_after_time;
    CHECK(f.b.on_datagram(ep_a, std::move(late), f.now, f.out_b).error() == errc::expired_key);
  }
  SECTION("sent data with no answer for 15 s starts a new handshake") {
    pair_fixture f;
    f.connect();
    f.now += 1s;
    REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "anyone?"), f.now, f.out_a));
    f.out_a.clear();  // lost
    auto initiated = f.a.counters().handshakes_initiated;
    f.now += keepalive_timeout + rekey_timeout + rekey_timeout_jitter_max;
    f.a.on_timeout(f.now, f.out_a);
    CHECK(f.a.counters().handshakes_initiated == initiated + 1);
  }
  SECTION("keys are zeroed after 3 x REJECT_AFTER_TIME without a new session") {
    pair_fixture f;
    f.connect();
    f.now += zero_keys_after;
    f.a.on_timeout(f.now, f.out_a);
    f.out_a.clear();
    // Nothing left to send with: a packet now needs a new handshake.
    REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "after"), f.now, f.out_a));
    REQUIRE(f.out_a.datagrams.size() == 1);
    CHECK(f.out_a.datagrams[0].bytes.size() == initiation_size);
  }
  SECTION("persistent keepalive sends every interval while idle") {
    pair_fixture f;
    f.connect();
    REQUIRE(f.a.set_peer({.public_key = f.pub_b, .endpoint = ep_b, .persistent_keepalive = 25s,
                          .allowed_ips = {*pk::ip_prefix::parse("10.0.0.2/32")}}));
    f.a.on_timeout(f.now, f.out_a);
    auto first = f.a.counters().keepalives_sent;
    CHECK(first >= 1);
    f.exchange();
    // B answers A's data with its own keepalive at 10 s, so A has no reason to rehandshake.
    f.now += keepalive_timeout;
    f.b.on_timeout(f.now, f.out_b);
    f.exchange();
    // Any authenticated packet, sent or received, restarts the interval: B's keepalive came
    // at 10 s, so A's next one is due at 35 s, not 25 s.
    f.now += 24s;
    f.a.on_timeout(f.now, f.out_a);
    CHECK(f.a.counters().keepalives_sent == first);
    f.now += 1s;
    f.a.on_timeout(f.now, f.out_a);
    CHECK(f.a.counters().keepalives_sent == first + 1);
    CHECK(f.a.counters().handshakes_initiated == 1);
  }
}

// --- batches (on_packets / on_datagrams) ----------------------------------------------------

namespace {

// Runs a batch's jobs last to first: the engine must not depend on the order jobs run in.
template <class Crypto>
auto backwards(Crypto& crypto) {
  return [&crypto](std::span<crypto_job> jobs) {
    for (std::size_t i = jobs.size(); i-- > 0;) run_crypto_job(crypto, jobs[i]);
  };
}

// Hands `datagrams` to `to` as one batch from `from`.
template <class Crypto>
void deliver_batch(engine<Crypto>& to, Crypto& crypto, std::vector<datagram>&& datagrams, const endpoint& from,
                   time_point now, engine_output& out) {
  std::vector<packet_buffer> bytes;
  for (auto& d : datagrams) bytes.push_back(std::move(d.bytes));
  std::vector<endpoint> senders(bytes.size(), from);
  to.on_datagrams(bytes, senders, now, out, backwards(crypto));
}

std::vector<std::string> payloads(const std::vector<packet_buffer>& pkts) {
  std::vector<std::string> v;
  for (const auto& p : pkts) v.push_back(payload_of(p));
  return v;
}

}  // namespace

TEST_CASE("batches: a burst sealed and opened in batches arrives whole and in order", "[wireguard][engine]") {
  pair_fixture f;
  f.connect();
  std::vector<packet_buffer> burst;
  std::vector<std::string> sent;
  for (int i = 0; i < 50; ++i) {
    sent.push_back("packet " + std::to_string(i) + std::string(static_cast<std::size_t>(i) * 20, 'x'));
    burst.push_back(udp_packet("10.0.0.1", "10.0.0.2", sent.back()));
  }
  f.a.on_packets(burst, f.now, f.out_a, backwards(f.crypto_a));
  REQUIRE(f.out_a.datagrams.size() == 50);
  CHECK(f.a.counters().packets_sealed == 51);  // and the one of connect()
  deliver_batch(f.b, f.crypto_b, std::move(f.out_a.datagrams), ep_a, f.now, f.out_b);
  CHECK(payloads(f.out_b.packets) == sent);
  CHECK(f.b.counters().packets_opened == 51);
}

TEST_CASE("batches: duplicates, forgeries and replays inside a batch are dropped and counted", "[wireguard][engine][security]") {
  pair_fixture f;
  f.connect();
  std::vector<packet_buffer> burst;
  for (const char* s : {"one", "two", "three"}) burst.push_back(udp_packet("10.0.0.1", "10.0.0.2", s));
  f.a.on_packets(burst, f.now, f.out_a, backwards(f.crypto_a));
  REQUIRE(f.out_a.datagrams.size() == 3);
  std::vector<datagram> batch;
  batch.push_back({ep_b, copy(f.out_a.datagrams[0].bytes)});
  batch.push_back({ep_b, copy(f.out_a.datagrams[0].bytes)});  // the same counter twice
  auto forged = copy(f.out_a.datagrams[1].bytes);
  forged.data()[forged.size() - 1] ^= std::byte{1};
  batch.push_back({ep_b, std::move(forged)});
  batch.push_back({ep_b, copy(f.out_a.datagrams[2].bytes)});
  deliver_batch(f.b, f.crypto_b, std::move(batch), ep_a, f.now, f.out_b);
  CHECK(payloads(f.out_b.packets) == std::vector<std::string>{"one", "three"});
  CHECK(f.b.counters().drops(errc::replayed_counter) == 1);
  CHECK(f.b.counters().drops(errc::decrypt_failed) == 1);

  SECTION("the forged packet left no trace: the genuine one is still accepted") {
    f.out_b.packets.clear();
    std::vector<datagram> again;
    again.push_back({ep_b, std::move(f.out_a.datagrams[1].bytes)});
    deliver_batch(f.b, f.crypto_b, std::move(again), ep_a, f.now, f.out_b);
    CHECK(payloads(f.out_b.packets) == std::vector<std::string>{"two"});
  }
  SECTION("and a later batch replaying them all delivers nothing") {
    f.out_b.packets.clear();
    std::vector<datagram> replay;
    replay.push_back({ep_b, copy(f.out_a.datagrams[0].bytes)});
    replay.push_back({ep_b, copy(f.out_a.datagrams[2].bytes)});
    deliver_batch(f.b, f.crypto_b, std::move(replay), ep_a, f.now, f.out_b);
    CHECK(f.out_b.packets.empty());
    CHECK(f.b.counters().drops(errc::replayed_counter) == 3);
  }
}

TEST_CASE("batches: a rekey inside batches keeps every packet and its order", "[wireguard][engine]") {
  pair_fixture f;
  f.connect();
  f.now += rekey_after_time + 1s;  // A, the initiator, rekeys with its next packet
  std::vector<packet_buffer> first;
  first.push_back(udp_packet("10.0.0.1", "10.0.0.2", "p1"));
  first.push_back(udp_packet("10.0.0.1", "10.0.0.2", "p2"));
  f.a.on_packets(first, f.now, f.out_a, backwards(f.crypto_a));
  // p1 on the old session, the new initiation, p2 on the old session.
  REQUIRE(f.out_a.datagrams.size() == 3);
  CHECK(f.out_a.datagrams[1].bytes.size() == initiation_size);
  deliver_batch(f.b, f.crypto_b, std::move(f.out_a.datagrams), ep_a, f.now, f.out_b);
  f.out_a.datagrams.clear();
  CHECK(payloads(f.out_b.packets) == std::vector<std::string>{"p1", "p2"});
  REQUIRE(f.out_b.datagrams.size() == 1);  // the response
  f.out_b.packets.clear();

  // p5 leaves on the old session before A sees the response; p3 and p4 after, on the new one.
  REQUIRE(f.a.on_packet(udp_packet("10.0.0.1", "10.0.0.2", "p5"), f.now, f.out_a));
  auto old_session = std::move(f.out_a.datagrams);
  f.out_a.datagrams.clear();
  auto response = std::move(f.out_b.datagrams[0].bytes);
  f.out_b.datagrams.clear();
  REQUIRE(f.a.on_datagram(ep_b, std::move(response), f.now, f.out_a));
  std::vector<packet_buffer> second;
  second.push_back(udp_packet("10.0.0.1", "10.0.0.2", "p3"));
  second.push_back(udp_packet("10.0.0.1", "10.0.0.2", "p4"));
  f.a.on_packets(second, f.now, f.out_a, backwards(f.crypto_a));
  // The keepalive an initiator sends on completing a handshake, then p3 and p4.
  REQUIRE(f.out_a.datagrams.size() == 3);
  // One batch for B: the keepalive (which confirms the new keys and makes them current), p3
  // and p4 (begun while those keys were still "next"), then the late p5 on what is by then
  // B's previous session.
  auto batch = std::move(f.out_a.datagrams);
  for (auto& d : old_session) batch.push_back(std::move(d));
  deliver_batch(f.b, f.crypto_b, std::move(batch), ep_a, f.now, f.out_b);
  CHECK(payloads(f.out_b.packets) == std::vector<std::string>{"p3", "p4", "p5"});
  CHECK(f.b.counters().handshakes_completed == 2);
}
