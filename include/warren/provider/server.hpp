#pragma once
// server: one place a provider can connect the user to, as a server list names it, and
// region_request: what the user asked for ("somewhere in the UK", "London"). Plain values:
// they come from a provider's fetch_servers, go through the server_cache and back into the
// provider's generate_config.

#include <warren/crypto/secret.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/provider/detail/text.hpp>
#include <warren/provider/endpoint.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace warren::provider {

struct server {
  std::string id;       // unique within its provider; stable across fetches
  std::string region;   // the provider's grouping, e.g. "uk", "us-east", "europe"
  std::string country;  // ISO 3166-1 alpha-2 by convention ("GB"); may be empty
  std::string city;     // may be empty
  warren::provider::endpoint endpoint;
  crypto::public_key public_key{};
  std::optional<std::uint8_t> load;  // percent busy, 0 to 100; nullopt: not published
  // What a provider needs to build a tunnel to this server without fetching again (after a
  // restart, the server may come from the cache). Empty allowed_ips: the provider's default
  // (all traffic); client_address: the address this server assigns the client, if fixed.
  std::vector<packet::ip_prefix> allowed_ips;
  std::optional<packet::ip_prefix> client_address;

  friend bool operator==(const server&, const server&) = default;
};

// Which servers will do. An empty region matches every server; country and city narrow it.
// Names compare without regard to ASCII case, so "gb" matches "GB".
struct region_request {
  std::string region;
  std::optional<std::string> country;
  std::optional<std::string> city;

  bool matches(const server& s) const noexcept {
    if (!region.empty() && !detail::iequals(region, s.region)) return false;
    if (country && !detail::iequals(*country, s.country)) return false;
    if (city && !detail::iequals(*city, s.city)) return false;
    return true;
  }
  friend bool operator==(const region_request&, const region_request&) = default;
};

}  // namespace warren::provider
