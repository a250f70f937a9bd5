#pragma once
// wireguard::device: a WireGuard interface an app embeds in a few lines. It owns a Linux TUN,
// a UDP socket per address family, a timer and the sans-IO engine, and drives the engine from
// an Asio io_context:
//
//   1. TUN readable  -> read_batch into pooled buffers -> engine.on_packet for each
//   2. UDP readable  -> recvmmsg into pooled buffers   -> engine.on_datagram for each
//   (the TUN uses offloads where the kernel has them: TCP arrives as 64 KiB super-packets cut
//   into segments, and decrypted segments are coalesced back on the way in; the UDP sockets
//   send runs of datagrams to one peer as one segmented send. See tun/offload_device.hpp and
//   udp_socket.hpp.)
//   3. timer expired -> engine.on_timeout
//   after each: datagrams out with sendmmsg, packets into the TUN with write_batch, and the
//   timer re-armed to engine.next_deadline().
//
// Configuration uses the UAPI data model (uapi::set_request / device_state), so a UAPI socket
// (adapters/uapi_server.hpp) and `wg` drive it unchanged. Packets that find the TUN or a socket
// full are dropped and counted, as a NIC would.
//
// Threads: everything runs on the io_context's thread; call get()/set() from handlers on it
// (the UAPI server does). The io_context must outlive the device. Only the crypto of a batch
// goes to helper threads (device_options::crypto_helpers), which the device owns and joins.

#include <warren/buffer/packet_pool.hpp>
#include <warren/core/clock.hpp>
#include <warren/crypto/default_backend.hpp>
#include <warren/tun/adapters/asio_device.hpp>
#include <warren/tun/linux_tun.hpp>
#include <warren/tun/offload_device.hpp>
#include <warren/wireguard/adapters/crypto_workers.hpp>
#include <warren/wireguard/adapters/udp_socket.hpp>
#include <warren/wireguard/engine.hpp>
#include <warren/wireguard/uapi.hpp>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace warren::wireguard {

struct device_options {
  std::string name;               // interface name; "" lets the kernel pick
  std::size_t mtu = 1420;
  bool attach_existing = false;   // open a persistent TUN made beforehand
  // The TUN's queue towards us. 2000 measured: at the kernel's 500 a single TCP stream through
  // the tunnel lost thousands of packets in 4 s to overflow (bench/wireguard/iperf.sh), none here.
  std::size_t tx_queue_length = 2000;
  // TUN offloads (IFF_VNET_HDR with TSO, and coalesced writes). Falls back to plain packets on
  // a kernel that refuses them.
  bool offload = true;
  // Threads that seal and open beside the device's own (crypto_workers.hpp). Empty: none on
  // fewer than 4 cores, else half the cores, at most 3. Helpers take cores from the programs whose
  // traffic the tunnel carries and from the kernel's network stack: on 2 cores, with both ends
  // and iperf3 on one machine, one helper cost a quarter of TCP throughput
  // (bench/wireguard/iperf.sh), while with cores to spare one helper runs the crypto of a batch
  // 1.5x as fast (wireguard/engine/fast/batch in bench/).
  std::optional<std::size_t> crypto_helpers{};
};

struct device_counters {
  std::uint64_t tun_write_dropped = 0;   // packets the TUN had no room for
  std::uint64_t udp_send_dropped = 0;    // datagrams the socket had no room for
  std::uint64_t pool_exhausted = 0;      // reads skipped: every buffer in flight
  tun::offload_counters tun{};           // segments read, coalesced writes (offload_device)
};

