#pragma once
// linux_tun: a Linux TUN interface from /dev/net/tun, as one fd_device per queue. Layer 3 only
// (IFF_TUN) and without the packet-information prefix (IFF_NO_PI), so every read and write is
// one bare IP packet. With queues > 1 the interface is multi-queue (IFF_MULTI_QUEUE): the kernel
// spreads flows over the queues by hash, and each queue is served by its own thread.
//
// Ownership: a linux_tun owns its queues' descriptors. The interface lives as long as one of
// them is open, unless it was made persistent beforehand (ip tuntap add ..., then open it with
// attach_existing). Giving it addresses, routes and the up state is netlink's job
// (warren/tun/netlink.hpp). Threads: each queue on one thread at a time; the linux_tun itself is
// a plain value. A default-constructed linux_tun has no queues.
//
// Needs CAP_NET_ADMIN in the network namespace's user namespace (errc::permission_denied).

#include <warren/core/expected.hpp>
#include <warren/tun/detail/linux/tun_ioctl.hpp>
#include <warren/tun/error.hpp>
#include <warren/tun/fd_device.hpp>

#include <net/if.h>

#include <cerrno>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace warren::tun {

struct linux_tun_options {
  // Empty: the kernel picks the first free "tunN". May hold one "%d", which the kernel replaces
  // by the first free number ("wrn%d" gives "wrn0", then "wrn1").
  std::string name{};
  // 1: a single-queue interface; up to 256 (the kernel's MAX_TAP_QUEUES) for multi-queue.
  std::size_t queues = 1;
  // Applied at once (SIOCSIFMTU). 1420 is WireGuard's default: 1500 less the outer IPv6, UDP and
  // WireGuard headers. 0 keeps what the interface has (1500 for a new one).
  std::size_t mtu = 1420;
  // Packets the kernel may queue for us to read (the interface's txqueuelen); 0 keeps the
  // kernel's 500. A reader that handles packets in batches wants more: a TCP burst that
  // arrives while a batch is being processed overflows 500 and the sender sees losses.
  std::size_t tx_queue_length = 0;
  // Open an interface that already exists (a persistent TUN made with ip tuntap) instead of
  // failing with errc::exists. Creates it if it does not exist.
  bool attach_existing = false;
  // Offloads (IFF_VNET_HDR): every read and write carries a virtio_net_hdr, reads may be TCP
  // super-packets of up to 64 KiB and writes may coalesce segments. Serve such queues through
  // tun::offload_device (offload_device.hpp), never as plain fd_devices. Costs nothing per packet
  // and saves most of the kernel's per-packet work on TCP: what wireguard-go does since 2023.
  bool offload = false;
  // Where the clone device is; some systems put it at /dev/tun.
  std::string device_path = "/dev/net/tun";
};

class linux_tun {
 public:
  static constexpr std::size_t max_queues = 256;

  static result<linux_tun> open(const linux_tun_options& options = {}) {
    if (options.queues == 0 || options.queues > max_queues)
      return unexpected(make_error_code(errc::invalid_options));
    if (auto ec = detail::check_interface_name(options.name)) return unexpected(ec);
    bool has_pattern = options.name.find('%') != std::string::npos;
    // Checked before the kernel, which would also refuse (IFF_TUN_EXCL), so that the common case
    // gets its error without touching /dev/net/tun.
    if (!options.attach_existing && !options.name.empty() && !has_pattern &&
        ::if_nametoindex(options.name.c_str()) != 0)
      return unexpected(make_error_code(errc::exists));

    bool multi_queue = options.queues > 1;
    std::string name = options.name;
    std::vector<detail::unique_fd> fds;
    fds.reserve(options.queues);
    for (std::size_t i = 0; i < options.queues; ++i) {
      // Only the first queue creates; the others attach to the name it got.
      auto fd = detail::open_tun_queue(options.device_path, name, multi_queue,
                                       i == 0 && !options.attach_existing, options.offload);
      if (!fd) return unexpected(fd.error());
      if (options.offload)
        if (auto ec = detail::ioctl_enable_offloads(fd->get())) return unexpected(ec);
      fds.push_back(std::move(*fd));
    }

    linux_tun tun;
    tun.name_ = std::move(name);
    tun.offload_ = options.offload;
    if (options.mtu != 0) {
      if (auto ec = detail::ioctl_set_mtu(tun.name_, options.mtu)) return unexpected(ec);
      tun.mtu_ = options.mtu;
    } else {
      auto mtu = detail::ioctl_get_mtu(tun.name_);
      if (!mtu) return unexpected(mtu.error());
      tun.mtu_ = *mtu;
    }
    if (options.tx_queue_length != 0)
      if (auto ec = detail::ioctl_set_tx_queue_length(tun.name_, options.tx_queue_length)) return unexpected(ec);
    tun.ifindex_ = ::if_nametoindex(tun.name_.c_str());
    if (tun.ifindex_ == 0) return unexpected(detail::errno_code(errno));

    tun.queues_.reserve(fds.size());
    for (auto& fd : fds) {
      auto device = fd_device::adopt(fd.release(), tun.mtu_);
      if (!device) return unexpected(device.error());
      tun.queues_.push_back(std::move(*device));
    }
    return tun;
  }

  linux_tun() = default;

  // The interface's name as the kernel has it (the pattern resolved).
  const std::string& name() const noexcept { return name_; }
  unsigned ifindex() const noexcept { return ifindex_; }
  // The MTU the interface was given, which each queue's mtu() reports. Changing the interface's
  // MTU later (netlink::set_mtu) does not change it: reopen, or size buffers for the larger one.
  std::size_t mtu() const noexcept { return mtu_; }
  // Opened with offloads: wrap each queue in an offload_device.
  bool offload() const noexcept { return offload_; }
  // One device per queue; move one out to hand it to its thread.
  std::span<fd_device> queues() noexcept { return queues_; }
  fd_device& queue(std::size_t i) noexcept { return queues_[i]; }

 private:
  std::string name_;
  unsigned ifindex_ = 0;
  std::size_t mtu_ = 0;
  bool offload_ = false;
  std::vector<fd_device> queues_;
};

}  // namespace warren::tun
