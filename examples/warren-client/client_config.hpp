#pragma once
// warren-client's configuration file: JSON, one document (see README.md beside this file).
//
//   {
//     "tun":       {"name": "wrnc0", "addresses": ["10.0.0.1/32"], "mtu": 1420},
//     "providers": {"files": {"type": "wg-quick", "directory": "servers"},
//                   "acme":  {"type": "json", "file": "acme.json",
//                             "credentials": {"private_key": "...", "address": "10.100.0.2/32"}}},
//     "targets":   {"uk": {"provider": "files", "region": "uk"},
//                   "fr": {"provider": "files", "region": "fr", "fallback_direct": false}},
//     "rules":     [{"destinations": ["198.18.1.0/24"], "target": "uk"},
//                   {"domains": ["example.com"], "target": "fr"},
//                   {"sources": ["10.0.0.1/32"], "destination_ports": "8000-8080", "action": "direct"}],
//     "default":   "drop",
//     "idle_timeout_seconds": 300, "check_after_seconds": 3, "dead_after_seconds": 5
//   }
//
// Relative paths are taken from the configuration file's directory. Every error names where it
// is ("rules[2].destinations[0]: '10.0.0.0/33' is not an IP prefix").

#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_protocol.hpp>
#include <warren/route/policy.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace warren_client {

struct provider_spec {
  std::string type;  // "wg-quick" or "json"
  std::filesystem::path path;
  std::map<std::string, std::string> credentials;
};

struct target_spec {
  std::string provider;
  std::string region;
  bool fallback_direct = false;
};

struct client_config {
  std::string tun_name = "wrnc%d";
  std::vector<warren::packet::ip_prefix> tun_addresses;
  std::size_t mtu = 1420;
  std::map<std::string, provider_spec> providers;
  std::map<std::string, target_spec> targets;
  std::vector<warren::route::rule> rules;
  warren::route::action default_action = warren::route::action::drop();
  double idle_timeout_seconds = 300;
  double check_after_seconds = 3;  // unanswered sends for this long: ask the server (a handshake)
  double dead_after_seconds = 5;   // no answer to that for this long: the server is lost
};

struct config_error {
  std::string message;
};

