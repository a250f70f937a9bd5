#pragma once
// server_cache: the last server list of each provider, kept in one JSON file so an app that
// restarts (or cannot reach its provider) still has servers to offer.
//
// Each entry has the time it was fetched and the time it expires. find() past the expiry still
// returns the servers, flagged stale: the app should fetch again, and may use them meanwhile.
// Times are wall-clock (sys_seconds), passed in by the caller: unlike warren::time_point
// (steady, counted from boot), they still mean something after a reboot. An entry whose
// fetched_at is in the future (the clock was set back) is stale too.
//
// The file is replaced atomically (detail/file_io.hpp: temp file, fsync, rename, fsync the
// directory), so a crash leaves the old cache or the new one, never half of one. A file that
// does not parse (or cannot be read) is left exactly as it is: load() reports
// errc::corrupt_cache (unsupported_version, or the system error) and keeps the entries it had,
// and the next save() first renames the bad file to "<file>.corrupt" so nothing is lost, then
// writes a good one.
//
// File format (version 1):
//   {"version": 1, "providers": {"<name>": {"fetched_at": <unix seconds>,
//     "expires_at": <unix seconds>, "servers": [<server as in json_server_list.hpp>]}}}
//
// Not thread-safe. Default state: no entries; nothing is read until load().

#include <warren/core/expected.hpp>
#include <warren/provider/detail/file_io.hpp>
#include <warren/provider/detail/server_json.hpp>
#include <warren/provider/error.hpp>
#include <warren/provider/server.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace warren::provider {

using wall_time = std::chrono::sys_seconds;

inline constexpr int server_cache_version = 1;
inline constexpr std::size_t max_server_cache_size = std::size_t{64} << 20;

// One provider's servers as find() returns them.
struct cached_servers {
  std::vector<server> servers;
  wall_time fetched_at{};
  wall_time expires_at{};
  bool stale = false;  // expired (or fetched "in the future"): fetch again; usable meanwhile

  friend bool operator==(const cached_servers&, const cached_servers&) = default;
};

class server_cache {
 public:
  explicit server_cache(std::filesystem::path file) : file_(std::move(file)) {}

  const std::filesystem::path& file() const noexcept { return file_; }

  // Replaces the entries with the file's. A missing file is an empty cache, not an error. On
  // error nothing changes: not the entries, not the file. parse_error::message(file) reads
  // e.g. "cache.json: providers["json"].servers[2].public_key: ...".
  expected<void, parse_error> load() {
    auto text = detail::read_file(file_, max_server_cache_size);
    if (!text) {
      if (text.error() == std::errc::no_such_file_or_directory) {
        entries_.clear();
        bad_file_on_disk_ = false;
        return {};
      }
      // Unreadable (permissions, a directory, too large) is treated like corrupt: save() moves
      // it aside rather than replacing what it could not read.
      bad_file_on_disk_ = true;
      return unexpected(parse_error{text.error(), 0, "cannot read: " + text.error().message()});
    }
    auto parsed = parse(*text);
    if (!parsed) {
      bad_file_on_disk_ = true;
      return unexpected(std::move(parsed.error()));
    }
    entries_ = std::move(*parsed);
    bad_file_on_disk_ = false;
    return {};
  }

  // Writes every entry to the file atomically. If the last load() found the file corrupt, it
  // is first kept as "<file>.corrupt".
  result<void> save() {
    if (bad_file_on_disk_) {
      auto aside = file_;
      aside += ".corrupt";
      if (auto moved = detail::rename_durably(file_, aside); !moved && moved.error() != std::errc::no_such_file_or_directory)
        return moved;
      bad_file_on_disk_ = false;
    }
    return detail::write_file_atomically(file_, text());
  }

  // Records a fetch. The entry expires `max_age` after `fetched_at`.
  void store(std::string_view provider, std::vector<server> servers, wall_time fetched_at, std::chrono::seconds max_age) {
    entries_.insert_or_assign(std::string(provider), entry{std::move(servers), fetched_at, fetched_at + max_age});
  }

  // The provider's servers, flagged stale if expired at `now`; nullopt if none were stored.
  std::optional<cached_servers> find(std::string_view provider, wall_time now) const {
    auto it = entries_.find(provider);
    if (it == entries_.end()) return std::nullopt;
    const auto& e = it->second;
    return cached_servers{e.servers, e.fetched_at, e.expires_at, now >= e.expires_at || now < e.fetched_at};
  }

