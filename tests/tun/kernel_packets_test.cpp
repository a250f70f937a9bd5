// Packets the kernel itself writes to a warren TUN parse, and their checksums verify: UDP, TCP
// SYNs (with options, then MSS-clamped), ping requests from the real ping program (which we
// answer, so ping succeeds), and a DNS query built by glibc's resolver. Each test case runs in a
// network namespace of its own, which vanishes with the test process.
#include <warren/tun/linux_tun.hpp>
#include <catch2/catch_test_macros.hpp>

#include "support/netns.hpp"

#include <warren/packet/dns.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/tun/netlink.hpp>

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <resolv.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

extern char** environ;

using namespace warren;
namespace pk = warren::packet;
using namespace std::chrono_literals;

namespace {

struct tun_fixture {
  tun::linux_tun tun;
  tun_fixture() {
    auto entered = warren::test::enter_new_netns();
    REQUIRE(entered.empty());
    warren::test::local_route_watch watch;
    auto t = tun::linux_tun::open({.name = "wrk0", .mtu = 1420});
    REQUIRE(t);
    tun = std::move(*t);
    auto nl = tun::netlink::open();
    REQUIRE(nl);
    REQUIRE(nl->add_address(tun.ifindex(), *pk::ip_prefix::parse("192.0.2.1/24")));
    REQUIRE(nl->add_address(tun.ifindex(), *pk::ip_prefix::parse("fd00:77::1/64")));
    REQUIRE(nl->set_up(tun.ifindex(), true));
    REQUIRE(watch.wait("fd00:77::1"));
  }

  // Reads packets from the TUN until one satisfies `match` (others, such as the kernel's own
  // router solicitations, are skipped), bounded by count and time. Returns its bytes.
  std::optional<std::vector<std::byte>> read_until(const std::function<bool(const pk::ip_packet&)>& match) {
    auto& dev = tun.queue(0);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    for (int reads = 0; reads < 100 && std::chrono::steady_clock::now() < deadline; ++reads) {
      if (!warren::test::wait_readable(dev.native_handle(), 3s)) break;
      std::array<packet_buffer, 1> batch{packet_buffer::allocate()};
      auto n = dev.read_batch(batch);
      REQUIRE(n);
      if (*n == 0) continue;
      auto parsed = pk::parse_ip(batch[0].bytes(), pk::verify::checksums);
      INFO("the kernel wrote a packet warren refuses: " << (parsed ? "" : parsed.error().message()));
      REQUIRE(parsed);
      if (match(*parsed)) return std::vector<std::byte>(batch[0].bytes().begin(), batch[0].bytes().end());
    }
    return std::nullopt;
  }
};

// An IPv4 or IPv6 socket address for a literal address and port.
std::pair<sockaddr_storage, socklen_t> socket_address(int family, const char* address, std::uint16_t port) {
  sockaddr_storage ss{};
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    REQUIRE(::inet_pton(AF_INET, address, &sin->sin_addr) == 1);
    return {ss, sizeof *sin};
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  REQUIRE(::inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1);
  return {ss, sizeof *sin6};
}

void send_udp(int family, const char* address, std::uint16_t port, const void* data, std::size_t size) {
  int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  auto [ss, len] = socket_address(family, address, port);
  REQUIRE(::sendto(fd, data, size, 0, reinterpret_cast<sockaddr*>(&ss), len) == static_cast<ssize_t>(size));
  ::close(fd);
}

// Starts a non-blocking connect, whose SYN the kernel writes to the TUN. Returns the socket.
int start_connect(int family, const char* address, std::uint16_t port) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  auto [ss, len] = socket_address(family, address, port);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  REQUIRE((rc == 0 || errno == EINPROGRESS));
  return fd;
}

}  // namespace

TEST_CASE("UDP datagrams the kernel writes to the TUN parse with valid checksums", "[tun][packet][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  tun_fixture f;
  const char payload[] = "hello through the kernel";
  SECTION("IPv4") {
    send_udp(AF_INET, "192.0.2.2", 9999, payload, sizeof payload);
    auto pkt = f.read_until([](const pk::ip_packet& p) { return p.udp && p.udp->destination_port() == 9999; });
    REQUIRE(pkt);
    auto p = pk::parse_ip(*pkt, pk::verify::checksums);
    CHECK(p->ipv4->source().to_string() == "192.0.2.1");
    CHECK(p->udp->payload().size() == sizeof payload);
    CHECK(p->udp->checksum() != 0);
  }
  SECTION("IPv6") {
    send_udp(AF_INET6, "fd00:77::2", 9999, payload, sizeof payload);
    auto pkt = f.read_until([](const pk::ip_packet& p) { return p.udp && p.udp->destination_port() == 9999; });
    REQUIRE(pkt);
    auto p = pk::parse_ip(*pkt, pk::verify::checksums);
    CHECK(p->ipv6->source().to_string() == "fd00:77::1");
    CHECK(p->udp->payload().size() == sizeof payload);
  }
}

