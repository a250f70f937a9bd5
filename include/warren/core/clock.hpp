#pragma once
// Time for sans-IO cores. A core never reads a clock: its caller passes `now` in. Adapters get
// `now` from a clock source, and tests use manual_clock, which moves only when told.

#include <chrono>
#include <concepts>

namespace warren {

using duration = std::chrono::nanoseconds;
// Monotonic time. Deadlines that cores hand out are in this unit and epoch.
using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;

// A clock source: anything with now() giving a time_point. Calls may come from any thread
// that drives the core which owns it.
template <class C>
concept clock_source = requires(const C& c) {
  { c.now() } -> std::same_as<time_point>;
};

// The real monotonic clock, for adapters.
struct steady_clock_source {
  time_point now() const noexcept {
    return std::chrono::time_point_cast<duration>(std::chrono::steady_clock::now());
  }
};

// A clock for tests and simulations: starts at the epoch (or a given time) and moves only
// through advance() or set(). Not thread-safe; a test owns it.
class manual_clock {
 public:
  manual_clock() = default;
  explicit manual_clock(time_point start) noexcept : now_(start) {}
  time_point now() const noexcept { return now_; }
  void advance(duration d) noexcept { now_ += d; }
  void set(time_point t) noexcept { now_ = t; }

 private:
  time_point now_{};
};

static_assert(clock_source<steady_clock_source>);
static_assert(clock_source<manual_clock>);

}  // namespace warren
