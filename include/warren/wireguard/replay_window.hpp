#pragma once
// The anti-replay window for transport-data counters (WireGuard paper §5.4.6), as the bitmap of
// RFC 6479: a ring of 64-bit words in which the word ahead of the newest counter is cleared as
// the window slides, so moving forward costs one store per word crossed instead of a shift of
// the whole bitmap.
//
// Sizes follow wireguard-go (replay/replay.go) and Linux (drivers/net/wireguard/receive.c) on a
// 64-bit machine: 8192 bits in 128 words, of which one word is given up so that the oldest
// counter in the window never shares a word with the newest. The window is 8192 - 64 = 8128
// counters behind the newest one seen.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace warren::wireguard {

// Which transport-data counters of one receiving keypair have been seen.
//
// The receive path (WireGuard paper §5.4.6):
//   1. would_accept(counter) before decrypting: a cheap filter that drops replays and stale
//      packets without spending an AEAD open on them. It marks nothing.
//   2. Open the packet. A forged packet must not move the window, or an attacker could push
//      real counters out of it without knowing the key.
//   3. accept(counter) only after the packet authenticates. Check its result: another packet
//      with the same counter may have been accepted between steps 1 and 3.
//
// Default state (also after reset()): nothing seen, so counter 0, the first one a sender uses,
// is accepted. Holds 1 KiB inline and never allocates. Not thread-safe: one receive path owns
// it, or the caller serialises accept() (wireguard-go holds the keypair's lock around it).
class replay_window {
 public:
  // Counters this many below the newest accepted one are still accepted once; older ones are
  // not. wireguard-go: CounterWindowSize; Linux: COUNTER_WINDOW_SIZE.
  static constexpr std::uint64_t window_size = 8192 - 64;
  // A counter at or past this is rejected even if it is fresh: the sender must have rekeyed
  // long before. Reject-After-Messages = 2^64 - 2^13 - 1 (WireGuard paper §6.1, the constants
  // table; wireguard-go device/constants.go: RejectAfterMessages). The same value as
  // wireguard::reject_after_messages, kept here so this header stands alone.
  static constexpr std::uint64_t reject_after_messages = std::numeric_limits<std::uint64_t>::max() - (1u << 13);

  static constexpr std::uint64_t size() noexcept { return window_size; }

  // True if `counter` is below the limit and was neither seen nor left behind by the window.
  // Changes nothing: use it before decrypting, then call accept() after authenticating.
  bool would_accept(std::uint64_t counter) const noexcept {
    if (counter >= reject_after_messages) return false;
    if (counter > newest_) return true;  // bits ahead of newest_ are stale and cleared on the move
    if (newest_ - counter > window_size) return false;
    return (words_[word_index(counter)] & bit(counter)) == 0;
  }

  // Call only for a packet that authenticated. True if `counter` is fresh; it is then marked
  // and the window slides forward to it if it is the newest. False for a replay, a counter
  // behind the window, or one at or past reject_after_messages; the window is then unchanged.
  [[nodiscard]] bool accept(std::uint64_t counter) noexcept {
    if (counter >= reject_after_messages) return false;
    if (counter > newest_) {
      // Clear each word the window moves into; after a jump of a whole ring, all of them.
      const std::uint64_t current = newest_ / word_bits;
      const std::uint64_t steps = std::min<std::uint64_t>(counter / word_bits - current, word_count);
      for (std::uint64_t i = 1; i <= steps; ++i) words_[(current + i) % word_count] = 0;
      newest_ = counter;
    } else if (newest_ - counter > window_size) {
      return false;
    }
    std::uint64_t& w = words_[word_index(counter)];
    const std::uint64_t old = w;
    w = old | bit(counter);
    return w != old;
  }

  // Back to the default state, for a new keypair. Only the newest counter's word needs
  // clearing: every other word is cleared before the window moves into it.
  void reset() noexcept {
    newest_ = 0;
    words_[0] = 0;
  }

  // The highest counter accepted so far (0 when none).
  std::uint64_t newest() const noexcept { return newest_; }

 private:
  static constexpr std::uint64_t word_bits = 64;
  static constexpr std::uint64_t word_count = 8192 / word_bits;

  static constexpr std::size_t word_index(std::uint64_t counter) noexcept {
    return static_cast<std::size_t>(counter / word_bits % word_count);
  }
  static constexpr std::uint64_t bit(std::uint64_t counter) noexcept {
    return std::uint64_t{1} << (counter % word_bits);
  }

  std::uint64_t newest_ = 0;
  std::array<std::uint64_t, word_count> words_{};
};

}  // namespace warren::wireguard
