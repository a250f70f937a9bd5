#include <warren/buffer/packet_pool.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

// The one translation unit of warren_buffer_tests that replaces global operator new/delete.
#define WARREN_DEFINE_ALLOCATION_COUNTER
#include "buffer/allocation_counter.hpp"

#include <warren/buffer/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

using warren::packet_buffer;
using warren::buffer::packet_pool;
using warren::buffer::packet_pool_options;

TEST_CASE("buffer errors carry the warren.buffer category", "[buffer]") {
  const std::error_code ec = warren::buffer::errc::pool_exhausted;
  REQUIRE(std::string(ec.category().name()) == "warren.buffer");
  REQUIRE(ec.value() == 1);
  REQUIRE(ec == warren::buffer::errc::pool_exhausted);
  REQUIRE(ec != warren::buffer::errc::flow_full);
  REQUIRE(ec.message() == "packet pool exhausted");
  for (auto e : {warren::buffer::errc::flow_full, warren::buffer::errc::total_full,
                 warren::buffer::errc::too_many_flows, warren::buffer::errc::packet_too_large}) {
    REQUIRE(make_error_code(e).message().find("unknown") == std::string::npos);
  }
  REQUIRE(std::error_code(99, warren::buffer::error_category()).message() == "unknown warren.buffer error");
}

TEST_CASE("packet pool hands out empty buffers over fixed-size blocks", "[buffer]") {
  packet_pool pool;
  REQUIRE(pool.block_size() == packet_buffer::default_capacity);
  REQUIRE(pool.headroom() == packet_buffer::default_headroom);
  REQUIRE(pool.counters().capacity == 512);
  REQUIRE(pool.max_blocks() == 16384);

  auto b = pool.acquire();
  REQUIRE(b.has_value());
  REQUIRE(b->capacity() == packet_buffer::default_capacity);
  REQUIRE(b->headroom() == packet_buffer::default_headroom);
  REQUIRE(b->empty());
  REQUIRE(pool.owns(b->data()));
  REQUIRE(reinterpret_cast<std::uintptr_t>(b->data() - b->headroom()) % packet_pool::block_alignment == 0);
  REQUIRE(pool.counters().in_use == 1);
  REQUIRE(pool.available() == 511);

  SECTION("a handed-out buffer is usable up to its capacity") {
    REQUIRE(b->append(b->tailroom()).has_value());
    REQUIRE(b->size() == packet_buffer::default_capacity - packet_buffer::default_headroom);
    REQUIRE(b->prepend(b->headroom()).has_value());
    REQUIRE(b->size() == packet_buffer::default_capacity);
  }
  SECTION("a heap buffer is not the pool's") {
    auto heap = packet_buffer::allocate();
    REQUIRE_FALSE(pool.owns(heap.data()));
  }
}

TEST_CASE("packet pool block size and headroom are configurable", "[buffer]") {
  SECTION("smaller blocks, less headroom") {
    packet_pool pool({.block_size = 256, .initial_blocks = 4, .headroom = 16});
    auto b = pool.acquire();
    REQUIRE(b.has_value());
    REQUIRE(b->capacity() == 256);
    REQUIRE(b->headroom() == 16);
    REQUIRE(b->tailroom() == 240);
  }
  SECTION("headroom beyond the block is clamped to it") {
    packet_pool pool({.block_size = 64, .initial_blocks = 1, .headroom = 100});
    REQUIRE(pool.headroom() == 64);
    auto b = pool.acquire();
    REQUIRE(b.has_value());
    REQUIRE(b->headroom() == 64);
    REQUIRE(b->tailroom() == 0);
  }
  SECTION("an odd block size still gives aligned, disjoint blocks") {
    packet_pool pool({.block_size = 100, .initial_blocks = 8, .max_blocks = 8, .headroom = 0});
    std::vector<packet_buffer> held;
    for (int i = 0; i < 8; ++i) {
      auto b = pool.acquire();
      REQUIRE(b.has_value());
      REQUIRE(reinterpret_cast<std::uintptr_t>(b->data()) % packet_pool::block_alignment == 0);
      auto room = b->append(100);
      REQUIRE(room.has_value());
      for (auto& byte : *room) byte = std::byte(i);
      held.push_back(std::move(*b));
    }
    // Writing a whole block never clobbered a neighbour.
    for (std::size_t i = 0; i < held.size(); ++i) {
      for (std::byte byte : held[i].bytes()) REQUIRE(byte == std::byte(i));
    }
  }
}