TEST_CASE("TCP SYNs the kernel writes parse, carry options, and clamp", "[tun][packet][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  tun_fixture f;
  for (auto [family, address, mss] : {std::tuple{AF_INET, "192.0.2.2", 1380}, std::tuple{AF_INET6, "fd00:77::2", 1360}}) {
    INFO(address);
    int fd = start_connect(family, address, 80);
    auto pkt = f.read_until([](const pk::ip_packet& p) { return p.tcp && p.tcp->destination_port() == 80; });
    ::close(fd);
    REQUIRE(pkt);
    auto p = pk::parse_ip(*pkt, pk::verify::checksums);
    REQUIRE(p->tcp);
    CHECK(p->tcp->has(pk::tcp_flags::syn));
    CHECK(p->tcp->mss() == mss);  // the kernel derives it from the TUN's MTU of 1420
    CHECK(p->tcp->sack_permitted());
    CHECK(p->tcp->window_scale());
    // Clamp it as a tunnel with a 1280-byte MTU would, and check the result still verifies.
    REQUIRE(*pk::clamp_mss_to_mtu(*pkt, 1280));
    auto clamped = pk::parse_ip(*pkt, pk::verify::checksums);
    REQUIRE(clamped);
    CHECK(clamped->tcp->mss() == pk::mss_for_mtu(1280, family == AF_INET6));
  }
}

TEST_CASE("a DNS query made in the namespace parses as a DNS message", "[tun][packet][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  tun_fixture f;
  unsigned char query[512];
  int len = ::res_mkquery(ns_o_query, "www.example.com", ns_c_in, ns_t_aaaa, nullptr, 0, nullptr, query, sizeof query);
  REQUIRE(len > 0);
  send_udp(AF_INET, "192.0.2.2", 53, query, static_cast<std::size_t>(len));
  auto pkt = f.read_until([](const pk::ip_packet& p) { return p.udp && p.udp->destination_port() == 53; });
  REQUIRE(pkt);
  auto p = pk::parse_ip(*pkt, pk::verify::checksums);
  auto dns = pk::dns_message_view::parse(p->udp->payload());
  REQUIRE(dns);
  CHECK_FALSE(dns->is_response());
  auto questions = dns->questions();
  REQUIRE(questions.size() == 1);
  CHECK(questions[0].name == "www.example.com");
  CHECK(questions[0].type == pk::dns_type::aaaa);
}

TEST_CASE("the TUN answers the real ping program over IPv4 and IPv6", "[tun][packet][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  if (::access("/usr/bin/ping", X_OK) != 0 && ::access("/bin/ping", X_OK) != 0) SKIP("ping is not installed");
  tun_fixture f;
  for (const char* target : {"192.0.2.2", "fd00:77::2"}) {
    INFO(target);
    const char* argv[] = {"ping", "-c", "1", "-W", "3", target, nullptr};
    pid_t pid;
    REQUIRE(::posix_spawnp(&pid, "ping", nullptr, nullptr, const_cast<char**>(argv), environ) == 0);
    auto req = f.read_until([](const pk::ip_packet& p) {
      return (p.icmpv4 && p.icmpv4->type() == pk::icmpv4_type::echo_request) ||
             (p.icmpv6 && p.icmpv6->type() == pk::icmpv6_type::echo_request);
    });
    REQUIRE(req);
    auto p = pk::parse_ip(*req, pk::verify::checksums);
    // Answer it with the builders: same identifier, sequence and data, addresses swapped.
    auto reply = packet_buffer::allocate();
    if (p->icmpv4) {
      REQUIRE(reply.append(p->icmpv4->payload()));
      REQUIRE(pk::write_icmpv4_header(reply, pk::icmpv4_type::echo_reply, 0, p->icmpv4->rest_of_header()));
      REQUIRE(pk::write_ipv4_header(reply, {.source = p->ipv4->destination(), .destination = p->ipv4->source(),
                                            .protocol = pk::ip_protocol::icmp}));
    } else {
      auto src = p->ipv6->destination(), dst = p->ipv6->source();
      REQUIRE(reply.append(p->icmpv6->payload()));
      REQUIRE(pk::write_icmpv6_header(reply, src, dst, pk::icmpv6_type::echo_reply, 0, p->icmpv6->rest_of_header()));
      REQUIRE(pk::write_ipv6_header(reply, {.source = src, .destination = dst, .next_header = pk::ip_protocol::icmpv6}));
    }
    std::array<packet_buffer, 1> out{std::move(reply)};
    REQUIRE(*f.tun.queue(0).write_batch(out) == 1);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);  // bounded by ping's own -W 3
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // ping got its reply
  }
}
