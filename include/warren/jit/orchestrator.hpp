#pragma once
// orchestrator: just-in-time tunnels. The TUN is up and armed with rules; no tunnel exists until
// a packet needs one. Sans-IO: packets, reports and time in; packets, commands (probe, connect,
// close) and state events out, in a jit::output. An adapter owns the sockets, the prober and
// the tunnels, does what the output says and reports back.
//
// The first packet of a flow for a target with no tunnel:
//   1. route::router says `pending`: the packet waits in a bounded per-flow queue
//      (buffer::flow_queues: 64 KiB a flow, 10 MiB in all by default);
//   2. the target goes armed → probing: one probe_command for its candidate servers (skipped
//      when there is only one); further first packets for the target just wait, so concurrent
//      flows start one connection, not many;
//   3. on_probe_results ranks the servers (probe::selector: latency, loss, load, and stickiness
//      to the server used last); probing → connecting: a connect_command for the best;
//   4. on_connected: the tunnel joins the router with the addresses its server assigned, the
//      target is bound to it, and the waiting flows are flushed through it in order;
//   5. a failed or timed-out attempt is retried with backoff (attempts_per_server), then the
//      next server is tried; when every server failed the target is `failed` for failed_hold:
//      its packets go direct if the rule allows (fallback_direct), else they are dropped and
//      counted — waiting packets the same way, never leaked;
//   6. a connected tunnel with no traffic for idle_timeout (5 minutes by default) is closed and
//      the target re-armed; a tunnel the adapter reports lost is closed too, and its server is
//      passed over for failed_hold, so the next packet fails over to another server.
//
// Thread-safety: none; one thread (or strand) drives it. Reports about connections that are no
// longer current (an attempt abandoned after its timeout) are ignored; a late on_connected is
// answered with a close_command.

#include <warren/buffer/flow_queues.hpp>
#include <warren/core/clock.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/jit/output.hpp>
#include <warren/jit/tunnel_state.hpp>
#include <warren/packet/flow_key.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/probe/sample_stats.hpp>
#include <warren/probe/selection.hpp>
#include <warren/route/policy.hpp>
#include <warren/route/router.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace warren::jit {

// What the app says about a target the rules name: where it may connect.
struct target_options {
  std::string name;                   // as the rules name it ("uk")
  std::vector<candidate> candidates;  // the servers of that region or provider
  bool fallback_direct = false;       // also true when any rule for the target says so
};

struct orchestrator_options {
  duration idle_timeout = std::chrono::minutes(5);
  duration probe_timeout = std::chrono::seconds(5);    // then connect in the listed order
  duration connect_timeout = std::chrono::seconds(10);  // per attempt
  unsigned attempts_per_server = 2;
  duration retry_backoff = std::chrono::seconds(1);    // doubles with each attempt on a server
  duration failed_hold = std::chrono::seconds(30);     // how long a failed target or a lost server is passed over
  buffer::flow_queue_options queues{};
  probe::selection_options selection{};
  route::router_options router{};
};

// One target as the app shows it.
struct target_status {
  std::string name;
  tunnel_state state = tunnel_state::armed;
  std::string server;  // chosen or current server
  std::string reason;  // of the last change
  time_point since{};  // of the last change
  std::optional<probe::sample_stats> latency;  // of `server`, from the last probe
  route::tunnel_counters counters{};           // of the live tunnel, if connected
  std::size_t waiting_packets = 0;
};

struct orchestrator_stats {
  std::uint64_t connections_started = 0;
  std::uint64_t connections_failed = 0;
  std::uint64_t tunnels_closed_idle = 0;
  std::uint64_t tunnels_lost = 0;
  std::uint64_t flushed = 0;            // waiting packets sent on once their tunnel came up
  std::uint64_t dropped_waiting = 0;    // waiting packets dropped because their target failed
  std::uint64_t late_reports = 0;       // reports about connections no longer current
};

class orchestrator {
 public:
  orchestrator(route::policy rules, route::address_pair tun_addresses, std::vector<target_options> targets,
               orchestrator_options options = {})
      : options_(options), router_(route::policy{}, tun_addresses, options.router), queues_(options.queues) {
    options_given_ = std::move(targets);
    adopt(std::move(rules));
  }

  // Replaces the rules. Live tunnels stay up and keep their flows; targets keep their state by
  // name. A target the new rules no longer name is shut: its tunnel closed (close_command) and
  // its waiting packets dropped.
  void set_policy(route::policy rules, time_point now, output& out) {
    for (target& t : targets_) {
      if (rules.find_target(t.name)) continue;
      shut(t, "no rule names this target any more", now, out);
    }
    adopt(std::move(rules));
  }

