// warren-udp-ping: sends numbered datagrams to a UDP echo service and prints each round trip,
// as ping does for ICMP. Exits 0 if every datagram came back intact, 1 if any was lost or
// changed, 2 on bad arguments.

#include <warren/warren.hpp>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  CLI::App app{"Send datagrams to a UDP echo service and print the round-trip times."};
  std::string host;
  std::uint16_t port = 7;
  unsigned count = 3;
  double timeout_s = 2.0;
  app.add_option("address", host, "echo service address (IPv4 or IPv6)")->required();
  app.add_option("-p,--port", port, "echo service port")->capture_default_str();
  app.add_option("-c,--count", count, "datagrams to send")->capture_default_str()->check(CLI::Range(1u, 10000u));
  app.add_option("-W,--timeout", timeout_s, "seconds to wait for each reply")->capture_default_str()->check(CLI::Range(0.01, 60.0));
  CLI11_PARSE(app, argc, argv);

  auto addr = warren::packet::ip_address::parse(host);
  if (!addr) {
    std::fprintf(stderr, "warren-udp-ping: '%s' is not an IPv4 or IPv6 address\n", host.c_str());
    return 2;
  }
  std::error_code ec;
  auto target = asio::ip::udp::endpoint(asio::ip::make_address(host, ec), port);
  asio::io_context io;
  asio::ip::udp::socket sock(io, addr->is_v6() ? asio::ip::udp::v6() : asio::ip::udp::v4());
  sock.connect(target, ec);
  if (ec) {
    std::fprintf(stderr, "warren-udp-ping: cannot reach %s: %s\n", host.c_str(), ec.message().c_str());
    return 1;
  }
  // Blocking calls with a receive timeout keep this a short program; SO_RCVTIMEO bounds each wait.
  timeval tv{static_cast<time_t>(timeout_s), static_cast<suseconds_t>((timeout_s - static_cast<double>(static_cast<time_t>(timeout_s))) * 1e6)};
  ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  unsigned received = 0;
  for (unsigned seq = 1; seq <= count; ++seq) {
    std::string msg = "warren udp-ping seq=" + std::to_string(seq);
    auto start = std::chrono::steady_clock::now();
    sock.send(asio::buffer(msg), 0, ec);
    char reply[1500];
    std::size_t n = ec ? 0 : sock.receive(asio::buffer(reply), 0, ec);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    if (ec) {
      std::printf("udp echo %s:%u seq=%u: no reply (%s)\n", host.c_str(), port, seq, ec.message().c_str());
    } else if (std::string(reply, n) != msg) {
      std::printf("udp echo %s:%u seq=%u: reply differs from what was sent\n", host.c_str(), port, seq);
    } else {
      ++received;
      std::printf("%zu bytes from %s:%u: seq=%u time=%.3f ms\n", n, host.c_str(), port, seq, static_cast<double>(us) / 1000.0);
    }
  }
  std::printf("--- %s udp echo: %u sent, %u received intact ---\n", host.c_str(), count, received);
  return received == count ? 0 : 1;
}
