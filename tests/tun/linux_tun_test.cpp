#include <warren/tun/linux_tun.hpp>
#include <catch2/catch_test_macros.hpp>

#include "support/netns.hpp"

#include <warren/packet/ip_address.hpp>
#include <warren/tun/netlink.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using warren::packet_buffer;
using warren::tun::linux_tun;
using warren::tun::linux_tun_options;
namespace tun = warren::tun;
using namespace std::chrono_literals;

warren::packet::ip_prefix prefix(std::string_view text) { return *warren::packet::ip_prefix::parse(text); }

std::vector<packet_buffer> make_batch(std::size_t n) {
  std::vector<packet_buffer> batch;
  for (std::size_t i = 0; i < n; ++i) batch.push_back(packet_buffer::allocate());
  return batch;
}

std::uint8_t byte_at(const packet_buffer& b, std::size_t i) { return std::to_integer<std::uint8_t>(b.data()[i]); }
std::uint16_t be16_at(const packet_buffer& b, std::size_t i) { return warren::load_be16(b.data() + i); }

bool ends_with(const packet_buffer& b, std::string_view tail) {
  return b.size() >= tail.size() && std::memcmp(b.data() + b.size() - tail.size(), tail.data(), tail.size()) == 0;
}

// True if `b` is an IPv4 or IPv6 UDP packet (no IPv6 extension headers) to `port`.
bool is_udp_to(const packet_buffer& b, std::uint16_t port) {
  if (b.size() >= 28 && byte_at(b, 0) >> 4 == 4) {
    std::size_t ihl = (byte_at(b, 0) & 0x0f) * 4u;
    return byte_at(b, 9) == IPPROTO_UDP && b.size() >= ihl + 8 && be16_at(b, ihl + 2) == port;
  }
  if (b.size() >= 48 && byte_at(b, 0) >> 4 == 6) return byte_at(b, 6) == IPPROTO_UDP && be16_at(b, 42) == port;
  return false;
}

// Reads queue until a UDP packet to `port` arrives (other traffic, such as IPv6 router
// solicitations, is skipped). Bounded by `timeout` and by a packet count.
std::optional<packet_buffer> read_udp_to(tun::fd_device& queue, std::uint16_t port,
                                         std::chrono::milliseconds timeout = 3s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto batch = make_batch(8);
  for (int packets_seen = 0; packets_seen < 1000 && std::chrono::steady_clock::now() < deadline;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!warren::test::wait_readable(queue.native_handle(), left)) return std::nullopt;
    auto n = queue.read_batch(batch);
    if (!n) return std::nullopt;
    for (std::size_t i = 0; i < *n; ++i, ++packets_seen) {
      if (is_udp_to(batch[i], port)) return std::move(batch[i]);
    }
  }
  return std::nullopt;
}

// Sends `payload` from an unbound UDP socket; returns errno or 0.
int send_udp(int family, std::string_view address, std::uint16_t port, std::string_view payload) {
  int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    ::inet_pton(AF_INET, std::string(address).c_str(), &sin.sin_addr);
    std::memcpy(&ss, &sin, sizeof sin);
    len = sizeof sin;
  } else {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    ::inet_pton(AF_INET6, std::string(address).c_str(), &sin6.sin6_addr);
    std::memcpy(&ss, &sin6, sizeof sin6);
    len = sizeof sin6;
  }
  ssize_t n = ::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  int err = n == static_cast<ssize_t>(payload.size()) ? 0 : errno;
  ::close(fd);
  return err;
}

// A UDP socket bound to address:port, closed on scope exit.
struct bound_udp {
  int fd = -1;
  bound_udp(int family, std::string_view address, std::uint16_t port) {
    fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (family == AF_INET) {
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(port);
      ::inet_pton(AF_INET, std::string(address).c_str(), &sin.sin_addr);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) reset();
    } else {
      sockaddr_in6 sin6{};
      sin6.sin6_family = AF_INET6;
      sin6.sin6_port = htons(port);
      ::inet_pton(AF_INET6, std::string(address).c_str(), &sin6.sin6_addr);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&sin6), sizeof sin6) != 0) reset();
    }
  }
  bound_udp(const bound_udp&) = delete;
  bound_udp& operator=(const bound_udp&) = delete;
  ~bound_udp() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  std::string receive(std::chrono::milliseconds timeout = 3s) {
    if (!warren::test::wait_readable(fd, timeout)) return "<timeout>";
    char buf[2048];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n < 0 ? "<error>" : std::string(buf, static_cast<std::size_t>(n));
  }
};

