#pragma once
// policy: the rules that choose where a new flow goes: a tunnel target (a region, a provider,
// a named tunnel; the jit layer turns it into a live tunnel), direct, or drop.
//
// A rule has selectors and an action. The first packet of a flow is matched in four steps, and
// the first step that matches decides (later packets follow the connection tracker instead):
//   1. selector rules, in the order given: rules with a source prefix, a source or destination
//      port range or a protocol. Every selector a rule has must match (destination prefixes
//      and domains too, when the rule also has them).
//   2. domain rules: the destination address was learned from a DNS answer for a name under one
//      of the rule's domains (example.com covers example.com and www.example.com; a CNAME
//      chain counts as the name asked for). The longest matching domain wins.
//   3. destination rules: the longest destination prefix of any rule, as in a routing table.
//   4. the default action (drop unless set).
// Rules cannot contradict each other silently: a prefix or a domain named by two rules of
// steps 2-3 is a bad_rule error when the policy is built.
//
// Thread-safety: a built policy is immutable; share it freely. Default state: no rules, and
// the default action drops.

#include <warren/packet/flow_key.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_protocol.hpp>
#include <warren/route/error.hpp>
#include <warren/route/prefix_table.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace warren::route {

using target_id = std::uint32_t;

struct action {
  enum class kind : std::uint8_t { tunnel, direct, drop };
  kind what = kind::drop;
  std::string target;            // kind::tunnel: the target's name ("uk", "provider:acme")
  bool fallback_direct = false;  // kind::tunnel: if no tunnel to the target can be had, go direct

  static action tunnel(std::string target, bool fallback_direct = false) {
    return {kind::tunnel, std::move(target), fallback_direct};
  }
  static action direct() { return {kind::direct, {}, false}; }
  static action drop() { return {kind::drop, {}, false}; }
  friend bool operator==(const action&, const action&) = default;
};

struct port_range {
  std::uint16_t first = 0, last = 65535;
  constexpr bool contains(std::uint16_t p) const noexcept { return first <= p && p <= last; }
  friend constexpr bool operator==(const port_range&, const port_range&) = default;
};

struct rule {
  std::string name;  // for stats and display; empty is allowed
  std::vector<packet::ip_prefix> destinations;
  std::vector<std::string> domains;  // lower case, no trailing dot
  std::vector<packet::ip_prefix> sources;
  std::optional<port_range> source_ports;
  std::optional<port_range> destination_ports;
  std::optional<packet::ip_protocol> protocol;
  action then;

  bool is_selector_rule() const noexcept {
    return !sources.empty() || source_ports || destination_ports || protocol;
  }
};

// What matching decided: the action and the rule it came from (nullopt: the default).
struct match {
  const action* then = nullptr;
  std::optional<std::size_t> rule;  // index into policy::rules()
};

class policy {
 public:
  policy() = default;

  // Checks and indexes the rules. Errors: bad_rule (a tunnel action without a target, a port
  // range backwards, an empty or malformed domain, a prefix or domain claimed by two rules of
  // steps 2-3, a rule with no selector at all).
  static result<policy> make(std::vector<rule> rules, action default_action = action::drop()) {
    policy p;
    p.rules_ = std::move(rules);
    p.default_ = std::move(default_action);
    if (auto ok = p.index(); !ok) return unexpected(ok.error());
    return p;
  }

  // The decision for a flow's first packet. `learned_name` is the DNS name the destination
  // address was learned under (route::learned_names), or empty.
  match decide(const packet::flow_key& flow, std::string_view learned_name = {}) const {
    for (const std::size_t i : selector_rules_) {
      if (matches_selectors(i, flow, learned_name)) return {&rules_[i].then, i};
    }
    if (!learned_name.empty()) {
      if (auto i = rule_for_name(learned_name)) return {&rules_[*i].then, *i};
    }
    if (const std::size_t* i = destinations_.lookup(flow.destination_address())) return {&rules_[*i].then, *i};
    return {&default_, std::nullopt};
  }

  // The domain rule (step 2) covering `name` (lower case, no trailing dot): the rule with the
  // longest domain that is `name` or a parent of it, or nullopt.
  std::optional<std::size_t> rule_for_name(std::string_view name) const {
    for (;;) {
      if (auto it = domains_.find(std::string(name)); it != domains_.end()) return it->second;
      const auto dot = name.find('.');
      if (dot == std::string_view::npos) return std::nullopt;
      name.remove_prefix(dot + 1);
    }
  }
  // True if any rule names a domain: DNS answers are worth learning from.
  bool has_domains() const noexcept { return has_domains_; }
  // True if some rule (of any step) names `name` or a parent of it: worth remembering.
  bool covers_name(std::string_view name) const {
    if (rule_for_name(name)) return true;
    for (const std::size_t i : selector_rules_)
      for (const auto& d : rules_[i].domains)
        if (name_under(name, d)) return true;
    return false;
  }