template <crypto::backend Crypto = crypto::default_backend>
class device {
 public:
  static result<std::unique_ptr<device>> open(asio::io_context& io, const device_options& options) {
    tun::linux_tun_options tun_options{.name = options.name, .mtu = options.mtu,
                                       .tx_queue_length = options.tx_queue_length,
                                       .attach_existing = options.attach_existing,
                                       .offload = options.offload};
    auto tun = tun::linux_tun::open(tun_options);
    if (!tun && options.offload && tun.error() != tun::errc::exists && tun.error() != tun::errc::permission_denied) {
      tun_options.offload = false;  // an old kernel, or a persistent TUN made without
      tun = tun::linux_tun::open(tun_options);
    }
    if (!tun) return unexpected(tun.error());
    std::unique_ptr<device> d(new device(io, options, std::move(*tun)));
    bool offloads = d->tun_.offload();
    auto dev = tun::asio_device<tun::offload_device>::create(
        io.get_executor(), tun::offload_device(std::move(d->tun_.queue(0)), offloads));
    if (!dev) return unexpected(dev.error());
    d->tun_dev_.emplace(std::move(*dev));
    if (auto r = d->bind(0); !r) return unexpected(r.error());
    d->read_tun();
    return d;
  }

  device(const device&) = delete;
  device& operator=(const device&) = delete;
  ~device() { close(); }

  const std::string& name() const noexcept { return tun_.name(); }
  unsigned ifindex() const noexcept { return tun_.ifindex(); }
  std::uint16_t listen_port() const noexcept { return port_; }
  engine<Crypto>& core() noexcept { return engine_; }
  device_counters counters() const noexcept {
    auto c = counters_;
    if (tun_dev_) c.tun = tun_dev_->device().counters();
    return c;
  }
  // Threads that seal and open beside the device's own (device_options::crypto_helpers).
  std::size_t crypto_helpers() const noexcept { return workers_.helpers(); }
  // Whether the TUN runs with offloads (see device_options::offload).
  bool offload() const noexcept { return tun_dev_ && tun_dev_->device().offloads(); }

  // Called once if the TUN fails for good, typically because its interface was deleted
  // (`ip link delete`, as wg-quick down does): a daemon then exits, as wireguard-go does.
  void on_tun_closed(std::function<void(std::error_code)> f) { on_tun_closed_ = std::move(f); }

  // Stops reading and closes sockets; the TUN goes away with the device.
  void close() {
    closed_ = true;
    if (tun_dev_) tun_dev_->cancel();
    if (v4_) v4_->close();
    if (v6_) v6_->close();
    timer_.cancel();
  }

  uapi::device_state get() const {
    uapi::device_state s;
    if (engine_.identity()) s.private_key = engine_.identity()->private_key;
    s.listen_port = port_;
    s.fwmark = fwmark_;
    for (const auto& key : engine_.peers()) {
      auto st = engine_.status(key);
      if (!st) continue;
      uapi::peer_state p;
      p.public_key = key;
      if (!st->preshared_key.is_zero()) p.preshared_key = st->preshared_key;
      if (st->endpoint) p.endpoint = uapi::endpoint{st->endpoint->address, st->endpoint->port};
      p.persistent_keepalive_interval = static_cast<std::uint16_t>(st->persistent_keepalive.count());
      if (st->last_handshake)
        p.last_handshake_time = std::chrono::time_point_cast<std::chrono::nanoseconds>(*st->last_handshake);
      p.rx_bytes = st->rx_bytes;
      p.tx_bytes = st->tx_bytes;
      p.allowed_ips = st->allowed_ips;
      s.peers.push_back(std::move(p));
    }
    return s;
  }

  // Applies a UAPI set. The request was fully parsed and checked before, so every field is
  // applied; a socket that cannot bind the new port keeps the old one and reports the error.
  result<void> set(const uapi::set_request& req) {
    if (req.private_key) {
      if (req.private_key->is_zero()) engine_.clear_private_key();
      else engine_.set_private_key(*req.private_key);
    }
    if (req.listen_port && *req.listen_port != port_) {
      if (auto r = bind(*req.listen_port); !r) return r;
    }
    if (req.fwmark) {
      fwmark_ = *req.fwmark;
      for (auto* s : {&v4_, &v6_})
        if (*s) (void)(*s)->set_fwmark(fwmark_);
    }
    if (req.replace_peers) engine_.remove_all_peers();
    for (const auto& change : req.peers) {
      if (change.remove) {
        engine_.remove_peer(change.public_key);
        continue;
      }
      if (change.update_only && !engine_.has_peer(change.public_key)) continue;
      peer_update u;
      u.preshared_key = change.preshared_key;
      if (change.endpoint) u.endpoint = unmap(endpoint{change.endpoint->address, change.endpoint->port});
      if (change.persistent_keepalive_interval)
        u.persistent_keepalive = std::chrono::seconds(*change.persistent_keepalive_interval);
      u.replace_allowed_ips = change.replace_allowed_ips;
      u.allowed_ips = change.allowed_ips;
      if (auto r = engine_.update_peer(change.public_key, u); !r) return r;
    }
    engine_.on_timeout(now(), out_);  // e.g. a persistent keepalive set just now
    flush(out_);
    return {};
  }

