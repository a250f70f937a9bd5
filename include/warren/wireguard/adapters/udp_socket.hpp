#pragma once
// udp_socket: a non-blocking UDP socket of one address family that moves datagrams in
// batches (recvmmsg/sendmmsg: one system call for up to a batch), watched by Asio for
// readability. The WireGuard device opens one for IPv4 and one for IPv6 on the same port, as
// wireguard-go does.
//
// Ownership: owns its descriptor. Threads: one thread at a time.

#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/wireguard/endpoint.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/ip/udp.hpp>
#include <asio/ip/v6_only.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <span>
#include <system_error>

namespace warren::wireguard {

class udp_socket {
 public:
  static constexpr std::size_t max_batch = 64;

  // Binds to `port` (0: the kernel picks one) on every address of the family. IPv6 sockets are
  // IPv6-only, so the IPv4 socket can share the port.
  static result<udp_socket> open(const asio::any_io_executor& ex, bool v6, std::uint16_t port) {
    udp_socket s(ex);
    s.v6_ = v6;
    std::error_code ec;
    s.socket_.open(v6 ? asio::ip::udp::v6() : asio::ip::udp::v4(), ec);
    if (ec) return unexpected(std::error_code(ec.value(), std::system_category()));
    if (v6) s.socket_.set_option(asio::ip::v6_only(true), ec);
    if (!ec) s.socket_.bind(asio::ip::udp::endpoint(v6 ? asio::ip::udp::v6() : asio::ip::udp::v4(), port), ec);
    if (!ec) s.socket_.non_blocking(true, ec);
    // Asio reports errno values in its own category; UAPI replies and callers expect the
    // system one (EADDRINUSE must compare equal to std::errc::address_in_use).
    if (ec) return unexpected(std::error_code(ec.value(), std::system_category()));
    int size = 4 << 20;  // room for bursts between two reads
    ::setsockopt(s.socket_.native_handle(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    ::setsockopt(s.socket_.native_handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return s;
  }

  std::uint16_t port() const {
    std::error_code ec;
    auto ep = socket_.local_endpoint(ec);
    return ec ? 0 : ep.port();
  }
  bool is_v6() const { return v6_; }
  int native_handle() { return socket_.native_handle(); }

  result<void> set_fwmark(std::uint32_t mark) {
    if (::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
      return unexpected(std::error_code(errno, std::system_category()));
    return {};
  }

  // Receives up to buffers.size() datagrams without blocking; from[i] is the sender of
  // buffers[i]. Returns how many arrived (0: none waiting).
  result<std::size_t> receive_batch(std::span<packet_buffer> buffers, std::span<endpoint> from) {
    std::size_t n = std::min({buffers.size(), from.size(), max_batch});
    std::array<mmsghdr, max_batch> msgs{};
    std::array<iovec, max_batch> iov{};
    std::array<sockaddr_storage, max_batch> addrs{};
    for (std::size_t i = 0; i < n; ++i) {
      buffers[i].reset(buffers[i].headroom());
      auto space = buffers[i].tail_space();
      iov[i] = {space.data(), space.size()};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
    }
    int got = ::recvmmsg(socket_.native_handle(), msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
      return unexpected(std::error_code(errno, std::system_category()));
    }
    for (int i = 0; i < got; ++i) {
      auto k = static_cast<std::size_t>(i);
      (void)buffers[k].commit(msgs[k].msg_len);
      from[k] = to_endpoint(addrs[k]);
    }
    return static_cast<std::size_t>(got);
  }

  // Sends datagrams to their endpoints without blocking; returns how many the kernel took.
  template <class Datagram>
  std::size_t send_batch(std::span<Datagram*> datagrams) {
    std::size_t sent = 0;
    while (sent < datagrams.size()) {
      std::size_t n = std::min(datagrams.size() - sent, max_batch);
      std::array<mmsghdr, max_batch> msgs{};
      std::array<iovec, max_batch> iov{};
      std::array<sockaddr_storage, max_batch> addrs{};
      for (std::size_t i = 0; i < n; ++i) {
        auto& d = *datagrams[sent + i];
        iov[i] = {d.bytes.data(), d.bytes.size()};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = to_sockaddr(d.to, addrs[i]);
      }
      int done = ::sendmmsg(socket_.native_handle(), msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT);
      if (done < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;  // full: the caller drops the rest
        ++sent;  // the kernel refused this one (unreachable, too big): skip it
        continue;
      }
      if (done == 0) break;
      sent += static_cast<std::size_t>(done);
    }
    return sent;
  }

  template <class Handler>
  void async_wait_readable(Handler&& h) {
    socket_.async_wait(asio::ip::udp::socket::wait_read, std::forward<Handler>(h));
  }
  void close() {
    std::error_code ignored;
    socket_.close(ignored);
  }

  static endpoint to_endpoint(const sockaddr_storage& ss) noexcept {
    if (ss.ss_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
      return {packet::ipv4_address::from_bytes(reinterpret_cast<const std::byte*>(&sin->sin_addr)), ntohs(sin->sin_port)};
    }
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    return {packet::ipv6_address::from_bytes(reinterpret_cast<const std::byte*>(&sin6->sin6_addr)), ntohs(sin6->sin6_port)};
  }
  static socklen_t to_sockaddr(const endpoint& e, sockaddr_storage& ss) noexcept {
    std::memset(&ss, 0, sizeof ss);
    if (e.address.is_v4()) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(e.port);
      std::memcpy(&sin->sin_addr, e.address.bytes().data(), 4);
      return sizeof *sin;
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(e.port);
    std::memcpy(&sin6->sin6_addr, e.address.bytes().data(), 16);
    return sizeof *sin6;
  }

 private:
  explicit udp_socket(const asio::any_io_executor& ex) : socket_(ex) {}
  asio::ip::udp::socket socket_;
  bool v6_ = false;
};

}  // namespace warren::wireguard
