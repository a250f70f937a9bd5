#pragma once
// wireguard::engine: the sans-IO WireGuard core for one interface and all its peers.
//
// It takes datagrams from the network, IP packets from the TUN and the time, and gives
// datagrams to send, packets to deliver and its next deadline. It never opens a socket, reads
// a clock or starts a thread; an adapter (or a test) drives it:
//
//   1. on_packet(pkt)      an IP packet from the TUN: cryptokey routing picks the peer by the
//                          destination (allowed IPs); with a session the packet is padded,
//                          sealed in place (header into the headroom, tag into the tailroom)
//                          and handed out as a datagram; without one it is staged and a
//                          handshake starts.
//   2. on_datagram(d)      a datagram from the network: handshake messages advance the Noise
//                          state (noise.hpp, cookie.hpp); data is checked against the replay
//                          window, opened in place, checked against the sender's allowed IPs,
//                          and handed out as a packet for the TUN.
//   3. on_timeout()        at or after next_deadline(): retransmits, keepalives, rekeys,
//                          give-up and key zeroing (paper §6).
// Everything to send or deliver is appended to an engine_output the caller drains.
//
// Batches: on_packets() and on_datagrams() do the same for a span at once, and hand every
// seal or open of the batch to a function of the caller's as crypto_jobs, so an adapter can run
// them on several cores (each with its own backend). State changes stay on the calling thread
// and happen in the batch's order, so what comes out is in the order it went in: a flow's
// packets are never reordered.
//
// Bad input (forged, replayed, malformed) returns an error, is counted, and changes no state.
// Threads: not thread-safe; one thread (or strand) drives an engine.

#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/crypto/backend.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/wireguard/allowed_ips.hpp>
#include <warren/wireguard/constants.hpp>
#include <warren/wireguard/cookie.hpp>
#include <warren/wireguard/detail/peer.hpp>
#include <warren/wireguard/endpoint.hpp>
#include <warren/wireguard/error.hpp>
#include <warren/wireguard/messages.hpp>
#include <warren/wireguard/noise.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace warren::wireguard {

struct engine_options {
  // The largest inner packet. Padding (paper §5.4.6) never makes a packet larger than this.
  std::size_t mtu = 1420;
  // Packets held per peer while its handshake runs (wireguard-go: QueueStagedSize); the oldest
  // is dropped when full.
  std::size_t max_staged_packets = 128;
  // Above this many initiations in one second the engine is under load and demands cookies.
  unsigned under_load_initiations_per_second = 256;
  // Where wall time stood at a monotonic instant: the engine derives TAI64N timestamps from
  // the time_points it is given without reading a clock. Adapters set both from real clocks;
  // a peer restarted with the defaults would send timestamps its responder has seen before.
  std::chrono::system_clock::time_point wall_anchor{};
  time_point mono_anchor{};
};

struct peer_config {
  crypto::public_key public_key{};
  crypto::symmetric_key preshared_key{};  // zeros: none
  std::optional<wireguard::endpoint> endpoint{};
  std::chrono::seconds persistent_keepalive{0};
  std::vector<packet::ip_prefix> allowed_ips{};
};

// A partial change to a peer, as the UAPI `set` sends it: empty fields keep their value.
struct peer_update {
  std::optional<crypto::symmetric_key> preshared_key;  // zeros: none
  std::optional<wireguard::endpoint> endpoint{};
  std::optional<std::chrono::seconds> persistent_keepalive{};  // 0: off
  bool replace_allowed_ips = false;
  std::vector<packet::ip_prefix> allowed_ips{};  // added (after the replace, if asked)
};

struct datagram {
  endpoint to;
  packet_buffer bytes;
};

// What one call produced. The caller sends `datagrams`, writes `packets` to the TUN, and
// clears both before the next call (or lets them accumulate over a batch).
struct engine_output {
  std::vector<datagram> datagrams;
  std::vector<packet_buffer> packets;
  void clear() noexcept {
    datagrams.clear();
    packets.clear();
  }
};

// One ChaCha20-Poly1305 operation of a batch, left for the caller to run (engine::on_packets,
// on_datagrams). In place: `data` holds the plaintext followed by room for the tag (seal) or
// the ciphertext with its tag (open); `length` is the plaintext's or the ciphertext's with tag.
// The key is the engine's and stays valid until the batch call returns.
struct crypto_job {
  const crypto::symmetric_key* key = nullptr;
  std::uint64_t counter = 0;
  std::byte* data = nullptr;
  std::size_t length = 0;
  bool seal = true;
  bool ok = false;  // set by run_crypto_job: an open whose tag verified (seals always succeed)
};

