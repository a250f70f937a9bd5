#pragma once
// TAI64N timestamps, the 12-byte clock reading inside a handshake initiation (WireGuard paper
// §5.4.2). A responder keeps the greatest timestamp it has accepted from each peer and drops an
// initiation whose timestamp is not strictly greater, so a recorded initiation cannot be
// replayed to reset a session (§5.1).
//
// Layout (https://cr.yp.to/libtai/tai64.html): 8 bytes big-endian TAI64 label, which is
// 2^62 + 10 + Unix seconds, then 4 bytes big-endian nanoseconds. The 10 is the TAI-UTC offset
// in 1970; leap seconds since are ignored, as in wireguard-go and Linux, so the label is off
// from true TAI by a constant that cancels in comparisons. Because both fields are big-endian,
// comparing two timestamps as values orders them exactly as the byte-wise memcmp of those
// implementations does, for any 12 bytes a peer sends.

#include <warren/core/bytes.hpp>

#include <array>
#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>

namespace warren::wireguard {

// A TAI64N label: a plain, comparable 12-byte value. The default is all zeros, older than any
// timestamp a real clock gives, which is what a peer's "greatest timestamp" starts as.
// Thread-safety is that of an integer.
class tai64n {
 public:
  static constexpr std::size_t size = 12;  // NOISE_TIMESTAMP_LEN in Linux
  // TAI64 label of the Unix epoch: 2^62 + 10 (wireguard-go tai64n.go: base; Linux noise.c).
  static constexpr std::uint64_t unix_epoch_label = 0x400000000000000aULL;
  // Sub-second precision kept by from_system_time(): nanoseconds are rounded down to a multiple
  // of 2^24 ns (16.8 ms), so the timestamp does not leak the sender's precise clock. It is the
  // largest power of two below 1 s / 50, the most initiations per second a responder accepts
  // from one peer, so a sender that respects that rate still sends increasing timestamps.
  // wireguard-go: whitenerMask = 0x1000000 - 1; Linux noise.c tai64n_now():
  // rounddown_pow_of_two(NSEC_PER_SEC / INITIATIONS_PER_SECOND).
  static constexpr std::uint32_t whitening_granularity_ns = std::uint32_t{1} << 24;

  constexpr tai64n() noexcept = default;
  // A label as given, with no whitening and no range check (nanoseconds may exceed 10^9, as
  // in bytes from the wire).
  constexpr tai64n(std::uint64_t label_seconds, std::uint32_t nanoseconds) noexcept
      : seconds_(label_seconds), nanoseconds_(nanoseconds) {}

  // The timestamp an initiator sends at wall-clock time `t`, whitened as described above.
  // The caller reads the clock (std::chrono::system_clock::now() in an adapter); times before
  // 1970 count back from the epoch label.
  static tai64n from_system_time(std::chrono::system_clock::time_point t) noexcept {
    namespace chrono = std::chrono;  // nanoseconds() is a member here
    const auto since_epoch = chrono::duration_cast<chrono::nanoseconds>(t.time_since_epoch());
    const auto whole = chrono::floor<chrono::seconds>(since_epoch);  // as Go's Unix(): ns stay >= 0
    const auto ns = static_cast<std::uint32_t>((since_epoch - whole).count());
    return {unix_epoch_label + static_cast<std::uint64_t>(whole.count()),
            ns & ~(whitening_granularity_ns - 1)};
  }

  // Any 12 bytes are a timestamp; whether it is acceptable is only a matter of ordering.
  static tai64n from_bytes(std::span<const std::byte, size> in) noexcept {
    return {load_be<std::uint64_t>(in.data()), load_be32(in.data() + 8)};
  }
  void write(std::span<std::byte, size> out) const noexcept {
    store_be(out.data(), seconds_);
    store_be32(out.data() + 8, nanoseconds_);
  }
  std::array<std::byte, size> to_bytes() const noexcept {
    std::array<std::byte, size> out;
    write(out);
    return out;
  }

  constexpr std::uint64_t label_seconds() const noexcept { return seconds_; }
  constexpr std::uint32_t nanoseconds() const noexcept { return nanoseconds_; }

  // Seconds first, then nanoseconds: the byte order of the encoding. A responder accepts an
  // initiation only if `received > greatest_so_far`.
  friend constexpr auto operator<=>(const tai64n&, const tai64n&) noexcept = default;

 private:
  std::uint64_t seconds_ = 0;
  std::uint32_t nanoseconds_ = 0;
};

}  // namespace warren::wireguard
