#pragma once
// crypto_workers: helper threads that run a batch's crypto_jobs (engine::on_packets,
// on_datagrams) beside the thread that owns the engine, so sealing and opening use more than
// one core. The engine keeps every state change on its own thread and puts its output in the
// batch's order before any job runs; jobs are independent, so which thread runs which one
// changes nothing but the time taken. That is how a flow's packets stay in order.
//
// run() hands out jobs a few at a time from a shared counter: the calling thread starts at
// once, and a helper that wakes late takes less. Batches below min_parallel jobs stay on the
// calling thread, where waking a helper would cost more than it saves. Under load batches come
// back to back, and waking a sleeping thread takes tens of microseconds on a VM, about as long
// as a batch: so a helper watches for the next batch for a short while (spin_for) before it
// sleeps, and run() waits for the last chunks the same way.
//
// Each helper has its own backend object (fast_backend holds OpenSSL contexts that must not be
// shared). Threads: run() from one thread at a time. Destruction stops and joins the helpers.

#include <warren/crypto/backend.hpp>
#include <warren/wireguard/engine.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace warren::wireguard {

template <crypto::backend Crypto>
class crypto_workers {
 public:
  static constexpr std::size_t default_min_parallel = 16;
  static constexpr std::chrono::microseconds spin_for{50};

  // `helpers` threads besides the caller; 0 runs everything on the calling thread.
  explicit crypto_workers(std::size_t helpers, std::size_t min_parallel = default_min_parallel)
      : min_parallel_(std::max<std::size_t>(min_parallel, 1)) {
    for (std::size_t i = 0; i < helpers; ++i) helpers_.push_back(std::make_unique<helper>());
    for (auto& h : helpers_) h->thread = std::thread([this, hp = h.get()] { serve(*hp); });
  }
  crypto_workers(const crypto_workers&) = delete;
  crypto_workers& operator=(const crypto_workers&) = delete;
  ~crypto_workers() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      stop_flag_ = true;
    }
    start_.notify_all();
    for (auto& h : helpers_)
      if (h->thread.joinable()) h->thread.join();
  }

  std::size_t helpers() const noexcept { return helpers_.size(); }

  // Runs every job, `own` being the calling thread's backend, and returns when all are done.
  void run(std::span<crypto_job> jobs, Crypto& own) {
    if (helpers_.empty() || jobs.size() < min_parallel_) {
      for (auto& j : jobs) run_crypto_job(own, j);
      return;
    }
    {
      std::unique_lock lock(mutex_);
      // A helper still inside the previous batch's loop would take this batch's indices.
      idle_.wait(lock, [this] { return active_ == 0; });
      jobs_ = jobs;
      next_.store(0, std::memory_order_relaxed);
      done_.store(0, std::memory_order_relaxed);
      ++generation_;
      published_.store(generation_, std::memory_order_release);
    }
    start_.notify_all();
    work(jobs, own);
    auto total = static_cast<std::uint32_t>(jobs.size());
    spin_until([&] { return done_.load(std::memory_order_acquire) == total; });
    for (auto d = done_.load(std::memory_order_acquire); d != total; d = done_.load(std::memory_order_acquire))
      done_.wait(d, std::memory_order_acquire);
  }

 private:
  static constexpr std::size_t chunk = 4;

  struct helper {
    Crypto crypto;
    std::thread thread;
  };

  void work(std::span<crypto_job> jobs, Crypto& crypto) {
    for (;;) {
      std::size_t first = next_.fetch_add(chunk, std::memory_order_relaxed);
      if (first >= jobs.size()) return;
      std::size_t last = std::min(first + chunk, jobs.size());
      for (std::size_t i = first; i < last; ++i) run_crypto_job(crypto, jobs[i]);
      auto n = static_cast<std::uint32_t>(last - first);
      if (done_.fetch_add(n, std::memory_order_acq_rel) + n == jobs.size()) done_.notify_one();
    }
  }

  // Polls `ready` for up to spin_for; true if it came true.
  template <class Ready>
  static bool spin_until(Ready&& ready) {
    auto until = std::chrono::steady_clock::now() + spin_for;
    for (unsigned i = 0;; ++i) {
      if (ready()) return true;
      if ((i & 63) == 63 && std::chrono::steady_clock::now() >= until) return false;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }

  void serve(helper& h) {
    std::uint64_t seen = 0;
    for (;;) {
      std::span<crypto_job> jobs;
      spin_until([&] { return published_.load(std::memory_order_acquire) != seen || stop_flag_.load(); });
      {
        std::unique_lock lock(mutex_);
        start_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        jobs = jobs_;
        ++active_;
      }
      work(jobs, h.crypto);
      {
        std::lock_guard lock(mutex_);
        --active_;
      }
      idle_.notify_one();
    }
  }

  std::size_t min_parallel_;
  std::vector<std::unique_ptr<helper>> helpers_;
  std::mutex mutex_;
  std::condition_variable start_, idle_;
  // Guarded by mutex_: the batch, its number, helpers inside it, and the stop flag.
  std::span<crypto_job> jobs_;
  std::uint64_t generation_ = 0;
  std::size_t active_ = 0;
  bool stop_ = false;
  // Read without the lock by helpers that watch for work before sleeping.
  std::atomic<std::uint64_t> published_{0};
  std::atomic<bool> stop_flag_{false};
  // The batch's progress, shared without the lock.
  std::atomic<std::size_t> next_{0};
  std::atomic<std::uint32_t> done_{0};
};

}  // namespace warren::wireguard
