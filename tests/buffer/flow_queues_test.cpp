#include <warren/buffer/flow_queues.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "buffer/allocation_counter.hpp"

#include <warren/buffer/packet_pool.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using warren::packet_buffer;
using warren::buffer::packet_count;
using warren::buffer::drop_policy;
using warren::buffer::errc;
using warren::buffer::flow_queue_options;
using warren::buffer::packet_pool;

namespace {

using queues = warren::buffer::flow_queues<std::uint64_t>;

// A packet of `size` bytes whose first 4 bytes hold `seq`, so tests can check the order.
packet_buffer make_packet(packet_pool& pool, std::size_t size, std::uint32_t seq) {
  auto b = pool.acquire();
  REQUIRE(b.has_value());
  REQUIRE(b->append(size).has_value());
  if (size >= 4) warren::store_be32(b->data(), seq);
  return std::move(*b);
}

std::uint32_t seq_of(const packet_buffer& p) { return warren::load_be32(p.data()); }

bool same(const packet_count& c, std::uint64_t packets, std::uint64_t bytes) {
  return c.packets == packets && c.bytes == bytes;
}

// Every packet push() was given is dropped, dequeued or still queued.
template <class Q>
void require_conserved(const Q& q, std::uint64_t pushed_packets, std::uint64_t pushed_bytes) {
  const auto& c = q.counters();
  REQUIRE(c.dequeued.packets + c.dropped().packets + q.total_packets() == pushed_packets);
  REQUIRE(c.dequeued.bytes + c.dropped().bytes + q.total_bytes() == pushed_bytes);
}

}  // namespace

TEST_CASE("flow queues default to 64 KiB per flow, 10 MiB in total, drop newest", "[buffer]") {
  packet_pool pool;  // before the queues: it must outlive the packets they hold
  queues q;
  REQUIRE(q.options().per_flow_bytes == 64 * 1024);
  REQUIRE(q.options().total_bytes == 10 * 1024 * 1024);
  REQUIRE(q.options().max_flows == 1024);
  REQUIRE(q.options().policy == drop_policy::drop_newest);
  REQUIRE(q.flow_count() == 0);
  REQUIRE(q.total_bytes() == 0);
  REQUIRE(q.total_packets() == 0);
  REQUIRE_FALSE(q.contains(1));
  REQUIRE(q.bytes(1) == 0);
  REQUIRE(q.packets(1) == 0);
  REQUIRE_FALSE(q.pop(1).has_value());

  SECTION("a flow takes exactly 64 KiB of 1420-byte packets") {
    std::size_t accepted = 0;
    while (q.push(7, make_packet(pool, 1420, 0))) ++accepted;
    REQUIRE(accepted == 64 * 1024 / 1420);
    REQUIRE(q.bytes(7) == accepted * 1420);
    REQUIRE(q.counters().flow_full.packets == 1);
  }
}

TEST_CASE("flow queues keep each flow's packets in order", "[buffer]") {
  packet_pool pool;
  queues q;
  // Two flows interleaved: each must come out in its own push order.
  for (std::uint32_t i = 0; i < 100; ++i) {
    REQUIRE(q.push(1, make_packet(pool, 100, i)).has_value());
    REQUIRE(q.push(2, make_packet(pool, 50, 1000 + i)).has_value());
  }
  REQUIRE(q.flow_count() == 2);
  REQUIRE(q.packets(1) == 100);
  REQUIRE(q.bytes(1) == 100 * 100);
  REQUIRE(q.packets(2) == 100);
  REQUIRE(q.bytes(2) == 100 * 50);
  REQUIRE(q.total_bytes() == 100 * 150);
  REQUIRE(q.total_packets() == 200);

  SECTION("pop") {
    for (std::uint32_t i = 0; i < 100; ++i) {
      auto p = q.pop(2);
      REQUIRE(p.has_value());
      REQUIRE(seq_of(*p) == 1000 + i);
      REQUIRE(p->size() == 50);
    }
    REQUIRE_FALSE(q.pop(2).has_value());
    for (std::uint32_t i = 0; i < 100; ++i) REQUIRE(seq_of(*q.pop(1)) == i);
  }
  SECTION("drain") {
    std::vector<std::uint32_t> seen;
    REQUIRE(q.drain(1, [&](packet_buffer&& p) { seen.push_back(seq_of(p)); }) == 100);
    REQUIRE(seen.size() == 100);
    for (std::uint32_t i = 0; i < 100; ++i) REQUIRE(seen[i] == i);
  }
  SECTION("order survives the ring growing while it wraps around") {
    // Pop a few first so the ring's head is not at slot 0 when it has to grow.
    for (std::uint32_t i = 0; i < 3; ++i) REQUIRE(seq_of(*q.pop(1)) == i);
    for (std::uint32_t i = 100; i < 300; ++i) REQUIRE(q.push(1, make_packet(pool, 100, i)).has_value());
    for (std::uint32_t i = 3; i < 300; ++i) REQUIRE(seq_of(*q.pop(1)) == i);
    REQUIRE_FALSE(q.contains(1));
  }
}

