#pragma once
// json_server_list_provider: a provider over the static JSON server list an operator publishes
// (format in json_server_list.hpp). The user holds a WireGuard key pair the operator already
// knows (it put the user's public key on every server); the app asks for the private key and
// the tunnel address, and builds a config for whichever server the user picks.
//
//   - Credentials: private_key (secret, base64, required) and address (text: one or more
//     prefixes separated by commas, "10.100.0.2/32, fd00::2/128"; optional when every server
//     in the list carries a client_address). A bad value is not an error: authenticate()
//     returns auth_status::failed with a reason naming the field.
//   - The list comes from a file (read at each fetch_servers) or from a document the app
//     downloaded and passed in (set_document). Fetching needs no credentials: the list is public.
//   - generate_config(server): the interface gets the private key, the server's client_address
//     if it has one (else the address credential), and the DNS and MTU from options; the one
//     peer gets the server's public key and endpoint, its allowed_ips (default 0.0.0.0/0 and
//     ::/0) and the keepalive from options. It needs only the server value, so a server from
//     the cache works after a restart without fetching again.
//
// Not thread-safe. The private key is kept in wiped storage (crypto::private_key).

#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/crypto/secret.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/provider/auth_state.hpp>
#include <warren/provider/best_server.hpp>
#include <warren/provider/credential_field.hpp>
#include <warren/provider/detail/base64_key.hpp>
#include <warren/provider/detail/file_io.hpp>
#include <warren/provider/detail/text.hpp>
#include <warren/provider/error.hpp>
#include <warren/provider/json_server_list.hpp>
#include <warren/provider/provider.hpp>
#include <warren/provider/server.hpp>
#include <warren/provider/tunnel_config.hpp>

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

// What the list does not say and the app decides.
struct json_server_list_options {
  std::string name = "json";
  std::vector<packet::ip_address> dns;      // the interface's DNS servers
  std::optional<std::uint16_t> mtu;         // the interface's MTU; nullopt: wg-quick's default
  std::uint16_t persistent_keepalive = 25;  // seconds; 0: off. 25 keeps NAT mappings open
                                            // (the interval wg(8)'s manual suggests)
};

class json_server_list_provider {
 public:
  using options = json_server_list_options;

  // Reads `file` at every fetch_servers.
  static json_server_list_provider from_file(std::filesystem::path file, options o = {}) {
    json_server_list_provider p(std::move(o));
    p.file_ = std::move(file);
    return p;
  }
  // Serves `document` (a list the app downloaded) until set_document gives a newer one.
  static json_server_list_provider from_document(std::string document, options o = {}) {
    json_server_list_provider p(std::move(o));
    p.document_ = std::move(document);
    return p;
  }
  void set_document(std::string document) { document_ = std::move(document); }

  std::string_view name() const noexcept { return options_.name; }
  std::vector<credential_field> credential_fields() const {
    return {{"private_key", "Private key", field_kind::secret, true, "base64, 44 characters"},
            {"address", "Tunnel address", field_kind::text, false, "10.100.0.2/32, fd00::2/128"}};
  }
  auth_state state(time_point) const { return state_; }
  result<auth_state> authenticate(const credentials& given, time_point now);
  result<std::vector<server>> fetch_servers(time_point now);
  result<server> best_server(const region_request& request, std::span<const server> servers,
                             const latency_map* latencies = nullptr) const {
    return pick_best_server(request, servers, latencies);
  }
  result<tunnel_config> generate_config(const server& chosen);
  const std::string& diagnostic() const noexcept { return diagnostic_; }

 private:
  explicit json_server_list_provider(options o) : options_(std::move(o)) {}
  std::error_code fail(std::error_code code, std::string message) {
    diagnostic_ = std::move(message);
    return code;
  }

  options options_;
  std::optional<std::filesystem::path> file_;
  std::string document_;
  auth_state state_;
  crypto::private_key private_key_;
  std::vector<packet::ip_prefix> addresses_;
  std::string diagnostic_;
};

static_assert(provider<json_server_list_provider>);

inline result<auth_state> json_server_list_provider::authenticate(const credentials& given, time_point) {
  diagnostic_.clear();
  auto refuse = [&](std::string reason) {
    private_key_.wipe();
    addresses_.clear();
    state_ = {auth_status::failed, std::move(reason)};
    return state_;
  };
  auto fields = credential_fields();
  if (const auto* missing = first_missing(fields, given)) return refuse(missing->name + ": required");
  auto key = detail::decode_private_key(given.find("private_key")->second);
  if (!key) return refuse("private_key: not a base64 WireGuard key (44 characters ending in '=')");
  std::vector<packet::ip_prefix> addresses;
  if (auto it = given.find("address"); it != given.end() && !detail::trim(it->second).empty()) {
    for (auto item : detail::split_list(it->second)) {
      auto p = packet::ip_prefix::parse(item);
      if (!p) return refuse("address: " + detail::quote_value(item) + " is not an IP address or prefix");
      addresses.push_back(*p);
    }
  }
  private_key_ = *key;
  addresses_ = std::move(addresses);
  state_ = {auth_status::authenticated, {}};
  return state_;
}

inline result<std::vector<server>> json_server_list_provider::fetch_servers(time_point) {
  std::string source = file_ ? file_->filename().string() : options_.name;
  std::string text;
  if (file_) {
    auto read = detail::read_file(*file_, max_server_list_size);
    if (!read) return unexpected(fail(read.error(), source + ": " + read.error().message()));
    text = std::move(*read);
  }
  auto servers = parse_server_list(file_ ? std::string_view(text) : std::string_view(document_));
  if (!servers) return unexpected(fail(servers.error().code, servers.error().message(source)));
  diagnostic_.clear();
  return std::move(*servers);
}

inline result<tunnel_config> json_server_list_provider::generate_config(const server& chosen) {
  if (!state_.ok())
    return unexpected(fail(make_error_code(errc::not_authenticated), options_.name + ": authenticate first"));
  wg_quick::config c;
  auto& i = c.interface;
  i.private_key = private_key_;
  if (chosen.client_address) i.addresses = {*chosen.client_address};
  else i.addresses = addresses_;
  if (i.addresses.empty())
    return unexpected(fail(make_error_code(errc::missing_field),
                           "server " + detail::quote_value(chosen.id) + " has no client_address and no address credential was given"));
  i.dns = options_.dns;
  i.mtu = options_.mtu;
  wg_quick::peer_config peer;
  peer.public_key = chosen.public_key;
  peer.endpoint = chosen.endpoint;
  peer.allowed_ips = chosen.allowed_ips;
  if (peer.allowed_ips.empty())
    peer.allowed_ips = {*packet::ip_prefix::parse("0.0.0.0/0"), *packet::ip_prefix::parse("::/0")};
  if (options_.persistent_keepalive != 0) peer.persistent_keepalive = options_.persistent_keepalive;
  c.peers.push_back(std::move(peer));
  diagnostic_.clear();
  return tunnel_config{chosen.id, std::move(c)};
}

}  // namespace warren::provider
