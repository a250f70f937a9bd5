#pragma once
// pick_best_server: the default way a provider chooses a server for a region_request. Providers
// call it from their best_server() unless they know better (a broker may ask its backend).
//
// 1. Keep the servers the request matches (region, then country and city if given).
// 2. Without latencies, take the lowest load.
// 3. With latencies (round trips the app measured, by server id), take the lowest
//        score = rtt * (100 + load) / 100
//    so a full server (load 100) counts as twice as far away as an idle one, and a server 20 ms
//    away at load 0 beats one 15 ms away at load 50 (20 < 22.5). Servers without a measurement
//    rank after every measured one, and among themselves by load.
// A server that publishes no load counts as 50: neither favoured nor avoided. Ties keep the
// order of the list (the operator's order), so the choice is deterministic.

#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/provider/error.hpp>
#include <warren/provider/server.hpp>

#include <algorithm>
#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>

namespace warren::provider {

// Measured round-trip times by server id.
using latency_map = std::map<std::string, duration, std::less<>>;

// The load best_server assumes for a server that publishes none.
inline constexpr unsigned unknown_load = 50;

inline result<server> pick_best_server(const region_request& request, std::span<const server> servers,
                                       const latency_map* latencies = nullptr) {
  // Rank: measured before unmeasured, then score (or load), then list position.
  struct rank {
    bool unmeasured = true;
    std::int64_t score = 0;
    auto operator<=>(const rank&) const = default;
  };
  const server* best = nullptr;
  rank best_rank;
  for (const auto& s : servers) {
    if (!request.matches(s)) continue;
    std::int64_t load = s.load ? std::min<std::int64_t>(*s.load, 100) : unknown_load;
    rank r{true, load};
    if (latencies) {
      if (auto it = latencies->find(s.id); it != latencies->end()) {
        // Clamped so a bogus measurement cannot overflow the product.
        auto rtt = std::clamp<std::int64_t>(it->second.count(), 0, std::chrono::nanoseconds(std::chrono::hours(1)).count());
        r = {false, rtt * (100 + load) / 100};
      }
    }
    if (!best || r < best_rank) {
      best = &s;
      best_rank = r;
    }
  }
  if (!best) return unexpected(make_error_code(errc::no_matching_server));
  return *best;
}

}  // namespace warren::provider
