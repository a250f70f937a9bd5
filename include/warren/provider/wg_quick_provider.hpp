#pragma once
// wg_quick_provider: a provider over a directory of wg-quick .conf files, one server per file,
// the way many VPN services hand configs to their users ("download uk-london.conf").
//
//   - Each "<id>.conf" (not starting with '.') is one server; the id is the file name without
//     ".conf". Other files are ignored. Servers come in file-name order.
//   - A file must have exactly one [Peer], with an Endpoint: that peer is the server.
//   - Where the server is comes from a metadata comment before the first section, in any
//     number of lines of space-separated key=value pairs (values with spaces in double quotes):
//         # warren: region=uk country=GB city=London load=20
//         # warren: city="New York"
//     Keys: region, country, city, load (0 to 100); each at most once. wg-quick ignores the
//     line (it is a comment), so the file still works with wg-quick as it is. A file without
//     one is a server with an empty region: only a request for any region matches it.
//   - No credentials: the files hold the keys. state() is always authenticated.
//   - generate_config(server) reads the server's file again and returns its config unchanged,
//     so it works after a restart with a server from the cache. It refuses a server whose
//     public key no longer matches the file (the file was replaced since the fetch).
//
// fetch_servers fails on the first file that does not parse, with diagnostic() saying which
// and where ("uk-london.conf:7: AllowedIPs: ..."): a broken file is a mistake to fix, not a
// server to drop silently. Reads files only; not thread-safe.

#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/provider/auth_state.hpp>
#include <warren/provider/best_server.hpp>
#include <warren/provider/credential_field.hpp>
#include <warren/provider/detail/file_io.hpp>
#include <warren/provider/detail/text.hpp>
#include <warren/provider/error.hpp>
#include <warren/provider/provider.hpp>
#include <warren/provider/server.hpp>
#include <warren/provider/tunnel_config.hpp>
#include <warren/provider/wg_quick.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace warren::provider {

// A wg-quick file larger than this is refused unread; real ones are well under a kilobyte.
inline constexpr std::size_t max_wg_quick_file_size = std::size_t{1} << 20;

// What the "# warren:" comments of a file say about its server.
struct server_metadata {
  std::string region;
  std::string country;
  std::string city;
  std::optional<std::uint8_t> load;
  friend bool operator==(const server_metadata&, const server_metadata&) = default;
};

// Reads the "# warren:" comment lines before the first section of a wg-quick file. Other
// comments are skipped; a bad pair is an error with its line number.
inline expected<server_metadata, parse_error> parse_server_metadata(std::string_view text);

class wg_quick_provider {
 public:
  explicit wg_quick_provider(std::filesystem::path directory, std::string name = "wg-quick")
      : directory_(std::move(directory)), name_(std::move(name)) {}

  std::string_view name() const noexcept { return name_; }
  const std::filesystem::path& directory() const noexcept { return directory_; }
  std::vector<credential_field> credential_fields() const { return {}; }
  auth_state state(time_point) const { return {auth_status::authenticated, {}}; }
  result<auth_state> authenticate(const credentials&, time_point) {
    diagnostic_.clear();
    return auth_state{auth_status::authenticated, {}};
  }

  result<std::vector<server>> fetch_servers(time_point now);
  result<server> best_server(const region_request& request, std::span<const server> servers,
                             const latency_map* latencies = nullptr) const {
    return pick_best_server(request, servers, latencies);
  }
  result<tunnel_config> generate_config(const server& chosen);
  const std::string& diagnostic() const noexcept { return diagnostic_; }

 private:
  struct loaded {
    server entry;
    wg_quick::config config;
  };
  result<loaded> load(const std::filesystem::path& file, std::string id);
  // Records `message` for diagnostic() and returns `code` as the error.
  std::error_code fail(std::error_code code, std::string message) {
    diagnostic_ = std::move(message);
    return code;
  }

  std::filesystem::path directory_;
  std::string name_;
  std::string diagnostic_;
};

static_assert(provider<wg_quick_provider>);

// ---------------------------------------------------------------------------------------------

