#pragma once
// mac1, mac2 and cookies: WireGuard's defence against handshake floods (paper §5.3, §5.4.4,
// §5.4.7).
//
// Every handshake message carries mac1, keyed with a hash of the receiver's public key, so a
// receiver can drop messages not meant for it before any Diffie-Hellman. Under load the
// responder also demands mac2, keyed with a cookie: a MAC of the sender's address under a
// secret that changes every two minutes. A sender without a fresh cookie gets a cookie reply
// (the cookie sealed with XChaCha20-Poly1305 to the mac1 it sent) and retries with it, which
// proves it can receive at its address.

#include <warren/core/bytes.hpp>
#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/crypto/backend.hpp>
#include <warren/crypto/secret.hpp>
#include <warren/wireguard/endpoint.hpp>
#include <warren/wireguard/error.hpp>
#include <warren/wireguard/messages.hpp>

#include <chrono>
#include <optional>

namespace warren::wireguard {

using namespace std::chrono_literals;
inline constexpr auto cookie_refresh_time = 120s;  // paper §6.1 COOKIE_REFRESH_TIME

namespace detail {
template <crypto::backend B>
crypto::mac_value mac(B& b, byte_view key, byte_view data) {
  crypto::mac_value out;
  b.mac(out, key, std::span<const byte_view>(&data, 1));
  return out;
}
}  // namespace detail

// Fills in mac1 (keyed for the receiver) and mac2 (if we hold a fresh cookie from it), and
// returns the mac1 written, which a cookie reply to this message will be bound to.
template <crypto::backend B>
crypto::mac_value add_macs(B& b, mutable_byte_view msg, mac_offsets at, const crypto::hash_value& receiver_mac1_key,
                           const std::optional<crypto::mac_value>& cookie) {
  auto mac1 = detail::mac(b, receiver_mac1_key, msg.first(at.mac1));
  std::memcpy(msg.data() + at.mac1, mac1.data(), mac1.size());
  if (cookie) {
    auto mac2 = detail::mac(b, *cookie, msg.first(at.mac2));
    std::memcpy(msg.data() + at.mac2, mac2.data(), mac2.size());
  } else {
    std::memset(msg.data() + at.mac2, 0, crypto::mac_size);
  }
  return mac1;
}

// True if mac1 of a handshake message sent to us verifies.
template <crypto::backend B>
bool mac1_valid(B& b, byte_view msg, mac_offsets at, const crypto::hash_value& our_mac1_key) {
  auto expect = detail::mac(b, our_mac1_key, msg.first(at.mac1));
  return crypto::constant_time_equal(expect, msg.subspan(at.mac1, crypto::mac_size));
}

// The responder's side: makes cookies for source addresses, checks mac2, writes cookie replies.
// Holds a secret that it replaces every cookie_refresh_time. One per engine; not thread-safe.
class cookie_checker {
 public:
  template <crypto::backend B>
  crypto::mac_value cookie_for(B& b, time_point now, const endpoint& source) {
    if (!born_ || now - *born_ >= cookie_refresh_time) {
      b.random(secret_.bytes());
      born_ = now;
    }
    auto addr = source.cookie_bytes();
    return detail::mac(b, secret_.bytes(), byte_view(addr.data(), addr.size()));
  }

  template <crypto::backend B>
  bool mac2_valid(B& b, time_point now, byte_view msg, mac_offsets at, const endpoint& source) {
    auto cookie = cookie_for(b, now, source);
    auto expect = detail::mac(b, cookie, msg.first(at.mac2));
    return crypto::constant_time_equal(expect, msg.subspan(at.mac2, crypto::mac_size));
  }

  // A cookie reply to handshake message `msg` (whose sender index is `receiver`), sealed with
  // our cookie key (HASH(LABEL_COOKIE || our public key)) and bound to msg's mac1.
  template <crypto::backend B>
  void write_reply(B& b, time_point now, const crypto::hash_value& our_cookie_key, byte_view msg, mac_offsets at,
                   std::uint32_t receiver, const endpoint& source, std::span<std::byte, cookie_reply_size> out) {
    auto cookie = cookie_for(b, now, source);
    std::byte* p = out.data();
    write_header(p, message_type::cookie_reply);
    store_le32(p + layout::cookie_receiver, receiver);
    crypto::xnonce nonce;
    b.random(nonce);
    std::memcpy(p + layout::cookie_nonce, nonce.data(), nonce.size());
    crypto::symmetric_key key{std::span<const std::byte, 32>(our_cookie_key)};
    b.xseal(key, nonce, cookie, msg.subspan(at.mac1, crypto::mac_size),
            mutable_byte_view(p + layout::cookie_encrypted, layout::encrypted_cookie_size));
  }

 private:
  crypto::symmetric_key secret_;
  std::optional<time_point> born_;
};

// The initiator's side, one per peer: the cookie it was last given and the mac1 it last sent.
class cookie_jar {
 public:
  // The cookie to put in mac2, if one arrived less than cookie_refresh_time ago.
  std::optional<crypto::mac_value> fresh(time_point now) const {
    if (cookie_ && now - received_ < cookie_refresh_time) return cookie_;
    return std::nullopt;
  }
  void sent_mac1(const crypto::mac_value& mac1) noexcept {
    last_mac1_ = mac1;
    have_mac1_ = true;
  }
  // Opens a cookie reply from the peer (its cookie key: HASH(LABEL_COOKIE || peer public key)).
  template <crypto::backend B>
  result<void> consume(B& b, cookie_reply_view reply, const crypto::hash_value& peer_cookie_key, time_point now) {
    if (!have_mac1_) return unexpected(make_error_code(errc::unknown_index));
    crypto::symmetric_key key{std::span<const std::byte, 32>(peer_cookie_key)};
    crypto::xnonce nonce;
    std::memcpy(nonce.data(), reply.nonce().data(), nonce.size());
    crypto::mac_value cookie;
    if (!b.xopen(key, nonce, reply.encrypted_cookie(), last_mac1_, cookie))
      return unexpected(make_error_code(errc::decrypt_failed));
    cookie_ = cookie;
    received_ = now;
    have_mac1_ = false;  // one reply per message we sent
    return {};
  }

 private:
  std::optional<crypto::mac_value> cookie_;
  time_point received_{};
  crypto::mac_value last_mac1_{};
  bool have_mac1_ = false;
};

}  // namespace warren::wireguard
