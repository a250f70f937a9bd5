// replay_window: the per-packet anti-replay check, in ns per counter. In order is the common case
// (one bit set, a word cleared every 64 packets); reordered draws counters from a few hundred
// behind the newest, as parallel decryption and multipath deliver them; the pair is the receive
// path's would_accept() before decrypting plus accept() after.
#include <warren/wireguard/replay_window.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace {

using warren::wireguard::replay_window;

void BM_replay_window_accept_in_order(benchmark::State& state) {
  replay_window w;
  std::uint64_t counter = 0;
  std::size_t rejected = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(counter);
    rejected += !w.accept(counter++);
  }
  if (rejected != 0) state.SkipWithError("an in-order counter was rejected");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_replay_window_accept_in_order);

void BM_replay_window_check_then_accept_in_order(benchmark::State& state) {
  replay_window w;
  std::uint64_t counter = 0;
  std::size_t rejected = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(counter);
    if (w.would_accept(counter)) rejected += !w.accept(counter);
    ++counter;
  }
  if (rejected != 0) state.SkipWithError("an in-order counter was rejected");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_replay_window_check_then_accept_in_order);

void BM_replay_window_accept_reordered(benchmark::State& state) {
  // Counters 0, 1, 2, ... each shifted by up to 255 places: every one arrives once, late or early.
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> order(1 << 16);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (std::size_t i = 0; i + 1 < order.size(); ++i)
    std::swap(order[i], order[i + rng() % std::min<std::size_t>(256, order.size() - i)]);
  replay_window w;
  std::uint64_t base = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const bool fresh = w.accept(base + order[i]);
    benchmark::DoNotOptimize(fresh);
    if (++i == order.size()) {
      i = 0;
      base += order.size();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_replay_window_accept_reordered);

}  // namespace
