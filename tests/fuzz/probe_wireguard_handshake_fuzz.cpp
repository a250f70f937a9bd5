// Fuzz target for warren::probe::wireguard_handshake: arbitrary datagrams, with time steps, to
// on_datagram of an attempt that has sent its initiation.
//
// Every input gets a fresh attempt built from the same state: fixed keys and a crypto backend
// whose randomness is a counter reset before each start(), so the initiation is the same every
// time and the seeds (the real server's response and cookie reply to it, written by a server
// engine with the same fixed keys) stay valid answers. The real answers are also made once at
// start-up, here, for the checks.
//
// Input: records [length] [ctl] [length bytes of datagram], at most four. ctl bits 0-5 step the
// clock by 3 ms each; bit 6 signs the datagram as anyone who saw the initiation could: a
// response-sized one gets a correct mac1 (its key is derived from our public key), a cookie
// reply-sized one gets its cookie sealed with the server's cookie key (derived from the server's
// public key), so the fuzzer reaches past the MAC check into the handshake itself; bit 7 feeds
// the datagram twice.
//
// Properties: no crash or sanitizer report; at most one answer per attempt, and every datagram
// after it is bad_reply; a datagram that is not a response or cookie reply is bad_reply;
// handshake_response only for a response whose authenticated fields (receiver index,
// ephemeral key, encrypted empty payload) are those of the server's real response: only the
// server's private key makes another (the sender index and mac1 are not authenticated by the
// handshake, and mac2 is not checked by an initiator); cookie_reply only for a 64-byte cookie
// reply to our initiation's index; and nothing the input sends spoils the attempt: if no
// answer was taken, the real response is still taken afterwards.
#include <warren/core/bytes.hpp>
#include <warren/core/clock.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/crypto/backend.hpp>
#include <warren/crypto/detail/x25519_clamp.hpp>
#include <warren/crypto/fast_backend.hpp>
#include <warren/crypto/secret.hpp>
#include <warren/probe/error.hpp>
#include <warren/probe/wireguard_handshake.hpp>
#include <warren/wireguard/endpoint.hpp>
#include <warren/wireguard/engine.hpp>
#include <warren/wireguard/messages.hpp>
#include <warren/wireguard/noise.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <source_location>
#include <span>
#include <vector>

namespace {

using namespace warren;
using bytes = std::vector<std::byte>;
namespace wg = warren::wireguard;

void check(bool ok, std::source_location at = std::source_location::current()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken at %s:%u\n", at.file_name(), static_cast<unsigned>(at.line()));
  __builtin_trap();
}

// fast_backend with a counter for randomness: the same seed gives the same keys and indices.
class seeded_backend {
 public:
  void reseed(std::uint64_t seed) noexcept { state_ = seed; }

  void seal(const crypto::symmetric_key& key, std::uint64_t counter, byte_view in, byte_view aad,
            mutable_byte_view out) noexcept {
    inner_.seal(key, counter, in, aad, out);
  }
  bool open(const crypto::symmetric_key& key, std::uint64_t counter, byte_view in, byte_view aad,
            mutable_byte_view out) noexcept {
    return inner_.open(key, counter, in, aad, out);
  }
  void xseal(const crypto::symmetric_key& key, const crypto::xnonce& nonce, byte_view in, byte_view aad,
             mutable_byte_view out) noexcept {
    inner_.xseal(key, nonce, in, aad, out);
  }
  bool xopen(const crypto::symmetric_key& key, const crypto::xnonce& nonce, byte_view in, byte_view aad,
             mutable_byte_view out) noexcept {
    return inner_.xopen(key, nonce, in, aad, out);
  }
  bool x25519(crypto::symmetric_key& shared, const crypto::private_key& priv, const crypto::public_key& pub) noexcept {
    return inner_.x25519(shared, priv, pub);
  }
  void x25519_public(crypto::public_key& pub, const crypto::private_key& priv) noexcept {
    inner_.x25519_public(pub, priv);
  }
  void generate_private_key(crypto::private_key& priv) noexcept {
    random(priv.bytes());
    crypto::detail::clamp_x25519_scalar(priv.bytes());
  }
  void hash(crypto::hash_value& out, std::span<const byte_view> parts) noexcept { inner_.hash(out, parts); }
  void mac(crypto::mac_value& out, byte_view key, std::span<const byte_view> parts) noexcept {
    inner_.mac(out, key, parts);
  }
  void hmac(crypto::hash_value& out, byte_view key, std::span<const byte_view> parts) noexcept {
    inner_.hmac(out, key, parts);
  }
  void random(mutable_byte_view out) noexcept {
    for (auto& b : out) {
      // splitmix64
      std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      b = std::byte{static_cast<std::uint8_t>(z ^ (z >> 31))};
    }
  }

 private:
  crypto::fast_backend inner_;
  std::uint64_t state_ = 0;
};
static_assert(crypto::backend<seeded_backend>);

using attempt = probe::wireguard_handshake<seeded_backend>;

constexpr std::uint64_t client_seed = 0x7761'7272'656e'0001;
constexpr std::size_t max_records = 4;

struct world {
  seeded_backend client_crypto, server_crypto;
  crypto::private_key client_key, server_key;
  crypto::public_key client_pub{}, server_pub{};
  probe::wireguard_keys keys;
  time_point now = time_point{} + std::chrono::hours(1);
  std::chrono::system_clock::time_point wall{std::chrono::sys_days{std::chrono::year{2025} / 1 / 1}};
  bytes initiation, response, cookie_reply;
  crypto::hash_value response_mac1_key{}, cookie_key{};

