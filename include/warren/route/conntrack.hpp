#pragma once
// conntrack: the connection tracker. It remembers, for each flow, what the router decided for
// its first packet (a tunnel, direct), so the rest of the flow follows it even when the rules
// change or a better server comes up: a TCP connection cannot move to another tunnel, whose
// address differs, without breaking.
//
// Flows are keyed by packet::flow_key as seen from the TUN side in the outbound direction
// (source = this host); the router reverses the key of an inbound packet before looking it up.
// Each flow has an idle timeout by its kind (conntrack_options): a flow not touched for that
// long is gone at the next expire(). The table is bounded: inserting into a full table evicts
// the flow closest to its expiry, and counts it.
//
// Cost: a lookup hashes the key once (seeded, so remote peers cannot aim flows at one bucket)
// and probes an open-addressed index; touch() also moves the flow to the back of its kind's
// recency list, which keeps each list in expiry order, so expire() stops at the first flow
// still alive. Nothing allocates once max_flows flows have been seen: entries and index are
// sized at construction (index) or grow to max_flows (entries) and are reused.
//
// Ownership: values live in the table; a pointer from find() or touch() stays valid until the
// next insert, erase, erase_if, expire or clear. Thread-safety: none; one thread (the router's)
// owns it. Default state: empty, 65536 flows at most.