// Runs one job with `crypto`. Jobs of one batch are independent: any thread may run any job,
// as long as no backend object is used by two threads at once.
template <crypto::backend Crypto>
void run_crypto_job(Crypto& crypto, crypto_job& j) noexcept {
  if (j.seal) {
    crypto.seal(*j.key, j.counter, byte_view(j.data, j.length), {}, mutable_byte_view(j.data, j.length + crypto::tag_size));
    j.ok = true;
  } else {
    j.ok = j.length >= crypto::tag_size &&
           crypto.open(*j.key, j.counter, byte_view(j.data, j.length), {}, mutable_byte_view(j.data, j.length - crypto::tag_size));
  }
}

// Counts of what the engine did and dropped, by reason.
struct engine_counters {
  std::uint64_t handshakes_initiated = 0;
  std::uint64_t handshakes_completed = 0;
  std::uint64_t cookie_replies_sent = 0;
  std::uint64_t packets_sealed = 0;
  std::uint64_t packets_opened = 0;
  std::uint64_t keepalives_sent = 0;
  std::uint64_t staged_dropped = 0;    // staged packets dropped: queue full or handshake gave up
  std::uint64_t dropped_no_endpoint = 0;
  std::array<std::uint64_t, 16> dropped{};  // by wireguard::errc value
  std::uint64_t drops(errc e) const noexcept { return dropped[static_cast<std::size_t>(e)]; }
};

// A snapshot of a peer for status displays and the UAPI `get`.
struct peer_status {
  crypto::public_key public_key{};
  crypto::symmetric_key preshared_key{};  // zeros: none
  std::optional<wireguard::endpoint> endpoint{};
  std::chrono::seconds persistent_keepalive{0};
  std::vector<packet::ip_prefix> allowed_ips{};
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  std::optional<std::chrono::system_clock::time_point> last_handshake;
};

template <crypto::backend Crypto>
class engine {
 public:
  explicit engine(Crypto& crypto, engine_options options = {}) : crypto_(crypto), options_(options) {}
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // --- configuration -------------------------------------------------------------------

  void set_private_key(const crypto::private_key& key) {
    local_ = local_identity::from_private(crypto_, key);
    // Sessions made with the old identity are void; peers keep their configuration. A peer
    // whose key is our own would make us handshake with ourselves: wireguard-go removes it.
    if (auto it = peers_.find(local_->public_key); it != peers_.end()) remove_peer(local_->public_key);
    for (auto& [pub, p] : peers_) {
      p->id = identity_for(p->id.public_key, p->id.preshared_key);
      drop_sessions(*p);
    }
  }
  void clear_private_key() {
    local_.reset();
    for (auto& [pub, p] : peers_) {
      drop_sessions(*p);
      p->id.static_static_ok = false;
    }
  }
  const std::optional<local_identity>& identity() const noexcept { return local_; }

  // Adds a peer or updates the one with this public key (its allowed IPs are replaced).
  result<void> set_peer(const peer_config& config) {
    return update_peer(config.public_key, {.preshared_key = config.preshared_key,
                                           .endpoint = config.endpoint,
                                           .persistent_keepalive = config.persistent_keepalive,
                                           .replace_allowed_ips = true,
                                           .allowed_ips = config.allowed_ips});
  }

  // Adds the peer if it is new, then applies the fields `u` sets. Peers may be configured
  // before the private key; they handshake once it is set.
  result<void> update_peer(const crypto::public_key& key, const peer_update& u) {
    if (local_ && key == local_->public_key) return unexpected(make_error_code(errc::handshake_failed));
    auto& slot = peers_[key];
    if (!slot) {
      slot = std::make_unique<detail::peer>();
      slot->id = identity_for(key, {});
    }
    detail::peer& p = *slot;
    if (u.preshared_key && !(p.id.preshared_key == *u.preshared_key)) {
      p.id = identity_for(key, *u.preshared_key);
      drop_sessions(p);
    }
    if (u.endpoint) p.ep = u.endpoint;
    if (u.persistent_keepalive) set_persistent_keepalive(p, *u.persistent_keepalive, last_now_);
    if (u.replace_allowed_ips) {
      allowed_.remove_value(&p);
      p.allowed_ips.clear();
    }
    for (const auto& prefix : u.allowed_ips) add_allowed_ip(p, prefix);
    return {};
  }
  bool has_peer(const crypto::public_key& key) const { return peers_.count(key) != 0; }
  void remove_all_peers() {
    while (!peers_.empty()) remove_peer(peers_.begin()->first);
  }
  void remove_peer(const crypto::public_key& key) {
    auto it = peers_.find(key);
    if (it == peers_.end()) return;
    drop_sessions(*it->second);
    allowed_.remove_value(it->second.get());
    peers_.erase(it);
  }
  std::size_t peer_count() const noexcept { return peers_.size(); }

  // --- datapath ------------------------------------------------------------------------

