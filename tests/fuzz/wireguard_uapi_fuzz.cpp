// Fuzz target for warren::wireguard::uapi: the bytes of a UAPI connection go through
// request_reader twice, in one chunk and in chunks sized by the first byte, and both must give
// the same operations and the same error. Every set body goes to parse_set, and so does the
// whole input. What parses is turned into a device_state and printed with format_get, whose
// endpoint and allowed_ip lines must parse back to what was printed.
#include <warren/wireguard/uapi.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

namespace uapi = warren::wireguard::uapi;

void check(bool ok, std::source_location at = std::source_location::current()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken at %s:%u\n", at.file_name(), static_cast<unsigned>(at.line()));
  __builtin_trap();
}

struct outcome {
  std::vector<std::pair<uapi::operation, std::string>> requests;
  std::error_code error;
};

outcome read_all(std::string_view stream, std::size_t chunk, std::size_t limit) {
  uapi::request_reader reader(limit);
  outcome out;
  for (std::size_t at = 0; at < stream.size() && !out.error; at += chunk) {
    if (auto fed = reader.feed(stream.substr(at, chunk)); !fed) {
      out.error = fed.error();
      break;
    }
    while (true) {
      auto r = reader.next();
      if (!r) {
        out.error = r.error();
        break;
      }
      if (!*r) break;
      const auto& req = **r;
      if (req.op == uapi::operation::get) check(req.body.empty());
      // A body is whole lines, and none of them is empty: the empty line ended it.
      check(req.body.empty() || req.body.back() == '\n');
      check(req.body.find("\n\n") == std::string_view::npos && req.body.find("\n\r\n") == std::string_view::npos);
      check(!req.body.starts_with("\n") && !req.body.starts_with("\r\n"));
      out.requests.emplace_back(req.op, std::string(req.body));
    }
    check(out.error || reader.buffered() <= limit);
  }
  check(static_cast<bool>(out.error) == reader.failed());
  return out;
}

uapi::device_state to_state(const uapi::set_request& r) {
  uapi::device_state s;
  s.private_key = r.private_key;
  s.listen_port = r.listen_port.value_or(0);
  s.fwmark = r.fwmark.value_or(0);
  std::int64_t n = 0;
  for (const auto& change : r.peers) {
    uapi::peer_state p;
    p.public_key = change.public_key;
    p.preshared_key = change.preshared_key;
    p.endpoint = change.endpoint;
    p.persistent_keepalive_interval = change.persistent_keepalive_interval.value_or(0);
    // Counters and times from the input, negative ones included.
    n = n * 7919 + s.fwmark - 1'000'000;
    p.last_handshake_time = std::chrono::sys_time<std::chrono::nanoseconds>{std::chrono::nanoseconds{n}};
    p.rx_bytes = static_cast<std::uint64_t>(n);
    p.tx_bytes = ~p.rx_bytes;
    p.allowed_ips = change.allowed_ips;
    s.peers.push_back(p);
  }
  return s;
}

void print_and_reread(const uapi::device_state& s) {
  std::string text = uapi::format_get(s);
  check(text.empty() || text.back() == '\n');
  std::vector<uapi::endpoint> endpoints;
  std::vector<warren::packet::ip_prefix> prefixes;
  std::size_t peers = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    auto newline = rest.find('\n');
    check(newline != std::string_view::npos && newline > 0);
    auto line = rest.substr(0, newline);
    rest.remove_prefix(newline + 1);
    auto equals = line.find('=');
    check(equals != std::string_view::npos);
    auto key = line.substr(0, equals);
    auto value = line.substr(equals + 1);
    if (key == "public_key") ++peers;
    if (key == "endpoint") {
      auto e = uapi::endpoint::parse(value);
      check(e.has_value());
      endpoints.push_back(*e);
    }
    if (key == "allowed_ip") {
      auto p = warren::packet::ip_prefix::parse(value);
      check(p.has_value() && value.find('/') != std::string_view::npos);
      prefixes.push_back(*p);
    }
    if (key.starts_with("last_handshake_time") || key.ends_with("bytes"))
      check(!value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos);
  }
  check(peers == s.peers.size());
  std::vector<uapi::endpoint> want_endpoints;
  std::vector<warren::packet::ip_prefix> want_prefixes;
  for (const auto& p : s.peers) {
    if (p.endpoint) want_endpoints.push_back(*p.endpoint);
    for (const auto& a : p.allowed_ips) want_prefixes.push_back(a.network());
  }
  check(endpoints == want_endpoints);
  check(prefixes == want_prefixes);
}

void parse(std::string_view body) {
  uapi::parse_diagnostic diagnostic;
  auto r = uapi::parse_set(body, &diagnostic);
  if (!r) {
    check(r.error().category() == uapi::error_category());
    check(uapi::errno_value(r.error()) < 0);
    check(diagnostic.line >= 1 && !diagnostic.detail.empty());
    std::size_t lines = 1;
    for (char c : body) lines += c == '\n';
    check(diagnostic.line <= lines);
    return;
  }
  print_and_reread(to_state(*r));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  std::size_t chunk = size ? data[0] % 17 + 1 : 1;
  std::size_t limit = size && data[0] >= 0xf0 ? 64 : uapi::max_request_size;  // now and then a small one
  auto whole = read_all(input, size ? size : 1, limit);
  auto pieces = read_all(input, chunk, limit);
  check(whole.requests == pieces.requests);
  check(whole.error == pieces.error);
  for (const auto& [op, body] : whole.requests)
    if (op == uapi::operation::set) parse(body);
  parse(input);
  return 0;
}
