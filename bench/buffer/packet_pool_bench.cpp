// packet_pool: the cost of an acquire/release pair, against a heap buffer for scale.
#include <warren/buffer/packet_pool.hpp>

#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>

namespace {

using warren::packet_buffer;
using warren::buffer::packet_pool;

// One buffer acquired and released per iteration: the block is the same one each time.
void BM_packet_pool_acquire_release(benchmark::State& state) {
  packet_pool pool;
  for (auto _ : state) {
    auto b = pool.acquire();
    benchmark::DoNotOptimize(b->data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_packet_pool_acquire_release);

// A TUN-sized batch held at once, then released: walks the free list like a datapath does.
void BM_packet_pool_acquire_release_batch(benchmark::State& state) {
  packet_pool pool;
  std::array<packet_buffer, 64> batch;
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) batch[i] = std::move(*pool.acquire());
    benchmark::DoNotOptimize(batch.data());
    for (std::size_t i = 0; i < n; ++i) batch[i] = packet_buffer{};
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_packet_pool_acquire_release_batch)->Arg(8)->Arg(32)->Arg(64);

// The same pair through new[]/delete[], for comparison.
void BM_packet_pool_baseline_heap_allocate(benchmark::State& state) {
  for (auto _ : state) {
    auto b = packet_buffer::allocate();
    benchmark::DoNotOptimize(b.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_packet_pool_baseline_heap_allocate);

}  // namespace
