#pragma once
// prober: measures many candidate servers at once on an Asio executor, and reports each one's
// samples and their summary (sample_stats) for selection (selection.hpp).
//
//   1. start(targets, on_done, on_each): up to `concurrency` targets begin; the rest wait.
//   2. A running target's sampler (sampler.hpp) says when each sample goes out and when it
//      times out. The prober sends it (a TCP connect, an echo request, a WireGuard
//      initiation: target.hpp), waits on the socket for the reply and on one steady_timer for
//      the sampler's deadline, and tells the sampler what happened, reading the clock for each.
//   3. A target whose samples are all done closes its socket and is reported through on_each;
//      the next waiting target begins. After the last one, on_done gets every result, in the
//      order of the targets.
//
// Sockets: an echo or WireGuard target keeps one connected UDP socket for all its samples
// (connected, so that ICMP errors come back to it and only its server's datagrams reach it);
// a TCP target opens one socket per sample and closes it when connect() returns or the sample
// times out. So at most `concurrency` sockets are open at once (counters() shows it).
//
// Cancellation: cancel(), a new start(), or the destructor closes every socket and timer of
// the run in progress before returning, and no callback of that run is called afterwards, even
// one already queued. Handlers still queued complete with operation_aborted and free what they
// hold, so the io_context must outlive the prober (or be destroyed, which frees them too).
//
// Threads: not thread-safe. Call start() and cancel() from the thread running the executor
// (or before it runs); callbacks run there. An io_context run by several threads needs a
// strand as the executor.

#include <warren/core/clock.hpp>
#include <warren/crypto/default_backend.hpp>
#include <warren/probe/error.hpp>
#include <warren/probe/sample.hpp>
#include <warren/probe/sample_stats.hpp>
#include <warren/probe/sampler.hpp>
#include <warren/probe/target.hpp>
#include <warren/probe/tcp_connect.hpp>
#include <warren/probe/udp_echo.hpp>
#include <warren/probe/wireguard_handshake.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

namespace warren::probe {

struct prober_options {
  std::size_t samples = 5;                              // per target
  duration interval = std::chrono::milliseconds(200);  // from one sample's send to the next
  duration timeout = std::chrono::seconds(1);           // per sample
  std::size_t concurrency = 8;                          // targets (and sockets) at once; 0 is 1
};

struct probe_result {
  std::size_t index = 0;  // into the targets given to start()
  std::string id;
  std::vector<sample> samples;  // in the order they were sent
  sample_stats stats;
};

struct prober_counters {
  std::size_t open_sockets = 0;
  std::size_t peak_open_sockets = 0;  // the most open at once since the prober was made
};

namespace detail {

// Asio reports errno values in its own category; the probe's classification compares with
// std::errc, which only the system and generic categories map.
inline std::error_code from_asio(std::error_code ec) noexcept {
  if (ec && ec.category() == asio::error::get_system_category()) return {ec.value(), std::system_category()};
  return ec;
}

inline asio::ip::address to_asio(const packet::ip_address& a) {
  if (a.is_v4()) {
    asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), a.raw().data(), b.size());
    return asio::ip::address_v4(b);
  }
  asio::ip::address_v6::bytes_type b;
  std::memcpy(b.data(), a.raw().data(), b.size());
  return asio::ip::address_v6(b);
}

inline time_point now() { return steady_clock_source{}.now(); }

class probe_run;

// One target in progress: its sampler, its socket, its timer.
class probe_slot : public std::enable_shared_from_this<probe_slot> {
 public:
  probe_slot(std::shared_ptr<probe_run> run, std::size_t index, const target& t, const prober_options& o,
             const asio::any_io_executor& ex)
      : run_(std::move(run)), index_(index), target_(t),
        sampler_({.count = o.samples, .interval = o.interval, .timeout = o.timeout, .min_gap = min_gap(t.kind)}),
        timer_(ex), ex_(ex) {}

  inline void begin();
  // Closes the socket and stops the timer; nothing of this slot runs afterwards.
  void close_all() {
    finished_ = true;
    close_udp();
    close_tcp();
    timer_.cancel();
  }

