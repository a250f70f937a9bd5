#include <warren/core/packet_buffer.hpp>

#include <catch2/catch_test_macros.hpp>

#include <cstring>

using namespace warren;

TEST_CASE("packet buffer prepends and appends in place", "[core][buffer]") {
  auto b = packet_buffer::allocate(256, 64);
  CHECK(b.capacity() == 256);
  CHECK(b.headroom() == 64);
  CHECK(b.tailroom() == 192);
  CHECK(b.empty());
  REQUIRE(b.append(as_byte_view("payload")));
  const std::byte* payload_at = b.data();
  auto hdr = b.prepend(16);
  REQUIRE(hdr);
  CHECK(hdr->size() == 16);
  CHECK(b.data() + 16 == payload_at);  // nothing moved
  CHECK(b.size() == 23);
  auto tag = b.append(16);
  REQUIRE(tag);
  CHECK(b.size() == 39);
  CHECK(std::memcmp(b.data() + 16, "payload", 7) == 0);
  REQUIRE(b.trim_front(16));
  REQUIRE(b.trim_back(16));
  CHECK(std::memcmp(b.data(), "payload", 7) == 0);
  CHECK(b.size() == 7);
}

TEST_CASE("packet buffer refuses what does not fit", "[core][buffer]") {
  auto b = packet_buffer::allocate(32, 8);
  CHECK(b.prepend(9).error() == core::errc::no_headroom);
  CHECK(b.append(25).error() == core::errc::no_tailroom);
  CHECK(b.trim_front(1).error() == core::errc::out_of_range);
  CHECK(b.trim_back(1).error() == core::errc::out_of_range);
  CHECK(b.resize(25).error() == core::errc::too_large);
  CHECK(b.commit(25).error() == core::errc::no_tailroom);
  REQUIRE(b.resize(24));
  CHECK(b.size() == 24);
  b.reset(4);
  CHECK(b.headroom() == 4);
  CHECK(b.empty());
  b.reset(1000);  // clamped
  CHECK(b.headroom() == 32);
  CHECK(b.tailroom() == 0);
  CHECK(b.prepend(32));
  CHECK(b.prepend(1).error() == core::errc::no_headroom);
  CHECK(core::make_error_code(core::errc::no_headroom).message().find("headroom") != std::string::npos);
  CHECK(std::string(core::error_category().name()) == "warren.core");
}

TEST_CASE("packet buffer moves and returns its block to its owner", "[core][buffer]") {
  struct counting_owner final : buffer_storage_owner {
    int released = 0;
    void release_storage(std::byte* block) noexcept override {
      ++released;
      delete[] block;
    }
  } owner;
  {
    packet_buffer a(new std::byte[64], 64, 16, &owner);
    packet_buffer b = std::move(a);
    CHECK(a.capacity() == 0);  // NOLINT: moved-from state is specified
    CHECK(b.capacity() == 64);
    packet_buffer c;
    c = std::move(b);
    CHECK(owner.released == 0);
    c = packet_buffer::allocate(8);
    CHECK(owner.released == 1);
  }
  CHECK(owner.released == 1);
  auto copy = packet_buffer::copy_of(as_byte_view("abc"));
  CHECK(copy.size() == 3);
  CHECK(copy.headroom() == packet_buffer::default_headroom);
  CHECK(copy.tailroom() == packet_buffer::default_tailroom);
  auto space = copy.tail_space();
  space[0] = std::byte{'d'};
  REQUIRE(copy.commit(1));
  CHECK(std::memcmp(copy.data(), "abcd", 4) == 0);
}
