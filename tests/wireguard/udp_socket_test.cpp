#include <warren/wireguard/adapters/udp_socket.hpp>
#include <catch2/catch_test_macros.hpp>

#include "support/netns.hpp"

#include <warren/tun/netlink.hpp>

#include <asio/io_context.hpp>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

// Real sockets on loopback. Loopback can segment, so a run of same-size datagrams to one peer
// leaves as one UDP_SEGMENT send, and a receiver with UDP_GRO may get it back as one read: the
// test checks that whatever the kernel did, every datagram arrives once, whole, in order and
// from the right sender, and that sizes that may not be batched (a longer one after a shorter
// one, another destination) are not.

namespace {

using warren::packet_buffer;
using warren::wireguard::endpoint;
using warren::wireguard::udp_socket;

struct outgoing {
  endpoint to;
  packet_buffer bytes;
};

packet_buffer datagram(std::uint32_t id, std::size_t size) {
  auto b = packet_buffer::allocate();
  auto room = b.append(size);
  REQUIRE(room);
  for (std::size_t i = 0; i < size; ++i) room->data()[i] = static_cast<std::byte>((id * 31 + i) & 0xff);
  if (size >= 4) warren::store_be32(room->data(), id);
  return b;
}

bool wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 3000) == 1;
}

// Receives until `count` datagrams arrived or 3 s without one.
std::vector<packet_buffer> receive(udp_socket& s, std::size_t count, std::vector<endpoint>& senders) {
  std::vector<packet_buffer> got;
  while (got.size() < count) {
    if (!s.has_pending() && !wait_readable(s.native_handle())) break;
    std::vector<packet_buffer> batch(16);
    for (auto& b : batch) b = packet_buffer::allocate();
    std::vector<endpoint> from(batch.size());
    auto n = s.receive_batch(batch, from);
    REQUIRE(n);
    for (std::size_t i = 0; i < *n; ++i) {
      got.push_back(std::move(batch[i]));
      senders.push_back(from[i]);
    }
  }
  return got;
}

}  // namespace

TEST_CASE("udp_socket sends runs segmented and receives them one datagram per buffer", "[wireguard]") {
  asio::io_context io;
  for (bool v6 : {false, true}) {
    CAPTURE(v6);
    auto a = udp_socket::open(io.get_executor(), v6, 0);
    auto b = udp_socket::open(io.get_executor(), v6, 0);
    if (v6 && (!a || !b)) SKIP("no IPv6 on this host");
    REQUIRE(a);
    REQUIRE(b);
    auto loopback = v6 ? *warren::packet::ip_address::parse("::1") : *warren::packet::ip_address::parse("127.0.0.1");
    endpoint to_b{loopback, b->port()};

    // 40 of 1452 bytes then a short one: one run; then 10 of 100 bytes; then one longer than
    // those, which must not join them; then an empty datagram.
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 40; ++i) sizes.push_back(1452);
    sizes.push_back(700);
    for (int i = 0; i < 10; ++i) sizes.push_back(100);
    sizes.push_back(1000);
    sizes.push_back(0);
    std::vector<outgoing> out;
    for (std::size_t i = 0; i < sizes.size(); ++i) out.push_back({to_b, datagram(static_cast<std::uint32_t>(i), sizes[i])});
    std::vector<outgoing*> ptrs;
    for (auto& o : out) ptrs.push_back(&o);
    CHECK(a->send_batch(std::span(ptrs)) == out.size());

    std::vector<endpoint> senders;
    auto got = receive(*b, out.size(), senders);
    REQUIRE(got.size() == out.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      REQUIRE(got[i].size() == out[i].bytes.size());
      CHECK(std::memcmp(got[i].data(), out[i].bytes.data(), got[i].size()) == 0);
      CHECK(senders[i] == (endpoint{loopback, a->port()}));
    }
  }
}

TEST_CASE("udp_socket keeps each destination's datagrams apart", "[wireguard]") {
  asio::io_context io;
  auto a = udp_socket::open(io.get_executor(), false, 0);
  auto b = udp_socket::open(io.get_executor(), false, 0);
  auto c = udp_socket::open(io.get_executor(), false, 0);
  REQUIRE((a && b && c));
  auto lo = *warren::packet::ip_address::parse("127.0.0.1");
  std::vector<outgoing> out;
  for (std::uint32_t i = 0; i < 30; ++i) out.push_back({endpoint{lo, (i / 5) % 2 ? c->port() : b->port()}, datagram(i, 1200)});
  std::vector<outgoing*> ptrs;
  for (auto& o : out) ptrs.push_back(&o);
  CHECK(a->send_batch(std::span(ptrs)) == out.size());
  std::vector<endpoint> senders;
  auto at_b = receive(*b, 15, senders);
  auto at_c = receive(*c, 15, senders);
  REQUIRE(at_b.size() == 15);
  REQUIRE(at_c.size() == 15);
  std::size_t ib = 0, ic = 0;
  for (std::uint32_t i = 0; i < 30; ++i) {
    auto& got = (i / 5) % 2 ? at_c[ic++] : at_b[ib++];
    CHECK(warren::load_be32(got.data()) == i);
  }
}

TEST_CASE("udp_socket sends a run larger than the path's MTU one by one, so it still arrives", "[wireguard][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");
  // Loopback at 1280: 1452-byte datagrams cannot be segmented at that size (the kernel refuses
  // the run with EINVAL); sent singly, IP fragments them and they arrive whole.
  auto nl = warren::tun::netlink::open();
  REQUIRE(nl);
  REQUIRE(nl->set_mtu(1, 1280));
  asio::io_context io;
  auto a = udp_socket::open(io.get_executor(), false, 0);
  auto b = udp_socket::open(io.get_executor(), false, 0);
  REQUIRE((a && b));
  auto lo = *warren::packet::ip_address::parse("127.0.0.1");
  std::vector<outgoing> out;
  for (std::uint32_t i = 0; i < 12; ++i) out.push_back({endpoint{lo, b->port()}, datagram(i, 1452)});
  std::vector<outgoing*> ptrs;
  for (auto& o : out) ptrs.push_back(&o);
  CHECK(a->send_batch(std::span(ptrs)) == out.size());
  std::vector<endpoint> senders;
  auto got = receive(*b, out.size(), senders);
  REQUIRE(got.size() == out.size());
  for (std::uint32_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].size() == 1452);
    CHECK(warren::load_be32(got[i].data()) == i);
  }
  CHECK(a->gso());  // a too-large run is not a reason to stop segmenting
}