// The Internet checksum (RFC 1071) over `parts`, concatenated.
std::uint16_t internet_checksum(std::initializer_list<warren::byte_view> parts) {
  std::uint32_t sum = 0;
  bool odd = false;
  for (auto part : parts) {
    for (std::byte b : part) {
      auto v = std::to_integer<std::uint32_t>(b);
      sum += odd ? v : v << 8;
      odd = !odd;
    }
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// A UDP packet from src:sport to dst:dport with correct checksums, as a peer would send it
// through the tunnel.
packet_buffer udp_packet(const warren::packet::ip_address& src, std::uint16_t sport,
                         const warren::packet::ip_address& dst, std::uint16_t dport, std::string_view payload) {
  auto data = warren::as_byte_view(payload);
  std::vector<std::byte> udp(8 + data.size());
  warren::store_be16(udp.data(), sport);
  warren::store_be16(udp.data() + 2, dport);
  warren::store_be16(udp.data() + 4, static_cast<std::uint16_t>(udp.size()));
  std::memcpy(udp.data() + 8, data.data(), data.size());
  std::vector<std::byte> packet;
  if (src.is_v4()) {
    std::array<std::byte, 12> pseudo{};
    std::memcpy(pseudo.data(), src.bytes().data(), 4);
    std::memcpy(pseudo.data() + 4, dst.bytes().data(), 4);
    pseudo[9] = std::byte{IPPROTO_UDP};
    warren::store_be16(pseudo.data() + 10, static_cast<std::uint16_t>(udp.size()));
    warren::store_be16(udp.data() + 6, internet_checksum({pseudo, udp}));
    std::vector<std::byte> ip(20);
    ip[0] = std::byte{0x45};
    warren::store_be16(ip.data() + 2, static_cast<std::uint16_t>(20 + udp.size()));
    ip[8] = std::byte{64};
    ip[9] = std::byte{IPPROTO_UDP};
    std::memcpy(ip.data() + 12, src.bytes().data(), 4);
    std::memcpy(ip.data() + 16, dst.bytes().data(), 4);
    warren::store_be16(ip.data() + 10, internet_checksum({ip}));
    packet = ip;
  } else {
    std::array<std::byte, 40> pseudo{};
    std::memcpy(pseudo.data(), src.bytes().data(), 16);
    std::memcpy(pseudo.data() + 16, dst.bytes().data(), 16);
    warren::store_be32(pseudo.data() + 32, static_cast<std::uint32_t>(udp.size()));
    pseudo[39] = std::byte{IPPROTO_UDP};
    warren::store_be16(udp.data() + 6, internet_checksum({pseudo, udp}));
    std::vector<std::byte> ip(40);
    ip[0] = std::byte{0x60};
    warren::store_be16(ip.data() + 4, static_cast<std::uint16_t>(udp.size()));
    ip[6] = std::byte{IPPROTO_UDP};
    ip[7] = std::byte{64};
    std::memcpy(ip.data() + 8, src.bytes().data(), 16);
    std::memcpy(ip.data() + 24, dst.bytes().data(), 16);
    packet = ip;
  }
  packet.insert(packet.end(), udp.begin(), udp.end());
  return packet_buffer::copy_of(packet);
}

}  // namespace

TEST_CASE("linux_tun rejects bad options before touching the kernel", "[tun]") {
  auto fails_with = [](linux_tun_options options) {
    auto t = linux_tun::open(options);
    REQUIRE_FALSE(t);
    return t.error();
  };
  SECTION("a name of 16 bytes is too long") {
    auto ec = fails_with({.name = "abcdefghijklmnop"});
    CHECK(ec == tun::errc::name_too_long);
    CHECK(ec.message().find("15") != std::string::npos);
  }
  SECTION("names the kernel would refuse") {
    for (const char* name : {"a/b", "a b", "tab\tx", "a:1", ".", "..", "x%s", "%d%d", "end%"}) {
      INFO(name);
      CHECK(fails_with({.name = name}) == tun::errc::name_invalid);
    }
  }
  SECTION("queue counts") {
    CHECK(fails_with({.queues = 0}) == tun::errc::invalid_options);
    CHECK(fails_with({.queues = 257}) == tun::errc::invalid_options);
  }
  SECTION("a missing clone device") {
    auto ec = fails_with({.name = "wrnmissing0", .device_path = "/nonexistent/net/tun"});
    CHECK(ec == tun::errc::no_tun_device);
    CHECK(ec.message().find("modprobe tun") != std::string::npos);
    CHECK(ec == std::errc::no_such_device);
  }
  SECTION("the category") {
    auto ec = make_error_code(tun::errc::permission_denied);
    CHECK(std::string(ec.category().name()) == "warren.tun");
    CHECK(ec == std::errc::operation_not_permitted);
  }
}

TEST_CASE("linux_tun creates an interface the kernel sees, and it goes with the last queue", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");
  std::string name;
  {
    auto t = linux_tun::open();
    REQUIRE(t);
    name = t->name();
    CHECK(name.rfind("tun", 0) == 0);
    CHECK(t->ifindex() == ::if_nametoindex(name.c_str()));
    CHECK(t->ifindex() != 0);
    REQUIRE(t->queues().size() == 1);
    CHECK(t->mtu() == 1420);
    CHECK(t->queue(0).mtu() == 1420);
    CHECK(warren::test::interface_mtu(name) == 1420);
    int fd = t->queue(0).native_handle();
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    ifreq ifr{};
    REQUIRE(::ioctl(fd, TUNGETIFF, &ifr) == 0);  // IFF_TUN, without the packet-info prefix
    CHECK(std::string(ifr.ifr_name) == name);
    unsigned flags = static_cast<unsigned short>(ifr.ifr_flags);
    CHECK((flags & IFF_TUN) != 0);
    CHECK((flags & IFF_NO_PI) != 0);
    CHECK((flags & IFF_MULTI_QUEUE) == 0);
    auto batch = make_batch(2);
    CHECK(t->queue(0).read_batch(batch) == 0u);
  }
  CHECK(::if_nametoindex(name.c_str()) == 0);
}

TEST_CASE("linux_tun names: fixed, patterned, and the MTU left alone", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");
  SECTION("a fixed name") {
    auto t = linux_tun::open({.name = "wrn-fixed"});
    REQUIRE(t);
    CHECK(t->name() == "wrn-fixed");
    CHECK(::if_nametoindex("wrn-fixed") == t->ifindex());
  }
  SECTION("a %d pattern takes the first free number") {
    auto a = linux_tun::open({.name = "wrn%d"});
    auto b = linux_tun::open({.name = "wrn%d"});
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->name() == "wrn0");
    CHECK(b->name() == "wrn1");
    CHECK(a->ifindex() != b->ifindex());
  }
  SECTION("mtu 0 keeps the kernel's") {
    auto t = linux_tun::open({.mtu = 0});
    REQUIRE(t);
    CHECK(t->mtu() == 1500);
    CHECK(warren::test::interface_mtu(t->name()) == 1500);
  }
  SECTION("the queue towards the reader takes the length asked for, else the kernel's 500") {
    auto queue_length = [](const std::string& name) {
      int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      ifreq ifr{};
      std::memcpy(ifr.ifr_name, name.data(), name.size());
      int rc = ::ioctl(fd, SIOCGIFTXQLEN, &ifr);
      ::close(fd);
      return rc == 0 ? ifr.ifr_qlen : -1;
    };
    auto longer = linux_tun::open({.name = "wrn-q", .tx_queue_length = 2000});
    REQUIRE(longer);
    CHECK(queue_length("wrn-q") == 2000);
    auto plain = linux_tun::open({.name = "wrn-q0"});
    REQUIRE(plain);
    CHECK(queue_length("wrn-q0") == 500);
  }
  SECTION("an MTU the device cannot take") {
    auto t = linux_tun::open({.name = "wrn-mtu", .mtu = 20});
    REQUIRE_FALSE(t);
    CHECK(t.error() == tun::errc::invalid_options);
    CHECK(::if_nametoindex("wrn-mtu") == 0);  // not left behind
  }
}

