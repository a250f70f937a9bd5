// udp_delay_relay: holds every UDP datagram for a fixed time before passing it on, both ways,
// between one client and one upstream. The namespace tests use it where the kernel has no
// sch_netem (`tc qdisc ... netem delay` fails with "qdisc kind is unknown"): a server's port
// is then this relay, which adds the delay in front of the real daemon.
//
//   udp_delay_relay <listen ip> <listen port> <upstream ip> <upstream port> <delay ms>
//
// The client is whoever sent the last datagram to the listening socket. Runs until SIGTERM or
// SIGINT. IPv4 only (the tests' underlay is IPv4).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t stop = 0;
void on_signal(int) { stop = 1; }

sockaddr_in address(const char* ip, const char* port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::atoi(port)));
  if (::inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
    std::fprintf(stderr, "udp_delay_relay: '%s' is not an IPv4 address\n", ip);
    std::exit(2);
  }
  return a;
}

struct held {
  std::chrono::steady_clock::time_point due;
  bool to_upstream;
  sockaddr_in to;
  std::vector<char> bytes;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: udp_delay_relay <listen ip> <listen port> <upstream ip> <upstream port> <delay ms>\n");
    return 2;
  }
  const sockaddr_in listen_at = address(argv[1], argv[2]);
  const sockaddr_in upstream = address(argv[3], argv[4]);
  const auto delay = std::chrono::milliseconds(std::atoi(argv[5]));
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);

  const int front = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int back = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (front < 0 || back < 0 || ::bind(front, reinterpret_cast<const sockaddr*>(&listen_at), sizeof listen_at) != 0) {
    std::perror("udp_delay_relay: socket/bind");
    return 1;
  }
  std::fprintf(stderr, "udp_delay_relay: %s:%s -> %s:%s, %d ms each way\n", argv[1], argv[2], argv[3], argv[4],
               std::atoi(argv[5]));
  sockaddr_in client{};
  bool have_client = false;
  std::deque<held> queue;  // in due order: one fixed delay keeps arrival order
  std::vector<char> buf(65536);
  while (!stop) {
    int timeout = -1;
    if (!queue.empty()) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(queue.front().due - std::chrono::steady_clock::now());
      timeout = wait.count() < 0 ? 0 : static_cast<int>(wait.count()) + 1;
    }
    pollfd fds[2] = {{front, POLLIN, 0}, {back, POLLIN, 0}};
    if (::poll(fds, 2, timeout) < 0) continue;  // EINTR: look at `stop`
    const auto now = std::chrono::steady_clock::now();
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n = ::recvfrom(fds[i].fd, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) continue;
      if (i == 0) {
        client = from;
        have_client = true;
        queue.push_back({now + delay, true, upstream, std::vector<char>(buf.begin(), buf.begin() + n)});
      } else if (have_client) {
        queue.push_back({now + delay, false, client, std::vector<char>(buf.begin(), buf.begin() + n)});
      }
    }
    while (!queue.empty() && queue.front().due <= std::chrono::steady_clock::now()) {
      const held& h = queue.front();
      (void)::sendto(h.to_upstream ? back : front, h.bytes.data(), h.bytes.size(), 0,
                     reinterpret_cast<const sockaddr*>(&h.to), sizeof h.to);
      queue.pop_front();
    }
  }
  return 0;
}
