#pragma once
// The Noise_IKpsk2 handshake of WireGuard (paper §5.4.2-§5.4.5), as pure functions over a
// crypto backend: no sockets, no clock (the TAI64N timestamp is passed in), no randomness
// except through the backend.
//
//   initiator                                   responder
//   create_initiation  ---- initiation ---->    consume_initiation (finds the peer)
//                                               create_response
//   consume_response   <---- response -----
//   derive_keypair(initiator)                   derive_keypair(responder)
//
// Each step either completes and updates the handshake state, or returns an error and leaves
// the state as it was (a forged or replayed message changes nothing). The MACs (mac1/mac2) are
// added and checked in cookie.hpp; this file is the key agreement only.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/crypto/backend.hpp>
#include <warren/crypto/secret.hpp>
#include <warren/wireguard/error.hpp>
#include <warren/wireguard/messages.hpp>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>

namespace warren::wireguard {

inline constexpr std::string_view noise_construction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr std::string_view noise_identifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";
inline constexpr std::string_view label_mac1 = "mac1----";
inline constexpr std::string_view label_cookie = "cookie--";

using tai64n_bytes = std::array<std::byte, layout::timestamp_size>;

namespace detail {
template <crypto::backend B>
crypto::hash_value hash(B& b, std::initializer_list<byte_view> parts) {
  crypto::hash_value out;
  b.hash(out, std::span<const byte_view>(parts.begin(), parts.size()));
  return out;
}
inline byte_view view(const crypto::hash_value& h) noexcept { return h; }
inline byte_view view(const crypto::symmetric_key& k) noexcept { return k.bytes(); }

// HKDF as the paper defines KDF1..3 (§5.4.1): tau0 = HMAC(key, input), tau_i = HMAC(tau0,
// tau_{i-1} || i). Outputs past the ones asked for are not computed.
template <crypto::backend B>
void kdf(B& b, const crypto::symmetric_key& key, byte_view input, crypto::symmetric_key* t1,
         crypto::symmetric_key* t2 = nullptr, crypto::symmetric_key* t3 = nullptr) {
  crypto::hash_value tau0, tau;
  byte_view parts[2] = {input, {}};
  b.hmac(tau0, key.bytes(), std::span<const byte_view>(parts, 1));
  const std::byte one{1}, two{2}, three{3};
  parts[0] = byte_view(&one, 1);
  b.hmac(tau, tau0, std::span<const byte_view>(parts, 1));
  *t1 = crypto::symmetric_key(std::span<const std::byte, 32>(tau));
  if (t2) {
    parts[0] = tau;
    parts[1] = byte_view(&two, 1);
    crypto::hash_value next;
    b.hmac(next, tau0, std::span<const byte_view>(parts, 2));
    *t2 = crypto::symmetric_key(std::span<const std::byte, 32>(next));
    if (t3) {
      parts[0] = next;
      parts[1] = byte_view(&three, 1);
      b.hmac(tau, tau0, std::span<const byte_view>(parts, 2));
      *t3 = crypto::symmetric_key(std::span<const std::byte, 32>(tau));
    }
    crypto::secure_wipe(next.data(), next.size());
  }
  crypto::secure_wipe(tau0.data(), tau0.size());
  crypto::secure_wipe(tau.data(), tau.size());
}

inline crypto::symmetric_key as_key(const crypto::hash_value& h) noexcept {
  return crypto::symmetric_key(std::span<const std::byte, 32>(h));
}
}  // namespace detail

// Our own static identity, with the values derived from it that every handshake needs.
struct local_identity {
  crypto::private_key private_key;
  crypto::public_key public_key{};
  crypto::hash_value mac1_key{};    // HASH(LABEL_MAC1 || our public key): checks mac1 sent to us
  crypto::hash_value cookie_key{};  // HASH(LABEL_COOKIE || our public key): seals our cookies

