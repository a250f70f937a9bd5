// flow_queues: push and pop of 1420-byte packets (a full-MTU tunnel payload) across 1 and 64
// flows, and the cost of the drop paths. Packets circulate between a batch and the queues, so
// the pool is not measured; one item is one packet pushed and taken out again.
#include <warren/buffer/flow_queues.hpp>

#include <warren/buffer/packet_pool.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

using warren::packet_buffer;
using warren::buffer::drop_policy;
using warren::buffer::packet_pool;
using queues = warren::buffer::flow_queues<std::uint64_t>;  // stands in for packet::flow_key

constexpr std::size_t packet_size = 1420;
// 32 full-size packets (44 KiB) fit a flow's default 64 KiB.
constexpr std::size_t packets_per_flow = 32;

std::vector<packet_buffer> make_batch(packet_pool& pool, std::size_t n) {
  std::vector<packet_buffer> batch;
  batch.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto b = pool.acquire();
    (void)b->append(packet_size);
    batch.push_back(std::move(*b));
  }
  return batch;
}

void set_processed(benchmark::State& state, std::size_t packets) {
  const auto items = static_cast<std::int64_t>(packets) * static_cast<std::int64_t>(state.iterations());
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(items * static_cast<std::int64_t>(packet_size));
}

// Round-robin over the flows: push the whole batch, then pop it all back.
void BM_flow_queues_push_pop(benchmark::State& state) {
  const auto flows = static_cast<std::uint64_t>(state.range(0));
  packet_pool pool;
  queues q;
  auto batch = make_batch(pool, flows * packets_per_flow);
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch.size(); ++i) (void)q.push(i % flows, std::move(batch[i]));
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = std::move(*q.pop(i % flows));
    benchmark::DoNotOptimize(batch.data());
  }
  set_processed(state, batch.size());
}
BENCHMARK(BM_flow_queues_push_pop)->Arg(1)->Arg(64);

// The tunnel-came-up path: each flow is drained in one call.
void BM_flow_queues_push_drain(benchmark::State& state) {
  const auto flows = static_cast<std::uint64_t>(state.range(0));
  packet_pool pool;
  queues q;
  auto batch = make_batch(pool, flows * packets_per_flow);
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch.size(); ++i) (void)q.push(i % flows, std::move(batch[i]));
    std::size_t out = 0;
    for (std::uint64_t f = 0; f < flows; ++f) {
      q.drain(f, [&](packet_buffer&& p) { batch[out++] = std::move(p); });
    }
    benchmark::DoNotOptimize(batch.data());
  }
  set_processed(state, batch.size());
}
BENCHMARK(BM_flow_queues_push_drain)->Arg(1)->Arg(64);

// A full flow under drop_newest: the arriving packet is rejected and released to its pool.
void BM_flow_queues_drop_newest_full(benchmark::State& state) {
  packet_pool pool;
  queues q({.per_flow_bytes = packets_per_flow * packet_size});
  for (auto& p : make_batch(pool, packets_per_flow)) (void)q.push(0, std::move(p));
  for (auto _ : state) {
    auto b = pool.acquire();
    (void)b->append(packet_size);
    benchmark::DoNotOptimize(q.push(0, std::move(*b)));
  }
  set_processed(state, 1);
}
BENCHMARK(BM_flow_queues_drop_newest_full);

// A full total under drop_oldest: each push scans the flows for the largest and evicts its
// head, so the cost grows with the number of flows waiting.
void BM_flow_queues_drop_oldest_total_full(benchmark::State& state) {
  const auto flows = static_cast<std::uint64_t>(state.range(0));
  packet_pool pool({.max_blocks = 65536});
  queues q({.total_bytes = flows * 4 * packet_size, .max_flows = flows, .policy = drop_policy::drop_oldest});
  std::uint64_t next = 0;
  for (auto& p : make_batch(pool, flows * 4)) (void)q.push(next++ % flows, std::move(p));
  for (auto _ : state) {
    auto b = pool.acquire();
    (void)b->append(packet_size);
    benchmark::DoNotOptimize(q.push(next++ % flows, std::move(*b)));
  }
  set_processed(state, 1);
}
BENCHMARK(BM_flow_queues_drop_oldest_total_full)->Arg(1)->Arg(64)->Arg(1024);

}  // namespace