TEST_CASE("flow queues count what they hand out, and forget emptied flows", "[buffer]") {
  packet_pool pool;
  queues q;
  REQUIRE(q.push(5, make_packet(pool, 300, 1)).has_value());
  REQUIRE(q.push(5, make_packet(pool, 200, 2)).has_value());
  REQUIRE(q.push(6, make_packet(pool, 10, 3)).has_value());
  REQUIRE(same(q.counters().enqueued, 3, 510));
  REQUIRE(same(q.counters().dequeued, 0, 0));

  auto p = q.pop(5);
  REQUIRE(p.has_value());
  REQUIRE(p->size() == 300);
  REQUIRE(same(q.counters().dequeued, 1, 300));
  REQUIRE(q.bytes(5) == 200);
  REQUIRE(q.total_bytes() == 210);
  REQUIRE(q.flow_count() == 2);

  REQUIRE(q.pop(5).has_value());
  REQUIRE_FALSE(q.contains(5));
  REQUIRE(q.flow_count() == 1);
  REQUIRE(same(q.counters().dequeued, 2, 500));

  REQUIRE(q.drain(6, [](packet_buffer&&) {}) == 1);
  REQUIRE(q.flow_count() == 0);
  REQUIRE(q.total_bytes() == 0);
  REQUIRE(same(q.counters().dequeued, 3, 510));
  REQUIRE(same(q.counters().dropped(), 0, 0));
  REQUIRE(q.drain(6, [](packet_buffer&&) { FAIL("no flow, no packets"); }) == 0);
  // Only the packet still held here keeps a block.
  REQUIRE(pool.counters().in_use == 1);
}

TEST_CASE("drop_newest rejects the arriving packet when a limit is reached", "[buffer]") {
  packet_pool pool;
  queues q({.per_flow_bytes = 1000, .total_bytes = 2500, .max_flows = 3});

  SECTION("the flow is full") {
    REQUIRE(q.push(1, make_packet(pool, 400, 1)).has_value());
    REQUIRE(q.push(1, make_packet(pool, 600, 2)).has_value());  // exactly at the limit
    auto r = q.push(1, make_packet(pool, 1, 3));
    REQUIRE_FALSE(r.has_value());
    REQUIRE(r.error() == errc::flow_full);
    REQUIRE(same(q.counters().flow_full, 1, 1));
    REQUIRE(q.bytes(1) == 1000);
    // The rejected packet was released, not kept.
    REQUIRE(pool.counters().in_use == 2);
    // The queued packets are untouched, in order.
    REQUIRE(seq_of(*q.pop(1)) == 1);
    // Room again after a pop.
    REQUIRE(q.push(1, make_packet(pool, 400, 4)).has_value());
    REQUIRE(seq_of(*q.pop(1)) == 2);
    REQUIRE(seq_of(*q.pop(1)) == 4);
  }
  SECTION("other flows still take packets when one is full") {
    REQUIRE(q.push(1, make_packet(pool, 1000, 1)).has_value());
    REQUIRE(q.push(1, make_packet(pool, 100, 2)).error() == errc::flow_full);
    REQUIRE(q.push(2, make_packet(pool, 100, 3)).has_value());
  }
  SECTION("the total is full") {
    REQUIRE(q.push(1, make_packet(pool, 1000, 1)).has_value());
    REQUIRE(q.push(2, make_packet(pool, 1000, 2)).has_value());
    REQUIRE(q.push(3, make_packet(pool, 500, 3)).has_value());  // exactly at the total
    auto r = q.push(3, make_packet(pool, 100, 4));
    REQUIRE(r.error() == errc::total_full);
    REQUIRE(same(q.counters().total_full, 1, 100));
    REQUIRE(same(q.counters().flow_full, 0, 0));
    REQUIRE(q.total_bytes() == 2500);
    REQUIRE(pool.counters().in_use == 3);
  }
  SECTION("a full flow is reported before a full total") {
    REQUIRE(q.push(1, make_packet(pool, 1000, 1)).has_value());
    REQUIRE(q.push(2, make_packet(pool, 1000, 2)).has_value());
    REQUIRE(q.push(3, make_packet(pool, 500, 3)).has_value());
    REQUIRE(q.push(1, make_packet(pool, 100, 4)).error() == errc::flow_full);
  }
  SECTION("too many flows") {
    REQUIRE(q.push(1, make_packet(pool, 10, 1)).has_value());
    REQUIRE(q.push(2, make_packet(pool, 10, 2)).has_value());
    REQUIRE(q.push(3, make_packet(pool, 10, 3)).has_value());
    auto r = q.push(4, make_packet(pool, 10, 4));
    REQUIRE(r.error() == errc::too_many_flows);
    REQUIRE(same(q.counters().too_many_flows, 1, 10));
    REQUIRE(q.flow_count() == 3);
    REQUIRE_FALSE(q.contains(4));
    // Existing flows still take packets.
    REQUIRE(q.push(3, make_packet(pool, 10, 5)).has_value());
    // Once a flow is gone a new one may start.
    REQUIRE(q.discard(1) == 1);
    REQUIRE(q.push(4, make_packet(pool, 10, 6)).has_value());
    REQUIRE(q.flow_count() == 3);
  }
  SECTION("a packet larger than a flow may hold") {
    auto r = q.push(1, make_packet(pool, 1001, 1));
    REQUIRE(r.error() == errc::packet_too_large);
    REQUIRE(same(q.counters().packet_too_large, 1, 1001));
    REQUIRE_FALSE(q.contains(1));
    REQUIRE(pool.counters().in_use == 0);
  }
}

