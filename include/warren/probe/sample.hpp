#pragma once
// sample: what one probe of one candidate measured, a round-trip time or a loss. A series of
// them goes into sample_stats (sample_stats.hpp).

#include <warren/core/clock.hpp>

#include <optional>
#include <system_error>

namespace warren::probe {

// A round-trip time, or nothing if the sample was lost. `error` says why it was lost
// (probe::errc::timeout, refused, unreachable, or a socket error); a measured sample may carry
// one too, as a note: a TCP connect refused with an RST still measured a round trip
// (tcp_probe::count_refused), and the report can say the port was closed.
// A value type; the default is a loss with no reason given.
struct sample {
  std::optional<duration> rtt;
  std::error_code error;

  bool lost() const noexcept { return !rtt.has_value(); }

  static sample measured(duration rtt, std::error_code note = {}) noexcept { return {rtt, note}; }
  static sample lost_by(std::error_code why) noexcept { return {std::nullopt, why}; }
};

}  // namespace warren::probe
