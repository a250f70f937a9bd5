#include <warren/tun/memory_pair.hpp>
#include <catch2/catch_test_macros.hpp>

#include "tun/archetypes.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using warren::packet_buffer;
using warren::tun::memory_pair;
namespace tun = warren::tun;

std::vector<packet_buffer> make_batch(std::size_t n, std::size_t capacity = packet_buffer::default_capacity) {
  std::vector<packet_buffer> batch;
  for (std::size_t i = 0; i < n; ++i) batch.push_back(packet_buffer::allocate(capacity));
  return batch;
}

packet_buffer packet_of(std::string_view text) { return packet_buffer::copy_of(warren::as_byte_view(text)); }

std::string_view text_of(const packet_buffer& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

TEST_CASE("memory_pair delivers what one end writes to the other, in order", "[tun]") {
  memory_pair pair(8, 1500);
  std::array<packet_buffer, 3> out{packet_of("one"), packet_of("two"), packet_of("three")};
  auto in = make_batch(4);

  SECTION("first to second") {
    REQUIRE(pair.first().write_batch(out) == 3u);
    REQUIRE(pair.second().pending() == 3);
    REQUIRE(pair.first().pending() == 0);
    REQUIRE(pair.second().read_batch(in) == 3u);
    CHECK(text_of(in[0]) == "one");
    CHECK(text_of(in[1]) == "two");
    CHECK(text_of(in[2]) == "three");
    REQUIRE(pair.second().read_batch(in) == 0u);  // drained: nothing waiting is 0, not an error
  }
  SECTION("second to first") {
    REQUIRE(pair.second().write_batch(std::span(out).first(1)) == 1u);
    REQUIRE(pair.second().read_batch(in) == 0u);  // nothing comes back to the writer
    REQUIRE(pair.first().read_batch(in) == 1u);
    CHECK(text_of(in[0]) == "one");
  }
  SECTION("packets are copied: the writer may reuse its buffers at once") {
    REQUIRE(pair.first().write_batch(std::span(out).first(1)) == 1u);
    out[0].bytes()[0] = std::byte{'X'};
    REQUIRE(pair.second().read_batch(in) == 1u);
    CHECK(text_of(in[0]) == "one");
    CHECK(text_of(out[0]) == "Xne");
  }
}

TEST_CASE("memory_pair reads into the tail space, keeping each buffer's headroom", "[tun]") {
  memory_pair pair(4, 100);
  std::array<packet_buffer, 1> out{packet_of("payload")};
  REQUIRE(pair.first().write_batch(out) == 1u);
  std::array<packet_buffer, 1> in{packet_buffer::allocate(400, 40)};
  REQUIRE(in[0].append(warren::as_byte_view("stale")));
  REQUIRE(pair.second().read_batch(in) == 1u);
  CHECK(in[0].headroom() == 40);
  CHECK(text_of(in[0]) == "payload");
}

TEST_CASE("memory_pair queue is bounded: write_batch takes fewer when full", "[tun]") {
  memory_pair pair(3, 1500);
  std::array<packet_buffer, 5> out{packet_of("a"), packet_of("b"), packet_of("c"), packet_of("d"), packet_of("e")};
  REQUIRE(pair.first().write_batch(out) == 3u);
  REQUIRE(pair.first().write_batch(std::span(out).subspan(3)) == 0u);  // full, not an error
  auto in = make_batch(2);
  REQUIRE(pair.second().read_batch(in) == 2u);
  CHECK(text_of(in[0]) == "a");
  CHECK(text_of(in[1]) == "b");
  REQUIRE(pair.first().write_batch(std::span(out).subspan(3)) == 2u);
  auto rest = make_batch(5);
  REQUIRE(pair.second().read_batch(rest) == 3u);
  CHECK(text_of(rest[0]) == "c");
  CHECK(text_of(rest[1]) == "d");
  CHECK(text_of(rest[2]) == "e");
}

TEST_CASE("memory_pair reports size errors by the contract's rule", "[tun]") {
  memory_pair pair(8, 4);
  SECTION("a packet above the MTU fails alone, after the packets before it are taken") {
    std::array<packet_buffer, 3> out{packet_of("ok"), packet_of("too long"), packet_of("ok2")};
    REQUIRE(pair.first().write_batch(out) == 1u);
    auto again = pair.first().write_batch(std::span(out).subspan(1));
    REQUIRE_FALSE(again);
    CHECK(again.error() == tun::errc::packet_too_large);
    CHECK(again.error() == std::errc::message_size);
    REQUIRE(pair.first().write_batch(std::span(out).subspan(2)) == 1u);  // dropped, went on
  }
  SECTION("a buffer with less tail space than the MTU is refused") {
    std::array<packet_buffer, 1> out{packet_of("ok")};
    REQUIRE(pair.first().write_batch(out) == 1u);
    std::array<packet_buffer, 1> small{packet_buffer::allocate(3, 0)};
    auto r = pair.second().read_batch(small);
    REQUIRE_FALSE(r);
    CHECK(r.error() == tun::errc::buffer_too_small);
    CHECK(pair.second().pending() == 1);  // nothing was lost
  }
}

TEST_CASE("memory_pair end closes: the peer drains, then sees closed", "[tun]") {
  memory_pair pair(8, 1500);
  std::array<packet_buffer, 1> out{packet_of("last")};
  auto in = make_batch(1);
  REQUIRE(pair.first().write_batch(out) == 1u);

  SECTION("by close()") { pair.first().close(); }
  SECTION("by destruction of a moved-out end") {
    { memory_pair::end moved = std::move(pair.first()); }
    REQUIRE(pair.first().read_batch(in).error() == tun::errc::closed);  // moved-from end
  }
  REQUIRE(pair.second().read_batch(in) == 1u);
  CHECK(text_of(in[0]) == "last");
  auto r = pair.second().read_batch(in);
  REQUIRE_FALSE(r);
  CHECK(r.error() == tun::errc::closed);
  auto w = pair.second().write_batch(out);
  REQUIRE_FALSE(w);
  CHECK(w.error() == tun::errc::closed);
}

TEST_CASE("memory_pair ends outlive the pair and may sit on different threads", "[tun]") {
  memory_pair::end a;
  memory_pair::end b;
  {
    memory_pair pair(16, 1500);
    a = std::move(pair.first());
    b = std::move(pair.second());
  }
  constexpr std::size_t total = 200;
  std::thread writer([&a] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::size_t sent = 0;
    std::array<packet_buffer, 1> one{packet_buffer::allocate()};
    while (sent < total && std::chrono::steady_clock::now() < deadline) {
      one[0].reset();
      (void)one[0].append(warren::as_byte_view(std::to_string(sent)));
      auto n = a.write_batch(one);
      if (!n) return;
      if (*n == 1) {
        ++sent;
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::size_t received = 0;
  bool in_order = true;
  auto in = make_batch(8);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (received < total && std::chrono::steady_clock::now() < deadline) {
    auto n = b.read_batch(in);
    REQUIRE(n);
    for (std::size_t i = 0; i < *n; ++i) in_order = in_order && text_of(in[i]) == std::to_string(received + i);
    received += *n;
    if (*n == 0) std::this_thread::yield();
  }
  writer.join();
  CHECK(received == total);
  CHECK(in_order);
}

TEST_CASE("generic code written against the packet_device archetype runs on memory_pair", "[tun]") {
  auto batch = make_batch(4);
  REQUIRE(warren::tun::test::forward_between_archetypes(batch) == 0u);

  memory_pair left(8, 1500);
  memory_pair right(2, 1500);
  std::array<packet_buffer, 3> out{packet_of("x"), packet_of("y"), packet_of("z")};
  REQUIRE(left.first().write_batch(out) == 3u);
  // right holds two: the forwarder takes three from left and stops when right is full.
  REQUIRE(warren::tun::test::forward_batch(left.second(), right.first(), batch) == 2u);
  auto in = make_batch(4);
  REQUIRE(right.second().read_batch(in) == 2u);
  CHECK(text_of(in[0]) == "x");
  CHECK(text_of(in[1]) == "y");
}