  // An IP packet from the TUN. Its buffer needs transport_header_size bytes of headroom and
  // 16 + crypto::tag_size of tailroom (packet_buffer's defaults have both).
  result<void> on_packet(packet_buffer&& pkt, time_point now, engine_output& out) {
    if (!local_) return fail(errc::no_key);
    last_now_ = now;
    auto dst = destination_of(pkt.bytes());
    if (!dst) return fail(errc::bad_inner_packet);
    detail::peer* const* found = allowed_.lookup(*dst);
    if (!found) return fail(errc::no_route);
    detail::peer& p = **found;
    if (keypair_ready(p, now)) {
      send_data(p, *p.current, std::move(pkt), now, out);
      bool initiator_old = p.current && p.current->initiator && now - p.current->created >= rekey_after_time;
      if (initiator_old || (p.current && p.current->send_counter >= rekey_after_messages))
        begin_handshake(p, now, out);
      return {};
    }
    stage(p, std::move(pkt));
    begin_handshake(p, now, out);
    return {};
  }

  // A datagram from `from`. Transport data is decrypted in place and the same buffer becomes
  // the delivered packet.
  result<void> on_datagram(const endpoint& from, packet_buffer&& dgram, time_point now, engine_output& out) {
    if (!local_) return fail(errc::no_key);
    auto type = classify(dgram.bytes());
    if (!type) return fail(errc::malformed);
    note_time(now);
    switch (*type) {
      case message_type::initiation: return on_initiation(from, dgram.bytes(), now, out);
      case message_type::response: return on_response(from, dgram.bytes(), now, out);
      case message_type::cookie_reply: return on_cookie_reply(dgram.bytes(), now);
      case message_type::transport: return on_transport(from, std::move(dgram), now, out);
    }
    return fail(errc::malformed);
  }

  // --- batches --------------------------------------------------------------------------

  // The packets of a batch, as on_packet for each. `run(std::span<crypto_job>)` is called once
  // with every seal of the batch and must have completed them all when it returns; drops are
  // counted as on_packet counts them. The buffers are moved from.
  template <class Run>
  void on_packets(std::span<packet_buffer> pkts, time_point now, engine_output& out, Run&& run) {
    jobs_.clear();
    deferring_ = true;
    for (auto& pkt : pkts) (void)on_packet(std::move(pkt), now, out);
    deferring_ = false;
    if (!jobs_.empty()) run(std::span<crypto_job>(jobs_));
  }

  // The datagrams of a batch (from[i] sent dgrams[i]), as on_datagram for each. Transport data
  // is opened through `run`, as for on_packets; a handshake message in the middle first finishes
  // what came before it, so it sees the state that order implies.
  template <class Run>
  void on_datagrams(std::span<packet_buffer> dgrams, std::span<const endpoint> from, time_point now,
                    engine_output& out, Run&& run) {
    jobs_.clear();
    opens_.clear();
    std::size_t n = std::min(dgrams.size(), from.size());
    for (std::size_t i = 0; i < n; ++i) {
      auto type = local_ ? classify(dgrams[i].bytes()) : result<message_type>(unexpected(make_error_code(errc::no_key)));
      if (type && *type == message_type::transport) {
        note_time(now);
        auto begun = transport_begin(dgrams[i], now);
        if (!begun) continue;  // counted
        jobs_.push_back(begun->job);
        opens_.push_back({i, begun->local_index});
        continue;
      }
      finish_opens(dgrams, from, now, out, run);
      (void)on_datagram(from[i], std::move(dgrams[i]), now, out);
    }
    finish_opens(dgrams, from, now, out, run);
  }

  void on_timeout(time_point now, engine_output& out) {
    note_time(now);
    for (auto& [pub, slot] : peers_) {
      detail::peer& p = *slot;
      if (p.zero_keys_at && *p.zero_keys_at <= now) {
        p.zero_keys_at.reset();
        drop_sessions(p);
      }
      if (p.retransmit_at && *p.retransmit_at <= now) {
        if (p.handshake_started && now - *p.handshake_started >= rekey_attempt_time) {
          give_up(p);
        } else {
          p.last_initiation_sent.reset();  // REKEY_TIMEOUT has passed: the rate limit allows it
          send_initiation(p, now, out);
        }
      }
      if (p.keepalive_at && *p.keepalive_at <= now) {
        p.keepalive_at.reset();
        send_keepalive(p, now, out);
      }
      if (p.new_handshake_at && *p.new_handshake_at <= now) {
        p.new_handshake_at.reset();
        begin_handshake(p, now, out);
      }
      if (p.persistent_keepalive_at && *p.persistent_keepalive_at <= now) {
        p.persistent_keepalive_at.reset();
        send_keepalive(p, now, out);
      }
    }
  }

