#pragma once
// Byte spans and the big-endian loads and stores every wire format needs. Loads and stores go
// through memcpy so they are safe on unaligned data and compile to single instructions.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace warren {

using byte_view = std::span<const std::byte>;
using mutable_byte_view = std::span<std::byte>;

inline byte_view as_byte_view(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
template <class T, std::size_t N>
byte_view as_byte_view(std::span<T, N> s) noexcept {
  return std::as_bytes(s);
}

namespace detail {
template <class T>
constexpr T to_big_endian(T v) noexcept {
  if constexpr (std::endian::native == std::endian::big || sizeof(T) == 1) {
    return v;
  } else if constexpr (sizeof(T) == 2) {
    return static_cast<T>(__builtin_bswap16(v));
  } else if constexpr (sizeof(T) == 4) {
    return static_cast<T>(__builtin_bswap32(v));
  } else {
    return static_cast<T>(__builtin_bswap64(v));
  }
}
}  // namespace detail

// Callers check bounds first: these read or write exactly sizeof(T) bytes at p.
template <class T>
inline T load_be(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return detail::to_big_endian(v);
}
template <class T>
inline void store_be(std::byte* p, T v) noexcept {
  v = detail::to_big_endian(v);
  std::memcpy(p, &v, sizeof v);
}
inline std::uint16_t load_be16(const std::byte* p) noexcept { return load_be<std::uint16_t>(p); }
inline std::uint32_t load_be32(const std::byte* p) noexcept { return load_be<std::uint32_t>(p); }
inline void store_be16(std::byte* p, std::uint16_t v) noexcept { store_be(p, v); }
inline void store_be32(std::byte* p, std::uint32_t v) noexcept { store_be(p, v); }
inline std::uint8_t load_u8(const std::byte* p) noexcept { return std::to_integer<std::uint8_t>(*p); }
inline void store_u8(std::byte* p, std::uint8_t v) noexcept { *p = std::byte{v}; }

}  // namespace warren