TEST_CASE("packet pool buffers return their block when destroyed, and it is reused", "[buffer]") {
  packet_pool pool({.initial_blocks = 4, .max_blocks = 4});
  const std::byte* first = nullptr;
  {
    auto b = pool.acquire();
    REQUIRE(b.has_value());
    first = b->data();
    REQUIRE(pool.counters().in_use == 1);

    SECTION("moving a buffer does not release its block") {
      packet_buffer moved = std::move(*b);
      REQUIRE(pool.counters().in_use == 1);
      packet_buffer assigned;
      assigned = std::move(moved);
      REQUIRE(pool.counters().in_use == 1);
      REQUIRE(assigned.data() == first);
    }
    SECTION("move-assigning over a pooled buffer releases the old block") {
      auto other = pool.acquire();
      REQUIRE(other.has_value());
      REQUIRE(pool.counters().in_use == 2);
      *other = std::move(*b);
      REQUIRE(pool.counters().in_use == 1);
    }
  }
  REQUIRE(pool.counters().in_use == 0);
  REQUIRE(pool.available() == 4);

  // The block released last is handed out first (it is still in cache).
  auto again = pool.acquire();
  REQUIRE(again.has_value());
  REQUIRE(again->data() == first);
  REQUIRE(again->empty());
  REQUIRE(again->headroom() == pool.headroom());
  REQUIRE(pool.counters().capacity == 4);
}

TEST_CASE("packet pool grows in chunks up to its maximum, then reports exhaustion", "[buffer]") {
  packet_pool pool({.initial_blocks = 2, .grow_blocks = 3, .max_blocks = 7});
  std::vector<packet_buffer> held;
  auto take = [&] {
    auto b = pool.acquire();
    REQUIRE(b.has_value());
    held.push_back(std::move(*b));
  };
  REQUIRE(pool.counters().capacity == 2);
  take();
  take();
  REQUIRE(pool.counters().capacity == 2);
  take();  // empty: grows by a chunk of 3
  REQUIRE(pool.counters().capacity == 5);
  REQUIRE(pool.available() == 2);
  take();
  take();
  take();  // the last chunk is cut to 2 to stop at max_blocks
  REQUIRE(pool.counters().capacity == 7);
  take();
  REQUIRE(pool.counters().in_use == 7);
  REQUIRE(pool.counters().exhausted == 0);

  auto none = pool.acquire();
  REQUIRE_FALSE(none.has_value());
  REQUIRE(none.error() == warren::buffer::errc::pool_exhausted);
  REQUIRE(pool.acquire().error() == warren::buffer::errc::pool_exhausted);
  REQUIRE(pool.counters().exhausted == 2);
  REQUIRE(pool.counters().capacity == 7);
  REQUIRE(pool.counters().high_water == 7);

  // Every block is distinct.
  std::set<const std::byte*, std::less<>> blocks;
  for (auto& b : held) blocks.insert(b.data());
  REQUIRE(blocks.size() == 7);

  SECTION("a released block can be acquired again") {
    held.pop_back();
    REQUIRE(pool.counters().in_use == 6);
    REQUIRE(pool.acquire().has_value());
    REQUIRE(pool.counters().exhausted == 2);
  }
}

TEST_CASE("packet pool limits its options to what makes sense", "[buffer]") {
  SECTION("initial_blocks above max_blocks is lowered to it") {
    packet_pool pool({.initial_blocks = 10, .max_blocks = 3});
    REQUIRE(pool.counters().capacity == 3);
  }
  SECTION("no initial blocks: the first acquire grows the pool") {
    packet_pool pool({.initial_blocks = 0, .grow_blocks = 4, .max_blocks = 8});
    REQUIRE(pool.counters().capacity == 0);
    REQUIRE(pool.acquire().has_value());
    REQUIRE(pool.counters().capacity == 4);
  }
  SECTION("max_blocks zero: every acquire fails") {
    packet_pool pool({.initial_blocks = 4, .max_blocks = 0});
    REQUIRE(pool.counters().capacity == 0);
    REQUIRE(pool.acquire().error() == warren::buffer::errc::pool_exhausted);
    REQUIRE(pool.counters().exhausted == 1);
  }
  SECTION("grow_blocks zero still grows, one block at a time") {
    packet_pool pool({.initial_blocks = 0, .grow_blocks = 0, .max_blocks = 2});
    auto a = pool.acquire();
    REQUIRE(a.has_value());
    REQUIRE(pool.counters().capacity == 1);
  }
}

