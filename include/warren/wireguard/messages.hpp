#pragma once
// The four WireGuard messages on the wire (WireGuard paper §5.4), as checked views and writers.
// Integers are little-endian; every message starts with a type byte and three zero bytes.
//
//   initiation   (148 bytes)  type=1 sender ephemeral[32] static[32+16] timestamp[12+16] mac1 mac2
//   response      (92 bytes)  type=2 sender receiver ephemeral[32] empty[0+16] mac1 mac2
//   cookie reply  (64 bytes)  type=3 receiver nonce[24] cookie[16+16]
//   transport   (>= 32 bytes) type=4 receiver counter[8] packet[n+16]
//
// classify() decides which one a datagram is from its type byte, reserved bytes and exact
// size; anything else is errc::malformed and is dropped without further work.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/crypto/secret.hpp>
#include <warren/wireguard/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace warren::wireguard {

enum class message_type : std::uint8_t { initiation = 1, response = 2, cookie_reply = 3, transport = 4 };

inline constexpr std::size_t initiation_size = 148;
inline constexpr std::size_t response_size = 92;
inline constexpr std::size_t cookie_reply_size = 64;
inline constexpr std::size_t transport_header_size = 16;
inline constexpr std::size_t transport_min_size = transport_header_size + crypto::tag_size;  // a keepalive

inline std::uint32_t load_le32(const std::byte* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return std::endian::native == std::endian::little ? v : __builtin_bswap32(v);
}
inline std::uint64_t load_le64(const std::byte* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return std::endian::native == std::endian::little ? v : __builtin_bswap64(v);
}
inline void store_le32(std::byte* p, std::uint32_t v) noexcept {
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}
inline void store_le64(std::byte* p, std::uint64_t v) noexcept {
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

inline result<message_type> classify(byte_view d) noexcept {
  auto bad = unexpected(make_error_code(errc::malformed));
  if (d.size() < 4) return bad;
  if (load_le32(d.data()) >> 8 != 0) return bad;  // reserved bytes must be zero
  switch (load_u8(d.data())) {
    case 1: return d.size() == initiation_size ? result<message_type>(message_type::initiation) : bad;
    case 2: return d.size() == response_size ? result<message_type>(message_type::response) : bad;
    case 3: return d.size() == cookie_reply_size ? result<message_type>(message_type::cookie_reply) : bad;
    case 4: return d.size() >= transport_min_size ? result<message_type>(message_type::transport) : bad;
    default: return bad;
  }
}

// Field offsets (paper §5.4.2-§5.4.7).
namespace layout {
inline constexpr std::size_t init_sender = 4, init_ephemeral = 8, init_static = 40, init_timestamp = 88,
                             init_mac1 = 116, init_mac2 = 132;
inline constexpr std::size_t resp_sender = 4, resp_receiver = 8, resp_ephemeral = 12, resp_empty = 44,
                             resp_mac1 = 60, resp_mac2 = 76;
inline constexpr std::size_t cookie_receiver = 4, cookie_nonce = 8, cookie_encrypted = 32;
inline constexpr std::size_t data_receiver = 4, data_counter = 8, data_payload = 16;
inline constexpr std::size_t encrypted_static_size = crypto::key_size + crypto::tag_size;
inline constexpr std::size_t timestamp_size = 12;
inline constexpr std::size_t encrypted_timestamp_size = timestamp_size + crypto::tag_size;
inline constexpr std::size_t encrypted_cookie_size = crypto::mac_size + crypto::tag_size;
}  // namespace layout

// A message whose size classify() checked; accessors read fixed offsets.
struct initiation_view {
  byte_view bytes;
  std::uint32_t sender() const noexcept { return load_le32(bytes.data() + layout::init_sender); }
  byte_view ephemeral() const noexcept { return bytes.subspan(layout::init_ephemeral, crypto::key_size); }
  byte_view encrypted_static() const noexcept {
    return bytes.subspan(layout::init_static, layout::encrypted_static_size);
  }
  byte_view encrypted_timestamp() const noexcept {
    return bytes.subspan(layout::init_timestamp, layout::encrypted_timestamp_size);
  }
  byte_view mac1() const noexcept { return bytes.subspan(layout::init_mac1, crypto::mac_size); }
  byte_view mac2() const noexcept { return bytes.subspan(layout::init_mac2, crypto::mac_size); }
};

struct response_view {
  byte_view bytes;
  std::uint32_t sender() const noexcept { return load_le32(bytes.data() + layout::resp_sender); }
  std::uint32_t receiver() const noexcept { return load_le32(bytes.data() + layout::resp_receiver); }
  byte_view ephemeral() const noexcept { return bytes.subspan(layout::resp_ephemeral, crypto::key_size); }
  byte_view encrypted_empty() const noexcept { return bytes.subspan(layout::resp_empty, crypto::tag_size); }
  byte_view mac1() const noexcept { return bytes.subspan(layout::resp_mac1, crypto::mac_size); }
  byte_view mac2() const noexcept { return bytes.subspan(layout::resp_mac2, crypto::mac_size); }
};

struct cookie_reply_view {
  byte_view bytes;
  std::uint32_t receiver() const noexcept { return load_le32(bytes.data() + layout::cookie_receiver); }
  byte_view nonce() const noexcept { return bytes.subspan(layout::cookie_nonce, crypto::xnonce_size); }
  byte_view encrypted_cookie() const noexcept {
    return bytes.subspan(layout::cookie_encrypted, layout::encrypted_cookie_size);
  }
};

struct transport_view {
  byte_view bytes;
  std::uint32_t receiver() const noexcept { return load_le32(bytes.data() + layout::data_receiver); }
  std::uint64_t counter() const noexcept { return load_le64(bytes.data() + layout::data_counter); }
  byte_view encrypted() const noexcept { return bytes.subspan(layout::data_payload); }
};

// Where mac1 and mac2 sit in a handshake message, and what each covers: mac1 covers everything
// before it, mac2 everything before it (mac1 included). Paper §5.4.4.
struct mac_offsets {
  std::size_t mac1;
  std::size_t mac2;
};
inline constexpr mac_offsets initiation_macs{layout::init_mac1, layout::init_mac2};
inline constexpr mac_offsets response_macs{layout::resp_mac1, layout::resp_mac2};

inline void write_header(std::byte* p, message_type t) noexcept {
  store_le32(p, static_cast<std::uint32_t>(t));
}

}  // namespace warren::wireguard