TEST_CASE("linux_tun carries the kernel's IPv4 and IPv6 packets both ways", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");
  auto t = linux_tun::open({.name = "wrn0", .mtu = 1400});
  REQUIRE(t);
  auto nl = tun::netlink::open();
  REQUIRE(nl);
  warren::test::local_route_watch v6_ready;
  REQUIRE(nl->add_address(t->ifindex(), prefix("192.0.2.1/24")));
  REQUIRE(nl->add_address(t->ifindex(), prefix("fd00:77::1/64")));
  REQUIRE(nl->set_mtu(t->ifindex(), 1380));
  REQUIRE(nl->set_up(t->ifindex(), true));
  // Packets to fd00:77::1 are taken in once the kernel has its local route.
  REQUIRE(v6_ready.wait("fd00:77::1"));

  // What the kernel says, through ioctls and getifaddrs rather than netlink.
  CHECK(warren::test::interface_mtu("wrn0") == 1380);
  CHECK((warren::test::interface_flags("wrn0") & IFF_UP) != 0);
  CHECK(warren::test::has_address("wrn0", "192.0.2.1", 24));
  CHECK(warren::test::has_address("wrn0", "fd00:77::1", 64));

  auto& queue = t->queue(0);
  SECTION("IPv4 to the TUN") {
    REQUIRE(send_udp(AF_INET, "192.0.2.2", 9999, "hello over v4") == 0);
    auto p = read_udp_to(queue, 9999);
    REQUIRE(p);
    CHECK(byte_at(*p, 0) == 0x45);
    CHECK(warren::packet::ipv4_address::from_bytes(p->data() + 12).to_string() == "192.0.2.1");
    CHECK(warren::packet::ipv4_address::from_bytes(p->data() + 16).to_string() == "192.0.2.2");
    CHECK(ends_with(*p, "hello over v4"));
    CHECK(p->size() == 20 + 8 + 13);
  }
  SECTION("IPv6 to the TUN") {
    REQUIRE(send_udp(AF_INET6, "fd00:77::2", 9999, "hello over v6") == 0);
    auto p = read_udp_to(queue, 9999);
    REQUIRE(p);
    CHECK(byte_at(*p, 0) >> 4 == 6);
    CHECK(warren::packet::ipv6_address::from_bytes(p->data() + 8).to_string() == "fd00:77::1");
    CHECK(warren::packet::ipv6_address::from_bytes(p->data() + 24).to_string() == "fd00:77::2");
    CHECK(ends_with(*p, "hello over v6"));
    CHECK(p->size() == 40 + 8 + 13);
  }
  SECTION("IPv4 from the TUN") {
    bound_udp sink(AF_INET, "192.0.2.1", 7777);
    REQUIRE(sink.fd >= 0);
    std::array<packet_buffer, 1> out{udp_packet(*warren::packet::ip_address::parse("192.0.2.2"), 5555,
                                                *warren::packet::ip_address::parse("192.0.2.1"), 7777,
                                                "reply over v4")};
    REQUIRE(queue.write_batch(out) == 1u);
    CHECK(sink.receive() == "reply over v4");
  }
  SECTION("IPv6 from the TUN") {
    bound_udp sink(AF_INET6, "fd00:77::1", 7777);
    REQUIRE(sink.fd >= 0);
    std::array<packet_buffer, 1> out{udp_packet(*warren::packet::ip_address::parse("fd00:77::2"), 5555,
                                                *warren::packet::ip_address::parse("fd00:77::1"), 7777,
                                                "reply over v6")};
    REQUIRE(queue.write_batch(out) == 1u);
    CHECK(sink.receive() == "reply over v6");
  }
}

