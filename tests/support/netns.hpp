#pragma once
// Test support for tests that change interfaces: a private network namespace per test case,
// kernel-side checks of what an interface looks like (ioctls and getifaddrs, independent of the
// netlink code under test), readiness waits with a deadline, and a forked child for checks that
// drop privileges.
//
// Each test case that needs a namespace calls enter_new_netns() first. ctest runs every Catch2
// test case in its own process, so the anonymous namespace (and every interface in it) goes away
// with the process, even when the test fails half-way. Nothing here touches the namespace the
// test started in, and enter_new_netns() refuses to go on if it could not leave it.

#include <netlink/attr.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

namespace warren::test {

namespace detail {
inline std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

inline ino_t netns_inode() {
  struct stat st {};
  if (::stat("/proc/thread-self/ns/net", &st) != 0) return 0;
  return st.st_ino;
}

// A datagram socket for interface ioctls, closed on scope exit.
struct ioctl_socket {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ioctl_socket() = default;
  ioctl_socket(const ioctl_socket&) = delete;
  ioctl_socket& operator=(const ioctl_socket&) = delete;
  ~ioctl_socket() {
    if (fd >= 0) ::close(fd);
  }
};

inline bool fill_name(ifreq& ifr, const std::string& name) {
  if (name.size() >= IFNAMSIZ) return false;
  std::memcpy(ifr.ifr_name, name.c_str(), name.size() + 1);
  return true;
}
}  // namespace detail

// Moves the calling thread into a new, empty network namespace and brings its loopback up.
// Returns "" on success, else what failed (and then the caller must not go on: it may still be
// in the original namespace).
inline std::string enter_new_netns() {
  ino_t before = detail::netns_inode();
  if (before == 0) return detail::errno_text("stat /proc/thread-self/ns/net");
  if (::unshare(CLONE_NEWNET) != 0) return detail::errno_text("unshare(CLONE_NEWNET)");
  if (detail::netns_inode() == before) return "unshare(CLONE_NEWNET) left the namespace unchanged";
  detail::ioctl_socket s;
  if (s.fd < 0) return detail::errno_text("socket");
  ifreq ifr{};
  detail::fill_name(ifr, "lo");
  if (::ioctl(s.fd, SIOCGIFFLAGS, &ifr) != 0) return detail::errno_text("SIOCGIFFLAGS lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s.fd, SIOCSIFFLAGS, &ifr) != 0) return detail::errno_text("SIOCSIFFLAGS lo");
  return {};
}

// The interface's MTU as the kernel reports it (SIOCGIFMTU), or -1.
inline int interface_mtu(const std::string& name) {
  detail::ioctl_socket s;
  ifreq ifr{};
  if (s.fd < 0 || !detail::fill_name(ifr, name) || ::ioctl(s.fd, SIOCGIFMTU, &ifr) != 0) return -1;
  return ifr.ifr_mtu;
}

// The interface's flags (IFF_UP, ...) as the kernel reports them (SIOCGIFFLAGS), or -1.
inline int interface_flags(const std::string& name) {
  detail::ioctl_socket s;
  ifreq ifr{};
  if (s.fd < 0 || !detail::fill_name(ifr, name) || ::ioctl(s.fd, SIOCGIFFLAGS, &ifr) != 0) return -1;
  return static_cast<unsigned short>(ifr.ifr_flags);
}

// True if getifaddrs lists `address` (text, either family) on interface `name` with a netmask of
// `prefix_length` bits.
inline bool has_address(const std::string& name, const std::string& address, unsigned prefix_length) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* a = list; a && !found; a = a->ifa_next) {
    if (!a->ifa_addr || name != a->ifa_name) continue;
    char text[INET6_ADDRSTRLEN] = {};
    unsigned bits = 0;
    if (a->ifa_addr->sa_family == AF_INET) {
      sockaddr_in sin{};
      std::memcpy(&sin, a->ifa_addr, sizeof sin);
      ::inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
      if (a->ifa_netmask) {
        sockaddr_in mask{};
        std::memcpy(&mask, a->ifa_netmask, sizeof mask);
        bits = static_cast<unsigned>(std::popcount(mask.sin_addr.s_addr));
      }
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      sockaddr_in6 sin6{};
      std::memcpy(&sin6, a->ifa_addr, sizeof sin6);
      ::inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof text);
      if (a->ifa_netmask) {
        sockaddr_in6 mask{};
        std::memcpy(&mask, a->ifa_netmask, sizeof mask);
        for (unsigned char byte : mask.sin6_addr.s6_addr) bits += static_cast<unsigned>(std::popcount(byte));
      }
    } else {
      continue;
    }
    found = address == text && bits == prefix_length;
  }
  ::freeifaddrs(list);
  return found;
}

