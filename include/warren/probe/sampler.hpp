#pragma once
// sampler: the sans-IO schedule of one candidate's samples. It decides when each probe goes
// out, when it times out, and what it measured; the adapter (adapters/prober.hpp) only sends,
// receives and reads the clock:
//
//   1. poll(now)          at or after next_deadline(): times out the sample in flight, if its
//                         deadline passed, and says which sample to send, if one is due.
//   2. on_sent(seq, now)  optional: the request actually left at `now` (building a WireGuard
//                         initiation costs several X25519 operations, which are not network
//                         time); the round trip and the timeout count from here.
//   3. on_reply(seq, now) the reply to `seq` came; on_failure(seq, error, now) it cannot come
//                         (refused, unreachable).
//   repeat until done(); samples() holds the results in sequence order.
//
// One sample is in flight at a time. The next goes out `interval` after the previous one was
// sent, but never before the previous one finished and `min_gap` has passed since (a WireGuard
// server drops a second initiation from one key within 20 ms). A reply that comes after its
// sample timed out is ignored, never matched to a later sample: a reply later than the timeout
// counts as lost, even if the adapter's timer fired late and the reply got in first.
//
// Sequence numbers are 0 .. count-1. A value type; not thread-safe.

#include <warren/core/clock.hpp>
#include <warren/probe/error.hpp>
#include <warren/probe/sample.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

namespace warren::probe {

struct sampler_options {
  std::size_t count = 5;
  duration interval = std::chrono::milliseconds(200);  // from one send to the next
  duration timeout = std::chrono::seconds(1);           // per sample, from its send
  duration min_gap{};                                   // from one sample's end to the next send
};

class sampler {
 public:
  // What poll() asks of the caller: close what `expired` had open, and send `send`.
  struct step {
    std::optional<std::uint32_t> expired;
    std::optional<std::uint32_t> send;
  };

  explicit sampler(const sampler_options& options) : options_(options) { samples_.reserve(options.count); }

  step poll(time_point now) {
    step st;
    if (in_flight_ && now >= sent_at_ + options_.timeout) {
      st.expired = *in_flight_;
      // The sample ended at its deadline, whenever the caller got round to noticing.
      finish(sample::lost_by(make_error_code(errc::timeout)), sent_at_ + options_.timeout);
    }
    if (!in_flight_ && next_ < options_.count && now >= next_send_) {
      in_flight_ = static_cast<std::uint32_t>(next_++);
      sent_at_ = now;
      st.send = in_flight_;
    }
    return st;
  }

  void on_sent(std::uint32_t seq, time_point now) noexcept {
    if (in_flight_ == seq) sent_at_ = now;
  }

  // True if the reply measured the sample; false if `seq` is not in flight (a duplicate, or a
  // reply to a sample that already timed out) or the reply is past the deadline.
  bool on_reply(std::uint32_t seq, time_point now, std::error_code note = {}) {
    if (in_flight_ != seq) return false;
    if (now >= sent_at_ + options_.timeout) {
      finish(sample::lost_by(make_error_code(errc::timeout)), sent_at_ + options_.timeout);
      return false;
    }
    finish(sample::measured(now - sent_at_, note), now);
    return true;
  }

  // The sample in flight is lost for `why`; false if `seq` is not in flight.
  bool on_failure(std::uint32_t seq, std::error_code why, time_point now) {
    if (in_flight_ != seq) return false;
    finish(sample::lost_by(why), now);
    return true;
  }

  // Every sample not yet finished is lost for `why` (the socket could not be opened, the
  // target is malformed). done() afterwards.
  void abort(std::error_code why) {
    if (in_flight_) samples_.push_back(sample::lost_by(why));
    in_flight_.reset();
    for (; next_ < options_.count; ++next_) samples_.push_back(sample::lost_by(why));
  }

  // When to call poll() next: the deadline of the sample in flight, or when the next is due;
  // nothing once done. Before the first poll() it is already due.
  std::optional<time_point> next_deadline() const noexcept {
    if (in_flight_) return sent_at_ + options_.timeout;
    if (next_ < options_.count) return next_send_;
    return std::nullopt;
  }

  bool done() const noexcept { return !in_flight_ && next_ >= options_.count; }
  std::optional<std::uint32_t> in_flight() const noexcept { return in_flight_; }
  std::span<const sample> samples() const noexcept { return samples_; }
  std::vector<sample> take_samples() noexcept { return std::move(samples_); }
  const sampler_options& options() const noexcept { return options_; }

 private:
  void finish(sample s, time_point ended) {
    samples_.push_back(s);
    next_send_ = std::max(sent_at_ + options_.interval, ended + options_.min_gap);
    in_flight_.reset();
  }

  sampler_options options_;
  std::vector<sample> samples_;
  std::optional<std::uint32_t> in_flight_;
  std::size_t next_ = 0;  // the next sequence number to send
  time_point sent_at_{};
  time_point next_send_ = time_point::min();
};

}  // namespace warren::probe
