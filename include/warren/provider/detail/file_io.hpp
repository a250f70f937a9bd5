#pragma once
// Plain file I/O for the providers and the cache: read a whole file with a size limit, and
// replace a file atomically. POSIX only, like the rest of warren.
//
// write_file_atomically, so a crash or power cut leaves either the old file or the new one:
//   1. write the bytes to a temporary file in the same directory (rename only is atomic
//      within one file system), 2. fsync it, so its data is on disk before its name is,
//   3. rename it over the target, 4. fsync the directory, so the rename itself is durable.

#include <warren/core/expected.hpp>
#include <warren/provider/error.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace warren::provider::detail {

inline std::error_code last_system_error() noexcept { return {errno, std::system_category()}; }

// Closes a descriptor when it goes out of scope.
class unique_fd {
 public:
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  // Closes now and reports close()'s error: on some file systems that is where a failed
  // write shows up.
  std::error_code reset() noexcept {
    std::error_code ec;
    if (fd_ >= 0 && ::close(fd_) != 0) ec = last_system_error();
    fd_ = -1;
    return ec;
  }

 private:
  int fd_ = -1;
};

// The whole file, or an error: a system error (no such file, permission denied, a directory),
// or errc::file_too_large if it holds more than `limit` bytes.
inline result<std::string> read_file(const std::filesystem::path& path, std::size_t limit) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return unexpected(last_system_error());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return unexpected(last_system_error());
  if (S_ISDIR(st.st_mode)) return unexpected(std::make_error_code(std::errc::is_a_directory));
  if (!S_ISREG(st.st_mode)) return unexpected(std::make_error_code(std::errc::invalid_argument));
  if (static_cast<std::size_t>(st.st_size) > limit) return unexpected(make_error_code(errc::file_too_large));
  std::string out;
  char buf[16384];
  while (true) {
    auto n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unexpected(last_system_error());
    if (n == 0) break;
    // The file may have grown since fstat.
    if (out.size() + static_cast<std::size_t>(n) > limit) return unexpected(make_error_code(errc::file_too_large));
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

inline result<void> fsync_directory(const std::filesystem::path& dir) {
  unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return unexpected(last_system_error());
  if (::fsync(fd.get()) != 0) return unexpected(last_system_error());
  return {};
}

inline std::filesystem::path directory_of(const std::filesystem::path& path) {
  auto dir = path.parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

// Replaces `path` with `content` (steps at the top). The new file gets `mode` (0600 by
// default). On failure the target is untouched and the temporary file removed.
inline result<void> write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                          mode_t mode = 0600) {
  auto dir = directory_of(path);
  std::string temp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  unique_fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) return unexpected(last_system_error());
  auto fail = [&](std::error_code ec) -> result<void> {
    fd.reset();
    ::unlink(temp.c_str());
    return unexpected(ec);
  };
  if (::fchmod(fd.get(), mode) != 0) return fail(last_system_error());
  for (std::size_t done = 0; done < content.size();) {
    auto n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(last_system_error());
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail(last_system_error());
  if (auto ec = fd.reset()) return fail(ec);
  if (::rename(temp.c_str(), path.c_str()) != 0) return fail(last_system_error());
  return fsync_directory(dir);
}

// Moves `from` to `to` (replacing `to`) and makes the move durable.
inline result<void> rename_durably(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return unexpected(last_system_error());
  return fsync_directory(directory_of(to));
}

}  // namespace warren::provider::detail
