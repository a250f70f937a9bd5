#pragma once
// WireGuard keys as wg(8) writes them: 32 bytes in standard base64 with padding, 44 characters
// ending in '='. libsodium does the coding; it also refuses non-canonical encodings (stray bits
// in the last character), so a key that decodes always writes back to the same text.

#include <warren/crypto/secret.hpp>

#include <sodium.h>

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace warren::provider::detail {

inline constexpr std::size_t key_base64_size = 44;

// Decodes into `out` (32 bytes). False for anything but exactly one canonical base64 key.
inline bool decode_key(std::string_view text, std::span<std::byte, crypto::key_size> out) noexcept {
  if (text.size() != key_base64_size || text.back() != '=') return false;
  std::size_t decoded = 0;
  const char* end = nullptr;
  int rc = ::sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(),
                               nullptr, &decoded, &end, sodium_base64_VARIANT_ORIGINAL);
  if (rc != 0 || decoded != out.size() || end != text.data() + text.size()) {
    crypto::secure_wipe(out.data(), out.size());
    return false;
  }
  return true;
}

inline std::optional<crypto::public_key> decode_public_key(std::string_view text) noexcept {
  crypto::public_key k{};
  if (!decode_key(text, k)) return std::nullopt;
  return k;
}

inline std::optional<crypto::private_key> decode_private_key(std::string_view text) noexcept {
  crypto::private_key k;
  if (!decode_key(text, k.bytes())) return std::nullopt;
  return k;
}

inline std::string encode_key(std::span<const std::byte, crypto::key_size> key) {
  char buf[key_base64_size + 1];  // sodium writes a terminating NUL
  ::sodium_bin2base64(buf, sizeof buf, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                      sodium_base64_VARIANT_ORIGINAL);
  std::string out(buf, key_base64_size);
  crypto::secure_wipe(buf, sizeof buf);
  return out;
}

}  // namespace warren::provider::detail