 private:
  template <class Kind>
  const Kind* kind() const noexcept {
    return std::get_if<Kind>(&target_.kind);
  }
  inline void step();
  inline void send(std::uint32_t seq);
  inline void send_echo(std::uint32_t seq);
  inline void send_initiation(std::uint32_t seq);
  inline void connect(std::uint32_t seq);
  inline void on_connected(std::uint32_t seq, std::error_code ec);
  inline void receive();
  inline void on_receive(std::error_code ec, std::size_t n);
  inline void finish();
  inline bool open_udp();
  inline void close_udp();
  inline void close_tcp();
  inline void opened();
  inline void closed();

  std::shared_ptr<probe_run> run_;  // first: outlives the WireGuard attempt's hold on its crypto
  std::size_t index_;
  const target& target_;
  sampler sampler_;
  asio::steady_timer timer_;
  asio::any_io_executor ex_;
  std::optional<asio::ip::udp::socket> udp_;
  std::optional<asio::ip::tcp::socket> tcp_;
  std::optional<wireguard_handshake<crypto::default_backend>> attempt_;
  echo_probe echo_;
  std::vector<std::byte> request_;
  std::array<std::byte, 2048> reply_{};  // larger than any reply, so a long one cannot pass as short
  bool finished_ = false;
};

// One start(): the targets, the results so far, the slots running.
class probe_run : public std::enable_shared_from_this<probe_run> {
 public:
  probe_run(const asio::any_io_executor& ex, const prober_options& o, std::vector<target> targets,
            std::function<void(std::vector<probe_result>)> on_done, std::function<void(const probe_result&)> on_each,
            std::shared_ptr<prober_counters> counters)
      : ex_(ex), options_(o), targets_(std::move(targets)), results_(targets_.size()),
        on_done_(std::move(on_done)), on_each_(std::move(on_each)), counters_(std::move(counters)) {
    options_.concurrency = std::max<std::size_t>(options_.concurrency, 1);
  }

  // Starts targets while there is room; reports the end when all have finished.
  void fill() {
    while (!cancelled_ && active_.size() < options_.concurrency && next_ < targets_.size()) {
      auto slot = std::make_shared<probe_slot>(shared_from_this(), next_, targets_[next_], options_, ex_);
      ++next_;
      active_.push_back(slot);
      // Posted: a target that fails at once (a bad size, no IPv6) reports from a handler of
      // its own, never from inside start() or another target's report.
      asio::post(ex_, [slot] { slot->begin(); });
    }
    if (!cancelled_ && !done_ && finished_ == targets_.size()) {
      done_ = true;
      if (on_done_) on_done_(std::move(results_));
    }
  }

  void slot_finished(const std::shared_ptr<probe_slot>& slot, probe_result r) {
    active_.erase(std::remove(active_.begin(), active_.end(), slot), active_.end());
    if (cancelled_) return;
    auto i = r.index;
    results_[i] = std::move(r);
    ++finished_;
    if (on_each_) on_each_(results_[i]);
    if (cancelled_) return;  // on_each cancelled the run (or started another, or destroyed the prober)
    fill();
  }

  void cancel() {
    cancelled_ = true;
    auto active = std::move(active_);
    active_.clear();
    for (auto& s : active) s->close_all();
  }

  bool cancelled() const noexcept { return cancelled_; }
  bool done() const noexcept { return done_; }
  crypto::default_backend& crypto() noexcept { return crypto_; }
  prober_counters& counters() noexcept { return *counters_; }

 private:
  asio::any_io_executor ex_;
  prober_options options_;
  std::vector<target> targets_;
  std::vector<probe_result> results_;
  std::function<void(std::vector<probe_result>)> on_done_;
  std::function<void(const probe_result&)> on_each_;
  std::shared_ptr<prober_counters> counters_;
  crypto::default_backend crypto_;  // echo nonces and WireGuard handshakes; this thread only
  std::vector<std::shared_ptr<probe_slot>> active_;
  std::size_t next_ = 0;
  std::size_t finished_ = 0;
  bool cancelled_ = false;
  bool done_ = false;
};

