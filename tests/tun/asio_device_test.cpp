#include <warren/tun/adapters/asio_device.hpp>
#include <catch2/catch_test_macros.hpp>

#include "support/netns.hpp"

#include <warren/tun/fd_device.hpp>
#include <warren/tun/linux_tun.hpp>
#include <warren/tun/netlink.hpp>

#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using warren::packet_buffer;
using warren::tun::asio_device;
using warren::tun::fd_device;
namespace tun = warren::tun;
using namespace std::chrono_literals;

struct seqpacket_pair {
  int device = -1;
  int kernel = -1;
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
};

std::vector<packet_buffer> make_batch(std::size_t n) {
  std::vector<packet_buffer> batch;
  for (std::size_t i = 0; i < n; ++i) batch.push_back(packet_buffer::allocate());
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

struct completion {
  std::optional<std::error_code> ec;
  std::size_t n = 0;
  auto handler() {
    return [this](std::error_code e, std::size_t count) {
      ec = e;
      n = count;
    };
  }
};

// Runs the loop until `done` or 3 s pass.
template <class Done>
void run_until(asio::io_context& io, Done done) {
  auto deadline = std::chrono::steady_clock::now() + 3s;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) io.run_for(50ms);
}

}  // namespace

TEST_CASE("asio_device read waits for a packet, then completes with the batch", "[tun]") {
  seqpacket_pair fds;
  REQUIRE(fds.kernel >= 0);
  asio::io_context io;
  auto dev = asio_device<fd_device>::create(io.get_executor(), *fd_device::borrow(fds.device, 1500));
  REQUIRE(dev);
  auto batch = make_batch(4);
  completion done;

  SECTION("nothing yet: the read waits for readability") {
    dev->async_read_batch(batch, done.handler());
    io.restart();
    io.poll();
    CHECK_FALSE(done.ec);  // still waiting
    asio::post(io, [&] { REQUIRE(send_text(fds.kernel, "late")); });
    run_until(io, [&] { return done.ec.has_value(); });
    REQUIRE(done.ec);
    CHECK(*done.ec == std::error_code{});
    REQUIRE(done.n == 1);
    CHECK(text_of(batch[0]) == "late");
  }
  SECTION("already there: completes, but never inside the initiating call") {
    REQUIRE(send_text(fds.kernel, "early 1"));
    REQUIRE(send_text(fds.kernel, "early 2"));
    dev->async_read_batch(batch, done.handler());
    CHECK_FALSE(done.ec);
    run_until(io, [&] { return done.ec.has_value(); });
    REQUIRE(done.ec);
    CHECK(*done.ec == std::error_code{});
    REQUIRE(done.n == 2);
    CHECK(text_of(batch[0]) == "early 1");
    CHECK(text_of(batch[1]) == "early 2");
  }
  SECTION("the device's errors come through: a closed peer") {
    dev->async_read_batch(batch, done.handler());
    fds.close_kernel();
    run_until(io, [&] { return done.ec.has_value(); });
    REQUIRE(done.ec);
    CHECK(*done.ec == tun::errc::closed);
    CHECK(done.n == 0);
  }
  SECTION("cancel ends the wait with operation_aborted") {
    dev->async_read_batch(batch, done.handler());
    io.restart();
    io.poll();
    REQUIRE_FALSE(done.ec);
    dev->cancel();
    run_until(io, [&] { return done.ec.has_value(); });
    REQUIRE(done.ec);
    CHECK(*done.ec == asio::error::operation_aborted);
  }
}