  // -- packets ----------------------------------------------------------------------------

  // A packet read from the TUN.
  void on_tun_packet(packet_buffer pkt, time_point now, output& out) {
    const route::decision d = router_.on_outbound(pkt.bytes(), now);
    switch (d.what) {
      case route::decision::kind::tunnel:
        out.to_tunnel.emplace_back(connection_of(d.tunnel), std::move(pkt));
        return;
      case route::decision::kind::direct:
        out.direct.push_back(std::move(pkt));
        return;
      case route::decision::kind::drop:
        return;  // counted by the router
      case route::decision::kind::pending: break;
    }
    target& t = targets_[d.target];
    auto parsed = packet::parse_ip(pkt.bytes());
    if (!parsed) return;  // the router parsed it a moment ago; cannot happen
    const packet::flow_key key = packet::flow_key::of(*parsed);
    if (!queues_.contains(key)) t.waiting.push_back(key);
    (void)queues_.push(key, std::move(pkt));  // a drop is counted by the queues
    if (t.state == tunnel_state::armed) start(t, now, out);
  }

  // A packet that came out of a tunnel (decrypted), for the TUN.
  void on_tunnel_packet(connection_id connection, packet_buffer pkt, time_point now, output& out) {
    const auto it = tunnel_of_.find(connection);
    if (it == tunnel_of_.end()) return;
    if (router_.on_inbound(it->second, pkt.bytes(), now).what == route::decision::kind::tunnel)
      out.to_tun.push_back(std::move(pkt));
  }

  // -- reports from the adapter -----------------------------------------------------------

  void on_probe_results(std::string_view target_name, std::span<const probe::candidate> results, time_point now,
                        output& out) {
    target* t = find(target_name);
    if (!t || t->state != tunnel_state::probing) {
      ++stats_.late_reports;
      return;
    }
    t->latencies.clear();
    for (const auto& r : results) t->latencies[r.id] = r.stats;
    t->ranking = rank(*t, results);
    t->next_server = 0;
    t->attempt = 0;
    std::string reason = "probed " + std::to_string(results.size()) + " servers";
    connect(*t, now, out, std::move(reason));
  }

  // The tunnel of `connection` is up; `assigned` are the addresses its server gave us.
  void on_connected(connection_id connection, route::address_pair assigned, time_point now, output& out) {
    target* t = by_connection(connection);
    if (!t || t->state != tunnel_state::connecting || t->waiting_for != wait::connect) {
      ++stats_.late_reports;
      out.closes.push_back({connection, "no longer needed"});
      return;
    }
    const route::tunnel_id tunnel = router_.add_tunnel(assigned);
    t->tunnel = tunnel;
    tunnel_of_[connection] = tunnel;
    if (connection_by_tunnel_.size() <= tunnel) connection_by_tunnel_.resize(tunnel + 1);
    connection_by_tunnel_[tunnel] = connection;
    (void)router_.bind(t->name, route::target_binding::to_tunnel(tunnel));
    t->deadline.reset();
    t->waiting_for = wait::nothing;
    change(*t, tunnel_state::connected, "handshake complete", now, out);
    flush(*t, now, out);
  }

  void on_connect_failed(connection_id connection, std::string reason, time_point now, output& out) {
    target* t = by_connection(connection);
    if (!t || t->state != tunnel_state::connecting || t->waiting_for != wait::connect) {
      ++stats_.late_reports;
      return;
    }
    failed_attempt(*t, std::move(reason), now, out);
  }

  // The adapter found the live tunnel dead (no answer from its server): close it, and pass its
  // server over for failed_hold so that the next packet fails over.
  void on_tunnel_lost(connection_id connection, std::string reason, time_point now, output& out) {
    target* t = by_connection(connection);
    if (!t) {
      ++stats_.late_reports;
      return;
    }
    if (t->state == tunnel_state::connecting) {
      failed_attempt(*t, std::move(reason), now, out);
      return;
    }
    if (t->state != tunnel_state::connected) return;
    ++stats_.tunnels_lost;
    t->passed_over[t->server] = now + options_.failed_hold;
    close_tunnel(*t, "lost: " + reason, now, out);
  }

  // -- time -------------------------------------------------------------------------------