// --- probe_slot ------------------------------------------------------------------------------

inline void probe_slot::begin() {
  if (run_->cancelled() || finished_) return;
  if (const auto* e = kind<udp_echo_probe>()) {
    echo_.size = e->size;
    if (!echo_.valid_size()) {
      sampler_.abort(make_error_code(errc::bad_target));
      finish();
      return;
    }
    run_->crypto().random(echo_.nonce);
    request_.resize(echo_.size);
  }
  if (!kind<tcp_probe>()) {
    if (!open_udp()) return;
    receive();
  }
  step();
}

// Polls the sampler until nothing is due, then sleeps until its next deadline.
inline void probe_slot::step() {
  if (run_->cancelled() || finished_) return;
  for (;;) {
    auto st = sampler_.poll(now());
    if (st.expired) {
      close_tcp();       // abandons the connect
      attempt_.reset();  // a late response then matches nothing
    }
    if (!st.send) break;
    send(*st.send);
    if (finished_) return;
    if (sampler_.in_flight()) break;  // else the send failed at once: the next may be due
  }
  auto deadline = sampler_.next_deadline();
  if (!deadline) {
    finish();
    return;
  }
  timer_.expires_at(*deadline);  // cancels the previous wait
  timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec) self->step();
  });
}

inline void probe_slot::send(std::uint32_t seq) {
  if (kind<udp_echo_probe>()) send_echo(seq);
  else if (kind<wireguard_probe>()) send_initiation(seq);
  else connect(seq);
}

inline void probe_slot::send_echo(std::uint32_t seq) {
  echo_.write_request(seq, request_);
  sampler_.on_sent(seq, now());
  std::error_code ec;
  udp_->send(asio::buffer(request_), 0, ec);
  if (ec) sampler_.on_failure(seq, classify_socket_error(from_asio(ec)), now());
}

inline void probe_slot::send_initiation(std::uint32_t seq) {
  auto a = wireguard_handshake<crypto::default_backend>::start(run_->crypto(), kind<wireguard_probe>()->keys, now(),
                                                               std::chrono::system_clock::now());
  if (!a) {
    sampler_.abort(a.error());  // the keys will not do better next time
    return;
  }
  attempt_.emplace(std::move(*a));
  sampler_.on_sent(seq, now());  // the X25519 work above is not network time
  std::error_code ec;
  udp_->send(asio::buffer(attempt_->initiation().data(), attempt_->initiation().size()), 0, ec);
  if (ec) sampler_.on_failure(seq, classify_socket_error(from_asio(ec)), now());
}

inline void probe_slot::connect(std::uint32_t seq) {
  asio::ip::tcp::endpoint to(to_asio(target_.address.address), target_.address.port);
  std::error_code ec;
  tcp_.emplace(ex_);
  tcp_->open(to.protocol(), ec);
  if (ec) {
    tcp_.reset();
    sampler_.on_failure(seq, classify_socket_error(from_asio(ec)), now());
    return;
  }
  opened();
  sampler_.on_sent(seq, now());
  tcp_->async_connect(to, [self = shared_from_this(), seq](std::error_code e) { self->on_connected(seq, e); });
}

inline void probe_slot::on_connected(std::uint32_t seq, std::error_code ec) {
  if (run_->cancelled() || finished_) return;
  if (sampler_.in_flight() != seq) return;  // it timed out, and its socket was closed then
  auto t = now();
  close_tcp();
  auto outcome = classify_connect(from_asio(ec), *kind<tcp_probe>());
  if (outcome.measured) sampler_.on_reply(seq, t, outcome.error);
  else sampler_.on_failure(seq, outcome.error, t);
  step();
}

inline void probe_slot::receive() {
  udp_->async_receive(asio::buffer(reply_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
    self->on_receive(ec, n);
  });
}

