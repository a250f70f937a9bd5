#pragma once
// any_provider: any model of the provider concept behind one type, so an app can keep several
// (its own broker, a folder of wg-quick files, a list from a friend) in one container and show
// them side by side. registry: those providers by name.
//
// Ownership: any_provider owns its provider (moved in) and is move-only; a moved-from
// any_provider may only be assigned to or destroyed. The registry owns its any_providers;
// pointers from find() stay valid until that provider is removed (std::map nodes do not
// move). Neither is thread-safe. Default state of a registry: empty.

#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/provider/auth_state.hpp>
#include <warren/provider/best_server.hpp>
#include <warren/provider/credential_field.hpp>
#include <warren/provider/error.hpp>
#include <warren/provider/provider.hpp>
#include <warren/provider/server.hpp>
#include <warren/provider/tunnel_config.hpp>

#include <concepts>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace warren::provider {

class any_provider {
 public:
  template <class P>
    requires(!std::same_as<std::remove_cvref_t<P>, any_provider>) && provider<P>
  any_provider(P p) : self_(std::make_unique<model<P>>(std::move(p))) {}  // NOLINT: implicit on purpose

  any_provider(any_provider&&) noexcept = default;
  any_provider& operator=(any_provider&&) noexcept = default;

  std::string_view name() const { return self_->name(); }
  std::vector<credential_field> credential_fields() const { return self_->credential_fields(); }
  auth_state state(time_point now) const { return self_->state(now); }
  result<auth_state> authenticate(const credentials& given, time_point now) { return self_->authenticate(given, now); }
  result<std::vector<server>> fetch_servers(time_point now) { return self_->fetch_servers(now); }
  result<server> best_server(const region_request& request, std::span<const server> servers,
                             const latency_map* latencies = nullptr) const {
    return self_->best_server(request, servers, latencies);
  }
  result<tunnel_config> generate_config(const server& chosen) { return self_->generate_config(chosen); }
  std::string_view diagnostic() const { return self_->diagnostic(); }

  // The provider inside, if it is a P: for what the concept does not cover
  // (json_server_list_provider::set_document, say).
  template <class P>
  P* target() noexcept {
    auto* m = dynamic_cast<model<P>*>(self_.get());
    return m ? &m->p : nullptr;
  }
  template <class P>
  const P* target() const noexcept {
    const auto* m = dynamic_cast<const model<P>*>(self_.get());
    return m ? &m->p : nullptr;
  }

 private:
  struct interface {
    virtual ~interface() = default;
    virtual std::string_view name() const = 0;
    virtual std::vector<credential_field> credential_fields() const = 0;
    virtual auth_state state(time_point now) const = 0;
    virtual result<auth_state> authenticate(const credentials& given, time_point now) = 0;
    virtual result<std::vector<server>> fetch_servers(time_point now) = 0;
    virtual result<server> best_server(const region_request&, std::span<const server>, const latency_map*) const = 0;
    virtual result<tunnel_config> generate_config(const server& chosen) = 0;
    virtual std::string_view diagnostic() const = 0;
  };

  template <class P>
  struct model final : interface {
    explicit model(P provider) : p(std::move(provider)) {}
    std::string_view name() const override { return p.name(); }
    std::vector<credential_field> credential_fields() const override { return p.credential_fields(); }
    auth_state state(time_point now) const override { return p.state(now); }
    result<auth_state> authenticate(const credentials& given, time_point now) override { return p.authenticate(given, now); }
    result<std::vector<server>> fetch_servers(time_point now) override { return p.fetch_servers(now); }
    result<server> best_server(const region_request& request, std::span<const server> servers,
                               const latency_map* latencies) const override {
      return p.best_server(request, servers, latencies);
    }
    result<tunnel_config> generate_config(const server& chosen) override { return p.generate_config(chosen); }
    std::string_view diagnostic() const override { return p.diagnostic(); }
    P p;
  };

  std::unique_ptr<interface> self_;
};

static_assert(provider<any_provider>);

class registry {
 public:
  // Adds `p` under its name(); errc::duplicate_provider if the name is taken (p is dropped).
  result<void> add(any_provider p) {
    std::string name(p.name());
    if (providers_.contains(name)) return unexpected(make_error_code(errc::duplicate_provider));
    providers_.emplace(std::move(name), std::move(p));
    return {};
  }
  any_provider* find(std::string_view name) noexcept {
    auto it = providers_.find(name);
    return it == providers_.end() ? nullptr : &it->second;
  }
  const any_provider* find(std::string_view name) const noexcept {
    auto it = providers_.find(name);
    return it == providers_.end() ? nullptr : &it->second;
  }
  result<void> remove(std::string_view name) {
    auto it = providers_.find(name);
    if (it == providers_.end()) return unexpected(make_error_code(errc::unknown_provider));
    providers_.erase(it);
    return {};
  }
  // Names in sorted order: the order an app lists them in unless it has its own.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, p] : providers_) out.push_back(name);
    return out;
  }
  std::size_t size() const noexcept { return providers_.size(); }
  bool empty() const noexcept { return providers_.empty(); }

 private:
  std::map<std::string, any_provider, std::less<>> providers_;
};

}  // namespace warren::provider