  void on_timeout(time_point now, output& out) {
    router_.on_timeout(now);
    for (target& t : targets_) {
      if (t.state == tunnel_state::connected && t.tunnel) {
        const route::tunnel_counters* c = router_.counters(*t.tunnel);
        if (c && c->last_activity + options_.idle_timeout <= now) {
          ++stats_.tunnels_closed_idle;
          close_tunnel(t, "no traffic for " + describe(options_.idle_timeout), now, out);
        }
        continue;
      }
      if (!t.deadline || *t.deadline > now) continue;
      t.deadline.reset();
      switch (t.waiting_for) {
        case wait::probe:
          t.ranking = rank(t, {});
          t.next_server = 0;
          t.attempt = 0;
          connect(t, now, out, "probes timed out; trying servers in listed order");
          break;
        case wait::connect:
          out.closes.push_back({t.connection, "handshake timed out"});
          connection_target_.erase(t.connection);
          failed_attempt(t, "no handshake within " + describe(options_.connect_timeout), now, out);
          break;
        case wait::retry:
          connect(t, now, out, "retrying");
          break;
        case wait::hold:
          t.waiting_for = wait::nothing;
          (void)router_.bind(t.name, route::target_binding{});
          change(t, tunnel_state::armed, "ready to try again", now, out);
          break;
        case wait::nothing: break;
      }
    }
  }

  std::optional<time_point> next_deadline() const noexcept {
    std::optional<time_point> at = router_.next_deadline();
    auto consider = [&](time_point x) {
      if (!at || x < *at) at = x;
    };
    for (const target& t : targets_) {
      if (t.deadline) consider(*t.deadline);
      if (t.state == tunnel_state::connected && t.tunnel) {
        if (const route::tunnel_counters* c = router_.counters(*t.tunnel)) consider(c->last_activity + options_.idle_timeout);
      }
    }
    return at;
  }

  // Closes every tunnel and drops every waiting packet (shutting down).
  void close_all(std::string_view reason, time_point now, output& out) {
    for (target& t : targets_) shut(t, std::string(reason), now, out);
  }

  // -- observing --------------------------------------------------------------------------

  std::vector<target_status> status() const {
    std::vector<target_status> all;
    for (const target& t : targets_) {
      target_status s{.name = t.name, .state = t.state, .server = t.server, .reason = t.reason, .since = t.since,
                      .latency = std::nullopt, .counters = {}, .waiting_packets = 0};
      if (auto it = t.latencies.find(t.server); it != t.latencies.end()) s.latency = it->second;
      if (t.tunnel)
        if (const route::tunnel_counters* c = router_.counters(*t.tunnel)) s.counters = *c;
      for (const auto& k : t.waiting) s.waiting_packets += queues_.packets(k);
      all.push_back(std::move(s));
    }
    return all;
  }
  std::optional<tunnel_state> state_of(std::string_view target_name) const {
    for (const target& t : targets_)
      if (t.name == target_name) return t.state;
    return std::nullopt;
  }

  const orchestrator_stats& stats() const noexcept { return stats_; }
  const route::router& router() const noexcept { return router_; }
  const buffer::flow_queues<packet::flow_key, packet::flow_key_hash>& queues() const noexcept { return queues_; }

 private:
  enum class wait { nothing, probe, connect, retry, hold };

  struct target {
    std::string name;
    std::vector<candidate> candidates;
    bool fallback_direct = false;
    tunnel_state state = tunnel_state::armed;
    std::string server, reason;
    time_point since{};
    std::vector<std::string> ranking;  // servers in the order to try
    std::size_t next_server = 0;
    unsigned attempt = 0;              // attempts made on ranking[next_server]
    connection_id connection = 0;      // the current attempt or live tunnel
    std::optional<route::tunnel_id> tunnel;
    wait waiting_for = wait::nothing;
    std::optional<time_point> deadline;
    std::vector<packet::flow_key> waiting;  // flows with queued packets, first packet first
    std::map<std::string, probe::sample_stats> latencies;
    std::map<std::string, time_point> passed_over;  // lost servers, until
    probe::selector selector{};
  };

  void adopt(route::policy rules) {
    std::vector<target> next(rules.targets().size());
    for (std::size_t i = 0; i < next.size(); ++i) {
      const std::string& name = rules.targets()[i];
      auto old = std::find_if(targets_.begin(), targets_.end(), [&](const target& t) { return t.name == name; });
      if (old != targets_.end()) next[i] = std::move(*old);
      else next[i].selector = probe::selector(options_.selection);
      next[i].name = name;
      next[i].fallback_direct = false;
      next[i].candidates.clear();
      for (const auto& o : options_given_) {
        if (o.name != name) continue;
        next[i].candidates = o.candidates;
        next[i].fallback_direct = o.fallback_direct;
      }
      auto allows_direct = [&](const route::action& a) {
        return a.what == route::action::kind::tunnel && a.target == name && a.fallback_direct;
      };
      if (allows_direct(rules.default_action())) next[i].fallback_direct = true;
      for (const auto& r : rules.rules())
        if (allows_direct(r.then)) next[i].fallback_direct = true;
    }
    targets_ = std::move(next);
    router_.set_policy(std::move(rules));
  }

