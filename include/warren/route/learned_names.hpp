#pragma once
// learned_names: which DNS name each destination address was last learned under, from the DNS
// answers that pass through the TUN, so that domain rules (route::policy) can match flows that
// carry only an address. An answer is taken for the name asked: a CNAME chain's addresses
// belong to the question's name (packet::resolved_addresses).
//
// Entries live for the record's TTL, clamped to [min_ttl, max_ttl]: apps and stub resolvers
// often keep an address past its TTL, and a flow opened then should still match its domain.
// The table is bounded: a full table evicts the entry that would expire soonest. An address
// learned again under another name takes the newer name (CDNs share addresses; the latest
// lookup is the best guess of what the app is about to open).
//
// Thread-safety: none; the router's thread owns it. Default state: empty, 16384 entries at most.

#include <warren/core/clock.hpp>
#include <warren/packet/ip_address.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace warren::route {

struct learned_names_options {
  std::size_t max_entries = 16384;
  duration min_ttl = std::chrono::minutes(5);
  duration max_ttl = std::chrono::hours(24);
};

class learned_names {
 public:
  explicit learned_names(learned_names_options options = {}) : options_(options) {
    if (options_.max_entries == 0) options_.max_entries = 1;
  }

  // Remembers that `address` is `name` (lower case, no trailing dot) for `ttl`.
  void learn(const packet::ip_address& address, std::string_view name, duration ttl, time_point now) {
    if (ttl < options_.min_ttl) ttl = options_.min_ttl;
    if (ttl > options_.max_ttl) ttl = options_.max_ttl;
    const key k = key_of(address);
    auto it = entries_.find(k);
    if (it == entries_.end()) {
      if (entries_.size() >= options_.max_entries) evict_one();
      it = entries_.emplace(k, entry{}).first;
      ++learned_;
    }
    it->second.name.assign(name);
    it->second.expires = now + ttl;
  }

  // The name `address` was learned under, or empty. The view stays valid until the next learn,
  // expire or clear.
  std::string_view lookup(const packet::ip_address& address, time_point now) const noexcept {
    const auto it = entries_.find(key_of(address));
    if (it == entries_.end() || it->second.expires <= now) return {};
    return it->second.name;
  }

  // Drops expired entries; returns how many.
  std::size_t expire(time_point now) {
    return static_cast<std::size_t>(std::erase_if(entries_, [&](const auto& e) { return e.second.expires <= now; }));
  }

  void clear() noexcept { entries_.clear(); }
  std::size_t size() const noexcept { return entries_.size(); }
  std::uint64_t learned() const noexcept { return learned_; }
  std::uint64_t evicted() const noexcept { return evicted_; }

 private:
  using key = std::array<std::uint8_t, 17>;  // 16 address bytes and the family
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept {
      std::uint64_t a, b;
      std::memcpy(&a, k.data(), 8);
      std::memcpy(&b, k.data() + 8, 8);
      const std::uint64_t x = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ k[16]) * 0xff51afd7ed558ccdull;
      return static_cast<std::size_t>(x ^ (x >> 32));
    }
  };
  struct entry {
    std::string name;
    time_point expires{};
  };

  static key key_of(const packet::ip_address& a) noexcept {
    key k{};
    std::memcpy(k.data(), a.raw().data(), 16);
    k[16] = a.is_v6() ? 6 : 4;
    return k;
  }

  void evict_one() {
    auto victim = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->second.expires < victim->second.expires) victim = it;
    entries_.erase(victim);
    ++evicted_;
  }

  learned_names_options options_;
  std::unordered_map<key, entry, key_hash> entries_;
  std::uint64_t learned_ = 0, evicted_ = 0;
};

}  // namespace warren::route