  template <crypto::backend B>
  static local_identity from_private(B& b, const crypto::private_key& key) {
    local_identity id;
    id.private_key = key;
    b.x25519_public(id.public_key, key);
    id.mac1_key = detail::hash(b, {as_byte_view(label_mac1), id.public_key});
    id.cookie_key = detail::hash(b, {as_byte_view(label_cookie), id.public_key});
    return id;
  }
};

// What we know of a peer for handshaking with it.
struct remote_identity {
  crypto::public_key public_key{};
  crypto::symmetric_key preshared_key;    // zeros when none (paper §5.4.3: Q = 0^32)
  crypto::hash_value mac1_key{};          // HASH(LABEL_MAC1 || peer public key)
  crypto::hash_value cookie_key{};        // HASH(LABEL_COOKIE || peer public key)
  crypto::symmetric_key static_static;    // DH(our private, peer public), computed once
  bool static_static_ok = false;          // false for a low-order peer key: never handshake

  template <crypto::backend B>
  static remote_identity make(B& b, const local_identity& local, const crypto::public_key& peer,
                              const crypto::symmetric_key& psk) {
    remote_identity r;
    r.public_key = peer;
    r.preshared_key = psk;
    r.mac1_key = detail::hash(b, {as_byte_view(label_mac1), peer});
    r.cookie_key = detail::hash(b, {as_byte_view(label_cookie), peer});
    r.static_static_ok = b.x25519(r.static_static, local.private_key, peer);
    return r;
  }
};

// The running state of one handshake, on either side.
struct handshake_state {
  enum class stage { none, initiation_created, initiation_consumed, response_created, response_consumed };
  stage at = stage::none;
  crypto::hash_value hash{};
  crypto::symmetric_key chaining_key;
  crypto::private_key ephemeral_private;
  crypto::public_key remote_ephemeral{};
  std::uint32_t local_index = 0;
  std::uint32_t remote_index = 0;