TEST_CASE("packet pool counts blocks in use and the high-water mark", "[buffer]") {
  packet_pool pool({.initial_blocks = 8, .max_blocks = 8});
  std::vector<packet_buffer> held;
  for (int i = 0; i < 5; ++i) held.push_back(std::move(*pool.acquire()));
  REQUIRE(pool.counters().in_use == 5);
  REQUIRE(pool.counters().high_water == 5);
  held.resize(2);
  REQUIRE(pool.counters().in_use == 2);
  REQUIRE(pool.available() == 6);
  REQUIRE(pool.counters().high_water == 5);
  held.push_back(std::move(*pool.acquire()));
  REQUIRE(pool.counters().in_use == 3);
  REQUIRE(pool.counters().high_water == 5);
  for (int i = 0; i < 4; ++i) held.push_back(std::move(*pool.acquire()));
  REQUIRE(pool.counters().high_water == 7);
  REQUIRE(pool.counters().exhausted == 0);
  REQUIRE(pool.counters().capacity == 8);
}

TEST_CASE("the allocation counter sees heap allocations", "[buffer]") {
  // Without this, a broken counter would make the zero-allocation tests pass vacuously.
  const auto n = warren::test::allocations_during([] { auto b = packet_buffer::allocate(); });
  REQUIRE(n == 1);
  SECTION("including a pool growing") {
    packet_pool pool({.initial_blocks = 0, .grow_blocks = 4, .max_blocks = 8});
    const auto grown = warren::test::allocations_during([&] { auto b = pool.acquire(); });
    REQUIRE(grown == 1);
  }
}

TEST_CASE("a warm packet pool acquires and releases without allocating", "[buffer]") {
  packet_pool pool({.initial_blocks = 64, .max_blocks = 64});
  constexpr int cycles = 10000;
  bool all_acquired = true;

  SECTION("one buffer at a time") {
    const auto n = warren::test::allocations_during([&] {
      for (int i = 0; i < cycles; ++i) {
        auto b = pool.acquire();
        if (!b || !b->append(1420)) all_acquired = false;
      }
    });
    REQUIRE(all_acquired);
    REQUIRE(n == 0);
  }
  SECTION("batches of 32 held at once") {
    std::array<packet_buffer, 32> batch;
    const auto n = warren::test::allocations_during([&] {
      for (int i = 0; i < cycles / 32; ++i) {
        for (auto& slot : batch) {
          auto b = pool.acquire();
          if (!b) all_acquired = false;
          else slot = std::move(*b);
        }
        for (auto& slot : batch) slot = packet_buffer{};
      }
    });
    REQUIRE(all_acquired);
    REQUIRE(n == 0);
  }
  SECTION("exhaustion does not allocate either") {
    std::array<packet_buffer, 64> all;
    for (auto& slot : all) slot = std::move(*pool.acquire());
    const auto n = warren::test::allocations_during([&] {
      for (int i = 0; i < cycles; ++i) all_acquired = all_acquired && !pool.acquire();
    });
    REQUIRE(all_acquired);
    REQUIRE(n == 0);
    REQUIRE(pool.counters().exhausted == cycles);
  }
  REQUIRE(pool.counters().in_use == 0);
  REQUIRE(pool.counters().capacity == 64);
}

TEST_CASE("a packet pool that grew to its maximum cycles without allocating", "[buffer]") {
  // Warm-up grows the pool chunk by chunk; afterwards the free list must already have room
  // for every block, or releasing would reallocate it.
  packet_pool pool({.initial_blocks = 1, .grow_blocks = 7, .max_blocks = 50});
  std::vector<packet_buffer> held;
  held.reserve(50);
  for (int i = 0; i < 50; ++i) held.push_back(std::move(*pool.acquire()));
  REQUIRE(pool.counters().capacity == 50);
  bool all_acquired = true;
  const auto n = warren::test::allocations_during([&] {
    held.clear();
    for (int round = 0; round < 100; ++round) {
      for (int i = 0; i < 50; ++i) {
        auto b = pool.acquire();
        if (!b) all_acquired = false;
        else held.push_back(std::move(*b));
      }
      held.clear();
    }
  });
  REQUIRE(all_acquired);
  REQUIRE(n == 0);
}
