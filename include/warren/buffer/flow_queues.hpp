#pragma once
// flow_queues: bounded FIFO queues, one per flow, for packets that wait for a tunnel to come up
// (a handshake, a route lookup, a relay). When the tunnel is up its flow is drain()ed in order;
// when it fails the flow is discard()ed.
//
// Purpose: hold a little of every waiting flow without letting one flow, or all of them, take
// unbounded memory. Limits count packet data (packet_buffer::size()): per_flow_bytes for each
// flow, total_bytes across all flows, and max_flows flows at once. A full queue drops packets
// by an explicit policy, and every drop is counted by reason; push() also returns the reason.
//
// Ownership: queued packets are owned by the queues until pop()/drain() hands them back. A
// packet that push() rejects, or that a limit evicts or discard() removes, is released at once
// (a pool's block goes back to its pool), so its pool must outlive these queues too.
//
// Thread-safety: none; use it from the thread or strand that owns the packets' pool.
//
// Default state: empty; 64 KiB per flow, 10 MiB in total, 1024 flows, drop_newest.
//
// Key is any copyable, equality-comparable type that Hash can hash (a flow key, a peer id).
// A flow exists while it holds packets: the pop() that empties it, drain() and discard() remove
// it, so max_flows counts flows that are actually waiting. Removed flows keep their storage for
// reuse (up to spare_flows of them), so push()/pop() on a steady set of flows stop allocating
// once each flow's queue has grown to its usual length.

#include <warren/buffer/detail/packet_ring.hpp>
#include <warren/buffer/error.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <system_error>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace warren::buffer {

// What a full queue gives up when another packet arrives.
enum class drop_policy {
  // Reject the arriving packet when its flow or the total is full. Keeps the first packets of a
  // flow (a TCP SYN, a DNS query), which is what a tunnel that comes up soon needs most.
  drop_newest,
  // Make room by evicting the oldest packets: of the same flow when the flow is full; from the
  // head of the flow holding the most bytes when the total is full. Keeps the freshest data,
  // for flows whose old packets have likely been retransmitted already. The arriving packet is
  // still rejected when it would start a flow beyond max_flows or exceeds a limit on its own.
  drop_oldest,
};

// Limits count packet data (size()), not the pool blocks behind it: memory held is up to one
// block per queued packet, so the pool's max_blocks is the hard bound on memory.
struct flow_queue_options {
  std::size_t per_flow_bytes = 64 * 1024;      // about 46 full-size (1420-byte) packets
  std::size_t total_bytes = 10 * 1024 * 1024;  // across all flows
  std::size_t max_flows = 1024;                // flows holding packets at once
  drop_policy policy = drop_policy::drop_newest;
};

// Packets and the bytes of data they held.
struct packet_count {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

// What happened to the packets push() was given. Each packet ends in exactly one place, so
// pushed = dequeued + dropped() + total_packets() at any time. Packets evicted by drop_oldest
// count under the reason that evicted them (flow_full or total_full), like rejected ones.
struct flow_queue_counters {
  packet_count flow_full;         // the flow was at per_flow_bytes
  packet_count total_full;        // all flows were at total_bytes
  packet_count too_many_flows;    // a new flow found max_flows flows waiting
  packet_count packet_too_large;  // larger than per_flow_bytes (or total_bytes) on its own
  packet_count discarded;         // removed with its flow by discard()
  packet_count enqueued;          // accepted by push()
  packet_count dequeued;          // handed out by pop() or drain()

  packet_count dropped() const noexcept {
    packet_count sum;
    for (const packet_count* c : {&flow_full, &total_full, &too_many_flows, &packet_too_large, &discarded}) {
      sum.packets += c->packets;
      sum.bytes += c->bytes;
    }
    return sum;
  }
};

template <class Key, class Hash = std::hash<Key>>
  requires std::copyable<Key> && std::equality_comparable<Key> &&
           std::is_invocable_r_v<std::size_t, const Hash&, const Key&>
class flow_queues {
 public:
  // How many emptied flows keep their storage for the next new flow.
  static constexpr std::size_t spare_flows = 64;
  // A spare flow whose ring grew beyond this many slots gives its storage back, so a burst of
  // tiny packets does not pin memory.
  static constexpr std::size_t max_spare_ring = 64;