#include <warren/core/clock.hpp>
#include <warren/packet/flow_key.hpp>

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace warren::route {

// Which idle timeout a flow has. The router picks it from the packet.
enum class flow_kind : std::uint8_t {
  tcp,          // a TCP flow in any state before FIN or RST
  tcp_closing,  // a TCP flow after a FIN or RST was seen
  udp,
  other,        // ICMP and every other protocol
};
inline constexpr std::size_t flow_kind_count = 4;

struct conntrack_options {
  std::size_t max_flows = 65536;
  // RFC 5382 REQ-5: an established TCP mapping lives at least 2 h 4 min idle.
  duration tcp_timeout = std::chrono::minutes(124);
  // After FIN or RST: long enough for the last ACKs and a TIME_WAIT of 2 MSL (RFC 9293 §3.3.2).
  duration tcp_closing_timeout = std::chrono::minutes(4);
  // RFC 4787 REQ-5: at least 2 min, 5 min recommended.
  duration udp_timeout = std::chrono::minutes(5);
  // RFC 5508 REQ-1: an ICMP query mapping lives at least 60 s.
  duration other_timeout = std::chrono::seconds(60);
};

struct conntrack_stats {
  std::uint64_t inserted = 0;
  std::uint64_t expired = 0;  // removed by expire() after their idle timeout
  std::uint64_t evicted = 0;  // removed by insert() because the table was full
};

template <class Value>
class conntrack {
 public:
  explicit conntrack(conntrack_options options = {}, std::uint64_t seed = 0x5eed'c0de'f10d'0001)
      : options_(options), seed_(seed) {
    if (options_.max_flows == 0) options_.max_flows = 1;
    // At most half full, so probes stay short.
    // The home slot comes from 32 bits of the hash: at most 2^31 flows.
    if (options_.max_flows > (std::size_t{1} << 31)) options_.max_flows = std::size_t{1} << 31;
    const std::size_t slots = std::bit_ceil(options_.max_flows * 2);
    index_.assign(slots, slot{});
    free_.reserve(options_.max_flows);
    mask_ = slots - 1;
    timeouts_ = {options_.tcp_timeout, options_.tcp_closing_timeout, options_.udp_timeout, options_.other_timeout};
  }

  // The flow's value, or null. Does not refresh the flow.
  const Value* find(const packet::flow_key& key) const noexcept {
    const std::uint32_t e = locate(key, hash(key)).entry;
    return e == none ? nullptr : &entries_[e].value;
  }
  Value* find(const packet::flow_key& key) noexcept {
    const std::uint32_t e = locate(key, hash(key)).entry;
    return e == none ? nullptr : &entries_[e].value;
  }

  // The flow's value with its idle timer restarted at `now` and its kind set to `kind` (a TCP
  // flow becomes tcp_closing on FIN or RST), or null if the flow is not tracked. A flow that is
  // tcp_closing stays so when touched as tcp: the last ACKs of an orderly close must not give
  // it the open connection's two hours again.
  Value* touch(const packet::flow_key& key, time_point now, flow_kind kind) noexcept {
    const std::uint32_t e = locate(key, hash(key)).entry;
    if (e == none) return nullptr;
    unlink(e);
    entries_[e].last_seen = now;
    if (!(entries_[e].kind == flow_kind::tcp_closing && kind == flow_kind::tcp)) entries_[e].kind = kind;
    link_back(e);
    return &entries_[e].value;
  }

  // Tracks the flow with `value` (replacing the value of a flow already tracked), idle from
  // `now`. A full table first evicts the flow that would expire soonest.
  Value& insert(const packet::flow_key& key, Value value, time_point now, flow_kind kind) {
    const std::uint64_t h = hash(key);
    if (const std::uint32_t e = locate(key, h).entry; e != none) {
      entries_[e].value = std::move(value);
      unlink(e);
      entries_[e].last_seen = now;
      entries_[e].kind = kind;
      link_back(e);
      return entries_[e].value;
    }
    if (size_ == options_.max_flows) {
      remove(soonest_to_expire());
      ++stats_.evicted;
    }
    std::uint32_t e;
    if (!free_.empty()) {
      e = free_.back();
      free_.pop_back();
      entries_[e].key = key;
      entries_[e].value = std::move(value);
    } else {
      e = static_cast<std::uint32_t>(entries_.size());
      entries_.push_back(entry{key, std::move(value)});
    }
    entries_[e].last_seen = now;
    entries_[e].kind = kind;
    entries_[e].hash = static_cast<std::uint32_t>(h);
    link_back(e);
    std::size_t i = h & mask_;
    while (index_[i].entry != none) i = (i + 1) & mask_;
    index_[i] = slot{e, entries_[e].hash};
    ++size_;
    ++stats_.inserted;
    return entries_[e].value;
  }

  bool erase(const packet::flow_key& key) noexcept {
    const std::uint32_t e = locate(key, hash(key)).entry;
    if (e == none) return false;
    remove(e);
    return true;
  }

  // Removes every flow for which pred(key, value) holds (the flows of a tunnel that closed);
  // returns how many.
  template <class Pred>
  std::size_t erase_if(Pred&& pred) {
    std::size_t n = 0;
    for (auto& l : lists_) {
      for (std::uint32_t e = l.head; e != none;) {
        const std::uint32_t next = entries_[e].next;
        if (pred(std::as_const(entries_[e].key), std::as_const(entries_[e].value))) {
          remove(e);
          ++n;
        }
        e = next;
      }
    }
    return n;
  }

  // Removes the flows idle past their timeout at `now`; returns how many.
  std::size_t expire(time_point now) noexcept {
    std::size_t n = 0;
    for (std::size_t k = 0; k < flow_kind_count; ++k) {
      while (lists_[k].head != none && entries_[lists_[k].head].last_seen + timeouts_[k] <= now) {
        remove(lists_[k].head);
        ++n;
      }
    }
    stats_.expired += n;
    return n;
  }

  // When the next flow expires, for the owner's timer; nullopt when empty.
  std::optional<time_point> next_expiry() const noexcept {
    std::optional<time_point> t;
    for (std::size_t k = 0; k < flow_kind_count; ++k) {
      if (lists_[k].head == none) continue;
      const time_point at = entries_[lists_[k].head].last_seen + timeouts_[k];
      if (!t || at < *t) t = at;
    }
    return t;
  }

  // Calls f(const flow_key&, const Value&, time_point last_seen, flow_kind) for every flow.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t k = 0; k < flow_kind_count; ++k)
      for (std::uint32_t e = lists_[k].head; e != none; e = entries_[e].next)
        f(entries_[e].key, entries_[e].value, entries_[e].last_seen, static_cast<flow_kind>(k));
  }

  void clear() noexcept {
    for (auto& s : index_) s = slot{};
    for (auto& l : lists_) l = list{};
    free_.clear();
    for (std::uint32_t e = 0; e < entries_.size(); ++e) free_.push_back(e);
    size_ = 0;
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t max_flows() const noexcept { return options_.max_flows; }
  const conntrack_stats& stats() const noexcept { return stats_; }
  const conntrack_options& options() const noexcept { return options_; }

 private:
  static constexpr std::uint32_t none = 0xffff'ffffu;

  struct entry {
    packet::flow_key key;
    Value value;
    time_point last_seen{};
    std::uint32_t prev = none, next = none;
    std::uint32_t hash = 0;  // the low half of the key's hash (see slot)
    flow_kind kind = flow_kind::other;
  };
  // The low half of the hash: it skips most key compares, and its low bits are the home slot,
  // so closing a gap in remove() need not read (and miss the cache on) the entries it moves.
  struct slot {
    std::uint32_t entry = none;
    std::uint32_t hash = 0;
  };
  struct list {
    std::uint32_t head = none, tail = none;  // head: least recently seen
  };
  struct found {
    std::size_t slot;
    std::uint32_t entry;
  };

  std::uint64_t hash(const packet::flow_key& key) const noexcept { return key.hash(seed_); }

  found locate(const packet::flow_key& key, std::uint64_t h) const noexcept {
    const auto tag = static_cast<std::uint32_t>(h);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = index_[i];
      if (s.entry == none) return {i, none};
      if (s.hash == tag && entries_[s.entry].key == key) return {i, s.entry};
    }
  }

  void link_back(std::uint32_t e) noexcept {
    list& l = lists_[static_cast<std::size_t>(entries_[e].kind)];
    entries_[e].prev = l.tail;
    entries_[e].next = none;
    if (l.tail != none) entries_[l.tail].next = e;
    else l.head = e;
    l.tail = e;
  }
  void unlink(std::uint32_t e) noexcept {
    list& l = lists_[static_cast<std::size_t>(entries_[e].kind)];
    const std::uint32_t p = entries_[e].prev, n = entries_[e].next;
    if (p != none) entries_[p].next = n;
    else l.head = n;
    if (n != none) entries_[n].prev = p;
    else l.tail = p;
  }

  std::uint32_t soonest_to_expire() const noexcept {
    std::uint32_t best = none;
    time_point best_at{};
    for (std::size_t k = 0; k < flow_kind_count; ++k) {
      const std::uint32_t e = lists_[k].head;
      if (e == none) continue;
      const time_point at = entries_[e].last_seen + timeouts_[k];
      if (best == none || at < best_at) {
        best = e;
        best_at = at;
      }
    }
    return best;
  }

  // Unlinks entry e, frees it, and closes the gap in the index by shifting later members of
  // its probe run back (linear probing without tombstones).
  void remove(std::uint32_t e) noexcept {
    const found f = locate(entries_[e].key, hash(entries_[e].key));
    std::size_t hole = f.slot;
    for (std::size_t j = (hole + 1) & mask_; index_[j].entry != none; j = (j + 1) & mask_) {
      const std::size_t home = index_[j].hash & mask_;
      // j's member may fill the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      index_[hole] = index_[j];
      hole = j;
    }
    index_[hole] = slot{};
    unlink(e);
    free_.push_back(e);
    --size_;
  }

  conntrack_options options_;
  std::uint64_t seed_;
  std::array<duration, flow_kind_count> timeouts_{};
  std::vector<entry> entries_;
  std::vector<slot> index_;
  std::size_t mask_ = 0;
  std::array<list, flow_kind_count> lists_{};
  std::vector<std::uint32_t> free_;
  std::size_t size_ = 0;
  conntrack_stats stats_;
};

}  // namespace warren::route
