#pragma once
// client_engine: the orchestrator (jit/orchestrator.hpp) run on Asio with real parts: one TUN,
// a prober for the candidates, and a wireguard::client_tunnel per live tunnel. This is what an
// app embeds: it hands over a TUN (a Linux TUN queue, or the fd Android's VpnService gives),
// the rules and the servers of each target, and gets tunnels that come up on the first packet,
// route per destination, close when idle, fail over, and report every state change.
//
//   TUN ──read──▶ orchestrator.on_tun_packet ──▶ output ──▶ client_tunnel::send / TUN write /
//                                                            prober / open / close tunnels
//   client_tunnel ──on_packets──▶ orchestrator.on_tunnel_packet ──▶ TUN write
//   timer (orchestrator.next_deadline()) ──▶ orchestrator.on_timeout
//
// Probing uses a WireGuard handshake with the server, with our key: it works against any
// WireGuard server (warren-wg, wireguard-go, the kernel's) and measures exactly the tunnel's
// path. A tunnel's first initiation waits until wireguard_min_gap after the last probe of its
// server, so the server's replay check (timestamps whitened to 16.8 ms) does not drop it.
//
// Not thread-safe: construct, start() and stop() on the executor's thread (or before it runs);
// handlers run there.

#include <warren/buffer/packet_pool.hpp>
#include <warren/core/clock.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/crypto/default_backend.hpp>
#include <warren/jit/orchestrator.hpp>
#include <warren/jit/output.hpp>
#include <warren/probe/adapters/prober.hpp>
#include <warren/probe/target.hpp>
#include <warren/probe/wireguard_handshake.hpp>
#include <warren/route/policy.hpp>
#include <warren/route/router.hpp>
#include <warren/tun/adapters/asio_device.hpp>
#include <warren/tun/packet_device.hpp>
#include <warren/wireguard/adapters/client_tunnel.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace warren::jit {

// One server a target may use: how to reach it and what it assigned us.
struct server_entry {
  std::string id;
  wireguard::client_tunnel_config tunnel{};
  route::address_pair addresses{};  // the addresses this server gave us (wg-quick's Address)
  double load = 0.0;                // percent, as published
};

struct target_servers {
  std::string target;  // as the rules name it
  std::vector<server_entry> servers;
  bool fallback_direct = false;
};

struct client_engine_options {
  orchestrator_options orchestrator{};
  probe::prober_options probing{.samples = 3, .interval = std::chrono::milliseconds(50),
                                .timeout = std::chrono::seconds(1), .concurrency = 8};
  duration check_after = std::chrono::seconds(3);  // see client_tunnel_config
  duration dead_after = std::chrono::seconds(5);
};

struct client_engine_counters {
  std::uint64_t tun_read = 0;
  std::uint64_t tun_written = 0;
  std::uint64_t tun_write_dropped = 0;
  std::uint64_t direct_dropped = 0;   // direct decisions with no direct handler
  std::uint64_t tunnel_open_failed = 0;
  std::uint64_t tunnel_gone_dropped = 0;  // packets for a tunnel closed in the same round
};

template <tun::pollable_device Device, crypto::backend Crypto = crypto::default_backend>
class client_engine {
 public:
  using event_handler = std::function<void(const state_event&)>;
  using direct_handler = std::function<void(packet_buffer&&)>;

  client_engine(const asio::any_io_executor& ex, tun::asio_device<Device> tun, route::policy rules,
                route::address_pair tun_addresses, std::vector<target_servers> targets,
                client_engine_options options = {})
      : ex_(ex), options_(options), tun_(std::move(tun)), timer_(ex), prober_(ex, options.probing),
        core_(std::move(rules), tun_addresses, to_target_options(targets), options.orchestrator) {
    for (auto& t : targets)
      for (auto& s : t.servers) {
        const std::string id = s.id;
        servers_[{t.target, id}] = std::move(s);
      }
  }

  client_engine(const client_engine&) = delete;
  client_engine& operator=(const client_engine&) = delete;
  ~client_engine() {
    *alive_ = false;
    shutdown();
  }

  // Every state change of every target, as it happens.
  void on_event(event_handler h) { on_event_ = std::move(h); }
  // Packets the rules send direct. Without a handler they are dropped and counted.
  void on_direct(direct_handler h) { on_direct_ = std::move(h); }

  // Starts reading the TUN: the engine is armed.
  void start() {
    if (started_) return;
    started_ = true;
    read_tun();
    arm_timer();
  }

  // Closes every tunnel, drops what waits, stops reading. Idempotent.
  void stop() {
    if (stopped_) return;
    core_.close_all("stopping", now(), out_);
    process();
    shutdown();
  }

