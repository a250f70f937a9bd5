#pragma once
// uapi_server: serves the UAPI configuration protocol (warren/wireguard/uapi.hpp) on a unix
// stream socket, as wireguard-go does at /var/run/wireguard/<ifname>.sock, so that the stock
// wg(8) and wg-quick(8) can inspect and configure a warren device.
//
//   1. open() creates the directory if it is missing (mode 0755, as wireguard-go's MkdirAll in
//      ipc/uapi_unix.go). If <directory>/<ifname>.sock exists, it connects once: when something
//      answers, open() fails with in_use; when nothing does (ECONNREFUSED), the socket file is
//      a dead server's and is removed. Then it binds, makes the socket owner-only and listens.
//   2. Each accepted connection reads into its own uapi::request_reader. For each complete
//      operation it calls the Handler, writes the reply, and only then looks at the next one:
//      get=1 gives format_get(handler.get()) + "errno=0\n\n"; set=1 gives "errno=N\n\n", where N
//      comes from parse_set (the Handler is not called for a bad body) or from handler.set().
//   3. A connection ends on EOF (wg's empty health-check connection ends here at once), on a
//      protocol error from the reader (after its errno reply; an unknown operation gets none,
//      as in wireguard-go), or after idle_timeout without progress.
//   4. close() or the destructor stops accepting, closes every connection and unlinks the
//      socket file if it is still the one open() created (same device and inode).
//
// Everything protocol-shaped is in uapi.hpp; this file only moves bytes and calls the Handler.

#include <warren/core/expected.hpp>
#include <warren/crypto/secret.hpp>
#include <warren/wireguard/uapi.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/socket_base.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace warren::wireguard {

// What a uapi_server serves. get() reports the device; set() applies a parsed request and
// returns the error whose errno goes in the reply (uapi::errno_value: std::errc::address_in_use
// for a listen_port that cannot be bound gives -98, as in wireguard-go). Both run on the
// server's executor, one call at a time, and should not throw: an exception leaves through the
// executor's run() like any Asio handler's.
//
// Optional: `void on_protocol_error(std::error_code, std::string_view detail)`, called for a set
// body that parse_set refused ("line 3: invalid public_key: ...") and for a stream the reader
// gave up on, so the operator's log can say why; the client only gets the errno.
template <class H>
concept uapi_handler = requires(H& handler, const uapi::set_request& request) {
  { handler.get() } -> std::convertible_to<uapi::device_state>;
  { handler.set(request) } -> std::same_as<result<void>>;
};

// Why uapi_server::open() failed, for the cases it decides itself; the OS's own errors (bind,
// listen, chmod) come back as system errors. open()'s diagnostic string names the path either way.
enum class uapi_server_errc {
  in_use = 1,              // a server answers on <directory>/<ifname>.sock: the interface is
                           // served by another process (or another uapi_server); stop it or
                           // choose another name
  invalid_interface_name,  // empty, "." or "..", or contains '/' or NUL: the socket would land
                           // outside the directory, and wg(8) refuses such names anyway
  path_too_long,           // <directory>/<ifname>.sock is longer than sockaddr_un::sun_path takes
                           // (107 bytes on Linux): choose a shorter directory or name
  directory_unavailable,   // the directory could not be created or is not a directory (the
                           // diagnostic has the OS's reason, e.g. "Permission denied")
  not_a_socket,            // <ifname>.sock exists and is not a socket (a file, a directory, a
                           // symlink): we do not delete what we did not make; remove it by hand
};

inline const std::error_category& uapi_server_category() noexcept;  // name() is "warren.uapi_server"
inline std::error_code make_error_code(uapi_server_errc e) noexcept {
  return {static_cast<int>(e), uapi_server_category()};
}

}  // namespace warren::wireguard

template <>
struct std::is_error_code_enum<warren::wireguard::uapi_server_errc> : std::true_type {};