  // True if `name` is `domain` or under it (both lower case, no trailing dot).
  static bool name_under(std::string_view name, std::string_view domain) noexcept {
    if (name.size() < domain.size() || name.substr(name.size() - domain.size()) != domain) return false;
    return name.size() == domain.size() || name[name.size() - domain.size() - 1] == '.';
  }

  const std::vector<rule>& rules() const noexcept { return rules_; }
  const action& default_action() const noexcept { return default_; }

  // Every distinct tunnel target the rules (and the default) name, in first-mention order; a
  // target_id is an index into it.
  const std::vector<std::string>& targets() const noexcept { return targets_; }
  std::optional<target_id> find_target(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < targets_.size(); ++i)
      if (targets_[i] == name) return static_cast<target_id>(i);
    return std::nullopt;
  }

 private:
  result<void> index() {
    auto bad = [] { return unexpected(make_error_code(errc::bad_rule)); };
    auto note_target = [&](const action& a) -> bool {
      if (a.what != action::kind::tunnel) return true;
      if (a.target.empty()) return false;
      if (!find_target(a.target)) targets_.push_back(a.target);
      return true;
    };
    if (!note_target(default_)) return bad();
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      rule& r = rules_[i];
      if (!note_target(r.then)) return bad();
      if (r.source_ports && r.source_ports->first > r.source_ports->last) return bad();
      if (r.destination_ports && r.destination_ports->first > r.destination_ports->last) return bad();
      if (!r.is_selector_rule() && r.destinations.empty() && r.domains.empty()) return bad();
      for (auto& d : r.domains) {
        if (!normalise_domain(d)) return bad();
        has_domains_ = true;
      }
      if (r.is_selector_rule()) {
        selector_rules_.push_back(i);
        if (!r.destinations.empty()) {
          selector_destinations_.resize(rules_.size());
          for (const auto& p : r.destinations) selector_destinations_[i].insert(p, true);
        }
        continue;
      }
      for (const auto& p : r.destinations) {
        if (!destinations_.insert(p, i)) return bad();
      }
      for (const auto& d : r.domains) {
        if (!domains_.emplace(d, i).second) return bad();
      }
    }
    return {};
  }

  // Lower-cases, drops one trailing dot; false if the result is not a plausible DNS name.
  static bool normalise_domain(std::string& d) {
    if (!d.empty() && d.back() == '.') d.pop_back();
    if (d.empty() || d.size() > 253) return false;
    std::size_t label = 0;
    for (char& c : d) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c == '.') {
        if (label == 0) return false;
        label = 0;
        continue;
      }
      const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (!ok || ++label > 63) return false;
    }
    return label != 0;
  }

  bool matches_selectors(std::size_t i, const packet::flow_key& flow, std::string_view learned_name) const noexcept {
    const rule& r = rules_[i];
    if (r.protocol && flow.ip_proto() != *r.protocol) return false;
    if (r.source_ports && !r.source_ports->contains(flow.source_port)) return false;
    if (r.destination_ports && !r.destination_ports->contains(flow.destination_port)) return false;
    if (!r.sources.empty()) {
      const packet::ip_address src = flow.source_address();
      bool any = false;
      for (const auto& p : r.sources) any = any || p.contains(src);
      if (!any) return false;
    }
    const bool has_dst = !r.destinations.empty(), has_domains = !r.domains.empty();
    if (!has_dst && !has_domains) return true;
    // Destination prefixes and domains of one rule are alternatives: either may match.
    if (has_dst && i < selector_destinations_.size() && selector_destinations_[i].lookup(flow.destination_address()))
      return true;
    if (has_domains && !learned_name.empty()) {
      for (const auto& d : r.domains)
        if (name_under(learned_name, d)) return true;
    }
    return false;
  }

  std::vector<rule> rules_;
  action default_ = action::drop();
  std::vector<std::string> targets_;
  std::vector<std::size_t> selector_rules_;
  std::vector<prefix_table<bool>> selector_destinations_;  // by rule index, selector rules only
  prefix_table<std::size_t> destinations_;
  std::unordered_map<std::string, std::size_t> domains_;
  bool has_domains_ = false;
};

}  // namespace warren::route