  // Back to armed with nothing in flight: the tunnel or attempt closed, waiting packets dropped.
  void shut(target& t, std::string reason, time_point now, output& out) {
    if (t.state == tunnel_state::connected) {
      close_tunnel(t, reason, now, out);
    } else if (t.state == tunnel_state::connecting && t.waiting_for == wait::connect) {
      out.closes.push_back({t.connection, reason});
      connection_target_.erase(t.connection);
    }
    discard_waiting(t);
    t.deadline.reset();
    t.waiting_for = wait::nothing;
    if (t.state == tunnel_state::failed) (void)router_.bind(t.name, route::target_binding{});
    if (t.state != tunnel_state::armed) change(t, tunnel_state::armed, std::move(reason), now, out);
  }

  target* find(std::string_view name) {
    for (target& t : targets_)
      if (t.name == name) return &t;
    return nullptr;
  }
  target* by_connection(connection_id c) {
    const auto it = connection_target_.find(c);
    if (it == connection_target_.end()) return nullptr;
    target* t = find(it->second);
    return t && t->connection == c ? t : nullptr;
  }
  connection_id connection_of(route::tunnel_id tunnel) const noexcept {
    return tunnel < connection_by_tunnel_.size() ? connection_by_tunnel_[tunnel] : 0;
  }

  void change(target& t, tunnel_state to, std::string reason, time_point now, output& out) {
    out.events.push_back({t.name, t.state, to, t.server, reason, now});
    t.state = to;
    t.reason = std::move(reason);
    t.since = now;
  }

  // The candidates not passed over (all of them, if every one is).
  static std::vector<candidate> usable(target& t, time_point now) {
    std::erase_if(t.passed_over, [&](const auto& p) { return p.second <= now; });
    std::vector<candidate> c;
    for (const auto& x : t.candidates)
      if (!t.passed_over.contains(x.server)) c.push_back(x);
    return c.empty() ? t.candidates : c;
  }

  void start(target& t, time_point now, output& out) {
    if (t.candidates.empty()) {
      fail_target(t, "no servers for this target", now, out);
      return;
    }
    const std::vector<candidate> cs = usable(t, now);
    if (cs.size() == 1) {
      t.ranking = {cs.front().server};
      t.next_server = 0;
      t.attempt = 0;
      connect(t, now, out, "first packet");
      return;
    }
    change(t, tunnel_state::probing, "first packet", now, out);
    out.probes.push_back({t.name, cs});
    t.waiting_for = wait::probe;
    t.deadline = now + options_.probe_timeout;
  }

  // Reachable servers by the selector's choice and then by score; then the unreachable ones and
  // those not probed, in the listed order; servers passed over after a loss come last.
  std::vector<std::string> rank(target& t, std::span<const probe::candidate> results) {
    std::vector<std::string> order;
    std::vector<probe::candidate> scored(results.begin(), results.end());
    for (auto& c : scored) {
      for (const auto& x : t.candidates)
        if (x.server == c.id && c.load == 0.0) c.load = x.load;
      if (t.passed_over.contains(c.id)) c.stats = probe::sample_stats{};  // not reachable, as far as ranking goes
    }
    if (auto pick = t.selector.select(scored)) order.push_back(scored[*pick].id);
    // By score, equal scores in the order given (std::stable_sort would do, but libstdc++ 12's
    // uses get_temporary_buffer, which clang 19 flags as deprecated).
    std::vector<std::tuple<duration, std::size_t, std::string>> rest;
    for (const auto& c : scored) {
      if (!order.empty() && c.id == order.front()) continue;
      if (auto s = probe::score(c, options_.selection)) rest.emplace_back(*s, rest.size(), c.id);
    }
    std::sort(rest.begin(), rest.end());
    for (auto& r : rest) order.push_back(std::move(std::get<2>(r)));
    for (const auto& c : t.candidates) {
      if (t.passed_over.contains(c.server)) continue;
      if (std::find(order.begin(), order.end(), c.server) == order.end()) order.push_back(c.server);
    }
    for (const auto& c : t.candidates) {
      if (std::find(order.begin(), order.end(), c.server) == order.end()) order.push_back(c.server);
    }
    return order;
  }