TEST_CASE("a packet larger than the total limit is too large even if the flow limit is higher", "[buffer]") {
  packet_pool pool;
  for (auto policy : {drop_policy::drop_newest, drop_policy::drop_oldest}) {
    queues q({.per_flow_bytes = 4000, .total_bytes = 1000, .max_flows = 4, .policy = policy});
    REQUIRE(q.push(1, make_packet(pool, 500, 1)).has_value());
    REQUIRE(q.push(2, make_packet(pool, 1001, 2)).error() == errc::packet_too_large);
    REQUIRE(same(q.counters().packet_too_large, 1, 1001));
    // drop_oldest must not evict anything for a packet that can never fit.
    REQUIRE(q.packets(1) == 1);
  }
}

TEST_CASE("drop_oldest evicts the oldest packets of the same flow when the flow is full", "[buffer]") {
  packet_pool pool;
  queues q({.per_flow_bytes = 1000, .total_bytes = 10000, .max_flows = 4, .policy = drop_policy::drop_oldest});
  REQUIRE(q.push(2, make_packet(pool, 700, 99)).has_value());
  for (std::uint32_t i = 1; i <= 3; ++i) REQUIRE(q.push(1, make_packet(pool, 300, i)).has_value());
  REQUIRE(q.bytes(1) == 900);

  SECTION("one eviction") {
    REQUIRE(q.push(1, make_packet(pool, 300, 4)).has_value());  // 1200 > 1000: #1 goes
    REQUIRE(same(q.counters().flow_full, 1, 300));
    REQUIRE(q.bytes(1) == 900);
    for (std::uint32_t i = 2; i <= 4; ++i) REQUIRE(seq_of(*q.pop(1)) == i);
  }
  SECTION("as many evictions as it takes") {
    REQUIRE(q.push(1, make_packet(pool, 950, 4)).has_value());  // all three go
    REQUIRE(same(q.counters().flow_full, 3, 900));
    REQUIRE(q.packets(1) == 1);
    REQUIRE(seq_of(*q.pop(1)) == 4);
  }
  // Another flow is never touched for a per-flow limit.
  REQUIRE(q.packets(2) == 1);
  REQUIRE(same(q.counters().total_full, 0, 0));
  REQUIRE(q.counters().enqueued.packets == 5);
  // Evicted packets were released at once.
  REQUIRE(pool.counters().in_use == q.total_packets());
}

