#pragma once
// The Internet checksum (RFC 1071), the pseudo-headers of TCP/UDP/ICMPv6 (RFC 768, RFC 9293
// §3.1, RFC 8200 §8.1) and incremental updates (RFC 1624 eqn. 3).
//
// Values: a checksum is a std::uint16_t as load_be16() reads it from the wire and
// store_be16() writes it back. Internally the sum runs over native-order words (the one's
// complement sum does not care about byte order, RFC 1071 §2(B)) and is swapped once at the end.

#include <warren/core/bytes.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_protocol.hpp>

#include <cstdint>
#include <cstring>

namespace warren::packet {

// A running one's complement sum. Add parts in wire order; every part but the last must have
// an even length (an odd part would shift the bytes after it).
class checksum_accumulator {
 public:
  constexpr checksum_accumulator() noexcept = default;

  checksum_accumulator& add(byte_view data) noexcept {
    const std::byte* p = data.data();
    std::size_t n = data.size();
    // Four independent 64-bit sums of 32-bit words: no carries to track for 2^32 words, and the
    // compiler turns the loop into wide vector adds.
    std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (; n >= 16; p += 16, n -= 16) {
      std::uint32_t w[4];
      std::memcpy(w, p, 16);
      s0 += w[0];
      s1 += w[1];
      s2 += w[2];
      s3 += w[3];
    }
    for (; n >= 4; p += 4, n -= 4) {
      std::uint32_t w;
      std::memcpy(&w, p, 4);
      s0 += w;
    }
    if (n >= 2) {
      std::uint16_t w;
      std::memcpy(&w, p, 2);
      s1 += w;
      p += 2;
      n -= 2;
    }
    if (n == 1) {
      // The odd byte is the high-order byte of a word padded with zero (RFC 1071 §4.1).
      std::byte pad[2] = {*p, std::byte{0}};
      std::uint16_t w;
      std::memcpy(&w, pad, 2);
      s2 += w;
    }
    add_native(s0);
    add_native(s1);
    add_native(s2);
    add_native(s3);
    return *this;
  }
  // Adds a big-endian 16-bit value (a header field as load_be16 reads it).
  checksum_accumulator& add16(std::uint16_t value) noexcept {
    std::byte b[2];
    store_be16(b, value);
    return add(b);
  }
  checksum_accumulator& add32(std::uint32_t value) noexcept {
    std::byte b[4];
    store_be32(b, value);
    return add(b);
  }

  // The one's complement sum folded to 16 bits, in wire-value order (not complemented).
  std::uint16_t sum() const noexcept {
    std::uint64_t s = sum_;
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    std::byte b[2];
    auto folded = static_cast<std::uint16_t>(s);
    std::memcpy(b, &folded, 2);
    return load_be16(b);
  }
  // The checksum to store: the complement of the sum.
  std::uint16_t checksum() const noexcept { return static_cast<std::uint16_t>(~sum()); }
  // True if the data added included its own checksum field and it is right.
  bool verifies() const noexcept { return sum() == 0xffff; }

 private:
  void add_native(std::uint64_t v) noexcept {
    // End-around carry keeps the 64-bit sum a valid one's complement sum.
    sum_ += v;
    if (sum_ < v) ++sum_;
  }
  std::uint64_t sum_ = 0;
};

// The checksum of `data`, to store in its checksum field (which must be zero in `data`).
inline std::uint16_t internet_checksum(byte_view data) noexcept {
  return checksum_accumulator{}.add(data).checksum();
}

// Starts a sum with the pseudo-header of an upper-layer protocol: source, destination,
// protocol and upper-layer length. Same layout of fields for IPv4 (RFC 768) and IPv6
// (RFC 8200 §8.1); only the address and length widths differ, which the sum does not see.
inline checksum_accumulator pseudo_header_sum(const ip_address& source, const ip_address& destination,
                                              ip_protocol protocol, std::uint32_t length) noexcept {
  checksum_accumulator acc;
  acc.add(source.bytes()).add(destination.bytes());
  acc.add32(length);
  acc.add16(static_cast<std::uint16_t>(protocol));
  return acc;
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), where a 16-bit field changed from m to m'.
inline std::uint16_t checksum_update(std::uint16_t checksum, std::uint16_t old_value,
                                     std::uint16_t new_value) noexcept {
  std::uint32_t s = static_cast<std::uint16_t>(~checksum);
  s += static_cast<std::uint16_t>(~old_value);
  s += new_value;
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}
inline std::uint16_t checksum_update32(std::uint16_t checksum, std::uint32_t old_value,
                                       std::uint32_t new_value) noexcept {
  checksum = checksum_update(checksum, static_cast<std::uint16_t>(old_value >> 16),
                             static_cast<std::uint16_t>(new_value >> 16));
  return checksum_update(checksum, static_cast<std::uint16_t>(old_value),
                         static_cast<std::uint16_t>(new_value));
}
// For a field of even length that changed from old_bytes to new_bytes (same size), e.g. an
// address rewritten by NAT. Odd sizes are the caller's bug: the last byte is ignored.
inline std::uint16_t checksum_update(std::uint16_t checksum, byte_view old_bytes, byte_view new_bytes) noexcept {
  std::size_t n = old_bytes.size() < new_bytes.size() ? old_bytes.size() : new_bytes.size();
  for (std::size_t i = 0; i + 1 < n; i += 2)
    checksum = checksum_update(checksum, load_be16(old_bytes.data() + i), load_be16(new_bytes.data() + i));
  return checksum;
}

}  // namespace warren::packet