  explicit flow_queues(flow_queue_options options = {}, Hash hash = Hash{})
      : options_(options), flows_(0, std::move(hash)) {
    spares_.reserve(spare_flows);
  }

  // Queues `pkt` at the back of `key`'s flow, starting the flow if needed. On error the packet
  // was dropped (and released) for the reason returned; the drop is counted either way, so a
  // caller may ignore the result. With drop_oldest, success may have evicted older packets.
  // Throws std::bad_alloc only if a flow needs storage and the system has none.
  result<void> push(const Key& key, packet_buffer&& pkt) {
    const std::size_t size = pkt.size();
    if (size > options_.per_flow_bytes || size > options_.total_bytes) {
      return reject(counters_.packet_too_large, errc::packet_too_large, std::move(pkt));
    }
    auto it = flows_.find(key);
    if (it == flows_.end() && flows_.size() >= options_.max_flows) {
      return reject(counters_.too_many_flows, errc::too_many_flows, std::move(pkt));
    }
    if (options_.policy == drop_policy::drop_newest) {
      if (it != flows_.end() && it->second.bytes + size > options_.per_flow_bytes) {
        return reject(counters_.flow_full, errc::flow_full, std::move(pkt));
      }
      if (total_bytes_ + size > options_.total_bytes) {
        return reject(counters_.total_full, errc::total_full, std::move(pkt));
      }
    } else {
      if (it != flows_.end()) {
        while (it->second.bytes + size > options_.per_flow_bytes) evict_front(it->second, counters_.flow_full);
      }
      // Terminates: size <= total_bytes, so while over the limit some flow holds bytes.
      while (total_bytes_ + size > options_.total_bytes) {
        auto largest = largest_flow();
        evict_front(largest->second, counters_.total_full);
        // The arriving packet's own flow stays even when emptied: it is about to grow again.
        if (largest->second.ring.empty() && largest != it) remove_flow(largest);
      }
    }
    if (it == flows_.end()) it = add_flow(key);
    try {
      it->second.ring.push_back(std::move(pkt));
    } catch (...) {
      // A new flow's first slot could not be allocated: keep "a flow exists while it holds
      // packets" true. The packet was not moved, so the caller still has it.
      if (it->second.ring.empty()) remove_flow(it);
      throw;
    }
    it->second.bytes += size;
    total_bytes_ += size;
    ++total_packets_;
    count(counters_.enqueued, size);
    return {};
  }

  // The oldest packet of `key`'s flow, or nothing if the flow holds none.
  std::optional<packet_buffer> pop(const Key& key) {
    auto it = flows_.find(key);
    if (it == flows_.end()) return std::nullopt;
    packet_buffer p = take_front(it->second);
    count(counters_.dequeued, p.size());
    if (it->second.ring.empty()) remove_flow(it);
    return p;
  }

  // Hands every packet of `key`'s flow to sink(packet_buffer&&), oldest first, and removes the
  // flow; returns how many were handed over. The flow is detached before the first call, so the
  // sink may push to the same key (that starts a new flow). If the sink throws, the packets not
  // yet handed over are released and counted as discarded.
  template <class F>
    requires std::invocable<F&, packet_buffer&&>
  std::size_t drain(const Key& key, F&& sink) {
    auto it = flows_.find(key);
    if (it == flows_.end()) return 0;
    auto node = detach(it);
    std::size_t handed = 0;
    {
      flow& f = node.mapped();
      // Runs only if the sink throws; on return the ring is already empty.
      struct discard_rest {
        flow_queues& self;
        flow& f;
        ~discard_rest() {
          while (!f.ring.empty()) count(self.counters_.discarded, f.ring.pop_front().size());
        }
      } guard{*this, f};
      while (!f.ring.empty()) {
        packet_buffer p = f.ring.pop_front();
        count(counters_.dequeued, p.size());
        ++handed;
        sink(std::move(p));
      }
      f.bytes = 0;
    }
    recycle(std::move(node));
    return handed;
  }