namespace warren::wireguard {

struct uapi_server_options {
  // wireguard-go's socketDirectory. wg(8) looks only here; tests and private control sockets
  // can use another.
  std::string directory = "/var/run/wireguard";
  ::mode_t directory_mode = 0755;  // for directories open() creates, before the umask (wireguard-go)
  // Owner only. wireguard-go binds under umask 0077 and gets 0700; for a socket, connecting
  // needs write permission and the x bit means nothing, so 0600 grants the same access. Set
  // with chmod() after bind() rather than through the umask, which is per process, not per thread.
  ::mode_t socket_mode = 0600;
  // Connections served at once (at least 1). At the limit the server stops accepting until one
  // ends: further clients wait in the kernel's listen queue rather than failing. wg opens one
  // connection per operation and closes it, so 16 covers many wg runs in parallel.
  std::size_t max_connections = 16;
  // Bytes one connection may buffer of an unfinished request (request_reader's limit); more gets
  // errno=-90 (EMSGSIZE) and the connection is closed.
  std::size_t max_request_size = uapi::max_request_size;
  // A connection that neither sends nor takes a byte for this long is closed, so that silent
  // clients cannot hold every slot. wireguard-go has no timeout; wg finishes in milliseconds.
  // Must be positive.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds{30};
};

// Serves UAPI for one interface until closed.
//
// Handler: a template parameter, not std::function. The handler has two operations plus an
// optional third, so type erasure would need a small interface anyway, and the concept names a
// missing or mistyped member at compile time. Whoever wants erasure can instantiate
// uapi_server with their own wrapper; nothing here is on a hot path either way.
//
// Ownership: the server refers to `handler`, which must outlive it or its close(); it owns the
// listening socket, the connections and the socket file. The executor's execution context must
// outlive the server. Movable; a moved-from server is closed.
//
// Threads: like Asio's own I/O objects, not thread-safe. Its handlers, and so Handler::get()
// and set(), run on `executor`; pass a strand if the io_context runs on several threads. Call
// close() and the destructor on that executor too, or while it runs nothing of this server.
// Once close() returns, the Handler is not called again.
template <uapi_handler Handler>
class uapi_server {
 public:
  using executor_type = asio::any_io_executor;
  using options = uapi_server_options;

  // Serves <opts.directory>/<ifname>.sock. Errors: uapi_server_errc (see there) or the OS's
  // error from socket/bind/chmod/listen. On error, fills `diagnostic` if given, with the path
  // and the reason ("/var/run/wireguard/wg0.sock: a UAPI server already answers there").
  static result<uapi_server> open(const executor_type& executor, std::string ifname, Handler& handler,
                                  options opts = {}, std::string* diagnostic = nullptr);

  uapi_server(uapi_server&& other) noexcept = default;
  uapi_server& operator=(uapi_server&& other) noexcept {
    if (this != &other) {
      close();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  uapi_server(const uapi_server&) = delete;
  uapi_server& operator=(const uapi_server&) = delete;
  ~uapi_server() { close(); }

  // Stops accepting, closes every connection (a reply being written is cut short) and unlinks
  // the socket file if it is still ours. Idempotent.
  void close() noexcept;

  bool is_open() const noexcept { return state_ && !state_->closed; }
  // "<directory>/<ifname>.sock"; empty for a moved-from server.
  const std::string& path() const noexcept;
  // Connections accepted and not yet ended; never more than options::max_connections.
  std::size_t connection_count() const noexcept { return state_ ? state_->connections.size() : 0; }

 private:
  struct state;
  struct connection;
  explicit uapi_server(std::shared_ptr<state> s) noexcept : state_(std::move(s)) {}

  // Shared with the pending operations, so a completion that arrives after close() finds its
  // objects alive and does nothing.
  std::shared_ptr<state> state_;
};

// ---- internals ----------------------------------------------------------------------------

namespace detail {

class uapi_server_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "warren.uapi_server"; }
  std::string message(int ev) const override {
    switch (static_cast<uapi_server_errc>(ev)) {
      case uapi_server_errc::in_use: return "a UAPI server already answers on this socket path";
      case uapi_server_errc::invalid_interface_name:
        return "invalid interface name for a UAPI socket (empty, \".\", \"..\", or contains '/')";
      case uapi_server_errc::path_too_long: return "UAPI socket path does not fit in sockaddr_un::sun_path";
      case uapi_server_errc::directory_unavailable: return "cannot create the UAPI socket directory";
      case uapi_server_errc::not_a_socket: return "the UAPI socket path exists and is not a socket";
    }
    return "unknown warren.uapi_server error";
  }
};

inline std::string uapi_server_strerror(int e) { return std::system_category().message(e); }

// Asio 1.22 reports errno values in its own "asio.system" category, which does not compare equal
// to std::errc; std::system_category does, so that is what open() returns.
inline std::error_code uapi_server_system_error(std::error_code ec) noexcept {
  if (ec.category() == asio::error::get_system_category()) return {ec.value(), std::system_category()};
  return ec;
}

// mkdir -p with `mode` for what it creates. 0, or the errno and the path it stopped at.
inline int uapi_server_make_directories(const std::string& directory, ::mode_t mode, std::string& failed_at) {
  for (std::size_t at = 1; at <= directory.size(); ++at) {
    if (at != directory.size() && directory[at] != '/') continue;
    if (directory[at - 1] == '/') continue;  // "a//b" or a trailing '/'
    std::string prefix = directory.substr(0, at);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      failed_at = prefix;
      return errno;
    }
  }
  struct ::stat st {};
  if (::stat(directory.c_str(), &st) != 0) {  // follows symlinks: /var/run is one to /run
    failed_at = directory;
    return errno;
  }
  if (!S_ISDIR(st.st_mode)) {
    failed_at = directory;
    return ENOTDIR;
  }
  return 0;
}

// Connects to `path` without blocking. 0 when a server is there (connected, or its listen
// queue is full, which only a live listener has); otherwise the errno (ECONNREFUSED: a socket
// file that nobody listens on).
inline int uapi_server_probe(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  ::sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());  // open() checked the length
  int result = ::connect(fd, reinterpret_cast<const ::sockaddr*>(&address), sizeof address) == 0 ? 0 : errno;
  ::close(fd);
  return result == EAGAIN || result == EINPROGRESS ? 0 : result;
}

}  // namespace detail

