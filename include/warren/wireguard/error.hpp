#pragma once
// Errors of the WireGuard core. Every one means "drop this datagram or packet"; the core counts
// each kind (see wireguard::counters) and never answers a bad message, except that a valid
// handshake under load gets a cookie reply.

#include <string>
#include <system_error>

namespace warren::wireguard {

enum class errc {
  malformed = 1,        // wrong size, type or reserved bytes for any message: drop
  bad_mac1,             // mac1 does not match our public key: not for us, or forged: drop
  cookie_required,      // we are under load and mac2 is missing or stale: a cookie reply was sent
  bad_mac2,             // mac2 does not verify against the cookie we handed out: drop
  decrypt_failed,       // an AEAD tag did not verify (forged, corrupted, or the wrong key): drop
  unknown_peer,         // an initiation's static key belongs to no configured peer: drop
  unknown_index,        // a response, cookie reply or data packet for an index we do not hold
  replayed_timestamp,   // an initiation not newer than the last one from that peer: drop
  flood,                // more initiations from a peer than the rate limit allows: drop
  replayed_counter,     // a data packet whose counter was seen or is too old: drop
  expired_key,          // keys past REJECT_AFTER_TIME or REJECT_AFTER_MESSAGES: drop
  bad_inner_packet,     // a decrypted packet is not IP, or its source is not in the peer's
                        // allowed IPs (cryptokey routing): drop
  no_route,             // an outgoing packet matches no peer's allowed IPs: drop
  no_key,               // no private key configured: nothing can be sent or received
  handshake_failed,     // a handshake message that decrypts but is not valid (low-order key)
};

namespace detail {
class wireguard_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "warren.wireguard"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::malformed: return "malformed WireGuard message";
      case errc::bad_mac1: return "handshake mac1 does not verify";
      case errc::cookie_required: return "under load: handshake needs a cookie (cookie reply sent)";
      case errc::bad_mac2: return "handshake mac2 does not verify";
      case errc::decrypt_failed: return "authentication failed";
      case errc::unknown_peer: return "handshake from an unknown peer";
      case errc::unknown_index: return "message for an unknown session index";
      case errc::replayed_timestamp: return "replayed handshake initiation";
      case errc::flood: return "handshake initiations above the rate limit";
      case errc::replayed_counter: return "replayed or too old data packet";
      case errc::expired_key: return "session keys expired";
      case errc::bad_inner_packet: return "decrypted packet not allowed from this peer";
      case errc::no_route: return "no peer for this destination";
      case errc::no_key: return "no private key configured";
      case errc::handshake_failed: return "invalid handshake";
    }
    return "unknown warren.wireguard error";
  }
};
}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::wireguard_category category;
  return category;
}
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

}  // namespace warren::wireguard

template <>
struct std::is_error_code_enum<warren::wireguard::errc> : std::true_type {};
