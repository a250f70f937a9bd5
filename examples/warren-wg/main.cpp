// warren-wg: a userspace WireGuard daemon with wireguard-go's command line, built from the
// warren SDK. `warren-wg [-f] <ifname>` creates the TUN, serves the UAPI socket at
// /var/run/wireguard/<ifname>.sock (so wg and wg-quick configure it unchanged) and runs until
// SIGINT/SIGTERM, when it removes its socket and interface. Without -f it daemonizes once the
// interface and socket exist, and the parent's exit status says whether that worked:
//   WG_QUICK_USERSPACE_IMPLEMENTATION=warren-wg wg-quick up wg0.conf
#include <warren/version.hpp>
#include <warren/wireguard/adapters/device.hpp>
#include <warren/wireguard/adapters/uapi_server.hpp>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <fcntl.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace wg = warren::wireguard;

namespace {

// Where the daemon reports "ready" or an error to the parent waiting in the foreground.
int status_fd = -1;
// Once detached, messages go to syslog (the daemon facility), as a daemon's should.
bool detached = false;

// One line of news: on stderr in the foreground, to syslog once detached.
[[gnu::format(printf, 2, 3)]] void say(int priority, const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  if (detached) {
    ::vsyslog(priority, format, args);
  } else {
    std::fputs("warren-wg: ", stderr);
    std::vfprintf(stderr, format, args);
    std::fputc('\n', stderr);
  }
  va_end(args);
}

int report_failure(const std::string& message) {
  std::fprintf(stderr, "warren-wg: %s\n", message.c_str());
  if (status_fd >= 0) {
    std::string line = "E" + message;
    (void)::write(status_fd, line.data(), line.size());
  }
  return 1;
}

void report_ready() {
  if (status_fd < 0) return;
  (void)::write(status_fd, "R", 1);
  ::close(status_fd);
  status_fd = -1;
  // Detached: nothing of ours is left on the caller's terminal; news goes to syslog.
  ::openlog("warren-wg", LOG_PID, LOG_DAEMON);
  detached = true;
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) ::close(null);
  }
}

// Forks; the parent waits for the child's verdict and exits with it. Returns in the child.
void daemonize() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) std::exit(report_failure("cannot create a pipe"));
  pid_t pid = ::fork();
  if (pid < 0) std::exit(report_failure("cannot fork"));
  if (pid > 0) {
    ::close(fds[1]);
    std::string got;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
    if (!got.empty() && got[0] == 'R') std::exit(0);
    // The child printed its error already (stderr is still shared until it is ready).
    std::exit(1);
  }
  ::close(fds[0]);
  status_fd = fds[1];
  ::setsid();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Userspace WireGuard daemon built on the warren SDK (wireguard-go's command line).\n"
               "Configure it with wg(8) or wg-quick(8): WG_QUICK_USERSPACE_IMPLEMENTATION=warren-wg"};
  bool foreground = false;
  std::string ifname;
  std::optional<std::size_t> crypto_threads;
  app.add_flag("-f,--foreground", foreground, "stay in the foreground");
  app.add_option("--crypto-threads", crypto_threads,
                 "threads that seal and open beside the main one (default: none below 4 cores, else half the cores, at most 3)")
      ->envname("WARREN_WG_CRYPTO_THREADS")
      ->check(CLI::Range(0, 64));
  app.add_option("interface", ifname, "interface name (at most 15 bytes)")->required();
  app.set_version_flag("--version", std::string("warren-wg ") + warren::version_string);
  CLI11_PARSE(app, argc, argv);
  if (const char* env = std::getenv("WG_PROCESS_FOREGROUND"); env && std::string(env) == "1") foreground = true;

  if (!foreground) daemonize();

  asio::io_context io;
  auto dev = wg::device<>::open(io, {.name = ifname, .crypto_helpers = crypto_threads});
  if (!dev) return report_failure("cannot create interface '" + ifname + "': " + dev.error().message());

  struct handler {
    wg::device<>& d;
    wg::uapi::device_state get() { return d.get(); }
    warren::result<void> set(const wg::uapi::set_request& r) {
      auto done = d.set(r);
      if (!done) say(LOG_WARNING, "(%s) configuration refused: %s", d.name().c_str(), done.error().message().c_str());
      return done;
    }
    // A set the parser refused: say why (never with key material); the last good state stays.
    void on_protocol_error(std::error_code, std::string_view detail) {
      say(LOG_WARNING, "(%s) configuration refused: %.*s", d.name().c_str(),
                   static_cast<int>(detail.size()), detail.data());
    }
  } h{**dev};
  auto uapi = wg::uapi_server<handler>::open(io.get_executor(), (*dev)->name(), h);
  if (!uapi) return report_failure("cannot serve the UAPI socket for '" + ifname + "': " + uapi.error().message());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  auto shut_down = [&] {
    signals.cancel();
    uapi->close();
    (*dev)->close();
    io.stop();
  };
  signals.async_wait([&](std::error_code ec, int) {
    if (!ec) shut_down();
  });
  (*dev)->on_tun_closed([&](std::error_code ec) {
    say(LOG_NOTICE, "(%s) interface gone (%s); shutting down", (*dev)->name().c_str(), ec.message().c_str());
    shut_down();
  });
  if (foreground)
    std::fprintf(stderr, "warren-wg: (%s) up; UAPI at /var/run/wireguard/%s.sock; TUN offloads %s; crypto helper threads: %zu\n",
                 (*dev)->name().c_str(), (*dev)->name().c_str(), (*dev)->offload() ? "on" : "off", (*dev)->crypto_helpers());
  report_ready();
  io.run();
  return 0;
}
