#pragma once
// Choosing a server from probe results: by latency, optionally weighted by the server's load,
// and sticky, so that two servers whose latencies are within noise of each other do not make
// the client switch back and forth between them every round.
//
// score (lower is better; "effective latency"):
//
//   base  = median + jitter_weight × jitter
//   score = base × (1 + loss_weight × loss) × (1 + load_weight × load / 100)
//
// with loss in 0..1 (sample_stats) and load in percent, 0..100 (as VPN providers publish it;
// clamped). The defaults rank by median and loss alone: a server at 20 ms that lost one sample
// in ten scores 22 ms. With load_weight = 1 a full server counts as twice as far as an idle one.
//
// Eligibility: a candidate that received nothing is never chosen, nor one whose loss exceeds
// max_loss. Ties (equal scores) go to the smaller id, then the earlier candidate, so the same
// inputs always give the same choice.
//
// Stickiness (selector): the current choice is kept unless the best candidate's score is lower
// by more than both margins, the absolute one and the fraction of the current score:
//
//   switch  iff  score(current) - score(best) > max(switch_margin, switch_ratio × score(current))
//
// An absolute margin alone would flap between two far servers (300 ms ± 10 ms of noise), a
// relative one alone between two near ones (2 ms against 3 ms is 50% but means nothing). A
// current choice that is no longer eligible, or no longer among the candidates, is left at once.

#include <warren/core/clock.hpp>
#include <warren/probe/sample_stats.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace warren::probe {

struct selection_options {
  double jitter_weight = 0.0;
  double loss_weight = 1.0;
  double load_weight = 0.0;
  double max_loss = 1.0;  // more than this fraction lost: not eligible
  duration switch_margin = std::chrono::milliseconds(5);
  double switch_ratio = 0.10;
};

// One server as selection sees it. `id` must stay the same from round to round (a server name
// or an endpoint's text): stickiness follows it.
struct candidate {
  std::string id;
  sample_stats stats;
  double load = 0.0;  // percent, 0..100
};

// The candidate's effective latency, or nothing if it may not be chosen.
inline std::optional<duration> score(const candidate& c, const selection_options& o) {
  if (!c.stats.reachable() || c.stats.loss > o.max_loss) return std::nullopt;
  // Negative weights would reward jitter, loss or load; NaN must not reach the comparison.
  auto weight = [](double w) { return w > 0 ? w : 0.0; };
  double load = c.load > 0 ? std::min(c.load, 100.0) : 0.0;
  double base = static_cast<double>(c.stats.median.count()) +
                weight(o.jitter_weight) * static_cast<double>(c.stats.jitter.count());
  double s = base * (1 + weight(o.loss_weight) * c.stats.loss) * (1 + weight(o.load_weight) * load / 100);
  return duration(static_cast<duration::rep>(s + 0.5));  // to the nearest nanosecond
}

// The eligible candidate with the lowest score, without stickiness.
inline std::optional<std::size_t> best(std::span<const candidate> cs, const selection_options& o) {
  std::optional<std::size_t> pick;
  std::optional<duration> pick_score;
  for (std::size_t i = 0; i < cs.size(); ++i) {
    auto s = score(cs[i], o);
    if (!s) continue;
    // Strictly better, or equal with a smaller id; an equal id keeps the earlier candidate.
    if (!pick || *s < *pick_score || (*s == *pick_score && cs[i].id < cs[*pick].id)) {
      pick = i;
      pick_score = s;
    }
  }
  return pick;
}

// Remembers the current choice between rounds of probing. A value type; starts with no choice.
// Not thread-safe.
class selector {
 public:
  explicit selector(selection_options options = {}) : options_(options) {}

  // This round's choice, as an index into `cs`, or nothing if no candidate is eligible. The
  // current choice is remembered even through a round with nothing eligible (the network was
  // down a moment), so it stays sticky when the candidates come back.
  std::optional<std::size_t> select(std::span<const candidate> cs) {
    auto b = best(cs, options_);
    if (!b) return std::nullopt;
    if (current_ && cs[*b].id != *current_) {
      for (std::size_t i = 0; i < cs.size(); ++i) {
        if (cs[i].id != *current_) continue;
        auto cur = score(cs[i], options_);
        if (!cur) break;  // the current choice is down or too lossy: leave it
        auto best_score = *score(cs[*b], options_);
        auto ratio = options_.switch_ratio > 0 ? options_.switch_ratio : 0.0;
        auto relative = duration(static_cast<duration::rep>(static_cast<double>(cur->count()) * ratio));
        if (*cur - best_score <= std::max(options_.switch_margin, relative)) return i;  // within noise
        break;
      }
    }
    current_ = cs[*b].id;
    return b;
  }

  const std::optional<std::string>& current() const noexcept { return current_; }
  // Forgets the current choice: the next select() takes the best candidate outright.
  void reset() noexcept { current_.reset(); }
  const selection_options& options() const noexcept { return options_; }

 private:
  selection_options options_;
  std::optional<std::string> current_;
};

}  // namespace warren::probe