TEST_CASE("drop_oldest evicts from the largest flow when the total is full", "[buffer]") {
  packet_pool pool;
  queues q({.per_flow_bytes = 2000, .total_bytes = 1000, .max_flows = 4, .policy = drop_policy::drop_oldest});

  SECTION("from the head of the flow holding the most bytes") {
    for (std::uint32_t i = 1; i <= 3; ++i) REQUIRE(q.push(1, make_packet(pool, 200, i)).has_value());
    REQUIRE(q.push(2, make_packet(pool, 300, 10)).has_value());
    REQUIRE(q.push(3, make_packet(pool, 300, 20)).has_value());  // 1200 > 1000: flow 1's #1 goes
    REQUIRE(same(q.counters().total_full, 1, 200));
    REQUIRE(q.total_bytes() == 1000);
    REQUIRE(q.packets(1) == 2);
    REQUIRE(seq_of(*q.pop(1)) == 2);
    REQUIRE(q.packets(2) == 1);
    REQUIRE(q.packets(3) == 1);
  }
  SECTION("a flow evicted empty is removed") {
    REQUIRE(q.push(1, make_packet(pool, 500, 1)).has_value());
    REQUIRE(q.push(2, make_packet(pool, 400, 2)).has_value());
    REQUIRE(q.push(3, make_packet(pool, 600, 3)).has_value());  // flow 1 (500) goes
    REQUIRE_FALSE(q.contains(1));
    REQUIRE(q.flow_count() == 2);
    REQUIRE(same(q.counters().total_full, 1, 500));
    REQUIRE(q.total_bytes() == 1000);
  }
  SECTION("several flows when one is not enough") {
    REQUIRE(q.push(1, make_packet(pool, 400, 1)).has_value());
    REQUIRE(q.push(2, make_packet(pool, 350, 2)).has_value());
    REQUIRE(q.push(3, make_packet(pool, 100, 3)).has_value());
    REQUIRE(q.push(4, make_packet(pool, 900, 4)).has_value());  // needs 750 freed: 1, then 2
    REQUIRE(q.flow_count() == 2);
    REQUIRE(q.contains(3));
    REQUIRE(q.contains(4));
    REQUIRE(same(q.counters().total_full, 2, 750));
    REQUIRE(q.total_bytes() == 1000);
  }
  SECTION("the arriving packet's own flow when it is the largest") {
    REQUIRE(q.push(1, make_packet(pool, 400, 1)).has_value());
    REQUIRE(q.push(1, make_packet(pool, 400, 2)).has_value());
    REQUIRE(q.push(2, make_packet(pool, 100, 3)).has_value());
    REQUIRE(q.push(1, make_packet(pool, 300, 4)).has_value());  // 1200 > 1000: flow 1's #1 goes
    REQUIRE(same(q.counters().total_full, 1, 400));
    REQUIRE(seq_of(*q.pop(1)) == 2);
    REQUIRE(seq_of(*q.pop(1)) == 4);
    REQUIRE(q.packets(2) == 1);
  }
  SECTION("the arriving flow may be emptied and still receive its packet") {
    REQUIRE(q.push(1, make_packet(pool, 600, 1)).has_value());
    REQUIRE(q.push(2, make_packet(pool, 100, 2)).has_value());
    REQUIRE(q.push(1, make_packet(pool, 950, 3)).has_value());  // flow 1 (600) goes, then flow 2
    REQUIRE(same(q.counters().total_full, 2, 700));
    REQUIRE(q.flow_count() == 1);
    REQUIRE(q.packets(1) == 1);
    REQUIRE(seq_of(*q.pop(1)) == 3);
  }
  SECTION("too many flows is not solved by eviction") {
    queues few({.max_flows = 1, .policy = drop_policy::drop_oldest});
    REQUIRE(few.push(1, make_packet(pool, 10, 1)).has_value());
    REQUIRE(few.push(2, make_packet(pool, 10, 2)).error() == errc::too_many_flows);
    REQUIRE(few.packets(1) == 1);
    REQUIRE(same(few.counters().too_many_flows, 1, 10));
  }
  REQUIRE(q.total_bytes() <= 1000);
  REQUIRE(pool.counters().in_use == q.total_packets());
}