  // Starts a handshake with the peer now, without waiting for a packet to need one: a client
  // that wants its tunnel up (and to know when it is) before the first packet. Does nothing
  // while a handshake is in progress. Errors: unknown_peer.
  result<void> initiate_handshake(const crypto::public_key& key, time_point now, engine_output& out) {
    auto it = peers_.find(key);
    if (it == peers_.end()) return unexpected(make_error_code(errc::unknown_peer));  // the caller's mistake: not a drop
    note_time(now);
    begin_handshake(*it->second, now, out);
    return {};
  }

  std::optional<time_point> next_deadline() const noexcept {
    std::optional<time_point> d;
    for (const auto& [pub, p] : peers_)
      if (auto t = p->earliest_deadline(); t && (!d || *t < *d)) d = t;
    return d;
  }

  // Forces the cookie defence on (or back to automatic), e.g. when the adapter's queue backs up.
  void set_under_load(bool on) noexcept { forced_under_load_ = on; }
  bool under_load() const noexcept {
    return forced_under_load_ || initiations_this_second_ > options_.under_load_initiations_per_second;
  }

  const engine_counters& counters() const noexcept { return counters_; }

  std::optional<peer_status> status(const crypto::public_key& key) const {
    auto it = peers_.find(key);
    if (it == peers_.end()) return std::nullopt;
    const detail::peer& p = *it->second;
    peer_status s;
    s.public_key = key;
    s.preshared_key = p.id.preshared_key;
    s.endpoint = p.ep;
    s.persistent_keepalive = p.persistent_keepalive;
    s.allowed_ips = p.allowed_ips;
    s.rx_bytes = p.rx_bytes;
    s.tx_bytes = p.tx_bytes;
    s.last_handshake = p.last_handshake;
    return s;
  }
  std::vector<crypto::public_key> peers() const {
    std::vector<crypto::public_key> keys;
    for (const auto& [pub, p] : peers_) keys.push_back(pub);
    return keys;
  }

 private:
  struct index_entry {
    detail::peer* owner;
  };

  remote_identity identity_for(const crypto::public_key& key, const crypto::symmetric_key& psk) {
    if (local_) return remote_identity::make(crypto_, *local_, key, psk);
    // No private key yet: what does not depend on it; static_static waits for set_private_key.
    remote_identity r;
    r.public_key = key;
    r.preshared_key = psk;
    r.mac1_key = detail::hash(crypto_, {as_byte_view(label_mac1), key});
    r.cookie_key = detail::hash(crypto_, {as_byte_view(label_cookie), key});
    return r;
  }

  result<void> fail(errc e) {
    ++counters_.dropped[static_cast<std::size_t>(e)];
    return unexpected(make_error_code(e));
  }

  // --- handshake -----------------------------------------------------------------------

  result<void> on_initiation(const endpoint& from, byte_view msg, time_point now, engine_output& out) {
    ++initiations_this_second_;
    if (!mac1_valid(crypto_, msg, initiation_macs, local_->mac1_key)) return fail(errc::bad_mac1);
    if (under_load() && !cookies_.mac2_valid(crypto_, now, msg, initiation_macs, from)) {
      send_cookie_reply(from, msg, initiation_macs, initiation_view{msg}.sender(), now, out);
      return fail(errc::cookie_required);
    }
    auto consumed = consume_initiation(crypto_, *local_, initiation_view{msg},
                                       [this](const crypto::public_key& k) -> const remote_identity* {
                                         auto it = peers_.find(k);
                                         return it == peers_.end() ? nullptr : &it->second->id;
                                       });
    if (!consumed) return fail(static_cast<errc>(consumed.error().value()));
    detail::peer& p = *peers_.at(consumed->peer_public_key);
    auto stamp = tai64n::from_bytes(std::span<const std::byte, tai64n::size>(consumed->timestamp));
    if (p.last_timestamp && !(*p.last_timestamp < stamp)) return fail(errc::replayed_timestamp);
    if (p.last_initiation_consumed && now - *p.last_initiation_consumed < initiation_rate_interval)
      return fail(errc::flood);

    // Valid and fresh: commit, and answer.
    p.last_timestamp = stamp;
    p.last_initiation_consumed = now;
    p.rx_bytes += msg.size();
    p.ep = from;
    free_index(p.handshake.local_index);
    p.handshake = consumed->state;
    std::uint32_t index = new_index(p);
    auto buf = packet_buffer::allocate(packet_buffer::default_headroom + response_size, packet_buffer::default_headroom);
    auto room = buf.append(response_size);
    if (!create_response(crypto_, p.id, p.handshake, index, std::span<std::byte, response_size>(room->data(), response_size))) {
      free_index(index);
      return fail(errc::handshake_failed);
    }
    p.cookies.sent_mac1(add_macs(crypto_, buf.bytes(), response_macs, p.id.mac1_key, p.cookies.fresh(now)));
    auto keys = derive_keys(crypto_, p.handshake);
    if (!keys) return fail(errc::handshake_failed);
    // The responder may not send on these keys until the initiator has used them (§5.4.6).
    if (p.next) free_index(p.next->local_index);
    p.next = detail::keypair::from(std::move(*keys), now);
    session_derived(p, now);
    p.tx_bytes += buf.size();
    out.datagrams.push_back({from, std::move(buf)});
    authenticated_packet_sent(p, now);
    return {};
  }