inline void probe_slot::on_receive(std::error_code ec, std::size_t n) {
  if (run_->cancelled() || finished_ || ec == asio::error::operation_aborted) return;
  auto t = now();  // before any check: verifying a WireGuard response is not network time
  if (ec) {
    // ICMP errors reach a connected UDP socket once each, on the next receive: they end the
    // sample in flight. Anything else will not go away by waiting.
    auto why = classify_socket_error(from_asio(ec));
    if (why != errc::refused && why != errc::unreachable) {
      sampler_.abort(why);
      finish();
      return;
    }
    if (auto seq = sampler_.in_flight()) sampler_.on_failure(*seq, why, t);
  } else {
    byte_view d(reply_.data(), n);
    if (kind<udp_echo_probe>()) {
      if (auto seq = echo_.match_reply(d)) sampler_.on_reply(*seq, t);
    } else if (attempt_ && sampler_.in_flight()) {
      if (attempt_->on_datagram(d, t)) sampler_.on_reply(*sampler_.in_flight(), t);
    }
  }
  step();
  if (!finished_) receive();
}

inline void probe_slot::finish() {
  if (finished_) return;
  close_all();
  probe_result r;
  r.index = index_;
  r.id = target_.id;
  r.samples = sampler_.take_samples();
  r.stats = summarize(r.samples);
  run_->slot_finished(shared_from_this(), std::move(r));
}

inline bool probe_slot::open_udp() {
  asio::ip::udp::endpoint to(to_asio(target_.address.address), target_.address.port);
  std::error_code ec;
  udp_.emplace(ex_);
  udp_->open(to.protocol(), ec);
  if (!ec) opened();
  if (!ec) udp_->non_blocking(true, ec);  // a full send buffer loses the sample, never blocks
  if (!ec) udp_->connect(to, ec);
  if (ec) {
    sampler_.abort(classify_socket_error(from_asio(ec)));
    finish();
    return false;
  }
  return true;
}

inline void probe_slot::close_udp() {
  if (!udp_) return;
  std::error_code ignored;
  if (udp_->is_open()) {
    udp_->close(ignored);
    closed();
  }
  udp_.reset();
}

inline void probe_slot::close_tcp() {
  if (!tcp_) return;
  std::error_code ignored;
  if (tcp_->is_open()) {
    tcp_->close(ignored);
    closed();
  }
  tcp_.reset();
}

inline void probe_slot::opened() {
  auto& c = run_->counters();
  ++c.open_sockets;
  c.peak_open_sockets = std::max(c.peak_open_sockets, c.open_sockets);
}
inline void probe_slot::closed() { --run_->counters().open_sockets; }

}  // namespace detail

class prober {
 public:
  using done_handler = std::function<void(std::vector<probe_result>)>;
  using each_handler = std::function<void(const probe_result&)>;

  explicit prober(asio::any_io_executor ex, prober_options options = {})
      : ex_(std::move(ex)), options_(options), counters_(std::make_shared<prober_counters>()) {}
  prober(const prober&) = delete;
  prober& operator=(const prober&) = delete;
  ~prober() { cancel(); }

  // Probes `targets` (any run in progress is cancelled first). on_each, if given, gets each
  // target's result as it finishes; on_done gets all of them, in target order, after the last.
  // Neither is called from inside start().
  void start(std::vector<target> targets, done_handler on_done, each_handler on_each = {}) {
    cancel();
    run_ = std::make_shared<detail::probe_run>(ex_, options_, std::move(targets), std::move(on_done),
                                               std::move(on_each), counters_);
    asio::post(ex_, [run = run_] {
      if (!run->cancelled()) run->fill();
    });
  }

  // Closes every socket and timer of the run in progress; none of its callbacks runs after.
  void cancel() {
    if (run_) run_->cancel();
    run_.reset();
  }

  bool running() const noexcept { return run_ && !run_->cancelled() && !run_->done(); }
  prober_counters counters() const noexcept { return *counters_; }
  const prober_options& options() const noexcept { return options_; }

 private:
  asio::any_io_executor ex_;
  prober_options options_;
  std::shared_ptr<prober_counters> counters_;
  std::shared_ptr<detail::probe_run> run_;
};

}  // namespace warren::probe