TEST_CASE("discard drops a flow's packets and counts them", "[buffer]") {
  packet_pool pool;
  queues q;
  REQUIRE(q.push(1, make_packet(pool, 100, 1)).has_value());
  REQUIRE(q.push(1, make_packet(pool, 200, 2)).has_value());
  REQUIRE(q.push(2, make_packet(pool, 50, 3)).has_value());
  REQUIRE(q.discard(1) == 2);
  REQUIRE(same(q.counters().discarded, 2, 300));
  REQUIRE_FALSE(q.contains(1));
  REQUIRE(q.total_bytes() == 50);
  REQUIRE(q.total_packets() == 1);
  REQUIRE(pool.counters().in_use == 1);
  REQUIRE(q.discard(1) == 0);
  REQUIRE(same(q.counters().discarded, 2, 300));
  REQUIRE(same(q.counters().dropped(), 2, 300));
  // A discarded flow can start again.
  REQUIRE(q.push(1, make_packet(pool, 10, 4)).has_value());
  REQUIRE(seq_of(*q.pop(1)) == 4);
}

TEST_CASE("drain lets the sink queue to the same flow again", "[buffer]") {
  packet_pool pool;
  queues q;
  for (std::uint32_t i = 0; i < 4; ++i) REQUIRE(q.push(1, make_packet(pool, 100, i)).has_value());
  // A sink whose tunnel refuses the odd packets re-queues them.
  std::vector<std::uint32_t> sent;
  const auto handed = q.drain(1, [&](packet_buffer&& p) {
    if (seq_of(p) % 2 == 0) {
      sent.push_back(seq_of(p));
    } else {
      REQUIRE(q.push(1, std::move(p)).has_value());
    }
  });
  REQUIRE(handed == 4);
  REQUIRE(sent == std::vector<std::uint32_t>{0, 2});
  REQUIRE(q.packets(1) == 2);
  REQUIRE(q.total_bytes() == 200);
  REQUIRE(seq_of(*q.pop(1)) == 1);
  REQUIRE(seq_of(*q.pop(1)) == 3);
  REQUIRE(q.counters().enqueued.packets == 6);
  REQUIRE(q.counters().dequeued.packets == 6);
}

TEST_CASE("drain counts packets a throwing sink never saw as discarded", "[buffer]") {
  packet_pool pool;
  queues q;
  for (std::uint32_t i = 0; i < 5; ++i) REQUIRE(q.push(1, make_packet(pool, 100, i)).has_value());
  int calls = 0;
  REQUIRE_THROWS_AS(q.drain(1,
                            [&](packet_buffer&&) {
                              if (++calls == 2) throw std::runtime_error("tunnel gone");
                            }),
                    std::runtime_error);
  REQUIRE(same(q.counters().dequeued, 2, 200));
  REQUIRE(same(q.counters().discarded, 3, 300));
  REQUIRE_FALSE(q.contains(1));
  REQUIRE(q.total_bytes() == 0);
  REQUIRE(pool.counters().in_use == 0);
  require_conserved(q, 5, 500);
}

namespace {
struct peer_id {
  std::string name;
  int port = 0;
  bool operator==(const peer_id&) const = default;
};
struct peer_id_hash {
  std::size_t operator()(const peer_id& p) const {
    return std::hash<std::string>{}(p.name) ^ static_cast<std::size_t>(p.port);
  }
};
}  // namespace

TEST_CASE("flow queues work with any hashable key", "[buffer]") {
  packet_pool pool;
  warren::buffer::flow_queues<peer_id, peer_id_hash> q;
  const peer_id a{"alpha", 1};
  const peer_id b{"alpha", 2};
  REQUIRE(q.push(a, make_packet(pool, 10, 1)).has_value());
  REQUIRE(q.push(b, make_packet(pool, 20, 2)).has_value());
  REQUIRE(q.flow_count() == 2);
  REQUIRE(q.bytes(a) == 10);
  REQUIRE(q.bytes(b) == 20);
  REQUIRE(seq_of(*q.pop(b)) == 2);
  // A recycled flow node takes its new key.
  const peer_id c{"gamma", 3};
  REQUIRE(q.push(c, make_packet(pool, 30, 3)).has_value());
  REQUIRE(q.contains(c));
  REQUIRE_FALSE(q.contains(b));
  REQUIRE(q.bytes(c) == 30);
}