  void clear() noexcept {
    at = stage::none;
    crypto::secure_wipe(hash.data(), hash.size());
    chaining_key.wipe();
    ephemeral_private.wipe();
    remote_ephemeral = {};
    local_index = remote_index = 0;
  }
};

namespace detail {
// H and C before any message: C = HASH(CONSTRUCTION), H = HASH(C || IDENTIFIER || responder key).
template <crypto::backend B>
void initial_state(B& b, const crypto::public_key& responder, crypto::hash_value& h, crypto::symmetric_key& ck) {
  auto c = hash(b, {as_byte_view(noise_construction)});
  ck = as_key(c);
  h = hash(b, {c, as_byte_view(noise_identifier)});
  h = hash(b, {h, responder});
}
template <crypto::backend B>
void mix_hash(B& b, crypto::hash_value& h, byte_view data) {
  h = hash(b, {h, data});
}
}  // namespace detail

// Writes the initiation's fields (all but the MACs) into msg (148 bytes), and moves `hs` to
// initiation_created. Paper §5.4.2.
template <crypto::backend B>
result<void> create_initiation(B& b, const local_identity& local, const remote_identity& peer,
                               handshake_state& hs, std::uint32_t local_index,
                               const tai64n_bytes& timestamp, std::span<std::byte, initiation_size> msg) {
  if (!peer.static_static_ok) return unexpected(make_error_code(errc::handshake_failed));
  handshake_state next;
  detail::initial_state(b, peer.public_key, next.hash, next.chaining_key);
  b.generate_private_key(next.ephemeral_private);
  crypto::public_key eph_pub;
  b.x25519_public(eph_pub, next.ephemeral_private);

  std::byte* m = msg.data();
  write_header(m, message_type::initiation);
  store_le32(m + layout::init_sender, local_index);
  std::memcpy(m + layout::init_ephemeral, eph_pub.data(), eph_pub.size());
  detail::kdf(b, next.chaining_key, eph_pub, &next.chaining_key);
  detail::mix_hash(b, next.hash, eph_pub);

  crypto::symmetric_key es, key;
  if (!b.x25519(es, next.ephemeral_private, peer.public_key)) return unexpected(make_error_code(errc::handshake_failed));
  detail::kdf(b, next.chaining_key, es.bytes(), &next.chaining_key, &key);
  mutable_byte_view enc_static(m + layout::init_static, layout::encrypted_static_size);
  b.seal(key, 0, local.public_key, next.hash, enc_static);
  detail::mix_hash(b, next.hash, enc_static);

  detail::kdf(b, next.chaining_key, peer.static_static.bytes(), &next.chaining_key, &key);
  mutable_byte_view enc_ts(m + layout::init_timestamp, layout::encrypted_timestamp_size);
  b.seal(key, 0, timestamp, next.hash, enc_ts);
  detail::mix_hash(b, next.hash, enc_ts);

  std::memset(m + layout::init_mac1, 0, 2 * crypto::mac_size);
  next.local_index = local_index;
  next.at = handshake_state::stage::initiation_created;
  hs = next;
  return {};
}

// What a valid initiation reveals before we know whether to accept it: who sent it, when, and
// the state to continue with. The caller checks the timestamp against the peer's last one and
// the rate limit, and only then commits `state` into the peer's handshake.
struct consumed_initiation {
  crypto::public_key peer_public_key{};
  tai64n_bytes timestamp{};
  handshake_state state;
};

// Decrypts an initiation sent to us (MACs already checked). Paper §5.4.2, responder side.
template <crypto::backend B, class FindPeer>
result<consumed_initiation> consume_initiation(B& b, const local_identity& local, initiation_view msg,
                                               FindPeer&& find_peer) {
  auto fail = [](errc e) { return unexpected(make_error_code(e)); };
  consumed_initiation out;
  handshake_state& s = out.state;
  detail::initial_state(b, local.public_key, s.hash, s.chaining_key);
  std::memcpy(s.remote_ephemeral.data(), msg.ephemeral().data(), crypto::key_size);
  detail::kdf(b, s.chaining_key, s.remote_ephemeral, &s.chaining_key);
  detail::mix_hash(b, s.hash, s.remote_ephemeral);

  crypto::symmetric_key es, key;
  if (!b.x25519(es, local.private_key, s.remote_ephemeral)) return fail(errc::handshake_failed);
  detail::kdf(b, s.chaining_key, es.bytes(), &s.chaining_key, &key);
  if (!b.open(key, 0, msg.encrypted_static(), s.hash, out.peer_public_key)) return fail(errc::decrypt_failed);
  detail::mix_hash(b, s.hash, msg.encrypted_static());

  const remote_identity* peer = find_peer(out.peer_public_key);
  if (!peer) return fail(errc::unknown_peer);
  if (!peer->static_static_ok) return fail(errc::handshake_failed);
  detail::kdf(b, s.chaining_key, peer->static_static.bytes(), &s.chaining_key, &key);
  if (!b.open(key, 0, msg.encrypted_timestamp(), s.hash, out.timestamp)) return fail(errc::decrypt_failed);
  detail::mix_hash(b, s.hash, msg.encrypted_timestamp());

  s.remote_index = msg.sender();
  s.at = handshake_state::stage::initiation_consumed;
  return out;
}

// Writes the response's fields (all but the MACs) into msg (92 bytes). Paper §5.4.3.
template <crypto::backend B>
result<void> create_response(B& b, const remote_identity& peer, handshake_state& hs, std::uint32_t local_index,
                             std::span<std::byte, response_size> msg) {
  if (hs.at != handshake_state::stage::initiation_consumed) return unexpected(make_error_code(errc::handshake_failed));
  handshake_state next = hs;
  b.generate_private_key(next.ephemeral_private);
  crypto::public_key eph_pub;
  b.x25519_public(eph_pub, next.ephemeral_private);

  std::byte* m = msg.data();
  write_header(m, message_type::response);
  store_le32(m + layout::resp_sender, local_index);
  store_le32(m + layout::resp_receiver, next.remote_index);
  std::memcpy(m + layout::resp_ephemeral, eph_pub.data(), eph_pub.size());
  detail::kdf(b, next.chaining_key, eph_pub, &next.chaining_key);
  detail::mix_hash(b, next.hash, eph_pub);

  crypto::symmetric_key dh, tau, key;
  if (!b.x25519(dh, next.ephemeral_private, next.remote_ephemeral)) return unexpected(make_error_code(errc::handshake_failed));
  detail::kdf(b, next.chaining_key, dh.bytes(), &next.chaining_key);
  if (!b.x25519(dh, next.ephemeral_private, peer.public_key)) return unexpected(make_error_code(errc::handshake_failed));
  detail::kdf(b, next.chaining_key, dh.bytes(), &next.chaining_key);
  detail::kdf(b, next.chaining_key, peer.preshared_key.bytes(), &next.chaining_key, &tau, &key);
  detail::mix_hash(b, next.hash, tau.bytes());
  mutable_byte_view empty(m + layout::resp_empty, crypto::tag_size);
  b.seal(key, 0, {}, next.hash, empty);
  detail::mix_hash(b, next.hash, empty);

  std::memset(m + layout::resp_mac1, 0, 2 * crypto::mac_size);
  next.local_index = local_index;
  next.at = handshake_state::stage::response_created;
  hs = next;
  return {};
}

// Checks a response to our initiation (MACs already checked). On success `hs` moves to
// response_consumed; on failure it is unchanged. Paper §5.4.3, initiator side.
template <crypto::backend B>
result<void> consume_response(B& b, const local_identity& local, const remote_identity& peer, handshake_state& hs,
                              response_view msg) {
  auto fail = [](errc e) { return unexpected(make_error_code(e)); };
  if (hs.at != handshake_state::stage::initiation_created || msg.receiver() != hs.local_index)
    return fail(errc::unknown_index);
  handshake_state next = hs;
  std::memcpy(next.remote_ephemeral.data(), msg.ephemeral().data(), crypto::key_size);
  detail::kdf(b, next.chaining_key, next.remote_ephemeral, &next.chaining_key);
  detail::mix_hash(b, next.hash, next.remote_ephemeral);

  crypto::symmetric_key dh, tau, key;
  if (!b.x25519(dh, next.ephemeral_private, next.remote_ephemeral)) return fail(errc::handshake_failed);
  detail::kdf(b, next.chaining_key, dh.bytes(), &next.chaining_key);
  if (!b.x25519(dh, local.private_key, next.remote_ephemeral)) return fail(errc::handshake_failed);
  detail::kdf(b, next.chaining_key, dh.bytes(), &next.chaining_key);
  detail::kdf(b, next.chaining_key, peer.preshared_key.bytes(), &next.chaining_key, &tau, &key);
  detail::mix_hash(b, next.hash, tau.bytes());
  std::array<std::byte, 1> nothing{};
  if (!b.open(key, 0, msg.encrypted_empty(), next.hash, mutable_byte_view(nothing.data(), 0)))
    return fail(errc::decrypt_failed);
  detail::mix_hash(b, next.hash, msg.encrypted_empty());

  next.remote_index = msg.sender();
  next.at = handshake_state::stage::response_consumed;
  hs = next;
  return {};
}

// The transport keys of a finished handshake (paper §5.4.5): the initiator sends with the first
// KDF output, the responder with the second. The handshake state is wiped afterwards.
struct session_keys {
  crypto::symmetric_key send;
  crypto::symmetric_key receive;
  std::uint32_t local_index = 0;
  std::uint32_t remote_index = 0;
  bool initiator = false;
};

template <crypto::backend B>
result<session_keys> derive_keys(B& b, handshake_state& hs) {
  bool initiator = hs.at == handshake_state::stage::response_consumed;
  if (!initiator && hs.at != handshake_state::stage::response_created)
    return unexpected(make_error_code(errc::handshake_failed));
  session_keys keys;
  crypto::symmetric_key first, second;
  detail::kdf(b, hs.chaining_key, {}, &first, &second);
  keys.send = initiator ? first : second;
  keys.receive = initiator ? second : first;
  keys.local_index = hs.local_index;
  keys.remote_index = hs.remote_index;
  keys.initiator = initiator;
  hs.clear();
  return keys;
}

}  // namespace warren::wireguard