  world() {
    for (std::size_t i = 0; i < 32; ++i) {
      client_key.bytes()[i] = std::byte{static_cast<unsigned char>(i + 1)};
      server_key.bytes()[i] = std::byte{static_cast<unsigned char>(i + 101)};
    }
    crypto::detail::clamp_x25519_scalar(client_key.bytes());
    crypto::detail::clamp_x25519_scalar(server_key.bytes());
    client_crypto.x25519_public(client_pub, client_key);
    server_crypto.x25519_public(server_pub, server_key);
    keys = {client_key, server_pub, {}};
    const byte_view mac1_parts[2] = {as_byte_view(wg::label_mac1), byte_view(client_pub)};
    client_crypto.hash(response_mac1_key, mac1_parts);
    const byte_view cookie_parts[2] = {as_byte_view(wg::label_cookie), byte_view(server_pub)};
    client_crypto.hash(cookie_key, cookie_parts);

    auto a = start();
    initiation.assign(a.initiation().begin(), a.initiation().end());
    response = answer(false);
    cookie_reply = answer(true);
    check(response.size() == wg::response_size && cookie_reply.size() == wg::cookie_reply_size);
  }

  attempt start() {
    client_crypto.reseed(client_seed);
    auto a = attempt::start(client_crypto, keys, now, wall);
    check(a.has_value());
    return std::move(*a);
  }

  // What a server that knows our key sends back, under load or not.
  bytes answer(bool under_load) {
    server_crypto.reseed(under_load ? 2 : 1);
    wg::engine<seeded_backend> server(server_crypto);
    server.set_private_key(server_key);
    check(server.set_peer({.public_key = client_pub}).has_value());
    server.set_under_load(under_load);
    wg::engine_output out;
    (void)server.on_datagram(*wg::endpoint::parse("198.51.100.7:40000"), packet_buffer::copy_of(initiation), now, out);
    check(out.datagrams.size() == 1);
    const auto d = out.datagrams[0].bytes.bytes();
    return bytes(d.begin(), d.end());
  }

  // Signs `d` as anyone who saw the initiation could (see the file comment).
  void sign(bytes& d) {
    if (d.size() == wg::response_size) {
      crypto::mac_value mac1;
      const byte_view parts[1] = {byte_view(d).first(wg::layout::resp_mac1)};
      client_crypto.mac(mac1, response_mac1_key, parts);
      std::memcpy(d.data() + wg::layout::resp_mac1, mac1.data(), mac1.size());
    } else if (d.size() == wg::cookie_reply_size) {
      const crypto::symmetric_key key{std::span<const std::byte, 32>(cookie_key)};
      crypto::xnonce nonce;
      std::memcpy(nonce.data(), d.data() + wg::layout::cookie_nonce, nonce.size());
      std::array<std::byte, crypto::mac_size> cookie;
      std::memcpy(cookie.data(), d.data() + wg::layout::cookie_encrypted, cookie.size());
      const byte_view mac1 = byte_view(initiation).subspan(wg::layout::init_mac1, crypto::mac_size);
      client_crypto.xseal(key, nonce, cookie, mac1,
                          mutable_byte_view(d).subspan(wg::layout::cookie_encrypted, wg::layout::encrypted_cookie_size));
    }
  }
};

void check_answer(const world& w, probe::wireguard_reply reply, const bytes& d) {
  if (reply == probe::wireguard_reply::handshake_response) {
    check(d.size() == wg::response_size);
    check(wg::classify(d) == wg::message_type::response);
    const std::size_t from = wg::layout::resp_receiver, to = wg::layout::resp_mac1;
    check(std::memcmp(d.data() + from, w.response.data() + from, to - from) == 0);
  } else {
    check(d.size() == wg::cookie_reply_size);
    check(wg::classify(d) == wg::message_type::cookie_reply);
    check(std::memcmp(d.data() + wg::layout::cookie_receiver, w.initiation.data() + wg::layout::init_sender, 4) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static world* w = new world();
  auto a = w->start();
  check(std::equal(a.initiation().begin(), a.initiation().end(), w->initiation.begin(), w->initiation.end()));
  time_point now = w->now;
  bool answered = false;

  std::size_t at = 0;
  for (std::size_t n = 0; n < max_records && at + 2 <= size; ++n) {
    std::size_t length = data[at];
    const std::uint8_t ctl = data[at + 1];
    at += 2;
    if (length > size - at) length = size - at;
    const auto* first = reinterpret_cast<const std::byte*>(data + at);
    bytes d(first, first + length);
    at += length;
    if (ctl & 0x40) w->sign(d);
    now += std::chrono::milliseconds(3) * (ctl & 0x3f);

    for (int times = (ctl & 0x80) ? 2 : 1; times > 0; --times) {
      const auto type = wg::classify(d);
      const bool candidate =
          type && (*type == wg::message_type::response || *type == wg::message_type::cookie_reply);
      auto r = a.on_datagram(d, now);
      if (r) {
        check(!answered && candidate);
        check_answer(*w, *r, d);
        answered = true;
      } else {
        check(static_cast<bool>(r.error()));
        if (answered || !candidate) check(r.error() == probe::errc::bad_reply);
      }
    }
  }

  // Whatever came before, the real response answers an attempt that is still waiting, and
  // nothing answers one that was answered.
  auto last = a.on_datagram(w->response, now);
  if (answered) {
    check(!last && last.error() == probe::errc::bad_reply);
  } else {
    check(last && *last == probe::wireguard_reply::handshake_response);
  }
  return 0;
}
