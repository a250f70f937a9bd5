// Fuzz target for the JSON server list (warren/provider/json_server_list.hpp) and the server
// cache file (warren/provider/server_cache.hpp): any bytes go to parse_server_list, and the same
// bytes, as a cache file, to server_cache::load.
//
// Properties of parse_server_list: it never throws; what it refuses has a provider error code,
// a line inside the input (0: none) and a one-line reason; what it accepts has unique ids and
// writes back (write_server_list) to a document that parses to the same servers and writes the
// same text again.
// Properties of server_cache::load (one temporary file per process, rewritten for each input):
// it never throws; a failed load leaves the file byte for byte as it was and the entries the
// cache held before; a successful one leaves the file alone too, and the cache's text() loads
// into another cache with the same entries and the same text.
#include <warren/provider/error.hpp>
#include <warren/provider/json_server_list.hpp>
#include <warren/provider/server.hpp>
#include <warren/provider/server_cache.hpp>

#include <stdlib.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <source_location>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

namespace provider = warren::provider;
using namespace std::chrono_literals;

void check(bool ok, std::source_location at = std::source_location::current()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken at %s:%u\n", at.file_name(), static_cast<unsigned>(at.line()));
  __builtin_trap();
}

std::size_t lines_in(std::string_view text) {
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n';
  return lines;
}

void check_error(const provider::parse_error& e, std::string_view input) {
  check(e.code.category() == provider::error_category());
  check(e.line <= lines_in(input));
  check(!e.detail.empty());
  check(e.detail.find('\n') == std::string::npos);  // one log line, whatever the input held
  check(!e.message("servers.json").empty());
}

// A directory of our own with one cache file in it, removed when the process exits normally.
class cache_file {
 public:
  cache_file() {
    auto pattern = (std::filesystem::temp_directory_path() / "warren-fuzz-cache-XXXXXX").string();
    check(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
    file_ = dir_ / "cache.json";
  }
  cache_file(const cache_file&) = delete;
  cache_file& operator=(const cache_file&) = delete;
  ~cache_file() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::filesystem::path& path() const { return file_; }

  void write(std::string_view text) const {
    std::ofstream out(file_, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    check(out.good());
  }
  std::string read() const {
    std::ifstream in(file_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::filesystem::path dir_, file_;
};

const provider::wall_time t0{std::chrono::sys_days{std::chrono::year{2025} / 3 / 1}};

void check_same_entries(const provider::server_cache& a, const provider::server_cache& b) {
  check(a.providers() == b.providers());
  for (const auto& name : a.providers()) check(a.find(name, t0) == b.find(name, t0));
}

void server_list(std::string_view input) {
  std::optional<warren::expected<std::vector<provider::server>, provider::parse_error>> parsed;
  try {
    parsed = provider::parse_server_list(input);
  } catch (...) {
    check(false);  // "never throws on input"
  }
  if (!*parsed) {
    check_error(parsed->error(), input);
    return;
  }
  const auto& servers = **parsed;
  std::set<std::string> ids;
  for (const auto& s : servers) {
    check(!s.id.empty() && !s.region.empty() && s.endpoint.port != 0);
    check(!s.load || *s.load <= 100);
    check(ids.insert(s.id).second);
  }
  const std::string text = provider::write_server_list(servers);
  auto again = provider::parse_server_list(text);
  check(again.has_value());
  check(*again == servers);
  check(provider::write_server_list(*again) == text);
}

void cache(std::string_view input) {
  static const cache_file file;
  file.write(input);
  provider::server_cache c(file.path());
  c.store("before", {}, t0, 1h);  // what the app had before loading
  warren::expected<void, provider::parse_error> loaded;
  try {
    loaded = c.load();
  } catch (...) {
    check(false);
  }
  check(file.read() == input);  // load never writes, whatever it found
  if (!loaded) {
    check_error(loaded.error(), input);
    const auto& code = loaded.error().code;
    check(code == provider::errc::corrupt_cache || code == provider::errc::unsupported_version);
    check(c.providers() == std::vector<std::string>{"before"});
    auto kept = c.find("before", t0);
    check(kept && kept->servers.empty() && kept->expires_at == t0 + 1h);
    return;
  }
  // Loaded: the entries are the file's, and what the cache writes loads back the same.
  const std::string text = c.text();
  file.write(text);
  provider::server_cache reread(file.path());
  auto again = reread.load();
  check(again.has_value());
  check_same_entries(c, reread);
  check(reread.text() == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input{reinterpret_cast<const char*>(data), size};
  server_list(input);
  cache(input);
  return 0;
}