  bool erase(std::string_view provider) {
    auto it = entries_.find(provider);
    if (it == entries_.end()) return false;
    entries_.erase(it);
    return true;
  }

  std::vector<std::string> providers() const {
    std::vector<std::string> out;
    for (const auto& [name, e] : entries_) out.push_back(name);
    return out;
  }
  bool empty() const noexcept { return entries_.empty(); }

  // The file's text for the current entries.
  std::string text() const {
    detail::json doc = detail::json::object();
    doc["version"] = server_cache_version;
    doc["providers"] = detail::json::object();
    for (const auto& [name, e] : entries_) {
      detail::json item = detail::json::object();
      item["fetched_at"] = e.fetched_at.time_since_epoch().count();
      item["expires_at"] = e.expires_at.time_since_epoch().count();
      item["servers"] = detail::json::array();
      for (const auto& s : e.servers) item["servers"].push_back(detail::server_to_json(s));
      doc["providers"][name] = std::move(item);
    }
    return detail::dump_json(doc);
  }

 private:
  struct entry {
    std::vector<server> servers;
    wall_time fetched_at{};
    wall_time expires_at{};
  };
  using entry_map = std::map<std::string, entry, std::less<>>;

  // About 34,000 years either side of 1970: anything beyond is not a time this code wrote.
  static constexpr std::int64_t max_seconds = std::int64_t{1} << 40;

  static std::optional<std::int64_t> time_field(const detail::json& object, std::string_view name) {
    const auto* t = detail::member(object, name);
    if (!t || !t->is_number_integer()) return std::nullopt;
    if (t->is_number_unsigned()) {
      auto v = t->get<std::uint64_t>();
      if (v > static_cast<std::uint64_t>(max_seconds)) return std::nullopt;
      return static_cast<std::int64_t>(v);
    }
    auto v = t->get<std::int64_t>();
    if (v > max_seconds || v < -max_seconds) return std::nullopt;
    return v;
  }

  static expected<entry_map, parse_error> parse(std::string_view text) {
    auto corrupt = [](std::string detail, errc code = errc::corrupt_cache, std::size_t line = 0) {
      return unexpected(parse_error{make_error_code(code), line, std::move(detail)});
    };
    auto doc = detail::parse_json(text);
    if (!doc) return corrupt(std::move(doc.error().detail), errc::corrupt_cache, doc.error().line);
    try {
      if (!doc->is_object()) return corrupt("not a JSON object");
      const auto* version = detail::member(*doc, "version");
      if (!version || !version->is_number_integer()) return corrupt("version: missing or not a number");
      if (*version != server_cache_version)
        return corrupt("version " + detail::quote_value(version->dump()) + " is not 1", errc::unsupported_version);
      const auto* providers = detail::member(*doc, "providers");
      if (!providers || !providers->is_object()) return corrupt("providers: missing or not an object");
      entry_map out;
      for (const auto& [name, value] : providers->items()) {
        auto path = "providers[" + detail::quote_value(name) + "]";
        if (!value.is_object()) return corrupt(path + ": not an object");
        entry e;
        for (auto [field, slot] : {std::pair{"fetched_at", &e.fetched_at}, std::pair{"expires_at", &e.expires_at}}) {
          auto seconds = time_field(value, field);
          if (!seconds) return corrupt(path + "." + field + ": missing or not a time in seconds");
          *slot = wall_time{std::chrono::seconds{*seconds}};
        }
        const auto* servers = detail::member(value, "servers");
        if (!servers || !servers->is_array()) return corrupt(path + ".servers: missing or not an array");
        for (std::size_t n = 0; n < servers->size(); ++n) {
          auto s = detail::server_from_json((*servers)[n], path + ".servers[" + std::to_string(n) + "]", false);
          if (!s) return corrupt(std::move(s.error().detail));
          e.servers.push_back(std::move(*s));
        }
        out.emplace(name, std::move(e));
      }
      return out;
    } catch (const std::exception&) {
      return corrupt("unexpected JSON structure");
    }
  }

  std::filesystem::path file_;
  entry_map entries_;
  bool bad_file_on_disk_ = false;  // the last load() refused the file: keep it aside on save()
};

}  // namespace warren::provider