  std::vector<target_status> status() const { return core_.status(); }
  const orchestrator& core() const noexcept { return core_; }
  const client_engine_counters& counters() const noexcept { return counters_; }
  // The live tunnel of a connection, for its counters (nullptr when none).
  const wireguard::client_tunnel<Crypto>* tunnel(connection_id c) const {
    auto it = tunnels_.find(c);
    return it == tunnels_.end() ? nullptr : it->second.tunnel.get();
  }

 private:
  struct live {
    std::unique_ptr<wireguard::client_tunnel<Crypto>> tunnel;
    std::string server;
    bool up = false;
  };

  static std::vector<target_options> to_target_options(const std::vector<target_servers>& targets) {
    std::vector<target_options> out;
    for (const auto& t : targets) {
      target_options o;
      o.name = t.target;
      o.fallback_direct = t.fallback_direct;
      for (const auto& s : t.servers) o.candidates.push_back({s.id, s.load});
      out.push_back(std::move(o));
    }
    return out;
  }

  static time_point now() { return steady_clock_source{}.now(); }

  void shutdown() {
    stopped_ = true;
    prober_.cancel();
    timer_.cancel();
    tun_.cancel();
    for (auto& [c, l] : tunnels_) l.tunnel->close();
    tunnels_.clear();
  }

  void read_tun() {
    if (stopped_) return;
    for (auto& b : batch_) {
      if (b.capacity() != 0) continue;
      auto fresh = pool_.acquire();
      if (!fresh) break;
      b = std::move(*fresh);
    }
    std::size_t ready = 0;
    while (ready < batch_.size() && batch_[ready].capacity() != 0) ++ready;
    if (ready == 0) {  // every buffer is waiting in a queue: try again shortly
      timer_retry_read();
      return;
    }
    tun_.async_read_batch(std::span(batch_).first(ready), [this, alive = alive_](std::error_code ec, std::size_t n) {
      if (!*alive || stopped_ || ec == asio::error::operation_aborted) return;
      if (ec) return;  // the TUN went away: nothing more to read
      const time_point t = now();
      for (std::size_t i = 0; i < n; ++i) {
        ++counters_.tun_read;
        core_.on_tun_packet(std::move(batch_[i]), t, out_);
      }
      process();
      read_tun();
    });
  }

  void timer_retry_read() {
    asio::post(ex_, [this, alive = alive_] {
      if (*alive && !stopped_) read_tun();
    });
  }

  // Carries out what the orchestrator asked for, then re-arms the timer. Re-entrant: a handler
  // (an app's event handler calling stop(), a tunnel failing as it opens) may feed the
  // orchestrator again, into a fresh out_, which the inner call carries out.
  void process() {
    output work;
    std::swap(work, out_);
    // Packets first: what a connect or close changes applies to later packets.
    for (auto& [c, pkt] : work.to_tunnel) {
      auto it = tunnels_.find(c);
      if (it != tunnels_.end() && it->second.tunnel) it->second.tunnel->send(std::move(pkt));
      else ++counters_.tunnel_gone_dropped;
    }
    if (!work.to_tun.empty() && !stopped_) {
      auto written = tun_.device().write_batch(work.to_tun);
      const std::size_t done = written ? *written : 0;
      counters_.tun_written += done;
      counters_.tun_write_dropped += work.to_tun.size() - done;
    }
    for (auto& p : work.direct) {
      if (on_direct_) on_direct_(std::move(p));
      else ++counters_.direct_dropped;
    }
    for (const auto& c : work.closes) tunnels_.erase(c.connection);
    if (!stopped_) {
      for (const auto& p : work.probes) start_probe(p);
      for (const auto& c : work.connects) open_tunnel(c);
    }
    auto alive = alive_;
    for (const auto& e : work.events) {
      if (on_event_) on_event_(e);
      if (!*alive) return;
    }
    if (!out_.empty()) process();
    arm_timer();
  }

  void start_probe(const probe_command& cmd) {
    std::vector<probe::target> targets;
    for (const auto& c : cmd.candidates) {
      auto it = servers_.find({cmd.target, c.server});
      if (it == servers_.end()) continue;
      const auto& cfg = it->second.tunnel;
      targets.push_back({c.server, cfg.server,
                         probe::wireguard_probe{{cfg.private_key, cfg.server_key, cfg.preshared_key}}});
    }
    // One probe round at a time per engine: a second target's round waits for the first.
    pending_probes_.push_back({cmd.target, std::move(targets)});
    if (!probing_) next_probe();
  }