TEST_CASE("linux_tun multi-queue spreads flows over its queues", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");
  auto t = linux_tun::open({.name = "wrnmq%d", .queues = 2});
  REQUIRE(t);
  CHECK(t->name() == "wrnmq0");
  REQUIRE(t->queues().size() == 2);
  for (auto& q : t->queues()) {
    ifreq ifr{};
    REQUIRE(::ioctl(q.native_handle(), TUNGETIFF, &ifr) == 0);
    CHECK((ifr.ifr_flags & IFF_MULTI_QUEUE) != 0);
  }
  auto nl = tun::netlink::open();
  REQUIRE(nl);
  REQUIRE(nl->add_address(t->ifindex(), prefix("192.0.2.1/24")));
  REQUIRE(nl->set_up(t->ifindex(), true));

  // Each datagram from a new socket is a new flow (a new source port); the kernel picks the
  // queue by flow hash, so 32 flows all landing on one queue would take a 1 in 2^31 chance.
  constexpr int flows = 32;
  for (int i = 0; i < flows; ++i) REQUIRE(send_udp(AF_INET, "192.0.2.2", 9999, "flow") == 0);
  std::array<int, 2> per_queue{};
  auto batch = make_batch(16);
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (per_queue[0] + per_queue[1] < flows && std::chrono::steady_clock::now() < deadline) {
    std::array<pollfd, 2> fds{{{t->queue(0).native_handle(), POLLIN, 0}, {t->queue(1).native_handle(), POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
    for (std::size_t q = 0; q < 2; ++q) {
      auto n = t->queue(q).read_batch(batch);
      REQUIRE(n);
      for (std::size_t i = 0; i < *n; ++i) per_queue[q] += is_udp_to(batch[i], 9999) ? 1 : 0;
    }
  }
  CHECK(per_queue[0] + per_queue[1] == flows);
  CHECK(per_queue[0] > 0);
  CHECK(per_queue[1] > 0);
}

TEST_CASE("linux_tun refuses a name in use and attaches only when asked", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");

  SECTION("an interface that exists") {
    auto t = linux_tun::open({.name = "lo"});
    REQUIRE_FALSE(t);
    CHECK(t.error() == tun::errc::exists);
    CHECK(t.error() == std::errc::file_exists);
    CHECK(t.error().message().find("attach_existing") != std::string::npos);
  }
  SECTION("a TUN held by this process") {
    auto first = linux_tun::open({.name = "wrn-held"});
    REQUIRE(first);
    auto second = linux_tun::open({.name = "wrn-held"});
    REQUIRE_FALSE(second);
    CHECK(second.error() == tun::errc::exists);
    auto attached = linux_tun::open({.name = "wrn-held", .attach_existing = true});
    REQUIRE_FALSE(attached);
    CHECK(attached.error() == tun::errc::busy);  // single queue, already open
  }
  SECTION("attaching to something that is not a TUN") {
    auto t = linux_tun::open({.name = "lo", .attach_existing = true});
    REQUIRE_FALSE(t);
    CHECK(t.error() == tun::errc::not_compatible);
  }
  SECTION("a persistent TUN") {
    // Made persistent by hand, as `ip tuntap add mode tun wrn-persist` would.
    {
      int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
      REQUIRE(fd >= 0);
      ifreq ifr{};
      std::strcpy(ifr.ifr_name, "wrn-persist");
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
      REQUIRE(::ioctl(fd, TUNSETIFF, &ifr) == 0);
      REQUIRE(::ioctl(fd, TUNSETPERSIST, 1) == 0);
      ::close(fd);
    }
    unsigned index = ::if_nametoindex("wrn-persist");
    REQUIRE(index != 0);
    auto refused = linux_tun::open({.name = "wrn-persist"});
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == tun::errc::exists);
    auto wrong_mode = linux_tun::open({.name = "wrn-persist", .queues = 2, .attach_existing = true});
    REQUIRE_FALSE(wrong_mode);
    CHECK(wrong_mode.error() == tun::errc::not_compatible);
    {
      auto t = linux_tun::open({.name = "wrn-persist", .attach_existing = true});
      REQUIRE(t);
      CHECK(t->ifindex() == index);
      // Undo the persistence, so the interface goes with this descriptor (the namespace would
      // remove it anyway).
      CHECK(::ioctl(t->queue(0).native_handle(), TUNSETPERSIST, 0) == 0);
    }
    CHECK(::if_nametoindex("wrn-persist") == 0);
  }
}

TEST_CASE("linux_tun without CAP_NET_ADMIN says what it needs", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");
  auto attempt = [](std::string (*drop)()) {
    return warren::test::run_in_child([drop] {
      if (auto failed = drop(); !failed.empty()) return "setup: " + failed;
      auto t = linux_tun::open({.name = "wrn-noperm"});
      if (t) return std::string("opened without permission");
      return std::string(t.error().category().name()) + ":" + std::to_string(t.error().value()) + ":" +
             t.error().message();
    });
  };
  const std::string expected_prefix =
      "warren.tun:" + std::to_string(static_cast<int>(tun::errc::permission_denied)) + ":";
  SECTION("as nobody (the clone device is root's)") {
    auto out = attempt(&warren::test::become_nobody);
    INFO(out);
    CHECK(out.rfind(expected_prefix, 0) == 0);
    CHECK(out.find("CAP_NET_ADMIN") != std::string::npos);
    CHECK(out.find("root") != std::string::npos);
  }
  SECTION("as root without CAP_NET_ADMIN (TUNSETIFF refuses)") {
    auto out = attempt(&warren::test::drop_net_admin);
    INFO(out);
    CHECK(out.rfind(expected_prefix, 0) == 0);
    CHECK(out.find("CAP_NET_ADMIN") != std::string::npos);
  }
  CHECK(::if_nametoindex("wrn-noperm") == 0);
}