// The flags byte /proc/net/if_inet6 shows for IPv6 `address` on interface `name` (IFA_F_NODAD
// 0x02, IFA_F_TENTATIVE 0x40, IFA_F_PERMANENT 0x80), or -1 if it is not there.
inline int ipv6_address_flags(const std::string& name, const std::string& address) {
  std::array<unsigned char, 16> want{};
  if (::inet_pton(AF_INET6, address.c_str(), want.data()) != 1) return -1;
  char hex[33];
  for (std::size_t i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", want[i]);
  std::FILE* f = std::fopen("/proc/net/if_inet6", "r");
  if (!f) return -1;
  int result = -1;
  char addr[33], ifname[IFNAMSIZ + 1];
  unsigned index = 0, length = 0, scope = 0, flags = 0;
  while (std::fscanf(f, "%32s %x %x %x %x %16s", addr, &index, &length, &scope, &flags, ifname) == 6) {
    if (name == ifname && std::strcmp(addr, hex) == 0) result = static_cast<int>(flags);
  }
  std::fclose(f);
  return result;
}

// Waits until `fd` has any of `events`, or a hang-up or error that the next read or write will
// report; false on timeout.
inline bool wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  int ms = timeout.count() < 0 ? 0 : static_cast<int>(timeout.count());
  return ::poll(&p, 1, ms) == 1 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
}
inline bool wait_readable(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
  return wait_for(fd, POLLIN, timeout);
}

// Waits for the kernel to install the local route of an IPv6 address (type RTN_LOCAL, /128).
// The kernel adds an IPv6 address's local route from a work queue a moment after the address is
// added or the interface comes up, even with IFA_F_NODAD; until then packets to the address are
// dropped (Ip6InAddrErrors). Construct the watch before the change that triggers the route, so
// its notification cannot be missed.
class local_route_watch {
 public:
  local_route_watch() {
    sock_ = nl_socket_alloc();
    if (!sock_) return;
    nl_socket_disable_seq_check(sock_);
    nl_socket_modify_cb(sock_, NL_CB_VALID, NL_CB_CUSTOM, &local_route_watch::on_message, this);
    if (nl_connect(sock_, NETLINK_ROUTE) < 0 || nl_socket_add_membership(sock_, RTNLGRP_IPV6_ROUTE) < 0 ||
        nl_socket_set_nonblocking(sock_) < 0) {
      nl_socket_free(sock_);
      sock_ = nullptr;
    }
  }
  local_route_watch(const local_route_watch&) = delete;
  local_route_watch& operator=(const local_route_watch&) = delete;
  ~local_route_watch() {
    if (sock_) nl_socket_free(sock_);
  }

  // True once a notification for `address`'s local route has arrived; false on timeout.
  bool wait(const std::string& address, std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
    if (!sock_ || ::inet_pton(AF_INET6, address.c_str(), want_.data()) != 1) return false;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!seen_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !wait_for(nl_socket_get_fd(sock_), POLLIN, left)) return false;
      nl_recvmsgs_default(sock_);
    }
    return true;
  }

 private:
  static int on_message(nl_msg* msg, void* arg) {
    auto* self = static_cast<local_route_watch*>(arg);
    nlmsghdr* hdr = nlmsg_hdr(msg);
    if (hdr->nlmsg_type != RTM_NEWROUTE) return NL_OK;
    const auto* rtm = static_cast<const rtmsg*>(nlmsg_data(hdr));
    if (rtm->rtm_family != AF_INET6 || rtm->rtm_type != RTN_LOCAL || rtm->rtm_dst_len != 128) return NL_OK;
    nlattr* dst = nlmsg_find_attr(hdr, sizeof(rtmsg), RTA_DST);
    if (dst && nla_len(dst) == 16 && std::memcmp(nla_data(dst), self->want_.data(), 16) == 0) self->seen_ = true;
    return NL_OK;
  }

  nl_sock* sock_ = nullptr;
  std::array<unsigned char, 16> want_{};
  bool seen_ = false;
};

// Runs `body` in a forked child and returns what it returned, or a description of how the child
// failed. The child never returns into the test framework: it _exit()s. Bounded by `timeout`.
inline std::string run_in_child(const std::function<std::string()>& body,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return detail::errno_text("pipe2");
  pid_t pid = ::fork();
  if (pid < 0) return detail::errno_text("fork");
  if (pid == 0) {
    ::close(fds[0]);
    std::string out = body();
    const char* p = out.data();
    std::size_t left = out.size();
    while (left > 0) {
      ssize_t n = ::write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool eof = false;
  while (!eof && std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!wait_readable(fds[0], left)) break;
    char buf[512];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) {
      eof = true;
    } else {
      result.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fds[0]);
  if (!eof) {
    ::kill(pid, SIGKILL);  // our own child, stuck
    result = "child timed out; partial output: " + result;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) result += " [child did not exit cleanly]";
  return result;
}

// In a child: gives up root for the nobody user (no capabilities left). "" on success.
inline std::string become_nobody() {
  if (::setgroups(0, nullptr) != 0) return detail::errno_text("setgroups");
  if (::setgid(65534) != 0) return detail::errno_text("setgid");
  if (::setuid(65534) != 0) return detail::errno_text("setuid");
  return {};
}

// In a child: stays uid 0 but drops CAP_NET_ADMIN from every capability set. "" on success.
inline std::string drop_net_admin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return detail::errno_text("capget");
  constexpr unsigned bit = 1u << (CAP_NET_ADMIN % 32);
  auto& word = data[CAP_NET_ADMIN / 32];
  word.effective &= ~bit;
  word.permitted &= ~bit;
  word.inheritable &= ~bit;
  if (::syscall(SYS_capset, &header, data) != 0) return detail::errno_text("capset");
  return {};
}

}  // namespace warren::test
