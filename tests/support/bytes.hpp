#pragma once
// Helpers for tests: bytes from hex text, and a few well-formed packets built from parts.

#include <warren/core/bytes.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace warren::test {

// "45 00 00 1c ..." -> bytes. Whitespace is ignored; a bad digit throws (a bug in the test).
inline std::vector<std::byte> hex(std::string_view text) {
  std::vector<std::byte> out;
  int hi = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else if (c == ' ' || c == '\n' || c == '\t') continue;
    else throw std::invalid_argument("bad hex digit");
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::byte>(hi << 4 | v));
      hi = -1;
    }
  }
  if (hi >= 0) throw std::invalid_argument("odd number of hex digits");
  return out;
}

inline std::uint8_t byte_at(const std::vector<std::byte>& v, std::size_t i) {
  return std::to_integer<std::uint8_t>(v.at(i));
}
inline void set_byte(std::vector<std::byte>& v, std::size_t i, unsigned value) {
  v.at(i) = static_cast<std::byte>(value);
}

}  // namespace warren::test

namespace warren::test::samples {
// Hand-made packets 192.0.2.1 -> 192.0.2.2 with checksums computed by hand (RFC 791/768/792/9293).
// UDP 40000 -> 7, "hello".
inline constexpr const char* udp4 = "450000211c46400040119a82c0000201c00002029c400007000d9bb668656c6c6f";
// ICMP echo request, id 0x1234 seq 1, "abcdefgh".
inline constexpr const char* echo4 = "450000241c46400040019a8fc0000201c000020208005435123400016162636465666768";
// TCP SYN 40001 -> 80 with MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
inline constexpr const char* syn4 =
    "4500003c1c46400040069a72c0000201c00002029c410050000003e800000000a002faf028910000"
    "020405b40402080a000000010000000001030307";
}  // namespace warren::test::samples
