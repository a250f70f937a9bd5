#pragma once
// The ioctls behind linux_tun: create or attach one queue of a TUN (TUNSETIFF) and set an
// interface's MTU (SIOCSIFMTU). Plain ioctls keep linux_tun free of netlink; address and route
// set-up, which need netlink, are in warren/tun/netlink.hpp.

#include <warren/core/expected.hpp>
#include <warren/tun/error.hpp>

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

// Namespace detail, not detail::linux: GNU modes predefine `linux` as a macro.
namespace warren::tun::detail {

inline std::error_code errno_code(int e) noexcept { return {e, std::system_category()}; }

// The kernel's dev_valid_name() and dev_alloc_name() rules, checked here so that a bad name gets
// a clear error instead of the kernel's EINVAL. Empty is fine: the kernel then picks "tun%d".
inline std::error_code check_interface_name(std::string_view name) noexcept {
  if (name.size() >= IFNAMSIZ) return make_error_code(errc::name_too_long);
  if (name == "." || name == "..") return make_error_code(errc::name_invalid);
  for (char c : name) {
    if (c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r') || c == '\0')
      return make_error_code(errc::name_invalid);
  }
  if (auto pct = name.find('%'); pct != std::string_view::npos) {
    // One "%d", which the kernel replaces by the first free number.
    if (pct + 1 >= name.size() || name[pct + 1] != 'd' ||
        name.find('%', pct + 1) != std::string_view::npos)
      return make_error_code(errc::name_invalid);
  }
  return {};
}

// An owned descriptor until handed on; closes what it holds.
class unique_fd {
 public:
  explicit unique_fd(int fd = -1) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  int release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Opens one queue. `exclusive` makes the kernel refuse a name that exists (IFF_TUN_EXCL), which
// closes the race between our if_nametoindex check and the ioctl. On success `name` becomes the
// interface's real name (with "%d" replaced).
inline result<unique_fd> open_tun_queue(const std::string& device_path, std::string& name,
                                    bool multi_queue, bool exclusive, bool vnet_header = false) {
  unique_fd fd(::open(device_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    int e = errno;
    if (e == ENOENT || e == ENXIO || e == ENODEV) return unexpected(make_error_code(errc::no_tun_device));
    if (e == EPERM || e == EACCES) return unexpected(make_error_code(errc::permission_denied));
    return unexpected(errno_code(e));
  }
  ifreq ifr{};
  int flags = IFF_TUN | IFF_NO_PI;
  if (multi_queue) flags |= IFF_MULTI_QUEUE;
  if (exclusive) flags |= IFF_TUN_EXCL;
  if (vnet_header) flags |= IFF_VNET_HDR;
  ifr.ifr_flags = static_cast<short>(flags);
  std::memcpy(ifr.ifr_name, name.data(), name.size());  // size < IFNAMSIZ: checked by check_name
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
    switch (int e = errno) {
      case EPERM:
      case EACCES: return unexpected(make_error_code(errc::permission_denied));
      // With IFF_TUN_EXCL, EBUSY means the name is taken; without it, a single-queue device
      // that another descriptor holds.
      case EBUSY: return unexpected(make_error_code(exclusive ? errc::exists : errc::busy));
      // The name belongs to a non-TUN interface, or to a TUN of the other queue mode.
      case EINVAL: return unexpected(make_error_code(errc::not_compatible));
      default: return unexpected(errno_code(e));
    }
  }
  name.assign(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ));
  return fd;
}

inline std::error_code ioctl_set_mtu(const std::string& name, std::size_t mtu) {
  unique_fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return errno_code(errno);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_mtu = static_cast<int>(mtu);
  if (::ioctl(sock.get(), SIOCSIFMTU, &ifr) < 0) {
    int e = errno;
    if (e == EINVAL) return make_error_code(errc::invalid_options);  // outside the device's range
    if (e == EPERM || e == EACCES) return make_error_code(errc::permission_denied);
    return errno_code(e);
  }
  return {};
}

// The length of the queue the kernel keeps in front of the TUN (packets waiting for read()).
inline std::error_code ioctl_set_tx_queue_length(const std::string& name, std::size_t packets) {
  unique_fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return errno_code(errno);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_qlen = static_cast<int>(packets);
  if (::ioctl(sock.get(), SIOCSIFTXQLEN, &ifr) < 0) {
    int e = errno;
    if (e == EPERM || e == EACCES) return make_error_code(errc::permission_denied);
    return errno_code(e);
  }
  return {};
}

inline result<std::size_t> ioctl_get_mtu(const std::string& name) {
  unique_fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return unexpected(errno_code(errno));
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (::ioctl(sock.get(), SIOCGIFMTU, &ifr) < 0) return unexpected(errno_code(errno));
  return static_cast<std::size_t>(ifr.ifr_mtu);
}

// Turns on the offloads behind tun::offload_device for a queue opened with IFF_VNET_HDR: a
// 10-byte little-endian virtio_net_hdr on every packet, and TCP segmentation (with ECN) and
// checksums left to us, so the kernel hands over 64 KiB TCP super-packets.
inline std::error_code ioctl_enable_offloads(int fd) {
  int size = 10;
  if (::ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) return errno_code(errno);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
  int le = 1;  // little-endian hosts have it already; kernels without TUNSETVNETLE refuse here
  if (::ioctl(fd, TUNSETVNETLE, &le) < 0) return errno_code(errno);
#endif
  unsigned long offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
  if (::ioctl(fd, TUNSETOFFLOAD, offloads) < 0) return errno_code(errno);
  return {};
}

}  // namespace warren::tun::detail