  result<void> on_response(const endpoint& from, byte_view msg, time_point now, engine_output& out) {
    if (!mac1_valid(crypto_, msg, response_macs, local_->mac1_key)) return fail(errc::bad_mac1);
    response_view view{msg};
    if (under_load() && !cookies_.mac2_valid(crypto_, now, msg, response_macs, from)) {
      send_cookie_reply(from, msg, response_macs, view.sender(), now, out);
      return fail(errc::cookie_required);
    }
    auto it = index_.find(view.receiver());
    if (it == index_.end()) return fail(errc::unknown_index);
    detail::peer& p = *it->second.owner;
    if (auto r = consume_response(crypto_, *local_, p.id, p.handshake, view); !r)
      return fail(static_cast<errc>(r.error().value()));
    auto keys = derive_keys(crypto_, p.handshake);
    if (!keys) return fail(errc::handshake_failed);
    // The initiator uses its new keys at once; the old current ones stay to receive stragglers.
    if (p.previous) free_index(p.previous->local_index);
    p.previous = std::move(p.current);
    p.current = detail::keypair::from(std::move(*keys), now);
    if (p.next) {
      free_index(p.next->local_index);
      p.next.reset();
    }
    p.ep = from;
    p.rx_bytes += msg.size();
    handshake_complete(p, now);
    session_derived(p, now);
    authenticated_packet_received(p, now);
    if (p.staged.empty()) {
      send_keepalive(p, now, out);  // confirms the keys to the responder (§5.4.6)
    } else {
      flush_staged(p, now, out);
    }
    return {};
  }

  result<void> on_cookie_reply(byte_view msg, time_point now) {
    cookie_reply_view view{msg};
    auto it = index_.find(view.receiver());
    if (it == index_.end()) return fail(errc::unknown_index);
    detail::peer& p = *it->second.owner;
    if (auto r = p.cookies.consume(crypto_, view, p.id.cookie_key, now); !r)
      return fail(static_cast<errc>(r.error().value()));
    return {};
  }

  void send_cookie_reply(const endpoint& to, byte_view msg, mac_offsets at, std::uint32_t receiver, time_point now,
                         engine_output& out) {
    auto buf = packet_buffer::allocate(packet_buffer::default_headroom + cookie_reply_size, packet_buffer::default_headroom);
    auto room = buf.append(cookie_reply_size);
    cookies_.write_reply(crypto_, now, local_->cookie_key, msg, at, receiver, to,
                         std::span<std::byte, cookie_reply_size>(room->data(), cookie_reply_size));
    out.datagrams.push_back({to, std::move(buf)});
    ++counters_.cookie_replies_sent;
  }

  void begin_handshake(detail::peer& p, time_point now, engine_output& out) {
    if (p.handshake_in_progress()) return;
    p.handshake_started = now;
    send_initiation(p, now, out);
  }

  void send_initiation(detail::peer& p, time_point now, engine_output& out) {
    // At most one initiation per REKEY_TIMEOUT (paper §6.4), retries included.
    if (p.last_initiation_sent && now - *p.last_initiation_sent < rekey_timeout) return;
    if (!p.ep) {
      ++counters_.dropped_no_endpoint;
      p.retransmit_at = now + rekey_timeout + jitter();  // try again: an endpoint may be set
      return;
    }
    free_index(p.handshake.local_index);
    std::uint32_t index = new_index(p);
    auto buf = packet_buffer::allocate(packet_buffer::default_headroom + initiation_size, packet_buffer::default_headroom);
    auto room = buf.append(initiation_size);
    auto stamp = timestamp(now);
    tai64n_bytes stamp_bytes = stamp.to_bytes();
    if (!create_initiation(crypto_, *local_, p.id, p.handshake, index, stamp_bytes,
                           std::span<std::byte, initiation_size>(room->data(), initiation_size))) {
      free_index(index);
      ++counters_.dropped[static_cast<std::size_t>(errc::handshake_failed)];
      return;
    }
    p.cookies.sent_mac1(add_macs(crypto_, buf.bytes(), initiation_macs, p.id.mac1_key, p.cookies.fresh(now)));
    p.tx_bytes += buf.size();
    out.datagrams.push_back({*p.ep, std::move(buf)});
    ++counters_.handshakes_initiated;
    p.last_initiation_sent = now;
    p.retransmit_at = now + rekey_timeout + jitter();
    authenticated_packet_sent(p, now);
  }

