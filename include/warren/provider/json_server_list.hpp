#pragma once
// The static JSON server list an operator publishes (on a web server, in an app bundle), read by
// json_server_list_provider. One document, version 1:
//
//   {
//     "version": 1,
//     "servers": [
//       { "id": "uk-lon-1",                   required, unique, at most 255 characters
//         "region": "uk",                     required
//         "country": "GB", "city": "London",  optional
//         "endpoint": "vpn1.example.com:51820",   required: host:port or [IPv6]:port
//         "public_key": "<44 characters of base64>", required: the server's WireGuard key
//         "load": 20,                         optional: integer percent, 0 to 100
//         "client_address": "10.100.0.2/32",  optional: the address this server gives the
//                                             client; overrides the "address" credential
//         "allowed_ips": ["0.0.0.0/0", "::/0"] }  optional: default all traffic
//     ]
//   }
//
// Fields this version does not know are ignored, so a list can grow without breaking older
// apps; a document with another "version" is refused. Errors name the field and the server's
// index ("servers[3].public_key: ..."), or the line for a JSON syntax error.

#include <warren/core/expected.hpp>
#include <warren/provider/detail/server_json.hpp>
#include <warren/provider/error.hpp>
#include <warren/provider/server.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace warren::provider {

inline constexpr int server_list_version = 1;
// A list larger than this is refused unread: a few hundred bytes a server gives room for
// tens of thousands of servers.
inline constexpr std::size_t max_server_list_size = std::size_t{16} << 20;

// The servers of a list document, in its order. Never throws on input.
inline expected<std::vector<server>, parse_error> parse_server_list(std::string_view text) {
  auto fail = [](errc code, std::string detail, std::size_t line = 0) {
    return unexpected(parse_error{make_error_code(code), line, std::move(detail)});
  };
  if (text.size() > max_server_list_size) return fail(errc::file_too_large, "larger than " + std::to_string(max_server_list_size) + " bytes");
  auto doc = detail::parse_json(text);
  if (!doc) return unexpected(std::move(doc.error()));
  try {
    if (!doc->is_object()) return fail(errc::invalid_value, "the document must be an object, not " + detail::type_of(*doc));
    const auto* version = detail::member(*doc, "version");
    if (!version) return fail(errc::missing_field, "version: required");
    if (!version->is_number_integer() || *version != server_list_version)
      return fail(errc::unsupported_version, "version: this code reads version 1, not " + detail::quote_value(version->dump()));
    const auto* list = detail::member(*doc, "servers");
    if (!list) return fail(errc::missing_field, "servers: required");
    if (!list->is_array()) return fail(errc::invalid_value, "servers: must be an array, not " + detail::type_of(*list));
    std::vector<server> out;
    out.reserve(list->size());
    std::map<std::string, std::size_t, std::less<>> index_of;
    for (std::size_t n = 0; n < list->size(); ++n) {
      auto path = "servers[" + std::to_string(n) + "]";
      auto s = detail::server_from_json((*list)[n], path);
      if (!s) return fail(s.error().code, std::move(s.error().detail));
      if (auto [it, fresh] = index_of.emplace(s->id, n); !fresh)
        return fail(errc::duplicate_server, path + ".id: " + detail::quote_value(s->id) + " is also the id of servers[" +
                                                std::to_string(it->second) + "]");
      out.push_back(std::move(*s));
    }
    return out;
  } catch (const std::exception&) {
    // Every access above is checked first; this is the boundary in case one is missed.
    return fail(errc::invalid_value, "unexpected JSON structure");
  }
}

// The document for `servers`: what an operator's tooling publishes, and a way to write test
// lists. parse_server_list(write_server_list(s)) == s for servers with unique ids.
inline std::string write_server_list(const std::vector<server>& servers) {
  detail::json doc = detail::json::object();
  doc["version"] = server_list_version;
  doc["servers"] = detail::json::array();
  for (const auto& s : servers) doc["servers"].push_back(detail::server_to_json(s));
  return detail::dump_json(doc);
}

}  // namespace warren::provider
