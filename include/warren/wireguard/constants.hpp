#pragma once
// WireGuard's protocol constants, named as in the paper (§6.1 "Timers") and wireguard-go's
// device/constants.go.

#include <chrono>
#include <cstdint>
#include <limits>

namespace warren::wireguard {

using namespace std::chrono_literals;

inline constexpr std::uint64_t rekey_after_messages = 1ull << 60;                            // §6.1
inline constexpr std::uint64_t reject_after_messages = std::numeric_limits<std::uint64_t>::max() - (1ull << 13);  // §6.1
inline constexpr auto rekey_after_time = 120s;                                                // §6.1
inline constexpr auto reject_after_time = 180s;                                               // §6.1
inline constexpr auto rekey_attempt_time = 90s;                                               // §6.1
inline constexpr auto rekey_timeout = 5s;                                                     // §6.1
inline constexpr auto rekey_timeout_jitter_max = 334ms;                                       // §6.1: up to 1/3 s
inline constexpr auto keepalive_timeout = 10s;                                                // §6.1
// An initiator that receives on keys this old starts a new handshake before they expire (§6.2).
inline constexpr auto rekey_on_receive_time = reject_after_time - keepalive_timeout - rekey_timeout;
// Keys are zeroed when no new session came for this long (§6.3).
inline constexpr auto zero_keys_after = 3 * reject_after_time;
// At most one initiation consumed per peer in this interval (wireguard-go HandshakeInitationRate).
inline constexpr auto initiation_rate_interval = std::chrono::nanoseconds(1s) / 50;

}  // namespace warren::wireguard
