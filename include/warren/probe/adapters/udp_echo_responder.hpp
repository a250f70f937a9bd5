#pragma once
// udp_echo_responder: the server end of the UDP echo probe on Asio. It binds a UDP socket,
// hands each datagram to the sans-IO echo_responder (echo_responder.hpp), and sends back what
// that turned into a reply. Bind [::] to answer IPv4 and IPv6 clients on one socket (Linux maps
// IPv4 onto it unless net.ipv6.bindv6only is set), or open one per address.
//
// Ownership: owns the socket; the destructor (or close()) closes it, after which nothing of
// the responder runs. Movable; a moved-from responder may only be destroyed or assigned to. Threads: one thread at a time, the one running the executor.

#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/probe/echo_responder.hpp>
#include <warren/probe/error.hpp>
#include <warren/probe/udp_echo.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/ip/udp.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>

namespace warren::probe {

struct udp_echo_responder_counters {
  echo_responder_counters echo;
  std::uint64_t send_failed = 0;  // replies the socket would not take (buffer full): dropped
};

class udp_echo_responder {
 public:
  // Binds to `local` (port 0: the kernel picks one) and starts answering.
  static result<udp_echo_responder> open(const asio::any_io_executor& ex, const asio::ip::udp::endpoint& local,
                                         echo_responder_options options = {}) {
    auto st = std::make_shared<state>(ex, options);
    std::error_code ec;
    st->socket.open(local.protocol(), ec);
    if (!ec) st->socket.bind(local, ec);
    if (!ec) st->socket.non_blocking(true, ec);  // a reply the kernel has no room for is dropped
    if (ec) return unexpected(std::error_code(ec.value(), std::system_category()));
    receive(st);
    return udp_echo_responder(std::move(st));
  }

  udp_echo_responder(udp_echo_responder&&) noexcept = default;
  udp_echo_responder& operator=(udp_echo_responder&& o) noexcept {
    if (this != &o) {
      close();
      state_ = std::move(o.state_);
    }
    return *this;
  }
  ~udp_echo_responder() { close(); }

  std::uint16_t port() const {
    std::error_code ec;
    auto ep = state_->socket.local_endpoint(ec);
    return ec ? 0 : ep.port();
  }
  udp_echo_responder_counters counters() const noexcept {
    return {state_->core.counters(), state_->send_failed};
  }
  void close() {
    if (!state_ || state_->closed) return;
    state_->closed = true;
    std::error_code ignored;
    state_->socket.close(ignored);
  }

 private:
  // Shared with the pending receive, which may complete after the responder is gone.
  struct state {
    state(const asio::any_io_executor& ex, const echo_responder_options& o) : socket(ex), core(o) {}
    asio::ip::udp::socket socket;
    echo_responder core;
    // One byte more than the largest request, so an oversized datagram is seen as such.
    std::array<std::byte, echo_max_size + 1> buffer{};
    asio::ip::udp::endpoint from;
    std::uint64_t send_failed = 0;
    bool closed = false;
  };

  explicit udp_echo_responder(std::shared_ptr<state> st) : state_(std::move(st)) {}

  static void receive(const std::shared_ptr<state>& st) {
    st->socket.async_receive_from(asio::buffer(st->buffer), st->from, [st](std::error_code ec, std::size_t n) {
      if (st->closed || ec == asio::error::operation_aborted) return;
      if (!ec) {
        mutable_byte_view d(st->buffer.data(), n);
        if (st->core.on_datagram(d, steady_clock_source{}.now())) {
          std::error_code send_ec;
          st->socket.send_to(asio::buffer(d.data(), d.size()), st->from, 0, send_ec);
          if (send_ec) ++st->send_failed;
        }
      }
      // An ICMP error for an earlier reply concerns that datagram only: keep serving. Anything
      // else would come back on every receive.
      if (ec) {
        auto why = classify_socket_error(std::error_code(ec.value(), std::system_category()));
        if (why != errc::refused && why != errc::unreachable) return;
      }
      receive(st);
    });
  }

  std::shared_ptr<state> state_;
};

}  // namespace warren::probe
