#include <warren/tun/fd_device.hpp>
#include <catch2/catch_test_macros.hpp>

#include "tun/archetypes.hpp"

#include <warren/tun/memory_pair.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

// A SOCK_SEQPACKET socketpair stands in for a TUN descriptor: it keeps packet boundaries, like a
// TUN, and its far end plays the kernel.

namespace {

using warren::packet_buffer;
using warren::tun::fd_device;
namespace tun = warren::tun;

struct seqpacket_pair {
  int device = -1;  // what fd_device gets
  int kernel = -1;  // the test's end
  seqpacket_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0) {
      device = fds[0];
      kernel = fds[1];
    }
  }
  seqpacket_pair(const seqpacket_pair&) = delete;
  seqpacket_pair& operator=(const seqpacket_pair&) = delete;
  ~seqpacket_pair() {
    close_kernel();
    if (device >= 0) ::close(device);
  }
  void close_kernel() {
    if (kernel >= 0) ::close(kernel);
    kernel = -1;
  }
  // The device fd was adopted: the device closes it, not us.
  int give_device() { return std::exchange(device, -1); }
};

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

std::vector<packet_buffer> make_batch(std::size_t n, std::size_t capacity = packet_buffer::default_capacity) {
  std::vector<packet_buffer> batch;
  for (std::size_t i = 0; i < n; ++i) batch.push_back(packet_buffer::allocate(capacity));
  return batch;
}
packet_buffer packet_of(std::string_view text) { return packet_buffer::copy_of(warren::as_byte_view(text)); }
std::string_view text_of(const packet_buffer& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

bool send_text(int fd, std::string_view text) {
  return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}
std::string recv_text(int fd) {
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  return n < 0 ? std::string("<nothing>") : std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

TEST_CASE("fd_device reads one packet per buffer until the descriptor would block", "[tun]") {
  seqpacket_pair fds;
  REQUIRE(fds.kernel >= 0);
  auto dev = fd_device::adopt(fds.give_device(), 1500);
  REQUIRE(dev);
  auto batch = make_batch(4);

  SECTION("nothing waiting (EAGAIN) is 0, not an error") {
    REQUIRE(dev->read_batch(batch) == 0u);
  }
  SECTION("fewer packets than buffers") {
    REQUIRE(send_text(fds.kernel, "alpha"));
    REQUIRE(send_text(fds.kernel, "beta"));
    REQUIRE(send_text(fds.kernel, "gamma"));
    REQUIRE(dev->read_batch(batch) == 3u);
    CHECK(text_of(batch[0]) == "alpha");
    CHECK(text_of(batch[1]) == "beta");
    CHECK(text_of(batch[2]) == "gamma");
    CHECK(batch[0].headroom() == packet_buffer::default_headroom);
    REQUIRE(dev->read_batch(batch) == 0u);
  }
  SECTION("more packets than buffers: the rest waits for the next call") {
    for (int i = 0; i < 6; ++i) REQUIRE(send_text(fds.kernel, std::to_string(i)));
    REQUIRE(dev->read_batch(batch) == 4u);
    CHECK(text_of(batch[3]) == "3");
    REQUIRE(dev->read_batch(batch) == 2u);
    CHECK(text_of(batch[0]) == "4");
    CHECK(text_of(batch[1]) == "5");
  }
  SECTION("an empty span reads nothing") {
    REQUIRE(send_text(fds.kernel, "kept"));
    REQUIRE(dev->read_batch(std::span<packet_buffer>{}) == 0u);
    REQUIRE(dev->read_batch(batch) == 1u);
    CHECK(text_of(batch[0]) == "kept");
  }
}

TEST_CASE("fd_device writes packets in order and stops when the descriptor is full", "[tun]") {
  seqpacket_pair fds;
  REQUIRE(fds.kernel >= 0);
  auto dev = fd_device::borrow(fds.device, 1500);
  REQUIRE(dev);

  SECTION("in order, buffers unchanged") {
    std::array<packet_buffer, 2> out{packet_of("first"), packet_of("second")};
    REQUIRE(dev->write_batch(out) == 2u);
    CHECK(recv_text(fds.kernel) == "first");
    CHECK(recv_text(fds.kernel) == "second");
    CHECK(text_of(out[0]) == "first");
  }
  SECTION("full (EAGAIN) takes fewer, then 0, and room lets it go on") {
    std::vector<packet_buffer> out;
    for (int i = 0; i < 64; ++i) out.push_back(packet_buffer::copy_of(std::vector<std::byte>(1000)));
    std::size_t total = 0;
    bool short_write = false;
    for (int round = 0; round < 10000 && !short_write; ++round) {
      auto n = dev->write_batch(out);
      REQUIRE(n);
      total += *n;
      short_write = *n < out.size();
    }
    REQUIRE(short_write);
    REQUIRE(total > 0);
    // Full now: a packet of the size that was refused stays out until the far end reads.
    std::array<packet_buffer, 1> one{packet_buffer::copy_of(std::vector<std::byte>(1000, std::byte{7}))};
    REQUIRE(dev->write_batch(one) == 0u);
    for (std::size_t i = 0; i < total; ++i) REQUIRE(recv_text(fds.kernel).size() == 1000);
    REQUIRE(recv_text(fds.kernel) == "<nothing>");
    REQUIRE(dev->write_batch(one) == 1u);
    CHECK(recv_text(fds.kernel) == std::string(1000, '\x07'));
  }
  SECTION("a packet above the MTU fails alone, after the ones before it") {
    auto small = fd_device::borrow(fds.device, 4);
    REQUIRE(small);
    std::array<packet_buffer, 3> out{packet_of("ok"), packet_of("too long"), packet_of("ok2")};
    REQUIRE(small->write_batch(out) == 1u);
    auto r = small->write_batch(std::span(out).subspan(1));
    REQUIRE_FALSE(r);
    CHECK(r.error() == tun::errc::packet_too_large);
    REQUIRE(small->write_batch(std::span(out).subspan(2)) == 1u);
    CHECK(recv_text(fds.kernel) == "ok");
    CHECK(recv_text(fds.kernel) == "ok2");
  }
}

TEST_CASE("fd_device adopt closes the descriptor, borrow does not", "[tun]") {
  seqpacket_pair fds;
  REQUIRE(fds.kernel >= 0);

  SECTION("adopt") {
    int fd = fds.give_device();
    {
      auto dev = fd_device::adopt(fd, 1500);
      REQUIRE(dev);
      CHECK(dev->owns_handle());
      CHECK(dev->native_handle() == fd);
      CHECK(is_open(fd));
    }
    CHECK_FALSE(is_open(fd));
  }
  SECTION("adopt closes even when it fails") {
    int fd = fds.give_device();
    auto dev = fd_device::adopt(fd, 0);
    REQUIRE_FALSE(dev);
    CHECK(dev.error() == tun::errc::invalid_options);
    CHECK_FALSE(is_open(fd));
  }
  SECTION("borrow") {
    {
      auto dev = fd_device::borrow(fds.device, 1500);
      REQUIRE(dev);
      CHECK_FALSE(dev->owns_handle());
    }
    CHECK(is_open(fds.device));
  }
  SECTION("release hands the descriptor back") {
    int fd = fds.give_device();
    int back = -1;
    {
      auto dev = fd_device::adopt(fd, 1500);
      REQUIRE(dev);
      back = dev->release();
      CHECK(dev->native_handle() == -1);
      auto batch = make_batch(1);
      CHECK(dev->read_batch(batch).error() == tun::errc::closed);
    }
    REQUIRE(back == fd);
    CHECK(is_open(fd));
    ::close(fd);
  }
  SECTION("moving keeps one owner") {
    int fd = fds.give_device();
    auto dev = fd_device::adopt(fd, 1500);
    REQUIRE(dev);
    fd_device moved = std::move(*dev);
    CHECK(dev->native_handle() == -1);
    CHECK(moved.native_handle() == fd);
    *dev = fd_device{};  // destroying the moved-from one must not close fd
    CHECK(is_open(fd));
  }
}

TEST_CASE("fd_device makes the descriptor non-blocking and rejects bad arguments", "[tun]") {
  seqpacket_pair fds;
  REQUIRE(fds.kernel >= 0);
  REQUIRE((::fcntl(fds.device, F_GETFL) & O_NONBLOCK) == 0);
  auto dev = fd_device::borrow(fds.device, 1500);
  REQUIRE(dev);
  CHECK((::fcntl(fds.device, F_GETFL) & O_NONBLOCK) != 0);
  CHECK(dev->mtu() == 1500);

  auto negative = fd_device::borrow(-1, 1500);
  REQUIRE_FALSE(negative);
  CHECK(negative.error() == tun::errc::invalid_options);
  auto not_open = fd_device::borrow(fds.kernel + 1000, 1500);
  REQUIRE_FALSE(not_open);
  CHECK(not_open.error() == std::errc::bad_file_descriptor);
  fd_device none;
  auto batch = make_batch(1);
  CHECK(none.read_batch(batch).error() == tun::errc::closed);
  CHECK(none.write_batch(batch).error() == tun::errc::closed);
}

TEST_CASE("fd_device refuses buffers smaller than the MTU and drops cut-off packets", "[tun]") {
  seqpacket_pair fds;
  REQUIRE(fds.kernel >= 0);
  auto dev = fd_device::borrow(fds.device, 100);
  REQUIRE(dev);

  SECTION("tail space below the MTU") {
    REQUIRE(send_text(fds.kernel, "waits"));
    auto small = make_batch(1, 150);  // 150 - 96 headroom = 54 bytes of tail space
    auto r = dev->read_batch(small);
    REQUIRE_FALSE(r);
    CHECK(r.error() == tun::errc::buffer_too_small);
    auto fine = make_batch(1);
    REQUIRE(dev->read_batch(fine) == 1u);  // the packet waited
    CHECK(text_of(fine[0]) == "waits");
  }
  SECTION("a packet larger than the buffer is dropped and counted") {
    REQUIRE(send_text(fds.kernel, std::string(300, 'x')));
    REQUIRE(send_text(fds.kernel, "after"));
    auto batch = make_batch(2, 96 + 200);
    REQUIRE(dev->read_batch(batch) == 1u);
    CHECK(text_of(batch[0]) == "after");
    CHECK(dev->dropped() == 1);
  }
}

TEST_CASE("fd_device reports a closed peer without SIGPIPE", "[tun]") {
  seqpacket_pair fds;
  REQUIRE(fds.kernel >= 0);
  auto dev = fd_device::borrow(fds.device, 1500);
  REQUIRE(dev);
  REQUIRE(send_text(fds.kernel, "before close"));
  fds.close_kernel();
  auto batch = make_batch(2);
  REQUIRE(dev->read_batch(batch) == 1u);  // what was sent is still delivered
  CHECK(text_of(batch[0]) == "before close");
  auto r = dev->read_batch(batch);
  REQUIRE_FALSE(r);
  CHECK(r.error() == tun::errc::closed);
  std::array<packet_buffer, 1> out{packet_of("into the void")};
  auto w = dev->write_batch(out);
  REQUIRE_FALSE(w);
  CHECK(w.error() == tun::errc::closed);
}

TEST_CASE("fd_device utun framing adds and strips the 4-byte address family", "[tun]") {
  seqpacket_pair fds;
  REQUIRE(fds.kernel >= 0);
  auto dev = fd_device::borrow(fds.device, 1500, fd_device::framing::utun);
  REQUIRE(dev);
  const std::string v4_packet = std::string("\x45\x00\x00\x05", 4) + "v4";
  const std::string v6_packet = std::string("\x60\x00\x00\x00", 4) + "v6";

  SECTION("write prepends AF_INET (2) or Darwin's AF_INET6 (30)") {
    std::array<packet_buffer, 2> out{packet_of(v4_packet), packet_of(v6_packet)};
    REQUIRE(dev->write_batch(out) == 2u);
    CHECK(recv_text(fds.kernel) == std::string("\0\0\0\x02", 4) + v4_packet);
    CHECK(recv_text(fds.kernel) == std::string("\0\0\0\x1e", 4) + v6_packet);
  }
  SECTION("read strips the header; a frame with nothing behind it is dropped") {
    REQUIRE(send_text(fds.kernel, std::string("\0\0\0\x02", 4) + v4_packet));
    REQUIRE(send_text(fds.kernel, std::string("\0\0\0\x02", 4)));
    REQUIRE(send_text(fds.kernel, std::string("\0\0\0\x1e", 4) + v6_packet));
    auto batch = make_batch(3);
    REQUIRE(dev->read_batch(batch) == 2u);
    CHECK(text_of(batch[0]) == v4_packet);
    CHECK(text_of(batch[1]) == v6_packet);
    CHECK(dev->dropped() == 1);
  }
  SECTION("a packet that is not IP cannot be framed") {
    std::array<packet_buffer, 1> out{packet_of("xyz")};  // version nibble 7
    auto r = dev->write_batch(out);
    REQUIRE_FALSE(r);
    CHECK(r.error() == warren::packet::errc::bad_version);
  }
}

TEST_CASE("generic code written against the archetype runs on fd_device", "[tun]") {
  seqpacket_pair fds;
  REQUIRE(fds.kernel >= 0);
  auto dev = fd_device::borrow(fds.device, 1500);
  REQUIRE(dev);
  warren::tun::memory_pair pair(4, 1500);
  REQUIRE(send_text(fds.kernel, "through"));
  auto batch = make_batch(2);
  REQUIRE(warren::tun::test::forward_batch(*dev, pair.first(), batch) == 1u);
  auto in = make_batch(1);
  REQUIRE(pair.second().read_batch(in) == 1u);
  CHECK(text_of(in[0]) == "through");
}