  void give_up(detail::peer& p) {
    counters_.staged_dropped += p.staged.size();
    p.staged.clear();
    p.retransmit_at.reset();
    p.handshake_started.reset();
    p.keepalive_at.reset();
    p.new_handshake_at.reset();
    // Retrying forever would keep a dead peer's timer alive; zero the keys on schedule.
  }

  // --- transport data ------------------------------------------------------------------

  struct transport_start {
    crypto_job job;
    std::uint32_t local_index;
  };
  struct pending_open {
    std::size_t at;  // index in the batch
    std::uint32_t local_index;
  };

  // What can be checked before decrypting: a known session, not expired, a counter the replay
  // window would take. Changes no state.
  result<transport_start> transport_begin(packet_buffer& dgram, time_point now) {
    transport_view view{dgram.bytes()};
    auto it = index_.find(view.receiver());
    if (it == index_.end()) return unexpected(fail(errc::unknown_index).error());
    detail::keypair* kp = find_keypair(*it->second.owner, view.receiver());
    if (!kp) return unexpected(fail(errc::unknown_index).error());
    if (now - kp->created >= reject_after_time) return unexpected(fail(errc::expired_key).error());
    auto counter = view.counter();
    if (!kp->replay.would_accept(counter)) return unexpected(fail(errc::replayed_counter).error());
    auto sealed = view.encrypted();
    crypto_job job{&kp->receive, counter, dgram.data() + layout::data_payload, sealed.size(), false, false};
    return transport_start{job, kp->local_index};
  }

  static detail::keypair* find_keypair(detail::peer& p, std::uint32_t local_index) noexcept {
    for (auto* slot : {&p.current, &p.previous, &p.next})
      if (*slot && (*slot)->local_index == local_index) return &**slot;
    return nullptr;
  }

  template <class Run>
  void finish_opens(std::span<packet_buffer> dgrams, std::span<const endpoint> from, time_point now,
                    engine_output& out, Run& run) {
    if (opens_.empty()) return;
    run(std::span<crypto_job>(jobs_));
    for (std::size_t k = 0; k < opens_.size(); ++k) {
      const auto& o = opens_[k];
      (void)transport_complete(from[o.at], std::move(dgrams[o.at]), o.local_index, jobs_[k].counter, jobs_[k].ok, now, out);
    }
    jobs_.clear();
    opens_.clear();
  }

  result<void> on_transport(const endpoint& from, packet_buffer&& dgram, time_point now, engine_output& out) {
    auto begun = transport_begin(dgram, now);
    if (!begun) return unexpected(begun.error());
    run_crypto_job(crypto_, begun->job);
    return transport_complete(from, std::move(dgram), begun->local_index, begun->job.counter, begun->job.ok, now, out);
  }

  // After the open: the session is found again (an earlier packet of the batch may have moved
  // it from next to current), and only an authentic packet changes state.
  result<void> transport_complete(const endpoint& from, packet_buffer&& dgram, std::uint32_t local_index,
                                  std::uint64_t counter, bool authentic, time_point now, engine_output& out) {
    auto it = index_.find(local_index);
    if (it == index_.end()) return fail(errc::unknown_index);
    detail::peer& p = *it->second.owner;
    detail::keypair* kp = find_keypair(p, local_index);
    if (!kp) return fail(errc::unknown_index);
    if (!authentic) return fail(errc::decrypt_failed);
    if (!kp->replay.accept(counter)) return fail(errc::replayed_counter);
    ++counters_.packets_opened;
    mutable_byte_view plain(dgram.data() + layout::data_payload, dgram.size() - layout::data_payload - crypto::tag_size);

    if (p.next && kp == &*p.next) {
      // The initiator used the keys: they are confirmed and become current (§5.4.6).
      if (p.previous) free_index(p.previous->local_index);
      p.previous = std::move(p.current);
      p.current = std::move(p.next);
      p.next.reset();
      kp = &*p.current;
      handshake_complete(p, now);
      flush_staged(p, now, out);
    }
    p.ep = from;  // roaming: the last authenticated source is where the peer is (§5.4.6)
    p.rx_bytes += dgram.size();
    authenticated_packet_received(p, now);
    if (kp->initiator && now - kp->created >= rekey_on_receive_time) begin_handshake(p, now, out);

    if (plain.empty()) return {};  // keepalive
    timers_data_received(p, now);
    (void)dgram.trim_front(layout::data_payload);
    (void)dgram.trim_back(crypto::tag_size);
    auto length = inner_length(dgram.bytes());
    if (!length) return fail(errc::bad_inner_packet);
    (void)dgram.resize(*length);  // drop the padding
    auto src = source_of(dgram.bytes());
    detail::peer* const* owner = src ? allowed_.lookup(*src) : nullptr;
    if (!owner || *owner != &p) return fail(errc::bad_inner_packet);  // cryptokey routing
    out.packets.push_back(std::move(dgram));
    return {};
  }