  // Drops every packet of `key`'s flow (its tunnel failed) and removes the flow; returns how
  // many packets were dropped. They count as discarded.
  std::size_t discard(const Key& key) {
    auto it = flows_.find(key);
    if (it == flows_.end()) return 0;
    auto node = detach(it);
    flow& f = node.mapped();
    const std::size_t dropped = f.ring.size();
    while (!f.ring.empty()) count(counters_.discarded, f.ring.pop_front().size());
    f.bytes = 0;
    recycle(std::move(node));
    return dropped;
  }

  bool contains(const Key& key) const { return flows_.find(key) != flows_.end(); }
  // Bytes (sum of size()) and packets waiting in `key`'s flow; 0 if it has none.
  std::size_t bytes(const Key& key) const {
    auto it = flows_.find(key);
    return it == flows_.end() ? 0 : it->second.bytes;
  }
  std::size_t packets(const Key& key) const {
    auto it = flows_.find(key);
    return it == flows_.end() ? 0 : it->second.ring.size();
  }
  std::size_t total_bytes() const noexcept { return total_bytes_; }
  std::size_t total_packets() const noexcept { return total_packets_; }
  std::size_t flow_count() const noexcept { return flows_.size(); }
  const flow_queue_options& options() const noexcept { return options_; }
  const flow_queue_counters& counters() const noexcept { return counters_; }

 private:
  struct flow {
    detail::packet_ring ring;
    std::size_t bytes = 0;
  };
  using map = std::unordered_map<Key, flow, Hash>;
  using iterator = typename map::iterator;
  using node_type = typename map::node_type;

  static void count(packet_count& c, std::size_t size) noexcept {
    ++c.packets;
    c.bytes += size;
  }

  result<void> reject(packet_count& reason, errc e, packet_buffer&& pkt) noexcept {
    count(reason, pkt.size());
    packet_buffer dropped = std::move(pkt);  // released here, whatever the caller does next
    return unexpected(make_error_code(e));
  }

  packet_buffer take_front(flow& f) noexcept {
    packet_buffer p = f.ring.pop_front();
    f.bytes -= p.size();
    total_bytes_ -= p.size();
    --total_packets_;
    return p;
  }

  void evict_front(flow& f, packet_count& reason) noexcept { count(reason, take_front(f).size()); }

  // Linear in the number of flows, but only runs when drop_oldest meets a full total.
  iterator largest_flow() noexcept {
    return std::max_element(flows_.begin(), flows_.end(),
                            [](const auto& a, const auto& b) { return a.second.bytes < b.second.bytes; });
  }

  // Takes the flow out of the map and out of the totals; its packets stay in the node.
  node_type detach(iterator it) noexcept {
    total_bytes_ -= it->second.bytes;
    total_packets_ -= it->second.ring.size();
    return flows_.extract(it);
  }

  void remove_flow(iterator it) noexcept { recycle(flows_.extract(it)); }

  // Precondition: the node's ring is empty.
  void recycle(node_type&& node) noexcept {
    if (spares_.size() == spares_.capacity()) return;  // the node and its storage are freed
    if (node.mapped().ring.capacity() > max_spare_ring) node.mapped().ring.reset();
    spares_.push_back(std::move(node));
  }

  iterator add_flow(const Key& key) {
    if (spares_.empty()) return flows_.try_emplace(key).first;
    node_type node = std::move(spares_.back());
    spares_.pop_back();
    node.key() = key;
    return flows_.insert(std::move(node)).position;
  }

  flow_queue_options options_;
  map flows_;
  std::vector<node_type> spares_;  // reserved for spare_flows, so recycling never allocates
  std::size_t total_bytes_ = 0;
  std::size_t total_packets_ = 0;
  flow_queue_counters counters_;
};

}  // namespace warren::buffer
