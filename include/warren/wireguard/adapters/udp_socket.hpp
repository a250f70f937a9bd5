#pragma once
// udp_socket: a non-blocking UDP socket of one address family that moves datagrams in
// batches (recvmmsg/sendmmsg: one system call for up to a batch), watched by Asio for
// readability. The WireGuard device opens one for IPv4 and one for IPv6 on the same port, as
// wireguard-go does.
//
// Where the kernel has them (Linux 4.18 and 5.0 on), it uses UDP segmentation offload both ways:
//   send (UDP_SEGMENT)  a run of datagrams to one endpoint, all of one size but the last, goes
//                       down the stack as one buffer the kernel (or the NIC) cuts: one trip
//                       through routing and netfilter for up to 64 datagrams;
//   receive (UDP_GRO)   the kernel may hand over up to 64 KiB of datagrams of one sender as one;
//                       they are read into scratch buffers and copied out one per buffer, so the
//                       caller still sees one datagram per buffer.
// A kernel that refuses segmentation (EIO: no checksum offload on the route's device) turns it
// off for the socket; a run whose datagrams exceed the path's MTU (EINVAL) goes one by one,
// so the kernel can fragment them as it would without segmentation.
//
// Ownership: owns its descriptor. Threads: one thread at a time.

#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/wireguard/endpoint.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/ip/udp.hpp>
#include <asio/ip/v6_only.hpp>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <span>
#include <system_error>
#include <vector>

namespace warren::wireguard {

class udp_socket {
 public:
  static constexpr std::size_t max_batch = 64;
  static constexpr std::size_t max_segments = 64;  // per UDP_SEGMENT send (older kernels' limit)
  // Reads per receive call with UDP_GRO, each of up to 64 KiB. Datagrams a peer sent without
  // segmentation arrive one per read, so this is also the batch size for them: 8 halved the
  // small-packet rate against 64. 32 reads are 2 MiB, allocated on the first receive.
  static constexpr std::size_t gro_slots = 32;
  static constexpr std::size_t gro_slot_size = 65536;
  static_assert(gro_slots <= max_batch, "the control buffers are shared with sends");

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
#ifdef UDP_GRO
    int on = 1;
    if (::setsockopt(s.socket_.native_handle(), SOL_UDP, UDP_GRO, &on, sizeof on) == 0) s.enable_gro();
#endif
#ifdef UDP_SEGMENT
    s.gso_ = true;
#endif
    return s;
  }

  std::uint16_t port() const {
    std::error_code ec;
    auto ep = socket_.local_endpoint(ec);
    return ec ? 0 : ep.port();
  }
  bool is_v6() const { return v6_; }
  bool gso() const noexcept { return gso_; }
  bool gro() const noexcept { return gro_enabled_; }
  // Datagrams received together but not yet handed out: call receive_batch again before
  // waiting for readability, which will not come for them.
  bool has_pending() const noexcept { return gro_next_ < gro_count_; }
  int native_handle() { return socket_.native_handle(); }