inline expected<server_metadata, parse_error> parse_server_metadata(std::string_view text) {
  server_metadata m;
  bool seen[4] = {};
  std::size_t line_no = 0;
  auto fail = [&](errc code, std::string detail) {
    return unexpected(parse_error{make_error_code(code), line_no, std::move(detail)});
  };
  while (!text.empty()) {
    ++line_no;
    auto newline = text.find('\n');
    auto line = detail::trim(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.starts_with('[')) break;  // metadata lives before the first section
    if (!line.starts_with('#')) continue;
    line = detail::trim(line.substr(1));
    if (!line.starts_with("warren:")) continue;
    line = detail::trim(line.substr(7));
    while (!line.empty()) {
      auto equals = line.find('=');
      auto space = line.find_first_of(" \t");
      if (equals == std::string_view::npos || (space != std::string_view::npos && space < equals))
        return fail(errc::syntax_error, "warren: " + detail::quote_value(line.substr(0, space)) + " is not key=value");
      auto key = line.substr(0, equals);
      line.remove_prefix(equals + 1);
      std::string_view value;
      if (line.starts_with('"')) {
        auto close = line.find('"', 1);
        if (close == std::string_view::npos) return fail(errc::syntax_error, "warren: " + detail::quote_value(key) + ": no closing '\"'");
        value = line.substr(1, close - 1);
        line.remove_prefix(close + 1);
        if (!line.empty() && !detail::is_space(line.front()))
          return fail(errc::syntax_error, "warren: " + detail::quote_value(key) + ": a blank must follow the closing '\"'");
      } else {
        auto end = line.find_first_of(" \t");
        value = line.substr(0, end);
        line.remove_prefix(end == std::string_view::npos ? line.size() : end);
      }
      line = detail::trim(line);
      static constexpr std::string_view keys[] = {"region", "country", "city", "load"};
      auto slot = static_cast<std::size_t>(std::find(std::begin(keys), std::end(keys), key) - std::begin(keys));
      if (slot == std::size(keys))
        return fail(errc::unknown_key, "warren: " + detail::quote_value(key) + " is not region, country, city or load");
      if (seen[slot]) return fail(errc::duplicate_key, "warren: " + std::string(key) + " given twice");
      seen[slot] = true;
      if (value.size() > detail::max_name_size)
        return fail(errc::invalid_value, "warren: " + std::string(key) + ": longer than 255 characters");
      if (slot == 3) {
        auto n = detail::parse_decimal(value, 100);
        if (!n) return fail(errc::invalid_value, "warren: load: " + detail::quote_value(value) + " is not a number from 0 to 100");
        m.load = static_cast<std::uint8_t>(*n);
      } else {
        (slot == 0 ? m.region : slot == 1 ? m.country : m.city) = std::string(value);
      }
    }
  }
  return m;
}

inline result<wg_quick_provider::loaded> wg_quick_provider::load(const std::filesystem::path& file, std::string id) {
  auto source = file.filename().string();
  auto text = detail::read_file(file, max_wg_quick_file_size);
  if (!text) return unexpected(fail(text.error(), source + ": " + text.error().message()));
  auto meta = parse_server_metadata(*text);
  if (!meta) return unexpected(fail(meta.error().code, meta.error().message(source)));
  auto config = wg_quick::parse(*text);
  crypto::secure_wipe(text->data(), text->size());  // it held the private key
  if (!config) return unexpected(fail(config.error().code, config.error().message(source)));
  if (config->peers.size() != 1)
    return unexpected(fail(make_error_code(errc::missing_field),
                           source + ": a server file needs exactly one [Peer], not " + std::to_string(config->peers.size())));
  const auto& peer = config->peers.front();
  if (!peer.endpoint)
    return unexpected(fail(make_error_code(errc::missing_field), source + ": the [Peer] has no Endpoint"));
  loaded out;
  out.entry.id = std::move(id);
  out.entry.region = std::move(meta->region);
  out.entry.country = std::move(meta->country);
  out.entry.city = std::move(meta->city);
  out.entry.load = meta->load;
  out.entry.endpoint = *peer.endpoint;
  out.entry.public_key = peer.public_key;
  out.entry.allowed_ips = peer.allowed_ips;
  out.config = std::move(*config);
  return out;
}

inline result<std::vector<server>> wg_quick_provider::fetch_servers(time_point) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(directory_, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& path = it->path();
    auto name = path.filename().string();
    if (name.starts_with('.') || path.extension() != ".conf" || name.size() == 5) continue;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;  // follows symlinks, as wg-quick would
    files.push_back(path);
  }
  if (ec) return unexpected(fail(ec, directory_.string() + ": " + ec.message()));
  std::sort(files.begin(), files.end());
  std::vector<server> out;
  for (const auto& file : files) {
    auto l = load(file, file.stem().string());
    if (!l) return unexpected(l.error());
    out.push_back(std::move(l->entry));
  }
  diagnostic_.clear();
  return out;
}

inline result<tunnel_config> wg_quick_provider::generate_config(const server& chosen) {
  // The id names a file in our directory and nothing else: a server from a tampered cache
  // must not make us read "../../etc/something.conf".
  const auto& id = chosen.id;
  if (id.empty() || id.starts_with('.') || id.find('/') != std::string::npos || id.find('\0') != std::string::npos)
    return unexpected(fail(make_error_code(errc::unknown_server), detail::quote_value(id) + " is not a server of " + name_));
  auto file = directory_ / (id + ".conf");
  auto l = load(file, id);
  if (!l) {
    if (l.error() == std::errc::no_such_file_or_directory)
      return unexpected(fail(make_error_code(errc::unknown_server), id + ".conf: no longer in " + directory_.string()));
    return unexpected(l.error());
  }
  if (l->entry.public_key != chosen.public_key)
    return unexpected(fail(make_error_code(errc::unknown_server),
                           id + ".conf: the server's public key changed since the list was fetched; fetch again"));
  diagnostic_.clear();
  return tunnel_config{id, std::move(l->config)};
}

}  // namespace warren::provider