TEST_CASE("asio_device write waits for room when the descriptor is full", "[tun]") {
  seqpacket_pair fds;
  REQUIRE(fds.kernel >= 0);
  asio::io_context io;
  auto dev = asio_device<fd_device>::create(io.get_executor(), *fd_device::borrow(fds.device, 1500));
  REQUIRE(dev);

  std::array<packet_buffer, 2> out{packet_of("a"), packet_of("b")};
  completion done;
  dev->async_write_batch(out, done.handler());
  run_until(io, [&] { return done.ec.has_value(); });
  REQUIRE(done.ec);
  CHECK(*done.ec == std::error_code{});
  CHECK(done.n == 2);
  CHECK(recv_text(fds.kernel) == "a");
  CHECK(recv_text(fds.kernel) == "b");

  // Fill the socket, then start a write that must wait until the far end reads.
  std::vector<packet_buffer> filler;
  for (int i = 0; i < 64; ++i) filler.push_back(packet_buffer::copy_of(std::vector<std::byte>(1000)));
  std::size_t queued = 0;
  for (int round = 0; round < 10000; ++round) {
    auto n = dev->device().write_batch(filler);
    REQUIRE(n);
    queued += *n;
    if (*n < filler.size()) break;
  }
  std::array<packet_buffer, 1> last{packet_buffer::copy_of(std::vector<std::byte>(1000, std::byte{9}))};
  completion waited;
  dev->async_write_batch(last, waited.handler());
  io.restart();
  io.poll();
  REQUIRE_FALSE(waited.ec);  // full: waiting for writability
  for (std::size_t i = 0; i < queued; ++i) REQUIRE(recv_text(fds.kernel).size() == 1000);
  run_until(io, [&] { return waited.ec.has_value(); });
  REQUIRE(waited.ec);
  CHECK(*waited.ec == std::error_code{});
  CHECK(waited.n == 1);
  CHECK(recv_text(fds.kernel) == std::string(1000, '\x09'));
}

TEST_CASE("asio_device leaves the descriptor to the device", "[tun]") {
  seqpacket_pair fds;
  REQUIRE(fds.kernel >= 0);
  asio::io_context io;
  SECTION("a borrowed descriptor stays open after the adapter goes") {
    {
      auto dev = asio_device<fd_device>::create(io.get_executor(), *fd_device::borrow(fds.device, 1500));
      REQUIRE(dev);
      CHECK(dev->device().native_handle() == fds.device);
    }
    CHECK(::fcntl(fds.device, F_GETFD) != -1);
    CHECK(send_text(fds.kernel, "still connected"));
    CHECK(recv_text(fds.device) == "still connected");
  }
  SECTION("moving the adapter keeps the descriptor working") {
    auto dev = asio_device<fd_device>::create(io.get_executor(), *fd_device::borrow(fds.device, 1500));
    REQUIRE(dev);
    asio_device<fd_device> moved = std::move(*dev);
    auto batch = make_batch(1);
    completion done;
    REQUIRE(send_text(fds.kernel, "after move"));
    moved.async_read_batch(batch, done.handler());
    run_until(io, [&] { return done.ec.has_value(); });
    REQUIRE(done.ec);
    CHECK(*done.ec == std::error_code{});
    CHECK(text_of(batch[0]) == "after move");
    CHECK(::fcntl(fds.device, F_GETFD) != -1);
  }
  SECTION("a descriptor Asio cannot watch is an error, not an exception") {
    auto dev = asio_device<fd_device>::create(io.get_executor(), fd_device{});
    REQUIRE_FALSE(dev);
  }
}

TEST_CASE("asio_device reads what the kernel routes into a linux_tun", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");
  auto t = tun::linux_tun::open({.name = "wrn0"});
  REQUIRE(t);
  auto nl = tun::netlink::open();
  REQUIRE(nl);
  REQUIRE(nl->add_address(t->ifindex(), *warren::packet::ip_prefix::parse("192.0.2.1/24")));
  REQUIRE(nl->set_up(t->ifindex(), true));

  asio::io_context io;
  auto dev = asio_device<fd_device>::create(io.get_executor(), std::move(t->queue(0)));
  REQUIRE(dev);
  auto batch = make_batch(8);
  bool found = false;
  int reads = 0;
  std::optional<std::error_code> failure;
  // Reads until the datagram shows up (IPv6 chatter may come first), at most 20 batches.
  std::function<void()> read_more = [&] {
    dev->async_read_batch(batch, [&](std::error_code ec, std::size_t n) {
      if (ec) {
        failure = ec;
        return;
      }
      for (std::size_t i = 0; i < n; ++i) {
        const auto& p = batch[i];
        found = found || (p.size() > 28 && std::to_integer<int>(p.data()[0]) == 0x45 &&
                          std::to_integer<int>(p.data()[9]) == IPPROTO_UDP && warren::load_be16(p.data() + 22) == 9999);
      }
      if (!found && ++reads < 20) read_more();
    });
  };
  read_more();

  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(s >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9999);
  ::inet_pton(AF_INET, "192.0.2.2", &to.sin_addr);
  REQUIRE(::sendto(s, "via asio", 8, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == 8);
  ::close(s);

  run_until(io, [&] { return found || failure.has_value() || reads >= 20; });
  CHECK_FALSE(failure);
  CHECK(found);
}
