#pragma once
// sample_stats: the summary of a candidate's samples that selection works from.
//
//   sent      samples taken, lost or not
//   received  samples that measured a round trip
//   loss      (sent - received) / sent; 1 when nothing was sent, so an unprobed candidate
//             looks like a dead one and is never chosen
//   min, max  the extremes of the measured round trips
//   median    the middle measured round trip; with an even count, the mean of the middle two
//   mean      the arithmetic mean of the measured round trips
//   jitter    the mean absolute difference between consecutive measured round trips, in the
//             order they were sent, skipping lost ones: |r2 - r1|, |r3 - r2|, ... averaged.
//             This is RFC 3550 §6.4.1's D(i-1, i) averaged plainly instead of through its 1/16
//             running filter: with five samples the filter would still weigh the first one most.
//             Zero with fewer than two measured samples.
// The durations are zero when nothing was received; check reachable() first.
//
// Median rather than mean for selection: one sample stuck behind a retransmitting Wi-Fi link
// or a busy scheduler moves the mean a lot and the median not at all.

#include <warren/core/clock.hpp>
#include <warren/probe/sample.hpp>

#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

namespace warren::probe {

struct sample_stats {
  std::size_t sent = 0;
  std::size_t received = 0;
  double loss = 1.0;
  duration min{};
  duration max{};
  duration median{};
  duration mean{};
  duration jitter{};

  bool reachable() const noexcept { return received > 0; }
};

inline sample_stats summarize(std::span<const sample> samples) {
  sample_stats s;
  s.sent = samples.size();
  std::vector<duration> rtts;
  rtts.reserve(samples.size());
  for (const auto& x : samples)
    if (x.rtt) rtts.push_back(*x.rtt);
  s.received = rtts.size();
  if (s.sent != 0) s.loss = static_cast<double>(s.sent - s.received) / static_cast<double>(s.sent);
  if (rtts.empty()) return s;

  duration sum{};
  duration steps{};
  for (std::size_t i = 0; i < rtts.size(); ++i) {
    sum += rtts[i];
    if (i > 0) steps += rtts[i] > rtts[i - 1] ? rtts[i] - rtts[i - 1] : rtts[i - 1] - rtts[i];
  }
  const auto n = static_cast<duration::rep>(rtts.size());
  s.mean = sum / n;
  if (rtts.size() > 1) s.jitter = steps / (n - 1);

  // Sorted after the jitter: it needs the send order.
  std::sort(rtts.begin(), rtts.end());
  s.min = rtts.front();
  s.max = rtts.back();
  const std::size_t mid = rtts.size() / 2;
  s.median = rtts.size() % 2 ? rtts[mid] : rtts[mid - 1] + (rtts[mid] - rtts[mid - 1]) / 2;
  return s;
}

}  // namespace warren::probe