 private:
  device(asio::io_context& io, const device_options& options, tun::linux_tun tun)
      : io_(io), engine_(crypto_, {.mtu = options.mtu,
                                   .wall_anchor = std::chrono::system_clock::now(),
                                   .mono_anchor = steady_clock_source{}.now()}),
        tun_(std::move(tun)), timer_(io), workers_(helpers_for(options)) {}

  static std::size_t helpers_for(const device_options& options) {
    if (options.crypto_helpers) return *options.crypto_helpers;
    unsigned cores = std::thread::hardware_concurrency();
    return cores >= 4 ? std::min<std::size_t>(cores / 2, 3) : 0;
  }

  auto crypto_runner() {
    return [this](std::span<crypto_job> jobs) { workers_.run(jobs, crypto_); };
  }

  static time_point now() { return steady_clock_source{}.now(); }

  // An IPv4-mapped IPv6 endpoint goes out on the IPv4 socket.
  static endpoint unmap(endpoint e) {
    if (e.address.is_v6()) {
      const auto& a = e.address.raw();
      bool mapped = std::all_of(a.begin(), a.begin() + 10, [](auto b) { return b == 0; }) && a[10] == 0xff && a[11] == 0xff;
      if (mapped) e.address = packet::ipv4_address{{a[12], a[13], a[14], a[15]}};
    }
    return e;
  }

  result<void> bind(std::uint16_t port) {
    auto v4 = udp_socket::open(io_.get_executor(), false, port);
    if (!v4) return unexpected(v4.error());
    auto chosen = v4->port();
    auto v6 = udp_socket::open(io_.get_executor(), true, chosen);
    if (v4_) v4_->close();
    if (v6_) v6_->close();
    v4_.emplace(std::move(*v4));
    if (v6) v6_.emplace(std::move(*v6));
    else v6_.reset();  // no IPv6 on this host: IPv4 alone
    port_ = chosen;
    if (fwmark_)
      for (auto* s : {&v4_, &v6_})
        if (*s) (void)(*s)->set_fwmark(fwmark_);
    ++socket_generation_;
    read_udp(*v4_, socket_generation_);
    if (v6_) read_udp(*v6_, socket_generation_);
    return {};
  }

  void read_tun() {
    if (closed_) return;
    for (auto& b : tun_batch_)
      if (b.capacity() == 0) {
        auto fresh = pool_.acquire();
        if (!fresh) {
          ++counters_.pool_exhausted;
          break;
        }
        b = std::move(*fresh);
      }
    std::size_t ready = 0;
    while (ready < tun_batch_.size() && tun_batch_[ready].capacity() != 0) ++ready;
    if (ready == 0) {  // every buffer is in flight: try again once some came back
      asio::post(io_, [this] { read_tun(); });
      return;
    }
    tun_dev_->async_read_batch(std::span(tun_batch_).first(ready), [this](std::error_code ec, std::size_t n) {
      if (closed_ || ec == asio::error::operation_aborted) return;
      if (ec) {
        if (on_tun_closed_) on_tun_closed_(ec);
        return;
      }
      engine_.on_packets(std::span(tun_batch_).first(n), now(), out_, crypto_runner());
      flush(out_);
      read_tun();
    });
  }