  bool keypair_ready(const detail::peer& p, time_point now) const noexcept {
    return p.current && !p.current->expired(now) && p.ep;
  }

  void send_data(detail::peer& p, detail::keypair& kp, packet_buffer&& pkt, time_point now, engine_output& out) {
    // Pad to a multiple of 16 (paper §5.4.6), never past the MTU.
    std::size_t len = pkt.size();
    std::size_t padded = (len + 15) / 16 * 16;
    if (padded > options_.mtu) padded = std::max(len, options_.mtu);
    if (padded > len) {
      auto pad = pkt.append(padded - len);
      if (!pad) {
        ++counters_.dropped[static_cast<std::size_t>(errc::malformed)];
        return;
      }
      std::memset(pad->data(), 0, pad->size());
    }
    auto header = pkt.prepend(transport_header_size);
    auto tag = pkt.append(crypto::tag_size);
    if (!header || !tag) {
      ++counters_.dropped[static_cast<std::size_t>(errc::malformed)];
      return;
    }
    std::byte* h = pkt.data();
    write_header(h, message_type::transport);
    store_le32(h + layout::data_receiver, kp.remote_index);
    store_le64(h + layout::data_counter, kp.send_counter);
    crypto_job job{&kp.send, kp.send_counter, h + layout::data_payload, padded, true, false};
    if (deferring_) jobs_.push_back(job);
    else run_crypto_job(crypto_, job);
    ++kp.send_counter;
    ++counters_.packets_sealed;
    p.tx_bytes += pkt.size();
    out.datagrams.push_back({*p.ep, std::move(pkt)});
    authenticated_packet_sent(p, now);
    if (padded != 0) timers_data_sent(p, now);
  }

  void send_keepalive(detail::peer& p, time_point now, engine_output& out) {
    if (!keypair_ready(p, now)) {
      begin_handshake(p, now, out);
      return;
    }
    send_data(p, *p.current, packet_buffer::allocate(packet_buffer::default_headroom + 64), now, out);
    ++counters_.keepalives_sent;
  }

  void stage(detail::peer& p, packet_buffer&& pkt) {
    if (p.staged.size() >= options_.max_staged_packets) {
      p.staged.pop_front();
      ++counters_.staged_dropped;
    }
    p.staged.push_back(std::move(pkt));
  }

  void flush_staged(detail::peer& p, time_point now, engine_output& out) {
    while (!p.staged.empty() && keypair_ready(p, now)) {
      send_data(p, *p.current, std::move(p.staged.front()), now, out);
      p.staged.pop_front();
    }
  }

  // --- timers (paper §6; event names as in wireguard-go's timers.go) -------------------

  void authenticated_packet_sent(detail::peer& p, time_point now) {
    p.keepalive_at.reset();
    if (p.persistent_keepalive.count() > 0) p.persistent_keepalive_at = now + p.persistent_keepalive;
  }
  void authenticated_packet_received(detail::peer& p, time_point now) {
    p.new_handshake_at.reset();
    if (p.persistent_keepalive.count() > 0) p.persistent_keepalive_at = now + p.persistent_keepalive;
  }
  void timers_data_sent(detail::peer& p, time_point now) {
    if (!p.new_handshake_at) p.new_handshake_at = now + keepalive_timeout + rekey_timeout + jitter();
  }
  void timers_data_received(detail::peer& p, time_point now) {
    if (!p.keepalive_at) p.keepalive_at = now + keepalive_timeout;
  }
  void handshake_complete(detail::peer& p, time_point now) {
    p.retransmit_at.reset();
    p.handshake_started.reset();
    p.last_initiation_sent.reset();
    p.last_handshake = wall_time(now);
    ++counters_.handshakes_completed;
  }
  void session_derived(detail::peer& p, time_point now) { p.zero_keys_at = now + zero_keys_after; }

  void set_persistent_keepalive(detail::peer& p, std::chrono::seconds interval, time_point now) {
    p.persistent_keepalive = interval;
    if (interval.count() > 0) p.persistent_keepalive_at = now;  // send one at once, as wg does
    else p.persistent_keepalive_at.reset();
  }

  void drop_sessions(detail::peer& p) {
    for (auto* slot : {&p.previous, &p.current, &p.next}) {
      if (*slot) free_index((*slot)->local_index);
      slot->reset();
    }
    free_index(p.handshake.local_index);
    p.handshake.clear();
    p.retransmit_at.reset();
    p.handshake_started.reset();
    p.keepalive_at.reset();
    p.new_handshake_at.reset();
    p.zero_keys_at.reset();
  }

  // --- helpers -------------------------------------------------------------------------

