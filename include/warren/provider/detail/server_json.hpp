#pragma once
// JSON for the server list an operator publishes and for the cache file: parsing text without
// letting an exception out, and a server to and from a JSON object, checked field by field.
// Errors name the field as a path ("servers[3].public_key") because JSON values carry no line.

#include <warren/core/expected.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/provider/detail/base64_key.hpp>
#include <warren/provider/detail/text.hpp>
#include <warren/provider/endpoint.hpp>
#include <warren/provider/error.hpp>
#include <warren/provider/server.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace warren::provider::detail {

using json = nlohmann::json;

// Deeper documents are refused before nlohmann sees them. Ours nest four levels; the limit
// keeps a hostile "[[[[..." from costing more than a few bytes of bookkeeping anywhere.
inline constexpr std::size_t max_json_depth = 32;

inline bool json_depth_within(std::string_view text, std::size_t limit) noexcept {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// Parses `text`; a syntax error gives errc::invalid_json with the line it is on. nlohmann's own
// message is not passed on: it quotes the input, which may hold a key.
inline expected<json, parse_error> parse_json(std::string_view text) {
  auto fail = [](std::size_t line, std::string detail) {
    return unexpected(parse_error{make_error_code(errc::invalid_json), line, std::move(detail)});
  };
  if (!json_depth_within(text, max_json_depth))
    return fail(0, "nested deeper than " + std::to_string(max_json_depth) + " levels");
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    auto at = e.byte > 0 ? e.byte - 1 : 0;
    return fail(line_of(text, at), "not valid JSON (syntax error at byte " + std::to_string(at + 1) + ")");
  } catch (const std::bad_alloc&) {
    return fail(0, "too large to parse in memory");
  } catch (const std::exception&) {
    return fail(0, "not valid JSON");
  }
}

// Dumps without throwing: strings that are not UTF-8 (a city read from a wg-quick comment may
// be anything) are written with U+FFFD in place of the bad bytes.
inline std::string dump_json(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

// A field error: the message names `path` (e.g. "servers[3].load").
struct field_error {
  errc code = errc::invalid_value;
  std::string detail;
};

inline std::string type_of(const json& j) { return j.type_name(); }

// An optional member: nullptr if absent or null.
inline const json* member(const json& object, std::string_view name) {
  auto it = object.find(std::string(name));
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

inline expected<std::string, field_error> string_field(const json& object, std::string_view path, std::string_view name,
                                                       bool required, std::size_t max_size = max_name_size) {
  const json* v = member(object, name);
  std::string where = std::string(path) + "." + std::string(name);
  if (!v) {
    if (required) return unexpected(field_error{errc::missing_field, where + ": required"});
    return std::string();
  }
  if (!v->is_string()) return unexpected(field_error{errc::invalid_value, where + ": must be a string, not " + type_of(*v)});
  const auto& s = v->get_ref<const std::string&>();
  if (required && s.empty()) return unexpected(field_error{errc::missing_field, where + ": must not be empty"});
  if (s.size() > max_size)
    return unexpected(field_error{errc::invalid_value, where + ": longer than " + std::to_string(max_size) + " characters"});
  return s;
}

// A server from one element of a "servers" array; `path` is "servers[3]" or similar. A
// published list must give every server a region (a typo in the field name would otherwise hide
// the server from every region); the cache also holds servers from wg-quick files without one.
inline expected<server, field_error> server_from_json(const json& j, const std::string& path, bool region_required = true) {
  if (!j.is_object()) return unexpected(field_error{errc::invalid_value, path + ": must be an object, not " + type_of(j)});
  server s;
  auto text = [&](std::string_view name, bool required, std::string& out) -> std::optional<field_error> {
    auto v = string_field(j, path, name, required);
    if (!v) return v.error();
    out = std::move(*v);
    return std::nullopt;
  };
  if (auto e = text("id", true, s.id)) return unexpected(*e);
  if (auto e = text("region", region_required, s.region)) return unexpected(*e);
  if (auto e = text("country", false, s.country)) return unexpected(*e);
  if (auto e = text("city", false, s.city)) return unexpected(*e);

  std::string endpoint_text;
  if (auto e = text("endpoint", true, endpoint_text)) return unexpected(*e);
  auto ep = endpoint::parse(endpoint_text);
  if (!ep) return unexpected(field_error{errc::invalid_value, path + ".endpoint: " + quote_value(endpoint_text) +
                                                                  " is not host:port or [IPv6]:port"});
  s.endpoint = std::move(*ep);

  std::string key_text;
  if (auto e = text("public_key", true, key_text)) return unexpected(*e);
  auto key = decode_public_key(key_text);
  if (!key) return unexpected(field_error{errc::invalid_key, path + ".public_key: " + quote_value(key_text) +
                                                                 " is not a base64 WireGuard key (44 characters ending in '=')"});
  s.public_key = *key;

  if (const json* load = member(j, "load")) {
    // is_number_integer excludes 20.0 and numbers too large for 64 bits (nlohmann reads
    // those as floating point), so the range check sees every integer that can arrive.
    bool ok = load->is_number_integer() &&
              (load->is_number_unsigned() ? load->get<std::uint64_t>() <= 100
                                          : load->get<std::int64_t>() >= 0 && load->get<std::int64_t>() <= 100);
    if (!ok) return unexpected(field_error{errc::invalid_value, path + ".load: must be an integer from 0 to 100"});
    s.load = static_cast<std::uint8_t>(load->get<std::int64_t>());
  }

  if (const json* ips = member(j, "allowed_ips")) {
    if (!ips->is_array() || ips->empty())
      return unexpected(field_error{errc::invalid_value, path + ".allowed_ips: must be a non-empty array of prefixes"});
    for (std::size_t n = 0; n < ips->size(); ++n) {
      const auto& item = (*ips)[n];
      std::string where = path + ".allowed_ips[" + std::to_string(n) + "]";
      if (!item.is_string()) return unexpected(field_error{errc::invalid_value, where + ": must be a string, not " + type_of(item)});
      auto p = packet::ip_prefix::parse(item.get_ref<const std::string&>());
      if (!p) return unexpected(field_error{errc::invalid_value, where + ": " + quote_value(item.get_ref<const std::string&>()) +
                                                                     " is not an IP prefix"});
      s.allowed_ips.push_back(*p);
    }
  }

  std::string address;
  if (auto e = text("client_address", false, address)) return unexpected(*e);
  if (!address.empty()) {
    auto p = packet::ip_prefix::parse(address);
    if (!p) return unexpected(field_error{errc::invalid_value, path + ".client_address: " + quote_value(address) +
                                                                   " is not an IP address or prefix"});
    s.client_address = *p;
  }
  return s;
}

inline json server_to_json(const server& s) {
  json j = json::object();
  j["id"] = s.id;
  j["region"] = s.region;
  if (!s.country.empty()) j["country"] = s.country;
  if (!s.city.empty()) j["city"] = s.city;
  j["endpoint"] = s.endpoint.to_string();
  j["public_key"] = encode_key(s.public_key);
  if (s.load) j["load"] = *s.load;
  if (!s.allowed_ips.empty()) {
    json ips = json::array();
    for (const auto& p : s.allowed_ips) ips.push_back(p.to_string());
    j["allowed_ips"] = std::move(ips);
  }
  if (s.client_address) j["client_address"] = s.client_address->to_string();
  return j;
}

}  // namespace warren::provider::detail