  void next_probe() {
    if (pending_probes_.empty()) {
      probing_ = false;
      return;
    }
    probing_ = true;
    std::string target = std::move(pending_probes_.front().first);
    std::vector<probe::target> targets = std::move(pending_probes_.front().second);
    pending_probes_.erase(pending_probes_.begin());
    prober_.start(std::move(targets), [this, alive = alive_, target](std::vector<probe::probe_result> results) {
      if (!*alive || stopped_) return;
      const time_point t = now();
      std::vector<probe::candidate> cs;
      for (auto& r : results) {
        auto it = servers_.find({target, r.id});
        if (it == servers_.end()) continue;
        last_probe_[it->second.tunnel.server.to_string()] = t;
        cs.push_back({r.id, r.stats, it->second.load});
      }
      core_.on_probe_results(target, cs, t, out_);
      process();
      next_probe();
    });
  }

  void open_tunnel(const connect_command& cmd) {
    auto it = servers_.find({cmd.target, cmd.server});
    if (it == servers_.end()) {
      core_.on_connect_failed(cmd.connection, "unknown server", now(), out_);
      return;
    }
    // Leave the server's replay check a whitening granule past our last probe initiation.
    const std::string endpoint = it->second.tunnel.server.to_string();
    if (auto p = last_probe_.find(endpoint); p != last_probe_.end()) {
      const time_point ready = p->second + probe::wireguard_min_gap;
      if (now() < ready) {
        auto wait = std::make_shared<asio::steady_timer>(ex_, ready);
        wait->async_wait([this, alive = alive_, wait, cmd, endpoint](std::error_code ec) {
          if (ec || !*alive || stopped_) return;
          last_probe_.erase(endpoint);
          open_tunnel(cmd);
          process();
        });
        return;
      }
    }
    wireguard::client_tunnel_config cfg = it->second.tunnel;
    cfg.check_after = options_.check_after;
    cfg.dead_after = options_.dead_after;
    const route::address_pair addresses = it->second.addresses;
    const connection_id c = cmd.connection;
    auto t = wireguard::client_tunnel<Crypto>::open(
        ex_, cfg,
        {.on_packets =
             [this, c](std::span<packet_buffer> ps) {
               const time_point at = now();
               for (auto& p : ps) core_.on_tunnel_packet(c, std::move(p), at, out_);
               process();
             },
         .on_up =
             [this, c, addresses] {
               auto l = tunnels_.find(c);
               if (l == tunnels_.end() || l->second.up) return;
               l->second.up = true;
               core_.on_connected(c, addresses, now(), out_);
               process();
             },
         .on_down =
             [this, alive = alive_, c](std::string reason) {
               if (!*alive) return;
               // Destroying the tunnel from its own handler is allowed; after process() it is gone.
               core_.on_tunnel_lost(c, std::move(reason), now(), out_);
               asio::post(ex_, [this, alive, c] {
                 if (*alive) tunnels_.erase(c);
               });
               process();
             }});
    if (!t) {
      ++counters_.tunnel_open_failed;
      core_.on_connect_failed(c, t.error().message(), now(), out_);
      return;
    }
    tunnels_[c] = live{std::move(*t), cmd.server, false};
  }

  void arm_timer() {
    if (stopped_) return;
    const auto at = core_.next_deadline();
    if (!at) {
      timer_.cancel();
      armed_.reset();
      return;
    }
    if (armed_ && *armed_ == *at) return;
    armed_ = at;
    timer_.expires_at(*at);
    timer_.async_wait([this, alive = alive_](std::error_code ec) {
      if (ec || !*alive || stopped_) return;
      armed_.reset();
      core_.on_timeout(now(), out_);
      process();
    });
  }

  asio::any_io_executor ex_;
  client_engine_options options_;
  buffer::packet_pool pool_{{.initial_blocks = 256, .grow_blocks = 256, .max_blocks = 8192}};
  tun::asio_device<Device> tun_;
  asio::steady_timer timer_;
  std::optional<time_point> armed_;
  probe::prober prober_;
  orchestrator core_;
  // By (target, server id): two providers may use the same ids.
  std::map<std::pair<std::string, std::string>, server_entry> servers_;
  std::unordered_map<connection_id, live> tunnels_;
  std::map<std::string, time_point> last_probe_;  // by the server's endpoint
  std::vector<std::pair<std::string, std::vector<probe::target>>> pending_probes_;
  bool probing_ = false;
  bool started_ = false;
  bool stopped_ = false;
  output out_;
  std::array<packet_buffer, 64> batch_;
  client_engine_counters counters_;
  event_handler on_event_;
  direct_handler on_direct_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace warren::jit
