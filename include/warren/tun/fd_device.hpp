#pragma once
// fd_device: a packet_device over a file descriptor that carries one IP packet per read() and
// write(). This is what a mobile OS hands a VPN app instead of letting it open /dev/net/tun:
// Android's VpnService.Builder.establish() gives a ParcelFileDescriptor (pass detachFd() to
// adopt), and on iOS/macOS the utun socket behind NEPacketTunnelFlow carries the same packets
// behind a 4-byte address-family header (framing::utun). linux_tun hands out one per queue.
//
// Ownership: adopt() takes the descriptor and closes it on destruction (and on failure);
// borrow() leaves it open, for a descriptor whose owner closes it (the OS, a Java object).
// Both set O_NONBLOCK on it, which affects every holder of the same open file. Move-only.
// Threads: one thread at a time (see packet_device). A default-constructed or moved-from device
// has no descriptor: native_handle() is -1 and every call fails with errc::closed.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/error.hpp>
#include <warren/tun/error.hpp>
#include <warren/tun/packet_device.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <utility>

namespace warren::tun {

class fd_device {
 public:
  enum class framing {
    raw,   // each read/write is exactly one IP packet (Linux TUN with IFF_NO_PI, Android)
    utun,  // each IP packet follows a 4-byte big-endian address family (Darwin utun, iOS)
  };

  // Takes ownership of `fd`: it is closed when the device is destroyed, or at once if this fails.
  static result<fd_device> adopt(int fd, std::size_t mtu, framing f = framing::raw) {
    return make(fd, mtu, f, true);
  }
  // Uses `fd` without owning it: the caller keeps it open for the device's lifetime and closes it.
  static result<fd_device> borrow(int fd, std::size_t mtu, framing f = framing::raw) {
    return make(fd, mtu, f, false);
  }

  fd_device() noexcept = default;
  fd_device(fd_device&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)), mtu_(o.mtu_), framing_(o.framing_), owns_(o.owns_),
        is_socket_(o.is_socket_), dropped_(o.dropped_) {}
  fd_device& operator=(fd_device&& o) noexcept {
    if (this != &o) {
      close();
      fd_ = std::exchange(o.fd_, -1);
      mtu_ = o.mtu_;
      framing_ = o.framing_;
      owns_ = o.owns_;
      is_socket_ = o.is_socket_;
      dropped_ = o.dropped_;
    }
    return *this;
  }
  fd_device(const fd_device&) = delete;
  fd_device& operator=(const fd_device&) = delete;
  ~fd_device() { close(); }

