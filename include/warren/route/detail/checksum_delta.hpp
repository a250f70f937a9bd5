#pragma once
// RFC 1624 incremental checksum updates, batched: the one's-complement difference of every
// 16-bit word a rewrite changed, summed once and then added to each checksum that covers those
// words. An address change lands in the IPv4 header checksum and in the transport checksum
// (through the pseudo-header); folding the difference once serves both.

#include <warren/core/bytes.hpp>

#include <cstddef>
#include <cstdint>

namespace warren::route::detail {

class checksum_delta {
 public:
  // A field of even length at an even offset of the checksummed data changed from `before`
  // to `after` (same length).
  void add_change(const std::byte* before, const std::byte* after, std::size_t length) noexcept {
    for (std::size_t i = 0; i + 1 < length; i += 2) {
      sum_ += static_cast<std::uint16_t>(~load_be16(before + i));
      sum_ += load_be16(after + i);
    }
  }
  void add_change(std::uint16_t before, std::uint16_t after) noexcept {
    sum_ += static_cast<std::uint16_t>(~before);
    sum_ += after;
  }
  void add(const checksum_delta& other) noexcept { sum_ += other.folded(); }
  bool empty() const noexcept { return sum_ == 0; }

  std::uint16_t folded() const noexcept {
    std::uint64_t s = sum_;
    while (s >> 16) s = (s & 0xffffu) + (s >> 16);
    return static_cast<std::uint16_t>(s);
  }

  // HC' = ~(~HC + delta) (RFC 1624 eqn. 3) on the big-endian field at `field`; returns the
  // old and new values so that a checksum inside another checksum's coverage (a quoted
  // header inside an ICMP error) can report its own change.
  struct update {
    std::uint16_t before, after;
  };
  update apply(std::byte* field) const noexcept {
    const std::uint16_t before = load_be16(field);
    std::uint32_t s = static_cast<std::uint16_t>(~before);
    s += folded();
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    const auto after = static_cast<std::uint16_t>(~s);
    store_be(field, after);
    return {before, after};
  }
  // The same for a UDP checksum, where 0 on the wire means "none" (RFC 768): a computed 0 is
  // sent as 0xffff, its one's-complement twin.
  update apply_udp(std::byte* field) const noexcept {
    update u = apply(field);
    if (u.after == 0) {
      u.after = 0xffff;
      store_be(field, u.after);
    }
    return u;
  }

 private:
  std::uint64_t sum_ = 0;
};

}  // namespace warren::route::detail