  std::uint32_t new_index(detail::peer& p) {
    for (;;) {
      std::uint32_t i = 0;
      crypto_.random(mutable_byte_view(reinterpret_cast<std::byte*>(&i), sizeof i));
      if (i != 0 && index_.emplace(i, index_entry{&p}).second) return i;
    }
  }
  void free_index(std::uint32_t i) {
    // A keypair keeps the index of the handshake it came from; free it only when no holder
    // of the same peer still uses it.
    if (i == 0) return;
    auto it = index_.find(i);
    if (it == index_.end()) return;
    detail::peer& p = *it->second.owner;
    int holders = (p.handshake.local_index == i) + (p.previous && p.previous->local_index == i) +
                  (p.current && p.current->local_index == i) + (p.next && p.next->local_index == i);
    if (holders <= 1) index_.erase(it);
  }

  // Timer jitter needs no cryptographic randomness, and it runs on the data path (every re-arm
  // of the new-handshake timer): a splitmix64 sequence seeded once from the backend instead of
  // a getrandom(2) call each time.
  duration jitter() {
    if (jitter_state_ == 0) {
      crypto_.random(mutable_byte_view(reinterpret_cast<std::byte*>(&jitter_state_), sizeof jitter_state_));
      jitter_state_ |= 1;
    }
    std::uint64_t z = (jitter_state_ += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return std::chrono::duration_cast<duration>(rekey_timeout_jitter_max) * static_cast<std::int64_t>(z % 1000) / 1000;
  }

  std::chrono::system_clock::time_point wall_time(time_point now) const {
    return options_.wall_anchor + std::chrono::duration_cast<std::chrono::system_clock::duration>(now - options_.mono_anchor);
  }
  tai64n timestamp(time_point now) const { return tai64n::from_system_time(wall_time(now)); }

  void note_time(time_point now) {
    last_now_ = now;
    if (now - second_started_ >= std::chrono::seconds(1)) {
      second_started_ = now;
      initiations_this_second_ = 0;
    }
  }

  void add_allowed_ip(detail::peer& p, const packet::ip_prefix& prefix) {
    auto net = prefix.network();
    // A prefix belongs to one peer: taking it from another removes it there.
    if (auto* const* old = allowed_.find(net); old && *old != &p) {
      auto& list = (*old)->allowed_ips;
      list.erase(std::remove(list.begin(), list.end(), net), list.end());
    }
    allowed_.insert(net, &p);
    if (std::find(p.allowed_ips.begin(), p.allowed_ips.end(), net) == p.allowed_ips.end()) p.allowed_ips.push_back(net);
  }

  static std::optional<packet::ip_address> destination_of(byte_view pkt) noexcept {
    if (pkt.empty()) return std::nullopt;
    auto version = load_u8(pkt.data()) >> 4;
    if (version == 4 && pkt.size() >= 20) return packet::ip_address(packet::ipv4_address::from_bytes(pkt.data() + 16));
    if (version == 6 && pkt.size() >= 40) return packet::ip_address(packet::ipv6_address::from_bytes(pkt.data() + 24));
    return std::nullopt;
  }
  static std::optional<packet::ip_address> source_of(byte_view pkt) noexcept {
    auto version = load_u8(pkt.data()) >> 4;
    if (version == 4 && pkt.size() >= 20) return packet::ip_address(packet::ipv4_address::from_bytes(pkt.data() + 12));
    if (version == 6 && pkt.size() >= 40) return packet::ip_address(packet::ipv6_address::from_bytes(pkt.data() + 8));
    return std::nullopt;
  }
  // The length the IP header claims, if it fits what was decrypted (the rest is padding).
  static std::optional<std::size_t> inner_length(byte_view pkt) noexcept {
    if (pkt.empty()) return std::nullopt;
    auto version = load_u8(pkt.data()) >> 4;
    std::size_t len = 0;
    if (version == 4 && pkt.size() >= 20) len = load_be16(pkt.data() + 2);
    else if (version == 6 && pkt.size() >= 40) len = 40 + std::size_t{load_be16(pkt.data() + 4)};
    else return std::nullopt;
    if (len > pkt.size() || len < (version == 4 ? 20u : 40u)) return std::nullopt;
    return len;
  }

  Crypto& crypto_;
  engine_options options_;
  std::optional<local_identity> local_;
  std::map<crypto::public_key, std::unique_ptr<detail::peer>> peers_;
  allowed_ips<detail::peer*> allowed_;
  std::unordered_map<std::uint32_t, index_entry> index_;
  cookie_checker cookies_;
  engine_counters counters_;
  bool forced_under_load_ = false;
  unsigned initiations_this_second_ = 0;
  time_point second_started_{};
  time_point last_now_{};
  std::uint64_t jitter_state_ = 0;
  // Batches: jobs left for the caller's runner, and which datagram each open belongs to.
  bool deferring_ = false;
  std::vector<crypto_job> jobs_;
  std::vector<pending_open> opens_;
};

}  // namespace warren::wireguard