  result<std::size_t> read_batch(std::span<packet_buffer> batch) {
    if (fd_ < 0) return unexpected(make_error_code(errc::closed));
    std::size_t filled = 0;
    while (filled < batch.size()) {
      packet_buffer& b = batch[filled];
      b.reset(b.headroom());
      mutable_byte_view space = b.tail_space();
      if (space.size() < mtu_) return stop(filled, make_error_code(errc::buffer_too_small));
      std::array<std::byte, 4> family;
      std::array<iovec, 2> iov{};
      std::size_t n_iov = 0;
      if (framing_ == framing::utun) iov[n_iov++] = {family.data(), family.size()};
      iov[n_iov++] = {space.data(), space.size()};
      bool truncated = false;
      ssize_t n;
      if (is_socket_) {
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = static_cast<decltype(msg.msg_iovlen)>(n_iov);
        n = ::recvmsg(fd_, &msg, 0);
        truncated = n >= 0 && (msg.msg_flags & MSG_TRUNC) != 0;
      } else {
        n = ::readv(fd_, iov.data(), static_cast<int>(n_iov));
      }
      if (n < 0) {
        int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) return filled;
        return stop(filled, from_errno(e));
      }
      // A packet is never empty, so 0 bytes is end-of-file: the peer or the device is gone.
      if (n == 0) return stop(filled, make_error_code(errc::closed));
      auto got = static_cast<std::size_t>(n);
      std::size_t header = framing_ == framing::utun ? family.size() : 0;
      // A cut-off packet is useless and the utun header is mandatory: drop and count, don't
      // fail the batch for one bad packet.
      if (truncated || got <= header) {
        ++dropped_;
        continue;
      }
      (void)b.commit(got - header);  // fits: readv wrote it into the tail space
      ++filled;
    }
    return filled;
  }

  result<std::size_t> write_batch(std::span<packet_buffer> batch) {
    if (fd_ < 0) return unexpected(make_error_code(errc::closed));
    std::size_t taken = 0;
    while (taken < batch.size()) {
      byte_view bytes = batch[taken].bytes();
      if (bytes.size() > mtu_) return stop(taken, make_error_code(errc::packet_too_large));
      std::array<std::byte, 4> family{};
      std::array<iovec, 2> iov{};
      std::size_t n_iov = 0;
      if (framing_ == framing::utun) {
        auto af = utun_family(bytes);
        if (!af) return stop(taken, af.error());
        store_be32(family.data(), *af);
        iov[n_iov++] = {family.data(), family.size()};
      }
      // iovec is shared by readv and writev, so it holds a non-const pointer; nothing writes it.
      iov[n_iov++] = {const_cast<std::byte*>(bytes.data()), bytes.size()};
      ssize_t n;
      if (is_socket_) {
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = static_cast<decltype(msg.msg_iovlen)>(n_iov);
        n = ::sendmsg(fd_, &msg, no_sigpipe);
      } else {
        n = ::writev(fd_, iov.data(), static_cast<int>(n_iov));
      }
      if (n < 0) {
        int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) return taken;
        return stop(taken, from_errno(e));
      }
      ++taken;
    }
    return taken;
  }

  std::size_t mtu() const noexcept { return mtu_; }
  int native_handle() const noexcept { return fd_; }
  bool owns_handle() const noexcept { return owns_; }
  // Packets read and thrown away: cut off by a buffer too small for them, or shorter than the
  // utun header.
  std::uint64_t dropped() const noexcept { return dropped_; }

  // The error a read or write that failed with errno `e` reports (shared with offload_device).
  static std::error_code from_errno(int e) noexcept {
    switch (e) {
      case EPIPE:
      case ECONNRESET:
      case ENOTCONN:
#ifdef EBADFD
      case EBADFD:  // Linux TUN: the queue was detached or the device deleted
#endif
        return make_error_code(errc::closed);
      case EMSGSIZE: return make_error_code(errc::packet_too_large);
      default: return {e, std::system_category()};
    }
  }

  // Gives the descriptor back without closing it; the device is left empty.
  int release() noexcept {
    owns_ = false;
    return std::exchange(fd_, -1);
  }
  // Closes the descriptor if owned; either way the device is left empty.
  void close() noexcept {
    int fd = std::exchange(fd_, -1);
    if (fd >= 0 && owns_) ::close(fd);
  }

 private:
#ifdef MSG_NOSIGNAL
  // A write to a socket whose peer is gone would raise SIGPIPE and kill the process.
  static constexpr int no_sigpipe = MSG_NOSIGNAL;
#else
  static constexpr int no_sigpipe = 0;  // Darwin: SO_NOSIGPIPE is set on the socket instead
#endif

  static result<fd_device> make(int fd, std::size_t mtu, framing f, bool owns) {
    fd_device d;
    d.fd_ = fd;
    d.owns_ = owns && fd >= 0;
    d.mtu_ = mtu;
    d.framing_ = f;
    // From here on, returning an error destroys `d`, which closes an adopted fd.
    if (fd < 0 || mtu == 0) return unexpected(make_error_code(errc::invalid_options));
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) return unexpected(from_errno(errno));
    if ((flags & O_NONBLOCK) == 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
      return unexpected(from_errno(errno));
    struct stat st {};
    if (::fstat(fd, &st) < 0) return unexpected(from_errno(errno));
    d.is_socket_ = S_ISSOCK(st.st_mode);
#if defined(SO_NOSIGPIPE) && !defined(MSG_NOSIGNAL)
    if (d.is_socket_) {
      int on = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
    }
#endif
    return d;
  }

  // Darwin's AF_INET and AF_INET6 (<sys/socket.h> there), whatever this platform calls them.
  static result<std::uint32_t> utun_family(byte_view packet) noexcept {
    if (packet.empty()) return unexpected(make_error_code(packet::errc::truncated));
    switch (load_u8(packet.data()) >> 4) {
      case 4: return 2u;
      case 6: return 30u;
      default: return unexpected(make_error_code(packet::errc::bad_version));
    }
  }

  // The contract's error rule: report what was done; the error comes back on the next call.
  static result<std::size_t> stop(std::size_t done, std::error_code ec) {
    if (done > 0) return done;
    return unexpected(ec);
  }

  int fd_ = -1;
  std::size_t mtu_ = 0;
  framing framing_ = framing::raw;
  bool owns_ = false;
  bool is_socket_ = false;
  std::uint64_t dropped_ = 0;
};

static_assert(packet_device<fd_device>);
static_assert(pollable_device<fd_device>);

}  // namespace warren::tun