inline const std::error_category& uapi_server_category() noexcept {
  static const detail::uapi_server_error_category category;
  return category;
}

template <uapi_handler Handler>
struct uapi_server<Handler>::state : std::enable_shared_from_this<state> {
  state(const executor_type& executor, Handler& h, options o)
      : acceptor(executor), retry_timer(executor), handler(&h), opts(std::move(o)) {}

  asio::local::stream_protocol::acceptor acceptor;
  asio::steady_timer retry_timer;  // after a failed accept (EMFILE and the like)
  Handler* handler;
  options opts;
  std::string path;
  bool own_file = false;  // the socket file at `path` is the one we bound (device, inode)
  ::dev_t file_device = 0;
  ::ino_t file_inode = 0;
  bool closed = false;
  bool accepting = false;                // an accept or its retry wait is pending
  std::vector<connection*> connections;  // a connection deregisters itself when it ends

  void accept_next() {
    if (closed || accepting || connections.size() >= std::max<std::size_t>(opts.max_connections, 1)) return;
    accepting = true;
    acceptor.async_accept([self = this->shared_from_this()](std::error_code ec,
                                                            asio::local::stream_protocol::socket socket) {
      self->accepting = false;
      if (self->closed) return;
      if (ec) {
        // Out of descriptors or memory, or a client that gave up: try again shortly rather
        // than spin on the error or stop serving.
        self->accepting = true;
        self->retry_timer.expires_after(std::chrono::milliseconds{100});
        self->retry_timer.async_wait([self](std::error_code) {
          self->accepting = false;
          self->accept_next();
        });
        return;
      }
      auto c = std::make_shared<connection>(self, std::move(socket));
      self->connections.push_back(c.get());
      c->start();
      self->accept_next();
    });
  }

  void forget(connection* c) noexcept {
    auto it = std::find(connections.begin(), connections.end(), c);
    if (it != connections.end()) connections.erase(it);
  }

  void report(std::error_code ec, std::string_view detail) {
    if constexpr (requires { handler->on_protocol_error(ec, detail); }) handler->on_protocol_error(ec, detail);
  }

  void close() noexcept {
    if (closed) return;
    closed = true;
    std::error_code ignored;
    acceptor.close(ignored);
    retry_timer.cancel();
    auto open_connections = connections;  // finish() deregisters
    for (connection* c : open_connections) c->finish();
    // Unlink only our own file: after a stale-socket takeover by another server, the path is
    // theirs. (lstat then unlink is not atomic; nothing better exists for a path.)
    struct ::stat st {};
    if (own_file && ::lstat(path.c_str(), &st) == 0 && st.st_dev == file_device && st.st_ino == file_inode)
      ::unlink(path.c_str());
    own_file = false;
  }
};