namespace detail {

using json = nlohmann::json;

// Throws config_error with the path of the offending value.
[[noreturn]] inline void fail(const std::string& where, const std::string& what) { throw config_error{where + ": " + what}; }

inline const json& member(const json& j, const std::string& where, const char* key) {
  if (!j.is_object()) fail(where, "must be an object");
  auto it = j.find(key);
  if (it == j.end()) fail(where, std::string("needs \"") + key + "\"");
  return *it;
}
inline std::string text(const json& j, const std::string& where) {
  if (!j.is_string()) fail(where, "must be a string");
  return j.get<std::string>();
}
inline double number(const json& j, const std::string& where, double min, double max) {
  if (!j.is_number()) fail(where, "must be a number");
  const double v = j.get<double>();
  if (!(v >= min && v <= max)) fail(where, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return v;
}
inline warren::packet::ip_prefix prefix(const json& j, const std::string& where) {
  const std::string t = text(j, where);
  auto p = warren::packet::ip_prefix::parse(t);
  if (!p) fail(where, "'" + t + "' is not an IP prefix (such as 198.18.1.0/24)");
  return *p;
}
inline std::vector<warren::packet::ip_prefix> prefixes(const json& j, const std::string& where) {
  if (!j.is_array()) fail(where, "must be a list of IP prefixes");
  std::vector<warren::packet::ip_prefix> out;
  for (std::size_t i = 0; i < j.size(); ++i) out.push_back(prefix(j[i], where + "[" + std::to_string(i) + "]"));
  return out;
}
inline warren::route::port_range ports(const json& j, const std::string& where) {
  if (j.is_number_integer()) {
    const auto p = static_cast<std::uint16_t>(number(j, where, 0, 65535));
    return {p, p};
  }
  const std::string t = text(j, where);
  const auto dash = t.find('-');
  try {
    std::size_t used = 0;
    const unsigned long first = std::stoul(t.substr(0, dash), &used);
    const unsigned long last = dash == std::string::npos ? first : std::stoul(t.substr(dash + 1));
    if (first > 65535 || last > 65535 || first > last) throw std::out_of_range("ports");
    return {static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)};
  } catch (const std::exception&) {
    fail(where, "'" + t + "' is not a port or a range such as 8000-8080");
  }
}
inline warren::packet::ip_protocol protocol(const json& j, const std::string& where) {
  const std::string t = text(j, where);
  if (t == "tcp") return warren::packet::ip_protocol::tcp;
  if (t == "udp") return warren::packet::ip_protocol::udp;
  if (t == "icmp") return warren::packet::ip_protocol::icmp;
  if (t == "icmpv6") return warren::packet::ip_protocol::icmpv6;
  fail(where, "'" + t + "' is not one of tcp, udp, icmp, icmpv6");
}

// "target" or "action": a tunnel to a target, direct or drop.
inline warren::route::action action_of(const json& j, const std::string& where) {
  const bool fallback = j.contains("fallback_direct") && j["fallback_direct"].is_boolean() && j["fallback_direct"].get<bool>();
  if (j.contains("target")) return warren::route::action::tunnel(text(j["target"], where + ".target"), fallback);
  if (!j.contains("action")) fail(where, "needs \"target\" (a tunnel) or \"action\" (direct or drop)");
  const std::string a = text(j["action"], where + ".action");
  if (a == "direct") return warren::route::action::direct();
  if (a == "drop") return warren::route::action::drop();
  fail(where + ".action", "'" + a + "' is not direct or drop (a tunnel is given as \"target\")");
}

}  // namespace detail

