#pragma once
// What warren-client shows: a table of targets redrawn in place on a terminal, or one line per
// state change otherwise (logs, pipes, tests).

#include <warren/jit/orchestrator.hpp>
#include <warren/jit/tunnel_state.hpp>
#include <warren/route/router.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace warren_client {

inline std::string human_bytes(std::uint64_t n) {
  char buf[32];
  if (n < 1024) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else if (n < 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
  else if (n < 1024ull * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1024 * 1024));
  else std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(n) / (1024.0 * 1024 * 1024));
  return buf;
}

inline std::string ms(warren::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", std::chrono::duration<double, std::milli>(d).count());
  return buf;
}

inline std::string wall_clock() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%SZ", &tm);
  return buf;
}

// "18:31:05Z uk: probing -> connecting (uk-near): probed 2 servers"
inline std::string event_line(const warren::jit::state_event& e) {
  std::string line = wall_clock() + " " + e.target + ": " + std::string(to_string(e.from)) + " -> " +
                     std::string(to_string(e.to));
  if (!e.server.empty()) line += " (" + e.server + ")";
  if (!e.reason.empty()) line += ": " + e.reason;
  return line;
}

// The table, for a terminal: one row per target.
inline std::string status_table(const std::string& header, const std::vector<warren::jit::target_status>& targets,
                                const std::map<std::string, std::string>& assigned, warren::time_point now) {
  std::string out = header + "\n\n";
  char row[512];
  std::snprintf(row, sizeof row, "%-8s %-11s %-12s %-21s %-16s %10s %10s %7s  %s\n", "TARGET", "STATE", "SERVER",
                "LATENCY med/jit/loss", "ADDRESS", "OUT", "IN", "FOR", "REASON");
  out += row;
  for (const auto& t : targets) {
    std::string latency = "-";
    if (t.latency && t.latency->reachable())
      latency = ms(t.latency->median) + "/" + ms(t.latency->jitter) + " ms " +
                std::to_string(static_cast<int>(t.latency->loss * 100 + 0.5)) + "%";
    const bool live = t.state == warren::jit::tunnel_state::connected;
    auto a = assigned.find(t.server);
    const std::string address = live && a != assigned.end() ? a->second : "-";
    std::string age = "-";
    if (t.since != warren::time_point{})
      age = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - t.since).count()) + "s";
    std::string reason = t.reason;
    if (reason.size() > 60) reason = reason.substr(0, 57) + "...";
    std::snprintf(row, sizeof row, "%-8s %-11s %-12s %-21s %-16s %10s %10s %7s  %s\n", t.name.c_str(),
                  std::string(to_string(t.state)).c_str(), t.server.empty() ? "-" : t.server.c_str(), latency.c_str(),
                  address.c_str(), live ? human_bytes(t.counters.bytes_out).c_str() : "-",
                  live ? human_bytes(t.counters.bytes_in).c_str() : "-", age.c_str(), reason.c_str());
    out += row;
    if (t.waiting_packets != 0) out += "         " + std::to_string(t.waiting_packets) + " packets waiting\n";
  }
  return out;
}

}  // namespace warren_client