  void read_udp(udp_socket& sock, unsigned generation) {
    if (sock.has_pending()) {  // datagrams read together last time: no readiness will come
      asio::post(io_, [this, &sock, generation] {
        if (!closed_ && generation == socket_generation_) drain_udp(sock, generation);
      });
      return;
    }
    sock.async_wait_readable([this, &sock, generation](std::error_code ec) {
      if (ec || closed_ || generation != socket_generation_) return;
      drain_udp(sock, generation);
    });
  }

  // A few batches per wakeup: a wait costs a trip through the reactor, and under load the
  // socket is rarely empty. Bounded, so the TUN and the timer get their turn.
  void drain_udp(udp_socket& sock, unsigned generation) {
    for (int round = 0; round < 4; ++round) {
      std::array<packet_buffer, udp_socket::max_batch> batch;
      std::array<endpoint, udp_socket::max_batch> from;
      std::size_t ready = 0;
      for (; ready < batch.size(); ++ready) {
        auto b = pool_.acquire();
        if (!b) break;
        batch[ready] = std::move(*b);
      }
      auto n = sock.receive_batch(std::span(batch).first(ready), from);
      if (!n || *n == 0) break;
      engine_.on_datagrams(std::span(batch).first(*n), std::span<const endpoint>(from).first(*n), now(), out_,
                           crypto_runner());
      flush(out_);
      if (*n < ready && !sock.has_pending()) break;
    }
    read_udp(sock, generation);
  }

  void flush(engine_output& out) {
    if (!out.datagrams.empty()) {
      // Members, so that the datapath keeps their capacity instead of allocating per batch.
      auto& v4 = to_v4_;
      auto& v6 = to_v6_;
      v4.clear();
      v6.clear();
      for (auto& d : out.datagrams) (d.to.address.is_v4() ? v4 : v6).push_back(&d);
      auto send = [&](std::optional<udp_socket>& s, std::vector<datagram*>& list) {
        if (list.empty()) return;
        std::size_t sent = s ? s->send_batch(std::span(list)) : 0;
        counters_.udp_send_dropped += list.size() - sent;
      };
      send(v4_, v4);
      send(v6_, v6);
    }
    if (!out.packets.empty()) {
      auto written = tun_dev_->device().write_batch(out.packets);
      std::size_t done = written ? *written : 0;
      counters_.tun_write_dropped += out.packets.size() - done;
    }
    out.clear();
    arm_timer();
  }

  void arm_timer() {
    if (closed_) return;
    auto deadline = engine_.next_deadline();
    if (!deadline) {
      timer_.cancel();
      armed_.reset();
      return;
    }
    if (armed_ && *armed_ == *deadline) return;
    armed_ = deadline;
    timer_.expires_at(*deadline);
    timer_.async_wait([this](std::error_code ec) {
      if (ec || closed_) return;
      armed_.reset();
      engine_.on_timeout(now(), out_);
      flush(out_);
    });
  }

  asio::io_context& io_;
  Crypto crypto_;
  // Before the engine: buffers staged inside the engine go back to the pool when it dies.
  buffer::packet_pool pool_{{.initial_blocks = 512, .grow_blocks = 512, .max_blocks = 8192}};
  engine<Crypto> engine_;
  tun::linux_tun tun_;
  std::optional<tun::asio_device<tun::offload_device>> tun_dev_;
  std::optional<udp_socket> v4_, v6_;
  asio::steady_timer timer_;
  std::optional<time_point> armed_;
  // Room for a 64 KiB TCP super-packet's segments and then some.
  std::array<packet_buffer, 128> tun_batch_;
  std::uint16_t port_ = 0;
  std::uint32_t fwmark_ = 0;
  unsigned socket_generation_ = 0;
  bool closed_ = false;
  device_counters counters_;
  std::function<void(std::error_code)> on_tun_closed_;
  // Reused for every event: the datapath keeps the vectors' capacity (flush() clears them).
  engine_output out_;
  // Last: its threads stop before anything they could touch goes.
  crypto_workers<Crypto> workers_;
  std::vector<datagram*> to_v4_, to_v6_;
};

}  // namespace warren::wireguard
