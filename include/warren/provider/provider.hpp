#pragma once
// provider: the concept every source of VPN servers models, so an app can sign a user in, list
// servers, pick one and get a tunnel config without knowing where they come from (a folder of
// wg-quick files, a JSON list an operator publishes, later a broker with accounts).
//
//   1. The app renders credential_fields() and passes what the user typed to authenticate().
//   2. fetch_servers(now) gives the current list; the app keeps it in a server_cache, so after
//      a restart (or when the source is unreachable) it still has servers to offer.
//   3. best_server(request, servers, latencies) picks one for the user's region.
//   4. generate_config(server) gives the tunnel_config to bring up.
//
// Contract for models:
//   - Sans-IO except for plain file reads (a provider may read its own files); no sockets, no
//     threads, no clock: time comes in as `now`. A call may block only on the file system.
//   - Not thread-safe: one thread (or strand) drives a provider.
//   - result errors are for failures the caller cannot fix by retyping credentials (a missing
//     directory, a corrupt list); refused credentials are a successful authenticate() whose
//     auth_state is failed with a reason. After a failed authenticate, fetch_servers or
//     generate_config, diagnostic() holds a sentence for the operator's log (with file and
//     line where there is one); after a successful one it is empty.
//   - state(now) may turn from authenticated to expired as `now` passes a session's end.

#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/provider/auth_state.hpp>
#include <warren/provider/best_server.hpp>
#include <warren/provider/credential_field.hpp>
#include <warren/provider/server.hpp>
#include <warren/provider/tunnel_config.hpp>

#include <concepts>
#include <span>
#include <string_view>
#include <vector>

namespace warren::provider {

template <class P>
concept provider = requires(P& p, const P& cp, const credentials& given, time_point now, const region_request& request,
                            std::span<const server> servers, const latency_map* latencies, const server& chosen) {
  { cp.name() } -> std::convertible_to<std::string_view>;            // unique in a registry
  { cp.credential_fields() } -> std::same_as<std::vector<credential_field>>;
  { cp.state(now) } -> std::same_as<auth_state>;
  { p.authenticate(given, now) } -> std::same_as<result<auth_state>>;
  { p.fetch_servers(now) } -> std::same_as<result<std::vector<server>>>;
  { cp.best_server(request, servers, latencies) } -> std::same_as<result<server>>;  // latencies may be null
  { p.generate_config(chosen) } -> std::same_as<result<tunnel_config>>;
  { cp.diagnostic() } -> std::convertible_to<std::string_view>;
};

}  // namespace warren::provider