template <uapi_handler Handler>
struct uapi_server<Handler>::connection : std::enable_shared_from_this<connection> {
  connection(std::shared_ptr<state> s, asio::local::stream_protocol::socket sock)
      : server(std::move(s)),
        socket(std::move(sock)),
        timer(socket.get_executor()),
        reader(server->opts.max_request_size) {}
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() {
    // Both buffers have held key material in hex (a set's private_key, a get's reply).
    crypto::secure_wipe(input.data(), input.size());
    crypto::secure_wipe(output.data(), output.size());
    server->forget(this);
  }

  std::shared_ptr<state> server;
  asio::local::stream_protocol::socket socket;
  asio::steady_timer timer;
  uapi::request_reader reader;
  std::array<char, 4096> input{};
  std::string output;  // the reply being written
  std::chrono::steady_clock::time_point deadline{};
  bool finished = false;
  bool close_after_write = false;

  void start() {
    touch();
    watch();
    read();
  }

  // Progress: the idle timeout starts again.
  void touch() { deadline = std::chrono::steady_clock::now() + server->opts.idle_timeout; }

  // One wait at a time; when it fires early because touch() moved the deadline, wait again.
  void watch() {
    timer.expires_at(deadline);
    timer.async_wait([self = this->shared_from_this()](std::error_code) {
      if (self->finished) return;
      if (std::chrono::steady_clock::now() >= self->deadline) return self->finish();
      self->watch();
    });
  }

  void read() {
    socket.async_read_some(asio::buffer(input), [self = this->shared_from_this()](std::error_code ec, std::size_t n) {
      if (self->finished) return;
      if (ec) return self->finish();  // EOF (wg's health check), reset, or closed
      self->touch();
      auto fed = self->reader.feed(std::string_view{self->input.data(), n});
      crypto::secure_wipe(self->input.data(), n);  // the reader has its own copy
      if (!fed) return self->fail(fed.error());
      self->serve();
    });
  }

  // Answers the next complete operation, or reads when there is none.
  void serve() {
    if (finished) return;
    auto next = reader.next();
    if (!next) return fail(next.error());
    if (!*next) return read();
    const uapi::request& request = **next;
    if (request.op == uapi::operation::get) {
      uapi::device_state device = server->handler->get();
      if (finished) return;  // the handler closed the server
      reply(uapi::format_get(device), 0);
      return;
    }
    uapi::parse_diagnostic why;
    auto parsed = uapi::parse_set(request.body, &why);
    std::error_code ec;
    if (!parsed) {
      ec = parsed.error();
      server->report(ec, why.message());
    } else if (auto applied = server->handler->set(*parsed); !applied) {
      ec = applied.error();
    }
    if (finished) return;
    reply({}, uapi::errno_value(ec));
  }

  // A reader error ends the stream: reply (wireguard-go hangs up on an unknown operation
  // without one) and close.
  void fail(std::error_code ec) {
    server->report(ec, ec.message());
    if (ec == uapi::errc::unknown_operation) return finish();
    close_after_write = true;
    reply({}, uapi::errno_value(ec));
  }

  void reply(std::string text, int errno_number) {
    std::string end = uapi::format_reply(errno_number);
    output.reserve(text.size() + end.size());  // one block, so no unwiped copy of the key is freed
    output.append(text).append(end);
    crypto::secure_wipe(text.data(), text.size());
    asio::async_write(socket, asio::buffer(output), [self = this->shared_from_this()](std::error_code ec, std::size_t) {
      crypto::secure_wipe(self->output.data(), self->output.size());
      self->output.clear();
      if (self->finished) return;
      if (ec || self->close_after_write) return self->finish();
      self->touch();
      self->serve();
    });
  }

  void finish() {
    if (finished) return;
    finished = true;
    std::error_code ignored;
    socket.close(ignored);  // pending operations complete with operation_aborted
    timer.cancel();
    server->forget(this);
    server->accept_next();  // a slot is free
  }
};

