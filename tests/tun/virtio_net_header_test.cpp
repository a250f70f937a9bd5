#include <warren/tun/virtio_net_header.hpp>
#include <catch2/catch_test_macros.hpp>

#include "support/bytes.hpp"

#include <array>
#include <cstddef>
#include <vector>

namespace {

using warren::byte_view;
using warren::tun::virtio_net_header;

}  // namespace

TEST_CASE("virtio_net_header writes little-endian fields in the virtio layout", "[tun]") {
  virtio_net_header h;
  h.flags = virtio_net_header::needs_csum;
  h.gso_type = virtio_net_header::gso_tcpv4 | virtio_net_header::gso_ecn;
  h.header_length = 0x0034;
  h.gso_size = 0x0578;  // 1400
  h.csum_start = 0x0014;
  h.csum_offset = 0x0010;

  std::array<std::byte, virtio_net_header::size> out{};
  h.write(out.data());
  // flags, gso_type, then hdr_len, gso_size, csum_start, csum_offset, each low byte first.
  auto expected = warren::test::hex("01 81 3400 7805 1400 1000");
  REQUIRE(std::vector<std::byte>(out.begin(), out.end()) == expected);
}

TEST_CASE("virtio_net_header parses hand-written bytes", "[tun]") {
  auto bytes = warren::test::hex("01 04 4c00 a005 2800 1000");
  auto h = virtio_net_header::parse(bytes);
  REQUIRE(h);
  CHECK(h->flags == virtio_net_header::needs_csum);
  CHECK(h->gso_type == virtio_net_header::gso_tcpv6);
  CHECK(h->gso_kind() == virtio_net_header::gso_tcpv6);
  CHECK(h->header_length == 76);
  CHECK(h->gso_size == 1440);
  CHECK(h->csum_start == 40);
  CHECK(h->csum_offset == 16);

  SECTION("high bytes are the second byte of each field") {
    auto big = warren::test::hex("02 00 0102 0304 0506 0708");
    auto b = virtio_net_header::parse(big);
    REQUIRE(b);
    CHECK(b->flags == virtio_net_header::data_valid);
    CHECK(b->header_length == 0x0201);
    CHECK(b->gso_size == 0x0403);
    CHECK(b->csum_start == 0x0605);
    CHECK(b->csum_offset == 0x0807);
  }
  SECTION("the ECN bit is not part of the kind") {
    auto ecn = warren::test::hex("01 84 0000 0000 0000 0000");
    auto e = virtio_net_header::parse(ecn);
    REQUIRE(e);
    CHECK(e->gso_type == 0x84);
    CHECK(e->gso_kind() == virtio_net_header::gso_tcpv6);
  }
  SECTION("bytes after the header are ignored") {
    auto longer = bytes;
    longer.push_back(std::byte{0x45});
    auto l = virtio_net_header::parse(longer);
    REQUIRE(l);
    CHECK(*l == *h);
  }
}

TEST_CASE("virtio_net_header round-trips through write and parse", "[tun]") {
  virtio_net_header h;
  h.flags = virtio_net_header::needs_csum | virtio_net_header::data_valid;
  h.gso_type = virtio_net_header::gso_udp_l4;
  h.header_length = 0xfedc;
  h.gso_size = 0xba98;
  h.csum_start = 0x7654;
  h.csum_offset = 0x3210;
  std::array<std::byte, virtio_net_header::size> out{};
  h.write(out.data());
  auto back = virtio_net_header::parse(out);
  REQUIRE(back);
  CHECK(*back == h);

  SECTION("the default header is all zero") {
    virtio_net_header zero;
    out.fill(std::byte{0xff});
    zero.write(out.data());
    for (auto b : out) CHECK(b == std::byte{0});
    auto z = virtio_net_header::parse(out);
    REQUIRE(z);
    CHECK(*z == virtio_net_header{});
  }
}

TEST_CASE("virtio_net_header parse gives nothing for fewer than ten bytes", "[tun]") {
  auto bytes = warren::test::hex("01 01 3400 7805 1400 1000");
  for (std::size_t n = 0; n < virtio_net_header::size; ++n)
    CHECK_FALSE(virtio_net_header::parse(byte_view(bytes).first(n)));
  CHECK(virtio_net_header::parse(byte_view(bytes)));
}