// Reads and checks the file. Throws config_error (with the file name and the value's path).
inline client_config load_client_config(const std::filesystem::path& file) {
  using detail::fail;
  using detail::json;
  std::ifstream in(file);
  if (!in) throw config_error{file.string() + ": cannot be read"};
  std::stringstream buffer;
  buffer << in.rdbuf();
  json doc = json::parse(buffer.str(), nullptr, false);
  if (doc.is_discarded()) throw config_error{file.string() + ": not valid JSON"};
  const std::filesystem::path base = file.parent_path();
  auto resolve = [&](const std::string& p) { return std::filesystem::path(p).is_absolute() ? std::filesystem::path(p) : base / p; };
  try {
    client_config c;
    if (!doc.is_object()) fail("(top)", "must be an object");
    const json& tun = detail::member(doc, "(top)", "tun");
    if (tun.contains("name")) c.tun_name = detail::text(tun["name"], "tun.name");
    if (c.tun_name.empty() || c.tun_name.size() > 15) fail("tun.name", "must be 1 to 15 bytes");
    c.tun_addresses = detail::prefixes(detail::member(tun, "tun", "addresses"), "tun.addresses");
    if (c.tun_addresses.empty()) fail("tun.addresses", "needs at least one address");
    if (tun.contains("mtu")) c.mtu = static_cast<std::size_t>(detail::number(tun["mtu"], "tun.mtu", 576, 65535));

    const json& providers = detail::member(doc, "(top)", "providers");
    if (!providers.is_object() || providers.empty()) fail("providers", "must name at least one provider");
    for (const auto& [name, p] : providers.items()) {
      const std::string at = "providers." + name;
      provider_spec s;
      s.type = detail::text(detail::member(p, at, "type"), at + ".type");
      if (s.type == "wg-quick") {
        s.path = resolve(detail::text(detail::member(p, at, "directory"), at + ".directory"));
      } else if (s.type == "json") {
        s.path = resolve(detail::text(detail::member(p, at, "file"), at + ".file"));
        if (p.contains("credentials")) {
          if (!p["credentials"].is_object()) fail(at + ".credentials", "must be an object of strings");
          for (const auto& [k, v] : p["credentials"].items()) s.credentials[k] = detail::text(v, at + ".credentials." + k);
        }
      } else {
        fail(at + ".type", "'" + s.type + "' is not wg-quick or json");
      }
      c.providers[name] = std::move(s);
    }

    const json& targets = detail::member(doc, "(top)", "targets");
    if (!targets.is_object()) fail("targets", "must be an object");
    for (const auto& [name, t] : targets.items()) {
      const std::string at = "targets." + name;
      target_spec s;
      s.provider = detail::text(detail::member(t, at, "provider"), at + ".provider");
      if (!c.providers.contains(s.provider)) fail(at + ".provider", "no provider is called '" + s.provider + "'");
      if (t.contains("region")) s.region = detail::text(t["region"], at + ".region");
      if (t.contains("fallback_direct")) {
        if (!t["fallback_direct"].is_boolean()) fail(at + ".fallback_direct", "must be true or false");
        s.fallback_direct = t["fallback_direct"].get<bool>();
      }
      c.targets[name] = std::move(s);
    }

    const json& rules = detail::member(doc, "(top)", "rules");
    if (!rules.is_array()) fail("rules", "must be a list");
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const std::string at = "rules[" + std::to_string(i) + "]";
      const json& r = rules[i];
      if (!r.is_object()) fail(at, "must be an object");
      warren::route::rule rule;
      if (r.contains("name")) rule.name = detail::text(r["name"], at + ".name");
      if (r.contains("destinations")) rule.destinations = detail::prefixes(r["destinations"], at + ".destinations");
      if (r.contains("sources")) rule.sources = detail::prefixes(r["sources"], at + ".sources");
      if (r.contains("domains")) {
        if (!r["domains"].is_array()) fail(at + ".domains", "must be a list of names");
        for (std::size_t k = 0; k < r["domains"].size(); ++k)
          rule.domains.push_back(detail::text(r["domains"][k], at + ".domains[" + std::to_string(k) + "]"));
      }
      if (r.contains("source_ports")) rule.source_ports = detail::ports(r["source_ports"], at + ".source_ports");
      if (r.contains("destination_ports")) rule.destination_ports = detail::ports(r["destination_ports"], at + ".destination_ports");
      if (r.contains("protocol")) rule.protocol = detail::protocol(r["protocol"], at + ".protocol");
      rule.then = detail::action_of(r, at);
      if (rule.then.what == warren::route::action::kind::tunnel && !c.targets.contains(rule.then.target))
        fail(at + ".target", "no target is called '" + rule.then.target + "' (see \"targets\")");
      c.rules.push_back(std::move(rule));
    }
    if (doc.contains("default")) {
      const std::string d = detail::text(doc["default"], "default");
      if (d == "drop") c.default_action = warren::route::action::drop();
      else if (d == "direct") c.default_action = warren::route::action::direct();
      else if (c.targets.contains(d)) c.default_action = warren::route::action::tunnel(d);
      else fail("default", "'" + d + "' is not drop, direct or a target");
    }
    if (doc.contains("idle_timeout_seconds"))
      c.idle_timeout_seconds = detail::number(doc["idle_timeout_seconds"], "idle_timeout_seconds", 0.1, 86400);
    if (doc.contains("check_after_seconds"))
      c.check_after_seconds = detail::number(doc["check_after_seconds"], "check_after_seconds", 0.1, 3600);
    if (doc.contains("dead_after_seconds"))
      c.dead_after_seconds = detail::number(doc["dead_after_seconds"], "dead_after_seconds", 0.1, 3600);
    return c;
  } catch (const config_error& e) {
    throw config_error{file.string() + ": " + e.message};
  } catch (const nlohmann::json::exception& e) {
    throw config_error{file.string() + ": " + e.what()};
  }
}

}  // namespace warren_client
