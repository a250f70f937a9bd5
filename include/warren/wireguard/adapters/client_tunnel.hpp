#pragma once
// client_tunnel: one WireGuard tunnel to one server, with no TUN of its own. A client engine
// (jit/adapters/client_engine.hpp) owns one per live tunnel: it hands in IP packets whose source
// is already the address this server assigned (route's NAT did that) and gets the decrypted
// packets back through a handler, for the router and then the TUN.
//
//   1. open(): binds an unconnected UDP socket of the server's family on any port, sets up a
//      wireguard::engine with the one peer, and starts the handshake at once, so that on_up
//      tells when the tunnel can carry packets (a client wants to know before flushing).
//   2. send(): the engine seals the packet (or stages it until the handshake completes) and
//      the datagram goes out; datagrams from the socket are opened and handed to on_packets.
//   3. One timer serves the engine's deadlines and dead-peer detection. Once up, when packets
//      were sent and nothing at all (data, keepalive, handshake) came back for check_after, the
//      tunnel asks: it starts a handshake, which a live server answers at once. If nothing comes
//      back for dead_after after that initiation left, the server is taken for lost: on_down is
//      called once and the tunnel closes. (Silence alone proves nothing: a flow whose last
//      packet needs no answer, a final ACK, leaves the server quiet until its passive keepalive
//      10 s later, paper §6.5. WireGuard itself waits 15 s before such a handshake; asking
//      sooner costs one handshake per check_after of one-way traffic.)
//
// Handlers run on the executor's thread. They may call send() and close(), and may destroy
// the tunnel only from on_down (after which nothing else is called). Not thread-safe: use it
// from the executor's thread.

#include <warren/buffer/packet_pool.hpp>
#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/crypto/default_backend.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/wireguard/adapters/udp_socket.hpp>
#include <warren/wireguard/endpoint.hpp>
#include <warren/wireguard/engine.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace warren::wireguard {

struct client_tunnel_config {
  crypto::private_key private_key{};
  crypto::public_key server_key{};
  crypto::symmetric_key preshared_key{};  // zeros: none
  wireguard::endpoint server{};
  std::chrono::seconds persistent_keepalive{0};
  std::vector<packet::ip_prefix> allowed_ips{};  // what the server may send us; empty: everything
  std::size_t mtu = 1420;
  // Packets sent and nothing heard for check_after: start a handshake; nothing heard for
  // dead_after after it left: the server is lost (see the file comment).
  duration check_after = std::chrono::seconds(3);
  duration dead_after = std::chrono::seconds(5);
};

struct client_tunnel_handlers {
  std::function<void(std::span<packet_buffer>)> on_packets;  // decrypted, for the TUN side
  std::function<void()> on_up;                               // the first handshake completed
  std::function<void(std::string)> on_down;                  // lost; the tunnel is closed
};

struct client_tunnel_counters {
  std::uint64_t packets_sent = 0, bytes_sent = 0;          // inner packets handed to send()
  std::uint64_t packets_received = 0, bytes_received = 0;  // inner packets handed to on_packets
  std::uint64_t udp_send_dropped = 0;
  std::uint64_t pool_exhausted = 0;
};

template <crypto::backend Crypto = crypto::default_backend>
class client_tunnel {
 public:
  static result<std::unique_ptr<client_tunnel>> open(const asio::any_io_executor& ex, const client_tunnel_config& config,
                                                     client_tunnel_handlers handlers) {
    auto sock = udp_socket::open(ex, config.server.address.is_v6(), 0);
    if (!sock) return unexpected(sock.error());
    std::unique_ptr<client_tunnel> t(new client_tunnel(ex, config, std::move(handlers), std::move(*sock)));
    t->engine_.set_private_key(config.private_key);
    peer_config peer;
    peer.public_key = config.server_key;
    peer.preshared_key = config.preshared_key;
    peer.endpoint = config.server;
    peer.persistent_keepalive = config.persistent_keepalive;
    peer.allowed_ips = config.allowed_ips;
    if (peer.allowed_ips.empty())
      peer.allowed_ips = {*packet::ip_prefix::parse("0.0.0.0/0"), *packet::ip_prefix::parse("::/0")};
    if (auto r = t->engine_.set_peer(peer); !r) return unexpected(r.error());
    if (auto r = t->engine_.initiate_handshake(config.server_key, now(), t->out_); !r) return unexpected(r.error());
    t->flush();
    t->read();
    return t;
  }

  client_tunnel(const client_tunnel&) = delete;
  client_tunnel& operator=(const client_tunnel&) = delete;
  ~client_tunnel() {
    *alive_ = false;
    close();
  }

  // An IP packet for the server. Before the handshake completes the engine holds a bounded
  // number (engine_options::max_staged_packets) and sends them once it does.
  void send(packet_buffer&& pkt) {
    if (closed_) return;
    const time_point t = now();
    counters_.packets_sent += 1;
    counters_.bytes_sent += pkt.size();
    if (!unanswered_since_) unanswered_since_ = t;
    (void)engine_.on_packet(std::move(pkt), t, out_);  // drops are counted by the engine
    flush();
  }

  // Stops everything; no handler is called afterwards.
  void close() {
    if (closed_) return;
    closed_ = true;
    socket_.close();
    timer_.cancel();
  }

  bool up() const noexcept { return up_; }
  bool closed() const noexcept { return closed_; }
  std::uint16_t local_port() const noexcept { return socket_.port(); }
  const client_tunnel_counters& counters() const noexcept { return counters_; }
  const wireguard::engine_counters& engine_stats() const noexcept { return engine_.counters(); }
  const client_tunnel_config& config() const noexcept { return config_; }