TEST_CASE("flow queue limits and counters hold under random traffic", "[buffer]") {
  for (auto policy : {drop_policy::drop_newest, drop_policy::drop_oldest}) {
    packet_pool pool({.initial_blocks = 64, .max_blocks = 4096});
    const flow_queue_options limits{.per_flow_bytes = 4000, .total_bytes = 10000, .max_flows = 8, .policy = policy};
    queues q(limits);
    std::mt19937 rng(42);  // fixed seed: a failure reproduces
    constexpr std::uint64_t keys = 12;
    std::uint32_t seq = 0;
    std::uint64_t pushed_packets = 0;
    std::uint64_t pushed_bytes = 0;
    std::map<std::uint64_t, std::uint32_t> last_out;  // per flow: sequence numbers only grow
    auto check_order = [&](std::uint64_t key, const packet_buffer& p) {
      auto [it, fresh] = last_out.try_emplace(key, seq_of(p));
      if (!fresh) {
        REQUIRE(seq_of(p) > it->second);
        it->second = seq_of(p);
      }
    };
    for (int step = 0; step < 5000; ++step) {
      const std::uint64_t key = rng() % keys;
      const unsigned op = rng() % 16;
      if (op < 11) {
        const std::size_t size = 4 + rng() % 1600;
        pushed_packets += 1;
        pushed_bytes += size;
        (void)q.push(key, make_packet(pool, size, seq++));
      } else if (op < 14) {
        if (auto p = q.pop(key)) check_order(key, *p);
      } else if (op == 14) {
        q.drain(key, [&](packet_buffer&& p) { check_order(key, p); });
      } else {
        q.discard(key);
      }
      std::size_t sum = 0;
      for (std::uint64_t k = 0; k < keys; ++k) {
        REQUIRE(q.bytes(k) <= limits.per_flow_bytes);
        REQUIRE(q.contains(k) == (q.packets(k) > 0));
        sum += q.bytes(k);
      }
      REQUIRE(sum == q.total_bytes());
      REQUIRE(q.total_bytes() <= limits.total_bytes);
      REQUIRE(q.flow_count() <= limits.max_flows);
      REQUIRE(pool.counters().in_use == q.total_packets());
      require_conserved(q, pushed_packets, pushed_bytes);
      const auto& c = q.counters();
      REQUIRE(c.enqueued.packets + c.packet_too_large.packets + c.too_many_flows.packets +
                  (policy == drop_policy::drop_newest ? c.flow_full.packets + c.total_full.packets : 0) ==
              pushed_packets);
    }
    const auto& c = q.counters();
    // The traffic was heavy enough to reach every limit.
    REQUIRE(c.flow_full.packets > 0);
    REQUIRE(c.total_full.packets > 0);
    REQUIRE(c.too_many_flows.packets > 0);
    REQUIRE(c.discarded.packets > 0);
    REQUIRE(c.dequeued.packets > 0);
  }
}

TEST_CASE("warm flow queues push and pop without allocating", "[buffer]") {
  packet_pool pool({.initial_blocks = 256, .max_blocks = 256});
  queues q({.max_flows = 16});
  // Packets circulate between this batch and the queues; nothing is acquired in the loop.
  std::vector<packet_buffer> batch;
  for (std::uint32_t i = 0; i < 128; ++i) batch.push_back(make_packet(pool, 1420, i));
  bool ok = true;
  auto cycle = [&](std::uint64_t flows) {
    for (std::size_t i = 0; i < batch.size(); ++i) ok = q.push(i % flows, std::move(batch[i])) && ok;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto p = q.pop(i % flows);
      if (!p) {
        ok = false;
        return;
      }
      batch[i] = std::move(*p);
    }
    ok = ok && q.flow_count() == 0;
  };
  // Warm-up: every flow's ring and the flow nodes reach their steady size.
  for (int i = 0; i < 4; ++i) cycle(16);

  SECTION("flows emptied and restarted every cycle") {
    const auto n = warren::test::allocations_during([&] {
      for (int i = 0; i < 1000; ++i) cycle(16);
    });
    REQUIRE(ok);
    REQUIRE(n == 0);
  }
  SECTION("fewer, longer flows reuse the same nodes") {
    const auto n = warren::test::allocations_during([&] {
      for (int i = 0; i < 1000; ++i) cycle(4);
    });
    REQUIRE(ok);
    // 4 flows of 32 packets: their rings grow from 8 to 32 slots once, then stay.
    REQUIRE(n <= 4 * 2);
    const auto steady = warren::test::allocations_during([&] {
      for (int i = 0; i < 1000; ++i) cycle(4);
    });
    REQUIRE(steady == 0);
  }
  REQUIRE(q.counters().dequeued.packets == q.counters().enqueued.packets);
}
