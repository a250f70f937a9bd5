#pragma once
// Archetypes for the provider concept: the least a type can offer and still model it. Generic
// code that compiles against provider_archetype asks for nothing beyond the concept (no copy,
// no move, no default construction, no other members). Near misses check that the concept
// refuses what it should. fake_provider is a movable model with canned answers, for the
// registry and generic-flow tests.

#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/provider/provider.hpp>

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace warren::provider::test {

struct archetype_tag {};

class provider_archetype {
 public:
  explicit provider_archetype(archetype_tag) {}
  provider_archetype(const provider_archetype&) = delete;
  provider_archetype& operator=(const provider_archetype&) = delete;

  const char* name() const { return "archetype"; }  // convertible to string_view is enough
  std::vector<credential_field> credential_fields() const { return {}; }
  auth_state state(time_point) const { return {}; }
  result<auth_state> authenticate(const credentials&, time_point) { return auth_state{auth_status::authenticated, {}}; }
  result<std::vector<server>> fetch_servers(time_point) { return std::vector<server>{}; }
  result<server> best_server(const region_request&, std::span<const server>, const latency_map*) const {
    return unexpected(make_error_code(errc::no_matching_server));
  }
  result<tunnel_config> generate_config(const server&) { return unexpected(make_error_code(errc::unknown_server)); }
  std::string_view diagnostic() const { return {}; }
};

static_assert(provider<provider_archetype>);

// Near misses: each lacks one thing the concept asks for.
struct without_diagnostic {
  std::string_view name() const { return {}; }
  std::vector<credential_field> credential_fields() const { return {}; }
  auth_state state(time_point) const { return {}; }
  result<auth_state> authenticate(const credentials&, time_point) { return auth_state{}; }
  result<std::vector<server>> fetch_servers(time_point) { return std::vector<server>{}; }
  result<server> best_server(const region_request&, std::span<const server>, const latency_map*) const { return server{}; }
  result<tunnel_config> generate_config(const server&) { return tunnel_config{}; }
};
static_assert(!provider<without_diagnostic>);

struct fetch_returns_plain_vector : without_diagnostic {
  std::vector<server> fetch_servers(time_point) { return {}; }  // hides the base's: no error channel
  std::string_view diagnostic() const { return {}; }
};
static_assert(!provider<fetch_returns_plain_vector>);

struct state_not_const : without_diagnostic {
  auth_state state(time_point) { return {}; }  // hides the base's const one
  std::string_view diagnostic() const { return {}; }
};
static_assert(!provider<state_not_const>);

// A movable model that serves a fixed list and counts calls.
class fake_provider {
 public:
  fake_provider(std::string name, std::vector<server> servers) : name_(std::move(name)), servers_(std::move(servers)) {}

  std::string_view name() const { return name_; }
  std::vector<credential_field> credential_fields() const {
    return {{"token", "Token", field_kind::secret, true, ""}};
  }
  auth_state state(time_point) const { return state_; }
  result<auth_state> authenticate(const credentials& given, time_point) {
    auto it = given.find("token");
    state_ = it != given.end() && it->second == "good" ? auth_state{auth_status::authenticated, {}}
                                                       : auth_state{auth_status::failed, "token: refused"};
    return state_;
  }
  result<std::vector<server>> fetch_servers(time_point) {
    ++fetches;
    return servers_;
  }
  result<server> best_server(const region_request& request, std::span<const server> servers,
                             const latency_map* latencies) const {
    return pick_best_server(request, servers, latencies);
  }
  result<tunnel_config> generate_config(const server& chosen) {
    if (!state_.ok()) {
      diagnostic_ = "authenticate first";
      return unexpected(make_error_code(errc::not_authenticated));
    }
    diagnostic_.clear();
    tunnel_config t;
    t.server_id = chosen.id;
    wg_quick::peer_config peer;
    peer.public_key = chosen.public_key;
    peer.endpoint = chosen.endpoint;
    t.wireguard.peers.push_back(peer);
    return t;
  }
  std::string_view diagnostic() const { return diagnostic_; }

  int fetches = 0;

 private:
  std::string name_;
  std::vector<server> servers_;
  auth_state state_;
  std::string diagnostic_;
};

static_assert(provider<fake_provider>);

}  // namespace warren::provider::test
