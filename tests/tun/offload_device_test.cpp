#include <warren/tun/offload_device.hpp>
#include <catch2/catch_test_macros.hpp>

#include "support/netns.hpp"

#include <warren/packet/ip_address.hpp>
#include <warren/tun/linux_tun.hpp>
#include <warren/tun/netlink.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

// Two namespaces, each with an offloading TUN, and a thread that copies packets between the
// two TUNs: an IP wire made of offload_devices. A TCP stream across it makes the kernel hand
// over TSO super-packets on one side (segmented by read_batch) and take coalesced writes on the
// other (write_batch), so the kernel itself checks what we produce: it drops segments with
// bad checksums or lengths, and a wrong coalesced write would corrupt or stall the stream.

namespace {

using warren::packet_buffer;
namespace tun = warren::tun;
using namespace std::chrono_literals;

struct fd_guard {
  int fd = -1;
  explicit fd_guard(int f) : fd(f) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

int open_netns_fd() { return ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC); }

// A TUN with offloads in the current namespace, with `v4` and `v6` addresses, up.
tun::linux_tun make_tun(const char* name, const char* v4, const char* v6) {
  auto t = tun::linux_tun::open({.name = name, .mtu = 1420, .offload = true});
  REQUIRE(t);
  REQUIRE(t->offload());
  auto nl = tun::netlink::open();
  REQUIRE(nl);
  REQUIRE(nl->add_address(t->ifindex(), *warren::packet::ip_prefix::parse(v4)));
  REQUIRE(nl->add_address(t->ifindex(), *warren::packet::ip_prefix::parse(v6)));
  REQUIRE(nl->set_up(t->ifindex(), true));
  return std::move(*t);
}

sockaddr_storage socket_address(bool v6, const char* address, std::uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (v6) {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    ::inet_pton(AF_INET6, address, &s->sin6_addr);
    len = sizeof *s;
  } else {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    ::inet_pton(AF_INET, address, &s->sin_addr);
    len = sizeof *s;
  }
  return ss;
}

std::byte pattern(std::size_t i) { return static_cast<std::byte>((i * 7 + i / 4096) & 0xff); }

struct wire_stats {
  tun::offload_counters a, b;
};

// Copies packets a -> b and b -> a until `stop` or 60 s.
void run_wire(tun::offload_device& a, tun::offload_device& b, std::atomic<bool>& stop) {
  std::vector<packet_buffer> batch;
  for (int i = 0; i < 128; ++i) batch.push_back(packet_buffer::allocate());
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!stop && std::chrono::steady_clock::now() < deadline) {
    pollfd fds[2] = {{a.native_handle(), POLLIN, 0}, {b.native_handle(), POLLIN, 0}};
    if (::poll(fds, 2, 50) <= 0) continue;
    for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      auto n = from->read_batch(batch);
      if (n && *n > 0) (void)to->write_batch(std::span(batch).first(*n));
    }
  }
}

}  // namespace

TEST_CASE("offload_device: a TCP stream crosses a wire of two offloading TUNs intact", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  bool v6 = false;
  SECTION("IPv4") { v6 = false; }
  SECTION("IPv6") { v6 = true; }

  REQUIRE(warren::test::enter_new_netns() == "");
  fd_guard ns1(open_netns_fd());
  REQUIRE(ns1.fd >= 0);
  auto tun_a = make_tun("wro-a", "198.18.5.1/24", "fd00:5::1/64");
  REQUIRE(warren::test::enter_new_netns() == "");
  fd_guard ns2(open_netns_fd());
  REQUIRE(ns2.fd >= 0);
  auto tun_b = make_tun("wro-b", "198.18.5.2/24", "fd00:5::2/64");

  tun::offload_device a(std::move(tun_a.queue(0)));
  tun::offload_device b(std::move(tun_b.queue(0)));
  std::atomic<bool> stop{false};
  std::thread wire([&] { run_wire(a, b, stop); });
  struct joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join_wire{stop, wire};

  // The server in the second namespace, the client in the first.
  socklen_t len = 0;
  fd_guard listener(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto server_at = socket_address(v6, v6 ? "fd00:5::2" : "198.18.5.2", 5001, len);
  int on = 1;
  ::setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  REQUIRE(::bind(listener.fd, reinterpret_cast<sockaddr*>(&server_at), len) == 0);
  REQUIRE(::listen(listener.fd, 1) == 0);

  REQUIRE(::setns(ns1.fd, CLONE_NEWNET) == 0);
  fd_guard client(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(::setns(ns2.fd, CLONE_NEWNET) == 0);
  REQUIRE(client.fd >= 0);
  timeval timeout{10, 0};
  ::setsockopt(client.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  ::setsockopt(listener.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  REQUIRE(::connect(client.fd, reinterpret_cast<sockaddr*>(&server_at), len) == 0);
  fd_guard conn(::accept(listener.fd, nullptr, nullptr));
  REQUIRE(conn.fd >= 0);
  ::setsockopt(conn.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  constexpr std::size_t total = 32u << 20;
  std::thread sender([&] {
    std::vector<std::byte> chunk(256 * 1024);
    for (std::size_t sent = 0; sent < total;) {
      std::size_t n = std::min(chunk.size(), total - sent);
      for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern(sent + i);
      ssize_t w = ::send(client.fd, chunk.data(), n, MSG_NOSIGNAL);
      if (w <= 0) break;  // the receiver's checks report it
      sent += static_cast<std::size_t>(w);
    }
    ::shutdown(client.fd, SHUT_WR);
  });
  std::size_t received = 0;
  std::size_t first_bad = total;
  std::vector<std::byte> buf(256 * 1024);
  for (;;) {
    ssize_t r = ::recv(conn.fd, buf.data(), buf.size(), 0);
    if (r <= 0) break;
    for (std::size_t i = 0; i < static_cast<std::size_t>(r); ++i)
      if (buf[i] != pattern(received + i) && first_bad == total) first_bad = received + i;
    received += static_cast<std::size_t>(r);
  }
  sender.join();
  stop = true;
  wire.join();

  CHECK(received == total);
  CHECK(first_bad == total);
  // The offloads were used, not bypassed: super-packets came out of A, coalesced runs went into
  // B, and nothing was refused on the way.
  INFO("a: super-packets " << a.counters().super_packets_read << ", segments " << a.counters().segments_read);
  INFO("b: coalesced writes " << b.counters().coalesced_writes << ", packets " << b.counters().packets_written);
  CHECK(a.counters().super_packets_read > 0);
  CHECK(b.counters().coalesced_writes > 0);
  CHECK(a.dropped() == 0);
  CHECK(b.dropped() == 0);
}