template <uapi_handler Handler>
result<uapi_server<Handler>> uapi_server<Handler>::open(const executor_type& executor, std::string ifname,
                                                        Handler& handler, options opts, std::string* diagnostic) {
  auto fail = [diagnostic](std::error_code ec, std::string why) -> result<uapi_server> {
    if (diagnostic) *diagnostic = std::move(why);
    return unexpected(ec);
  };
  auto system_error = [](int e) { return std::error_code{e, std::system_category()}; };
  auto asio_error = [](std::error_code e) { return detail::uapi_server_system_error(e); };

  if (ifname.empty() || ifname == "." || ifname == ".." || ifname.find('/') != std::string::npos ||
      ifname.find('\0') != std::string::npos)
    return fail(uapi_server_errc::invalid_interface_name,
                "interface name \"" + ifname + "\": must be non-empty, not . or .., without '/'");
  if (opts.directory.empty())
    return fail(uapi_server_errc::directory_unavailable, "empty socket directory");
  std::string path = opts.directory + "/" + ifname + ".sock";
  constexpr std::size_t max_path = sizeof(::sockaddr_un{}.sun_path) - 1;  // and a NUL
  if (path.size() > max_path)
    return fail(uapi_server_errc::path_too_long, path + ": " + std::to_string(path.size()) +
                                                     " bytes, but sockaddr_un::sun_path takes at most " +
                                                     std::to_string(max_path));

  std::string failed_at;
  if (int e = detail::uapi_server_make_directories(opts.directory, opts.directory_mode, failed_at))
    return fail(uapi_server_errc::directory_unavailable,
                "cannot create directory " + failed_at + ": " + detail::uapi_server_strerror(e));

  auto s = std::make_shared<state>(executor, handler, std::move(opts));
  s->path = path;
  std::error_code ec;
  s->acceptor.open(asio::local::stream_protocol{}, ec);
  ec = asio_error(ec);
  if (ec) return fail(ec, "socket(AF_UNIX, SOCK_STREAM): " + ec.message());
  const asio::local::stream_protocol::endpoint endpoint{path};
  s->acceptor.bind(endpoint, ec);
  ec = asio_error(ec);
  if (ec == std::errc::address_in_use) {
    // Something is at the path. Only a socket nobody answers on is ours to replace.
    struct ::stat st {};
    if (::lstat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
      return fail(uapi_server_errc::not_a_socket, path + ": exists and is not a socket; not removing it");
    int probe = detail::uapi_server_probe(path);
    if (probe == 0) return fail(uapi_server_errc::in_use, path + ": a UAPI server already answers there");
    if (probe == ECONNREFUSED && ::unlink(path.c_str()) != 0 && errno != ENOENT)
      return fail(system_error(errno), "cannot remove stale socket " + path + ": " +
                                           detail::uapi_server_strerror(errno));
    if (probe != ECONNREFUSED && probe != ENOENT)
      return fail(system_error(probe), "cannot connect to " + path + " to see whether it is in use: " +
                                           detail::uapi_server_strerror(probe));
    s->acceptor.bind(endpoint, ec);
    ec = asio_error(ec);
    if (ec == std::errc::address_in_use)  // another server took the path after we removed it
      return fail(uapi_server_errc::in_use, path + ": taken by another server while replacing a stale socket");
  }
  if (ec) return fail(ec, "cannot bind " + path + ": " + ec.message());

  // Record the file first, so that close() removes it if anything below fails.
  struct ::stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    s->own_file = true;
    s->file_device = st.st_dev;
    s->file_inode = st.st_ino;
  }
  // Before listen(): until then a connect is refused, so the mode bind() gave never lets anyone in.
  if (::chmod(path.c_str(), s->opts.socket_mode) != 0) {
    int e = errno;
    s->close();
    return fail(system_error(e), "cannot chmod " + path + ": " + detail::uapi_server_strerror(e));
  }
  s->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  ec = asio_error(ec);
  if (ec) {
    s->close();
    return fail(ec, "cannot listen on " + path + ": " + ec.message());
  }
  s->accept_next();
  return uapi_server(std::move(s));
}

template <uapi_handler Handler>
void uapi_server<Handler>::close() noexcept {
  if (state_) state_->close();
}

template <uapi_handler Handler>
const std::string& uapi_server<Handler>::path() const noexcept {
  static const std::string none;
  return state_ ? state_->path : none;
}

}  // namespace warren::wireguard