  result<void> set_fwmark(std::uint32_t mark) {
    if (::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
      return unexpected(std::error_code(errno, std::system_category()));
    return {};
  }

  // Receives up to buffers.size() datagrams without blocking; from[i] is the sender of
  // buffers[i]. Returns how many arrived (0: none waiting).
  result<std::size_t> receive_batch(std::span<packet_buffer> buffers, std::span<endpoint> from) {
    if (gro_enabled_) return receive_gro(buffers, from);
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
    std::size_t singles = 0;  // datagrams to send one by one: a run the kernel would not segment
    while (sent < datagrams.size()) {
      // Up to max_batch messages; with GSO each carries a run of datagrams to one endpoint.
      std::size_t messages = 0;
      std::size_t iovs = 0;
      std::size_t at = sent;
      while (at < datagrams.size() && messages < max_batch) {
        std::size_t run = gso_ && at >= sent + singles ? run_length(datagrams.subspan(at)) : 1;
        auto& msg = msgs_[messages];
        msg = {};
        for (std::size_t k = 0; k < run; ++k) {
          auto& d = *datagrams[at + k];
          iov_[iovs + k] = {d.bytes.data(), d.bytes.size()};
        }
        msg.msg_hdr.msg_iov = &iov_[iovs];
        msg.msg_hdr.msg_iovlen = run;
        msg.msg_hdr.msg_name = &addrs_[messages];
        msg.msg_hdr.msg_namelen = to_sockaddr(datagrams[at]->to, addrs_[messages]);
        if (run > 1) set_segment_size(msg.msg_hdr, messages, datagrams[at]->bytes.size());
        runs_[messages] = run;
        iovs += run;
        at += run;
        ++messages;
      }
      int done = ::sendmmsg(socket_.native_handle(), msgs_.data(), static_cast<unsigned>(messages), MSG_DONTWAIT);
      if (done < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) break;  // full: the caller drops the rest
        if (e == EINTR) continue;
        if (runs_[0] > 1 && (e == EIO || e == EINVAL || e == EMSGSIZE)) {
          // EIO: the route's device cannot segment at all, so stop asking. EINVAL/EMSGSIZE: these
          // segments are larger than the path's MTU, which the kernel fragments only one by one.
          if (e == EIO) gso_ = false;
          singles = runs_[0];
          continue;
        }
        sent += runs_[0];  // the kernel refused this one (unreachable, too big): skip it
        singles = singles > runs_[0] ? singles - runs_[0] : 0;
        continue;
      }
      if (done == 0) break;
      for (int m = 0; m < done; ++m) {
        std::size_t n = runs_[static_cast<std::size_t>(m)];
        sent += n;
        singles = singles > n ? singles - n : 0;
      }
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
  explicit udp_socket(const asio::any_io_executor& ex)
      : socket_(ex), msgs_(max_batch), iov_(max_batch * max_segments), addrs_(max_batch),
        runs_(max_batch), control_(max_batch * control_size) {}

  static constexpr std::size_t control_size = CMSG_SPACE(sizeof(std::uint16_t)) > CMSG_SPACE(sizeof(int))
                                                  ? CMSG_SPACE(sizeof(std::uint16_t))
                                                  : CMSG_SPACE(sizeof(int));

  // How many datagrams from the front go as one segmented send: same endpoint, all the size of
  // the first but the last, which may be shorter; at most 64 KiB in all.
  template <class Datagram>
  static std::size_t run_length(std::span<Datagram*> ds) noexcept {
    std::size_t size = ds[0]->bytes.size();
    std::size_t total = size;
    std::size_t n = 1;
    while (n < ds.size() && n < max_segments) {
      std::size_t next = ds[n]->bytes.size();
      if (!(ds[n]->to == ds[0]->to) || next > size || next == 0 || total + next > 65000) break;
      total += next;
      ++n;
      if (next < size) break;
    }
    return n;
  }

  void set_segment_size(msghdr& msg, std::size_t slot, std::size_t size) noexcept {
#ifdef UDP_SEGMENT
    std::byte* control = control_.data() + slot * control_size;
    std::memset(control, 0, control_size);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(std::uint16_t));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    auto v = static_cast<std::uint16_t>(size);
    std::memcpy(CMSG_DATA(c), &v, sizeof v);
#else
    (void)msg, (void)slot, (void)size;
#endif
  }

  void enable_gro() {
    gro_enabled_ = true;
    gro_len_.resize(gro_slots);
    gro_size_.resize(gro_slots);
    gro_from_.resize(gro_slots);
  }

  // Hands out what the last recvmmsg brought, and reads more once it is all out.
  result<std::size_t> receive_gro(std::span<packet_buffer> buffers, std::span<endpoint> from) {
    std::size_t n = std::min(buffers.size(), from.size());
    std::size_t filled = 0;
    while (filled < n) {
      if (gro_next_ == gro_count_) {
        if (filled > 0) break;  // one system call per receive_batch at most
        auto got = read_gro();
        if (!got) return unexpected(got.error());
        if (*got == 0) break;
        continue;
      }
      // Slot gro_next_, from offset gro_offset_: its next datagram.
      std::size_t len = gro_len_[gro_next_];
      std::size_t seg = gro_size_[gro_next_] ? gro_size_[gro_next_] : len;
      std::size_t take = std::min(seg, len - gro_offset_);
      auto& b = buffers[filled];
      b.reset(b.headroom());
      auto room = b.append(take);
      if (room) {
        std::memcpy(room->data(), gro_.data() + gro_next_ * gro_slot_size + gro_offset_, take);
        from[filled] = gro_from_[gro_next_];
        ++filled;
      }  // else: larger than the caller's buffers: dropped, as a too-small recv buffer would
      gro_offset_ += take;
      if (gro_offset_ >= len) {
        ++gro_next_;
        gro_offset_ = 0;
      }
    }
    return filled;
  }

  result<std::size_t> read_gro() {
    if (gro_.empty()) gro_.resize(gro_slots * gro_slot_size);
    std::array<mmsghdr, gro_slots> msgs{};
    std::array<iovec, gro_slots> iov{};
    std::array<sockaddr_storage, gro_slots> addrs{};
    for (std::size_t i = 0; i < gro_slots; ++i) {
      iov[i] = {gro_.data() + i * gro_slot_size, gro_slot_size};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
      msgs[i].msg_hdr.msg_control = control_.data() + i * control_size;
      msgs[i].msg_hdr.msg_controllen = control_size;
    }
    gro_next_ = gro_count_ = gro_offset_ = 0;
    int got = ::recvmmsg(socket_.native_handle(), msgs.data(), gro_slots, MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
      return unexpected(std::error_code(errno, std::system_category()));
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(got); ++i) {
      gro_len_[i] = msgs[i].msg_len;
      gro_size_[i] = 0;
      gro_from_[i] = to_endpoint(addrs[i]);
#ifdef UDP_GRO
      for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
          int size = 0;
          std::memcpy(&size, CMSG_DATA(c), sizeof size);
          if (size > 0) gro_size_[i] = static_cast<std::size_t>(size);
        }
#endif
    }
    gro_count_ = static_cast<std::size_t>(got);
    return gro_count_;
  }

  asio::ip::udp::socket socket_;
  bool v6_ = false;
  bool gso_ = false;
  bool gro_enabled_ = false;
  // Send scratch, kept to avoid allocating per batch.
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  std::vector<sockaddr_storage> addrs_;
  std::vector<std::size_t> runs_;  // datagrams per message
  std::vector<std::byte> control_;
  // UDP_GRO receive slots: data, length, segment size (0: one datagram), sender.
  std::vector<std::byte> gro_;
  std::vector<std::size_t> gro_len_, gro_size_;
  std::vector<endpoint> gro_from_;
  std::size_t gro_count_ = 0, gro_next_ = 0, gro_offset_ = 0;
};

}  // namespace warren::wireguard
