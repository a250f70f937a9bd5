#include <warren/wireguard/adapters/uapi_server.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <warren/wireguard/uapi.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <ios>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

// A hand-built test runs from the source directory; CMake passes it otherwise.
#ifndef WARREN_SOURCE_DIR
#define WARREN_SOURCE_DIR "."
#endif

extern char** environ;

namespace {

namespace uapi = warren::wireguard::uapi;
using warren::wireguard::uapi_server;
using warren::wireguard::uapi_server_errc;
using warren::wireguard::uapi_server_options;
using Catch::Matchers::ContainsSubstring;
using namespace std::chrono_literals;

// Every wait in this file gives up after this long; none is expected to come close.
constexpr auto patience = 10s;

// The keys of tests/wireguard/fixtures/uapi/ (throwaway keys from `wg genkey`), so that the
// canned state below is the one whose `wg show dump` output is in the fixtures.
const std::string private_hex = "9858c0f08a13555987546d044df9eee8c92baa69ce2a41133a361a72e792ec4f";
const std::string peer2_hex = "55c21df3165e4f71ee6504ab56f7b60eb43c9aa5c88ffd6ebb6981ad5056472b";
const std::string peer3_hex = "34b26f297e9bda43f43f437be85b4f51982af61415c4554460ec7b8ddcebab42";
const std::string peer3_base64 = "NLJvKX6b2kP0P0N76FtPUZgq9hQVxFVEYOx7jdzrq0I=";
const std::string psk_hex = "0eda7415f90d6165d7ac85a6aebeafedb0d91b7e134e3889b9a83ce14f6f78fa";

warren::crypto::public_key key(std::string_view hex) {
  REQUIRE(hex.size() == 64);
  warren::crypto::public_key k{};
  for (std::size_t i = 0; i < 32; ++i)
    k[i] = static_cast<std::byte>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
  return k;
}
warren::crypto::symmetric_key secret(std::string_view hex) {
  auto k = key(hex);
  return warren::crypto::symmetric_key{std::span<const std::byte, 32>{k}};
}
warren::packet::ip_prefix prefix(const char* text) { return warren::packet::ip_prefix::parse(text).value(); }

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(WARREN_SOURCE_DIR) + "/tests/wireguard/fixtures/uapi/" + name, std::ios::binary);
  INFO("fixture " << name << " (run a hand-built test from the source directory)");
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The interface of get_two_peers.resp: what uapi_test.cpp formats and wg accepted.
uapi::device_state canned_state() {
  uapi::device_state state;
  state.private_key = secret(private_hex);
  state.listen_port = 51820;
  state.fwmark = 0x1234;
  uapi::peer_state p2;
  p2.public_key = key(peer2_hex);
  p2.preshared_key = secret(psk_hex);
  p2.endpoint = uapi::endpoint::parse("192.0.2.7:51821").value();
  p2.persistent_keepalive_interval = 25;
  p2.last_handshake_time = std::chrono::sys_time<std::chrono::nanoseconds>{
      std::chrono::seconds{1'700'000'000} + std::chrono::nanoseconds{123'456'789}};
  p2.tx_bytes = 1000;
  p2.rx_bytes = 2000;
  p2.allowed_ips = {prefix("10.0.0.2/32"), prefix("fd00::2/128")};
  uapi::peer_state p3;
  p3.public_key = key(peer3_hex);
  p3.endpoint = uapi::endpoint::parse("[2001:db8::1]:51822").value();
  p3.allowed_ips = {prefix("10.0.1.0/24"), prefix("0.0.0.0/0"), prefix("::/0")};
  state.peers = {p2, p3};
  return state;
}

// The device behind the socket. Called on the io thread, read by the test thread: a mutex.
struct fake_device {
  mutable std::mutex mutex;
  uapi::device_state state = canned_state();
  std::vector<uapi::set_request> sets;
  std::size_t gets = 0;
  std::error_code set_error;  // what set() returns
  std::vector<std::string> protocol_errors;

  uapi::device_state get() {
    std::lock_guard lock(mutex);
    ++gets;
    return state;
  }
  warren::result<void> set(const uapi::set_request& request) {
    std::lock_guard lock(mutex);
    sets.push_back(request);
    if (set_error) return warren::unexpected(set_error);
    return {};
  }
  void on_protocol_error(std::error_code, std::string_view detail) {
    std::lock_guard lock(mutex);
    protocol_errors.emplace_back(detail);
  }

  std::vector<uapi::set_request> seen_sets() const {
    std::lock_guard lock(mutex);
    return sets;
  }
  std::size_t seen_gets() const {
    std::lock_guard lock(mutex);
    return gets;
  }
  std::vector<std::string> seen_protocol_errors() const {
    std::lock_guard lock(mutex);
    return protocol_errors;
  }
};
static_assert(warren::wireguard::uapi_handler<fake_device>);

// A fresh directory under /tmp, removed with everything in it.
struct temp_dir {
  std::string path;
  temp_dir() {
    char name[] = "/tmp/warren-uapi-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path = name;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// An io_context running on its own thread until destroyed.
struct io_thread {
  asio::io_context context;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(context);
  std::thread thread;

  void start() {
    thread = std::thread([this] { context.run(); });
  }
  io_thread() = default;
  io_thread(const io_thread&) = delete;
  io_thread& operator=(const io_thread&) = delete;
  ~io_thread() {
    work.reset();
    context.stop();
    if (thread.joinable()) thread.join();
  }

  // Runs f on the io thread and waits for it, as the server's contract asks of close().
  template <class F>
  auto run(F f) -> decltype(f()) {
    if (!thread.joinable()) return f();  // not started: nothing runs concurrently
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto done = task.get_future();
    asio::post(context, std::move(task));
    REQUIRE(done.wait_for(patience) == std::future_status::ready);
    return done.get();
  }
  // The same for destructors, which must not throw: on a timeout the io thread is stuck, and
  // stopping it is all that is left to do.
  void run_quietly(std::function<void()> f) noexcept {
    if (!thread.joinable()) return f();
    std::packaged_task<void()> task(std::move(f));
    auto done = task.get_future();
    asio::post(context, std::move(task));
    if (done.wait_for(patience) != std::future_status::ready) context.stop();
  }
};

using server_type = uapi_server<fake_device>;

// One server in a temporary directory, served by an io thread. Members are destroyed in
// reverse: the server is closed on the io thread before the thread stops and the directory goes.
struct served {
  temp_dir dir;
  fake_device device;
  io_thread io;
  std::optional<server_type> server;

  // `prepare` runs on the directory before the server opens there.
  explicit served(uapi_server_options opts = {}, const std::function<void(const std::string&)>& prepare = {}) {
    opts.directory = dir.path + "/run/wireguard";
    if (prepare) {
      REQUIRE(::mkdir(opts.directory.substr(0, opts.directory.rfind('/')).c_str(), 0700) == 0);
      REQUIRE(::mkdir(opts.directory.c_str(), 0700) == 0);
      prepare(opts.directory);
    }
    std::string why;
    auto opened = server_type::open(io.context.get_executor(), "wgtest0", device, opts, &why);
    INFO(why);
    REQUIRE(opened);
    server.emplace(std::move(*opened));
    io.start();
  }
  served(const served&) = delete;
  served& operator=(const served&) = delete;
  ~served() {
    io.run_quietly([this] { server.reset(); });
  }
  std::string path() const { return server->path(); }
  std::size_t connections() {
    return io.run([this] { return server->connection_count(); });
  }
  // Waits until the server holds `n` connections.
  bool wait_for_connections(std::size_t n) {
    auto until = std::chrono::steady_clock::now() + patience;
    while (connections() != n) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }
};

// A plain blocking unix-socket client, as wg is one.
class client {
 public:
  explicit client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    ::sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, path.data(), path.size());
    connect_errno_ = ::connect(fd_, reinterpret_cast<const ::sockaddr*>(&address), sizeof address) == 0 ? 0 : errno;
  }
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  ~client() { close(); }

  bool connected() const { return connect_errno_ == 0; }
  int connect_errno() const { return connect_errno_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Sends everything; false when the server has closed the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One reply: everything up to and including the first empty line ("errno=N\n\n" ends every
  // reply, and no line before it is empty). nullopt on EOF or timeout.
  std::optional<std::string> reply() {
    auto until = std::chrono::steady_clock::now() + patience;
    while (true) {
      auto end = pending_.find("\n\n");
      if (end != std::string::npos) {
        std::string one = pending_.substr(0, end + 2);
        pending_.erase(0, end + 2);
        return one;
      }
      if (!read_some(until)) return std::nullopt;
    }
  }

  // Reads until the server closes the connection. nullopt if it does not within the patience.
  std::optional<std::string> until_closed() {
    auto until = std::chrono::steady_clock::now() + patience;
    while (read_some(until)) {
    }
    if (!closed_) return std::nullopt;
    return std::exchange(pending_, {});
  }

 private:
  // Appends what arrives; false on EOF, a reset or the deadline.
  bool read_some(std::chrono::steady_clock::time_point until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    ::pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready <= 0) return false;
    std::array<char, 4096> buffer;
    auto n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n <= 0) {
      // A unix socket closed with our bytes still unread reports ECONNRESET instead of EOF.
      closed_ = n == 0 || errno == ECONNRESET;
      return false;
    }
    pending_.append(buffer.data(), static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  int connect_errno_ = 0;
  bool closed_ = false;
  std::string pending_;
};

const std::string set_body =
    "listen_port=51999\n"
    "public_key=" + peer3_hex + "\n"
    "replace_allowed_ips=true\n"
    "allowed_ip=10.9.0.0/24\n";

uapi::set_request expected_set() {
  uapi::set_request r;
  r.listen_port = 51999;
  uapi::peer_change peer;
  peer.public_key = key(peer3_hex);
  peer.replace_allowed_ips = true;
  peer.allowed_ips = {prefix("10.9.0.0/24")};
  r.peers.push_back(peer);
  return r;
}

std::string get_reply() { return uapi::format_get(canned_state()) + "errno=0\n\n"; }

bool exists(const std::string& path) {
  struct ::stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Leaves a socket file at `path` that nobody listens on, as a killed server does.
void make_stale_socket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  ::sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  int bound = ::bind(fd, reinterpret_cast<const ::sockaddr*>(&address), sizeof address);
  ::close(fd);
  REQUIRE(bound == 0);
}

}  // namespace

TEST_CASE("uapi_server answers get and set from a plain socket client", "[wireguard][uapi]") {
  served s;
  client c(s.path());
  REQUIRE(c.connected());

  SECTION("get replies with the device's state and errno=0") {
    REQUIRE(c.send("get=1\n\n"));
    CHECK(c.reply() == get_reply());
    CHECK(s.device.seen_gets() == 1);
    CHECK(s.device.seen_sets().empty());
  }
  SECTION("set hands the parsed request to the device and replies errno=0") {
    REQUIRE(c.send("set=1\n" + set_body + "\n"));
    CHECK(c.reply() == "errno=0\n\n");
    auto sets = s.device.seen_sets();
    REQUIRE(sets.size() == 1);
    CHECK(sets[0] == expected_set());
  }
  SECTION("a set the device refuses replies with that error's negated errno") {
    {
      std::lock_guard lock(s.device.mutex);
      s.device.set_error = std::make_error_code(std::errc::address_in_use);
    }
    REQUIRE(c.send("set=1\nlisten_port=1\n\n"));
    CHECK(c.reply() == "errno=-98\n\n");
    CHECK(s.device.seen_sets().size() == 1);
  }
}

TEST_CASE("uapi_server serves several requests on one connection in order", "[wireguard][uapi]") {
  served s;
  client c(s.path());
  REQUIRE(c.connected());
  const std::string stream = "get=1\n\nset=1\n" + set_body + "\nget=1\n\nset=1\nfwmark=7\n\n";

  SECTION("sent in one write") { REQUIRE(c.send(stream)); }
  SECTION("sent a byte at a time") {
    for (char byte : stream) REQUIRE(c.send(std::string_view{&byte, 1}));
  }
  CHECK(c.reply() == get_reply());
  CHECK(c.reply() == "errno=0\n\n");
  CHECK(c.reply() == get_reply());
  CHECK(c.reply() == "errno=0\n\n");
  auto sets = s.device.seen_sets();
  REQUIRE(sets.size() == 2);
  CHECK(sets[0] == expected_set());
  CHECK(sets[1].fwmark == 7u);
  CHECK(s.device.seen_gets() == 2);
  // The connection stays open for more.
  REQUIRE(c.send("get=1\n\n"));
  CHECK(c.reply() == get_reply());
}

TEST_CASE("uapi_server lets wg's empty health-check connection go", "[wireguard][uapi]") {
  served s;
  for (int i = 0; i < 3; ++i) {
    client probe(s.path());
    REQUIRE(probe.connected());
  }
  // Each connection is closed and forgotten; nothing reached the device; serving goes on.
  CHECK(s.wait_for_connections(0));
  CHECK(s.device.seen_gets() == 0);
  CHECK(s.device.seen_sets().empty());
  CHECK(s.device.seen_protocol_errors().empty());
  client c(s.path());
  REQUIRE(c.send("get=1\n\n"));
  CHECK(c.reply() == get_reply());
}

TEST_CASE("uapi_server replies to a bad request without calling the device", "[wireguard][uapi]") {
  served s;
  client c(s.path());
  REQUIRE(c.connected());

  SECTION("a malformed set value gets errno=-22 and the connection stays usable") {
    // The key is one hex digit short.
    REQUIRE(c.send("set=1\nlisten_port=1\npublic_key=" + peer3_hex.substr(1) + "\n\n"));
    CHECK(c.reply() == "errno=-22\n\n");
    CHECK(s.device.seen_sets().empty());
    auto errors = s.device.seen_protocol_errors();
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], ContainsSubstring("line 2") && ContainsSubstring("public_key"));
    REQUIRE(c.send("set=1\nlisten_port=1\n\n"));
    CHECK(c.reply() == "errno=0\n\n");
    CHECK(s.device.seen_sets().size() == 1);
  }
  SECTION("a line without '=' gets errno=-71 (EPROTO)") {
    REQUIRE(c.send("set=1\nlisten_port\n\n"));
    CHECK(c.reply() == "errno=-71\n\n");
    CHECK(s.device.seen_sets().empty());
  }
  SECTION("an unknown operation is hung up on without a reply, as wireguard-go does") {
    REQUIRE(c.send("hello\n\n"));
    CHECK(c.until_closed() == "");
    CHECK(s.device.seen_gets() == 0);
  }
  SECTION("data after get=1 gets errno=-22 and the connection is closed") {
    REQUIRE(c.send("get=1\nx"));
    CHECK(c.until_closed() == "errno=-22\n\n");
    CHECK(s.device.seen_gets() == 0);
  }
}

TEST_CASE("uapi_server closes a connection that sends more than the request limit", "[wireguard][uapi]") {
  uapi_server_options opts;
  opts.max_request_size = 256;
  served s(opts);
  client c(s.path());
  REQUIRE(c.connected());
  std::string big = "set=1\n";
  while (big.size() < 4096) big += "listen_port=1\n";
  c.send(big);  // may fail part-way: the server hangs up once it has seen enough
  CHECK(c.until_closed() == "errno=-90\n\n");
  CHECK(s.device.seen_sets().empty());
  CHECK(s.wait_for_connections(0));
  // Only that connection is gone.
  client next(s.path());
  REQUIRE(next.send("get=1\n\n"));
  CHECK(next.reply() == get_reply());
}

TEST_CASE("uapi_server closes a connection that stays silent past the idle timeout", "[wireguard][uapi]") {
  uapi_server_options opts;
  opts.idle_timeout = 100ms;
  served s(opts);
  client c(s.path());
  REQUIRE(c.connected());
  // Progress keeps it open: two replies in a row, each well within the timeout.
  REQUIRE(c.send("get=1\n\n"));
  CHECK(c.reply() == get_reply());
  REQUIRE(c.send("get=1\n\n"));
  CHECK(c.reply() == get_reply());
  // Then silence: the server hangs up by itself (until_closed gives up after 10 s).
  CHECK(c.until_closed() == "");
  CHECK(s.wait_for_connections(0));
}

TEST_CASE("uapi_server serves at most max_connections at once and queues the rest", "[wireguard][uapi]") {
  uapi_server_options opts;
  opts.max_connections = 1;
  served s(opts);
  client first(s.path());
  REQUIRE(first.send("get=1\n\n"));
  REQUIRE(first.reply() == get_reply());  // accepted and served

  // The kernel takes the second connection into the listen queue; the server does not accept it.
  client second(s.path());
  REQUIRE(second.connected());
  REQUIRE(second.send("set=1\nlisten_port=1\n\n"));
  for (std::uint16_t port = 2; port <= 4; ++port) {
    REQUIRE(first.send("set=1\nlisten_port=" + std::to_string(port) + "\n\n"));
    REQUIRE(first.reply() == "errno=0\n\n");
  }
  CHECK(s.connections() == 1);
  auto sets = s.device.seen_sets();
  REQUIRE(sets.size() == 3);
  CHECK(sets[0].listen_port == 2);
  CHECK(sets[2].listen_port == 4);

  // A slot frees up: the queued client is served.
  first.close();
  CHECK(second.reply() == "errno=0\n\n");
  sets = s.device.seen_sets();
  REQUIRE(sets.size() == 4);
  CHECK(sets[3].listen_port == 1);
}

TEST_CASE("uapi_server open makes the directory and an owner-only socket", "[wireguard][uapi]") {
  temp_dir dir;
  fake_device device;
  asio::io_context io;
  uapi_server_options opts;
  opts.directory = dir.path + "/a/b";
  auto server = server_type::open(io.get_executor(), "wg0", device, opts);
  REQUIRE(server);
  CHECK(server->path() == dir.path + "/a/b/wg0.sock");
  CHECK(server->is_open());

  struct ::stat st {};
  REQUIRE(::lstat(server->path().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
  REQUIRE(::stat(opts.directory.c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  ::mode_t mask = ::umask(0);
  ::umask(mask);
  CHECK((st.st_mode & 07777) == (0755 & ~mask));
}

TEST_CASE("uapi_server open refuses a path that is taken or unusable", "[wireguard][uapi]") {
  temp_dir dir;
  fake_device device;
  asio::io_context io;
  uapi_server_options opts;
  opts.directory = dir.path;
  std::string why;

  SECTION("a second server on the same path is in use, and the first keeps its socket") {
    auto first = server_type::open(io.get_executor(), "wg0", device, opts);
    REQUIRE(first);
    auto second = server_type::open(io.get_executor(), "wg0", device, opts, &why);
    REQUIRE_FALSE(second);
    CHECK(second.error() == uapi_server_errc::in_use);
    CHECK_THAT(why, ContainsSubstring(dir.path + "/wg0.sock") && ContainsSubstring("already answers"));
    CHECK(exists(first->path()));
    client c(first->path());
    CHECK(c.connected());
  }
  SECTION("a regular file at the path is left alone") {
    std::ofstream(dir.path + "/wg0.sock") << "not a socket";
    auto server = server_type::open(io.get_executor(), "wg0", device, opts, &why);
    REQUIRE_FALSE(server);
    CHECK(server.error() == uapi_server_errc::not_a_socket);
    CHECK(std::filesystem::is_regular_file(dir.path + "/wg0.sock"));
  }
  SECTION("a path longer than sun_path") {
    opts.directory = dir.path + "/" + std::string(100, 'd');
    auto server = server_type::open(io.get_executor(), "wg0", device, opts, &why);
    REQUIRE_FALSE(server);
    CHECK(server.error() == uapi_server_errc::path_too_long);
    CHECK_THAT(why, ContainsSubstring("sun_path"));
    CHECK_FALSE(exists(opts.directory));  // checked before anything is created
  }
  SECTION("an interface name that leaves the directory") {
    for (const char* name : {"", ".", "..", "../wg0", "a/b"}) {
      auto server = server_type::open(io.get_executor(), name, device, opts);
      REQUIRE_FALSE(server);
      CHECK(server.error() == uapi_server_errc::invalid_interface_name);
    }
  }
  SECTION("a directory that cannot be created") {
    std::ofstream(dir.path + "/file") << "";
    opts.directory = dir.path + "/file/wireguard";
    auto server = server_type::open(io.get_executor(), "wg0", device, opts, &why);
    REQUIRE_FALSE(server);
    CHECK(server.error() == uapi_server_errc::directory_unavailable);
    CHECK_THAT(why, ContainsSubstring(dir.path + "/file/wireguard") && ContainsSubstring("Not a directory"));
  }
}

TEST_CASE("uapi_server replaces a stale socket file left by a dead server", "[wireguard][uapi]") {
  served s({}, [](const std::string& directory) {
    make_stale_socket(directory + "/wgtest0.sock");
    client nobody(directory + "/wgtest0.sock");
    REQUIRE(nobody.connect_errno() == ECONNREFUSED);  // really stale
  });
  client c(s.path());
  REQUIRE(c.send("get=1\n\n"));
  CHECK(c.reply() == get_reply());
}

TEST_CASE("uapi_server close unlinks its socket and ends its connections", "[wireguard][uapi]") {
  served s;
  const std::string path = s.path();
  client c(path);
  REQUIRE(c.send("get=1\n\n"));
  REQUIRE(c.reply() == get_reply());

  SECTION("close") {
    s.io.run([&] { s.server->close(); });
    CHECK_FALSE(s.server->is_open());
    CHECK_FALSE(exists(path));
    CHECK(c.until_closed() == "");  // the open connection ends
    CHECK(s.connections() == 0);
    client late(path);
    CHECK_FALSE(late.connected());
    s.io.run([&] { s.server->close(); });  // again: nothing happens
  }
  SECTION("the destructor") {
    s.io.run([&] { s.server.reset(); });
    CHECK_FALSE(exists(path));
    CHECK(c.until_closed() == "");
  }
  SECTION("a file that replaced ours is not removed") {
    REQUIRE(::unlink(path.c_str()) == 0);
    make_stale_socket(path);
    s.io.run([&] { s.server->close(); });
    CHECK(exists(path));
  }
  SECTION("a moved-from server owns nothing") {
    auto moved = s.io.run([&] { return std::make_unique<server_type>(std::move(*s.server)); });
    CHECK_FALSE(s.server->is_open());
    CHECK(s.server->path().empty());
    s.io.run([&] { s.server.reset(); });
    CHECK(exists(path));  // still served by `moved`
    REQUIRE(c.send("get=1\n\n"));
    CHECK(c.reply() == get_reply());
    s.io.run([&] { moved.reset(); });
    CHECK_FALSE(exists(path));
  }
}

// ---- with the real wg(8) -------------------------------------------------------------------

namespace {

struct run_result {
  int status = -1;  // exit code, or -1 if it did not exit in time or could not start
  std::string out;
  std::string err;
};

// Runs argv[0] (found on PATH) with stdout and stderr captured, killing it after the patience.
run_result run(std::vector<std::string> args) {
  run_result result;
  int out_pipe[2];
  int err_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  ::posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::pid_t pid = -1;
  int spawned = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (spawned == 0) {
    auto until = std::chrono::steady_clock::now() + patience;
    std::array<::pollfd, 2> fds{::pollfd{out_pipe[0], POLLIN, 0}, ::pollfd{err_pipe[0], POLLIN, 0}};
    int open_pipes = 2;
    while (open_pipes > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left <= 0ms || ::poll(fds.data(), fds.size(), static_cast<int>(left.count())) <= 0) break;
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].fd < 0 || !fds[i].revents) continue;
        std::array<char, 4096> buffer;
        auto n = ::read(fds[i].fd, buffer.data(), buffer.size());
        if (n <= 0) {
          fds[i].fd = -1;  // poll ignores it from now on
          --open_pipes;
        } else {
          (i == 0 ? result.out : result.err).append(buffer.data(), static_cast<std::size_t>(n));
        }
      }
    }
    int status = 0;
    if (open_pipes > 0) ::kill(pid, SIGKILL);  // hung
    ::waitpid(pid, &status, 0);
    if (open_pipes == 0 && WIFEXITED(status)) result.status = WEXITSTATUS(status);
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  return result;
}

bool have_wg() { return run({"wg", "--version"}).status == 0; }

}  // namespace

TEST_CASE("uapi_server is what wg show and wg set talk to", "[wireguard][uapi][interop]") {
  if (::geteuid() != 0) SKIP("needs root: wg looks only in /var/run/wireguard");
  if (!have_wg()) SKIP("wg (wireguard-tools) is not installed");

  // wg reads only /var/run/wireguard; a name of our own (at most 15 characters) keeps clear of
  // real interfaces. The server unlinks its socket when `server` goes, whatever happens below.
  const std::string ifname = "wrntest" + std::to_string(::getpid());
  REQUIRE(ifname.size() <= 15);
  fake_device device;
  io_thread io;
  uapi_server_options opts;  // the default directory
  std::string why;
  auto opened = server_type::open(io.context.get_executor(), ifname, device, opts, &why);
  INFO(why);
  REQUIRE(opened);
  std::optional<server_type> server(std::move(*opened));
  io.start();
  struct close_on_exit {
    io_thread& io;
    std::optional<server_type>& server;
    ~close_on_exit() {
      io.run_quietly([this] { server.reset(); });
    }
  } closer{io, server};
  const std::string path = server->path();
  CHECK(path == "/var/run/wireguard/" + ifname + ".sock");

  SECTION("wg show dump prints the device's state") {
    auto shown = run({"wg", "show", ifname, "dump"});
    INFO(shown.err);
    REQUIRE(shown.status == 0);
    // The same text wg printed for this state when the fixture was captured.
    CHECK(shown.out == fixture("get_two_peers.wg-show-dump.txt"));
    CHECK(device.seen_gets() == 1);
  }
  SECTION("wg set hands the device the request") {
    auto set = run({"wg", "set", ifname, "listen-port", "51999", "peer", peer3_base64, "allowed-ips", "10.9.0.0/24"});
    INFO(set.err);
    REQUIRE(set.status == 0);
    auto sets = device.seen_sets();
    REQUIRE(sets.size() == 1);
    CHECK(sets[0] == expected_set());
  }
  SECTION("wg set reports the device's error") {
    {
      std::lock_guard lock(device.mutex);
      device.set_error = std::make_error_code(std::errc::address_in_use);
    }
    auto set = run({"wg", "set", ifname, "listen-port", "51999"});
    CHECK(set.status != 0);
    CHECK_THAT(set.err, ContainsSubstring("Address already in use"));
  }
}
