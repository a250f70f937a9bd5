// warren-client: the client engine as a program. It creates a TUN, routes the rules' prefixes
// into it, and stays armed: no tunnel exists until a packet needs one. Then it probes the
// target's servers, connects to the best, flushes what waited, and closes the tunnel when idle.
// It shows a live table of targets on a terminal (one line per change otherwise) and on Ctrl-C
// closes its tunnels and removes its routes.
//
//   warren-client client.json            run (needs CAP_NET_ADMIN)
//   warren-client --check client.json    read the configuration and the providers, list the
//                                        servers of each target, and exit (no root needed)
//
// Exit status: 0 after a clean stop or a good check, 1 when the system refused something (the
// TUN, a route), 2 for a configuration to fix.
#include "client_config.hpp"
#include "status_view.hpp"

#include <warren/jit/adapters/client_engine.hpp>
#include <warren/jit/adapters/provider_servers.hpp>
#include <warren/provider/json_server_list_provider.hpp>
#include <warren/provider/wg_quick_provider.hpp>
#include <warren/tun/linux_tun.hpp>
#include <warren/tun/netlink.hpp>
#include <warren/version.hpp>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace jit = warren::jit;
namespace provider = warren::provider;
using warren_client::client_config;

namespace {

void say(const std::string& line) {
  std::fprintf(stderr, "warren-client: %s\n", line.c_str());
}

// The servers of every target, from its provider. Problems with single servers are warnings;
// a provider that cannot be read at all is an error (thrown as config_error).
std::vector<jit::target_servers> gather_servers(const client_config& c, warren::time_point now) {
  std::vector<jit::target_servers> out;
  std::map<std::string, std::vector<std::string>> notes;
  for (const auto& [name, t] : c.targets) {
    const auto& spec = c.providers.at(t.provider);
    warren::result<jit::region_servers> found = warren::unexpected(std::error_code{});
    std::string diagnostic;
    const provider::region_request request{t.region, std::nullopt, std::nullopt};
    if (spec.type == "wg-quick") {
      provider::wg_quick_provider p(spec.path, t.provider);
      found = jit::servers_for(p, request, now);
      diagnostic = p.diagnostic();
    } else {
      provider::json_server_list_options o;
      o.name = t.provider;
      auto p = provider::json_server_list_provider::from_file(spec.path, o);
      const provider::credentials given(spec.credentials.begin(), spec.credentials.end());
      auto auth = p.authenticate(given, now);
      if (!auth || !auth->ok())
        throw warren_client::config_error{"provider '" + t.provider + "': " +
                                          (auth ? auth->reason : std::string(p.diagnostic()))};
      found = jit::servers_for(p, request, now);
      diagnostic = p.diagnostic();
    }
    if (!found)
      throw warren_client::config_error{"provider '" + t.provider + "': " +
                                        (diagnostic.empty() ? found.error().message() : diagnostic)};
    for (const auto& r : found->refused) say("target " + name + ": server " + r + " (skipped)");
    if (found->servers.empty()) say("target " + name + ": no usable servers in region '" + t.region + "'");
    out.push_back({name, std::move(found->servers), t.fallback_direct});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"warren-client: just-in-time tunnels to many servers at once, routed by rules.\n"
               "See examples/warren-client/README.md for the configuration file."};
  std::string config_path;
  bool check = false, plain = false, force_table = false;
  app.add_option("config", config_path, "the configuration file (JSON)")->required();
  app.add_flag("--check", check, "read the configuration and providers, list each target's servers, and exit");
  app.add_flag("--plain", plain, "one line per change even on a terminal");
  app.add_flag("--table", force_table, "print the table on every change even when not on a terminal")
      ->excludes("--plain");
  app.set_version_flag("--version", std::string("warren-client ") + warren::version_string);
  CLI11_PARSE(app, argc, argv);

  client_config config;
  std::vector<jit::target_servers> targets;
  warren::route::policy rules;
  try {
    config = warren_client::load_client_config(config_path);
    targets = gather_servers(config, warren::steady_clock_source{}.now());
    auto made = warren::route::policy::make(config.rules, config.default_action);
    if (!made) throw warren_client::config_error{config_path + ": rules: " + made.error().message()};
    rules = std::move(*made);
  } catch (const warren_client::config_error& e) {
    say(e.message);
    return 2;
  }

  // What each server assigned us, for the table.
  std::map<std::string, std::string> assigned;
  for (const auto& t : targets)
    for (const auto& s : t.servers)
      assigned[s.id] = s.addresses.v4 ? s.addresses.v4->to_string() : s.addresses.v6 ? s.addresses.v6->to_string() : "-";

  if (check) {
    for (const auto& t : targets) {
      std::printf("%s: %zu servers%s\n", t.target.c_str(), t.servers.size(), t.fallback_direct ? " (direct if none answers)" : "");
      for (const auto& s : t.servers)
        std::printf("  %-16s %-24s assigns %s\n", s.id.c_str(), s.tunnel.server.to_string().c_str(), assigned[s.id].c_str());
    }
    std::printf("%zu rules, default %s\n", config.rules.size(),
                config.default_action.what == warren::route::action::kind::tunnel ? config.default_action.target.c_str()
                : config.default_action.what == warren::route::action::kind::direct ? "direct" : "drop");
    return 0;
  }

  // The TUN, its addresses and the routes that bring the rules' destinations to it.
  auto tun = warren::tun::linux_tun::open({.name = config.tun_name, .mtu = config.mtu, .tx_queue_length = 1000});
  if (!tun) {
    say("cannot create the TUN '" + config.tun_name + "': " + tun.error().message() + " (run as root, or with CAP_NET_ADMIN)");
    return 1;
  }
  auto nl = warren::tun::netlink::open();
  if (!nl) {
    say("cannot open rtnetlink: " + nl.error().message());
    return 1;
  }
  warren::route::address_pair own;
  for (const auto& a : config.tun_addresses) {
    if (auto r = nl->add_address(tun->ifindex(), a); !r) {
      say("cannot add " + a.to_string() + " to " + tun->name() + ": " + r.error().message());
      return 1;
    }
    if (a.address.is_v4() && !own.v4) own.v4 = a.address.v4();
    if (a.address.is_v6() && !own.v6) own.v6 = a.address.v6();
  }
  if (auto r = nl->set_up(tun->ifindex(), true); !r) {
    say("cannot bring " + tun->name() + " up: " + r.error().message());
    return 1;
  }
  std::vector<warren::packet::ip_prefix> routes;
  for (const auto& r : config.rules) {
    if (r.then.what != warren::route::action::kind::tunnel) continue;
    for (const auto& d : r.destinations) {
      if (auto added = nl->add_route(d, tun->ifindex()); !added) {
        say("cannot route " + d.to_string() + " to " + tun->name() + ": " + added.error().message());
        for (const auto& done : routes) (void)nl->remove_route(done, tun->ifindex());
        return 1;
      }
      routes.push_back(d);
    }
  }

  asio::io_context io;
  auto device = warren::tun::asio_device<warren::tun::fd_device>::create(io.get_executor(), std::move(tun->queue(0)));
  if (!device) {
    say("cannot watch the TUN: " + device.error().message());
    return 1;
  }
  jit::client_engine_options options;
  options.orchestrator.idle_timeout = std::chrono::duration_cast<warren::duration>(std::chrono::duration<double>(config.idle_timeout_seconds));
  options.check_after = std::chrono::duration_cast<warren::duration>(std::chrono::duration<double>(config.check_after_seconds));
  options.dead_after = std::chrono::duration_cast<warren::duration>(std::chrono::duration<double>(config.dead_after_seconds));
  jit::client_engine<warren::tun::fd_device> engine(io.get_executor(), std::move(*device), std::move(rules), own,
                                                    std::move(targets), options);

  const bool terminal = ::isatty(STDOUT_FILENO) != 0;
  const bool table = force_table || (!plain && terminal);
  std::string header = "warren-client " + std::string(warren::version_string) + "  " + tun->name();
  for (const auto& a : config.tun_addresses) header += " " + a.to_string();
  header += "  (Ctrl-C to stop)";
  auto redraw = [&] {
    const std::string t = warren_client::status_table(header, engine.status(), assigned, warren::steady_clock_source{}.now());
    if (terminal) std::fputs("\x1b[H\x1b[2J", stdout);  // home, clear: the table stays in place
    else std::fputs("\n", stdout);                       // a log: one table after another
    std::fputs(t.c_str(), stdout);
    std::fflush(stdout);
  };
  // Several changes often come from one input (a tunnel closes and its target re-arms): one
  // table after all of them, not one per change.
  bool redraw_posted = false;
  engine.on_event([&](const jit::state_event& e) {
    if (table) {
      if (redraw_posted) return;
      redraw_posted = true;
      asio::post(io, [&] {
        redraw_posted = false;
        redraw();
      });
    } else {
      std::printf("%s\n", warren_client::event_line(e).c_str());
      std::fflush(stdout);
    }
  });
  asio::steady_timer refresh(io);
  std::function<void()> tick = [&] {
    refresh.expires_after(std::chrono::seconds(1));
    refresh.async_wait([&](std::error_code ec) {
      if (ec) return;
      redraw();
      tick();
    });
  };
  if (table) {
    redraw();
    if (terminal) tick();  // ages and byte counts move; a log gets a table per change only
  } else {
    std::printf("%s armed: %zu targets, %zu routes\n", tun->name().c_str(), config.targets.size(), routes.size());
    std::fflush(stdout);
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int) {
    if (ec) return;
    refresh.cancel();
    engine.stop();
    for (const auto& r : routes) (void)nl->remove_route(r, tun->ifindex());
    if (table) redraw();
    redraw_posted = true;  // the stop's own changes are in the table just drawn
    std::printf("stopped: tunnels closed, %zu routes removed\n", routes.size());
    std::fflush(stdout);
    io.stop();
  });
  engine.start();
  io.run();
  return 0;
}