 private:
  client_tunnel(const asio::any_io_executor& ex, const client_tunnel_config& config, client_tunnel_handlers handlers,
                udp_socket sock)
      : ex_(ex), config_(config), handlers_(std::move(handlers)),
        engine_(crypto_, {.mtu = config.mtu, .wall_anchor = std::chrono::system_clock::now(), .mono_anchor = now()}),
        socket_(std::move(sock)), timer_(ex) {}

  static time_point now() { return steady_clock_source{}.now(); }

  void read() {
    if (closed_) return;
    if (socket_.has_pending()) {
      asio::post(ex_, [this, alive = alive_] {
        if (!*alive || closed_) return;
        drain();
      });
      return;
    }
    socket_.async_wait_readable([this, alive = alive_](std::error_code ec) {
      if (ec || !*alive || closed_) return;
      drain();
    });
  }

  void drain() {
    std::array<packet_buffer, 32> batch;
    std::array<endpoint, 32> from;
    std::size_t ready = 0;
    for (; ready < batch.size(); ++ready) {
      auto b = pool_.acquire();
      if (!b) {
        ++counters_.pool_exhausted;
        break;
      }
      batch[ready] = std::move(*b);
    }
    auto n = socket_.receive_batch(std::span(batch).first(ready), from);
    if (n && *n > 0) {
      const time_point t = now();
      const auto before = engine_.counters().packets_opened + engine_.counters().handshakes_completed;
      for (std::size_t i = 0; i < *n; ++i) (void)engine_.on_datagram(from[i], std::move(batch[i]), t, out_);
      if (engine_.counters().packets_opened + engine_.counters().handshakes_completed != before) {
        unanswered_since_.reset();  // the server answered
        check_sent_.reset();
      }
      if (!up_ && engine_.counters().handshakes_completed > 0) {
        up_ = true;
        unanswered_since_.reset();
        if (handlers_.on_up) {
          auto alive = alive_;
          handlers_.on_up();
          if (!*alive || closed_) return;
        }
      }
      if (!flush()) return;
    }
    read();
  }

  // Sends what the engine produced and delivers what it opened; false if a handler closed or
  // destroyed the tunnel.
  bool flush() {
    if (!out_.datagrams.empty()) {
      to_send_.clear();
      for (auto& d : out_.datagrams) to_send_.push_back(&d);
      const std::size_t sent = socket_.send_batch(std::span(to_send_));
      counters_.udp_send_dropped += to_send_.size() - sent;
    }
    out_.datagrams.clear();
    if (!out_.packets.empty()) {
      delivering_.swap(out_.packets);
      out_.packets.clear();
      for (const auto& p : delivering_) {
        counters_.packets_received += 1;
        counters_.bytes_received += p.size();
      }
      if (handlers_.on_packets) {
        auto alive = alive_;
        handlers_.on_packets(delivering_);
        if (!*alive) return false;
      }
      delivering_.clear();
      if (closed_) return false;
    }
    arm_timer();
    return true;
  }

  // When the liveness check is due: the handshake to send, or the verdict on one sent.
  std::optional<time_point> check_deadline() const noexcept {
    if (!up_ || !unanswered_since_) return std::nullopt;
    if (check_sent_) return *check_sent_ + config_.dead_after;
    return std::max(*unanswered_since_ + config_.check_after, check_retry_at_);
  }

  void arm_timer() {
    if (closed_) return;
    std::optional<time_point> at = engine_.next_deadline();
    if (const auto check = check_deadline(); check && (!at || *check < *at)) at = check;
    if (!at) {
      timer_.cancel();
      armed_.reset();
      return;
    }
    if (armed_ && *armed_ == *at) return;
    armed_ = at;
    timer_.expires_at(*at);
    timer_.async_wait([this, alive = alive_](std::error_code ec) {
      if (ec || !*alive || closed_) return;
      armed_.reset();
      const time_point t = now();
      if (const auto check = check_deadline(); check && *check <= t) {
        if (check_sent_) {
          lost("no answer from the server for " + describe(t - *unanswered_since_) + ", nor to a handshake");
          return;
        }
        const auto initiated = engine_.counters().handshakes_initiated;
        (void)engine_.initiate_handshake(config_.server_key, t, out_);
        if (engine_.counters().handshakes_initiated != initiated) check_sent_ = t;
        else check_retry_at_ = t + std::chrono::seconds(1);  // a handshake left less than 5 s ago
      }
      engine_.on_timeout(t, out_);
      flush();
    });
  }

  static std::string describe(duration d) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s";
  }

  void lost(std::string reason) {
    close();
    if (handlers_.on_down) handlers_.on_down(std::move(reason));  // may destroy *this: nothing after
  }

  asio::any_io_executor ex_;
  client_tunnel_config config_;
  client_tunnel_handlers handlers_;
  Crypto crypto_;
  // Before the engine: buffers staged inside the engine go back to the pool when it dies.
  buffer::packet_pool pool_{{.initial_blocks = 64, .grow_blocks = 64, .max_blocks = 2048}};
  engine<Crypto> engine_;
  udp_socket socket_;
  asio::steady_timer timer_;
  std::optional<time_point> armed_;
  std::optional<time_point> unanswered_since_;  // the first send since the server was last heard
  std::optional<time_point> check_sent_;        // the liveness handshake, once it left
  time_point check_retry_at_{};
  bool up_ = false;
  bool closed_ = false;
  client_tunnel_counters counters_;
  engine_output out_;
  std::vector<datagram*> to_send_;
  std::vector<packet_buffer> delivering_;
  // Handlers may destroy the tunnel; callbacks check this before touching members.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace warren::wireguard