  void connect(target& t, time_point now, output& out, std::string reason) {
    t.server = t.ranking[t.next_server];
    ++t.attempt;
    t.connection = ++last_connection_;
    connection_target_[t.connection] = t.name;
    ++stats_.connections_started;
    if (t.attempt > 1) reason += " (attempt " + std::to_string(t.attempt) + " of " + std::to_string(options_.attempts_per_server) + ")";
    change(t, tunnel_state::connecting, std::move(reason), now, out);
    out.connects.push_back({t.connection, t.name, t.server});
    t.waiting_for = wait::connect;
    t.deadline = now + options_.connect_timeout;
  }

  void failed_attempt(target& t, std::string reason, time_point now, output& out) {
    ++stats_.connections_failed;
    connection_target_.erase(t.connection);
    if (t.attempt < std::max(1u, options_.attempts_per_server)) {
      const duration backoff = options_.retry_backoff * (1u << std::min(t.attempt - 1, 10u));
      t.waiting_for = wait::retry;
      t.deadline = now + backoff;
      change(t, tunnel_state::connecting, t.server + ": " + reason + "; retrying in " + describe(backoff), now, out);
      return;
    }
    const std::string failed = t.server;
    ++t.next_server;
    t.attempt = 0;
    if (t.next_server < t.ranking.size()) {
      connect(t, now, out, failed + ": " + reason + "; trying the next server");
      return;
    }
    fail_target(t, "every server failed (last: " + failed + ": " + reason + ")", now, out);
  }

  void fail_target(target& t, std::string reason, time_point now, output& out) {
    t.waiting_for = wait::hold;
    t.deadline = now + options_.failed_hold;
    if (t.fallback_direct) {
      (void)router_.bind(t.name, route::target_binding::direct());
      change(t, tunnel_state::failed, reason + "; sending direct", now, out);
      flush(t, now, out);
    } else {
      (void)router_.bind(t.name, route::target_binding::drop());
      change(t, tunnel_state::failed, std::move(reason), now, out);
      discard_waiting(t);
    }
  }

  // Offers the target's waiting packets to the router again, flow by flow in the order the
  // flows started, each flow's packets in the order they came.
  void flush(target& t, time_point now, output& out) {
    std::vector<packet::flow_key> flows = std::move(t.waiting);
    t.waiting.clear();
    for (const auto& key : flows) {
      queues_.drain(key, [&](packet_buffer&& pkt) {
        ++stats_.flushed;
        const route::decision d = router_.on_outbound(pkt.bytes(), now);
        if (d.what == route::decision::kind::tunnel) out.to_tunnel.emplace_back(connection_of(d.tunnel), std::move(pkt));
        else if (d.what == route::decision::kind::direct) out.direct.push_back(std::move(pkt));
        else ++stats_.dropped_waiting;  // new rules sent the flow elsewhere, or dropped it
      });
    }
  }

  void discard_waiting(target& t) {
    for (const auto& key : t.waiting) stats_.dropped_waiting += queues_.discard(key);
    t.waiting.clear();
  }

  void close_tunnel(target& t, std::string reason, time_point now, output& out) {
    change(t, tunnel_state::idle, reason, now, out);
    out.closes.push_back({t.connection, reason});
    if (t.tunnel) router_.remove_tunnel(*t.tunnel);
    (void)router_.bind(t.name, route::target_binding{});
    tunnel_of_.erase(t.connection);
    connection_target_.erase(t.connection);
    t.tunnel.reset();
    t.waiting_for = wait::nothing;
    t.deadline.reset();
    change(t, tunnel_state::armed, "closed", now, out);
  }

  static std::string describe(duration d) {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(d).count();
    if (ms % 60000 == 0) return std::to_string(ms / 60000) + " min";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
    return std::to_string(ms) + " ms";
  }

  orchestrator_options options_;
  std::vector<target_options> options_given_;
  route::router router_;
  buffer::flow_queues<packet::flow_key, packet::flow_key_hash> queues_;
  std::vector<target> targets_;  // by route::target_id of the current rules
  std::unordered_map<connection_id, std::string> connection_target_;
  std::unordered_map<connection_id, route::tunnel_id> tunnel_of_;
  std::vector<connection_id> connection_by_tunnel_;  // by route::tunnel_id, for the datapath
  connection_id last_connection_ = 0;
  orchestrator_stats stats_;
};

}  // namespace warren::jit
