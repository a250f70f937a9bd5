#pragma once
// The wg-quick(8) configuration file: what `wg-quick up wg0` reads from /etc/wireguard/wg0.conf
// and what VPN services hand their users. parse() reads every field wg-quick and wg(8) accept;
// write() prints a config back so that parse(write(c)) == c, and write(parse(text)) is a
// canonical form of `text` (one line per key, lists joined, numbers in one spelling).
//
// How the file reads, following wg-quick (linux.bash, parse_options) and wg (config.c):
//   - "[Interface]" and "[Peer]" start sections; section names and keys are case-insensitive.
//   - "Key = Value": blanks around the key and the value are dropped; the value runs to the end
//     of the line and may contain '=' (a PostUp command often does).
//   - '#' starts a comment anywhere in a line, also inside a PostUp command, as in wg-quick.
//   - Lines may end in "\r\n".
// We are stricter than wg and wg-quick in three ways, each to turn a silent surprise into an
// error with a line number: a key that takes one value may not repeat (wg keeps the last),
// a key before the first section or in an unknown section is refused, and a base64 key must be
// canonical (libsodium refuses stray bits in its last character). Nothing is resolved or run:
// Endpoint host names stay names, and the PreUp..PostDown commands are kept as text.
// docs/provider.md lists every key and how it is checked.

#include <warren/core/expected.hpp>
#include <warren/crypto/secret.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/provider/endpoint.hpp>
#include <warren/provider/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace warren::provider::wg_quick {

// Table = off | auto | <number> | <name from /etc/iproute2/rt_tables>. wg-quick compares "off"
// and "auto" case-sensitively after parsing, so "Off" is a table named "Off", as there.
struct routing_table {
  enum class kind { automatic, off, number, name };
  kind type = kind::automatic;
  std::uint32_t number = 0;  // kind::number
  std::string name;          // kind::name: letters, digits, '_', '-', '.'

  static std::optional<routing_table> parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const routing_table&, const routing_table&) = default;
};

// The [Interface] section. A field left empty is not written and leaves wg's or wg-quick's
// default in place. Default state: everything empty.
struct interface_config {
  std::optional<crypto::private_key> private_key;  // PrivateKey
  std::optional<std::uint16_t> listen_port;        // ListenPort (0: any free port)
  std::optional<std::uint32_t> fwmark;             // FwMark: number, 0x-hex, or off (= 0)
  std::vector<packet::ip_prefix> addresses;        // Address, repeatable, comma lists; "10.0.0.2"
                                                   // reads as 10.0.0.2/32
  std::vector<packet::ip_address> dns;             // DNS entries that are addresses
  std::vector<std::string> dns_search;             // DNS entries that are names: search domains
  std::optional<std::uint16_t> mtu;                // MTU, 68 to 65535
  std::optional<routing_table> table;              // Table
  std::vector<std::string> pre_up;                 // PreUp, repeatable, run in this order
  std::vector<std::string> post_up;                // PostUp
  std::vector<std::string> pre_down;               // PreDown
  std::vector<std::string> post_down;              // PostDown
  bool save_config = false;                        // SaveConfig = true

  friend bool operator==(const interface_config&, const interface_config&) = default;
};

// One [Peer] section.
struct peer_config {
  crypto::public_key public_key{};                     // PublicKey (required)
  std::optional<crypto::symmetric_key> preshared_key;  // PresharedKey
  std::vector<packet::ip_prefix> allowed_ips;          // AllowedIPs, repeatable, comma lists
  std::optional<warren::provider::endpoint> endpoint;          // Endpoint
  std::optional<std::uint16_t> persistent_keepalive;   // PersistentKeepalive, seconds; 0 = off

  friend bool operator==(const peer_config&, const peer_config&) = default;
};

// A whole file. Several [Interface] sections merge into one, as in wg; peers keep their order.
// A value type; it holds the private key, which is wiped when the config is destroyed.
struct config {
  interface_config interface;
  std::vector<peer_config> peers;

  friend bool operator==(const config&, const config&) = default;
};

// Parses a wg-quick file. On error, parse_error::line is the line to fix and detail names the
// key, e.g. "AllowedIPs: '10.0.0.0/33' is not an IP address or prefix". Never throws on input.
inline expected<config, parse_error> parse(std::string_view text);

// The canonical text of `c`: [Interface] first, keys in the order of the fields above, lists
// joined with ", ", FwMark in hex, 0 keepalive and fwmark as "off". The text holds the private
// key: wipe it (crypto::secure_wipe) when done if that matters to you.
inline std::string write(const config& c);

// Whether write(c) reads back as c. Every config parse() returns passes; a hand-built one may
// not (a PostUp command with '#' or a newline in it, a search domain with a space, a table
// named "off"). The error names the field that does not survive.
inline expected<void, parse_error> check_writable(const config& c);

}  // namespace warren::provider::wg_quick

#include <warren/provider/detail/wg_quick_impl.hpp>
