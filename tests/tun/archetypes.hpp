#pragma once
// Archetypes for the tun concepts: the least a type can offer and still model the concept.
// Generic code that compiles against an archetype asks for nothing beyond the concept (no copy,
// no default construction, no const mtu(), no other members). Near misses check that the concept
// rejects what it should.

#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/tun/packet_device.hpp>

#include <cstddef>
#include <span>

namespace warren::tun::test {

struct archetype_tag {};

// Reads nothing, takes everything, MTU 0. Neither copyable, movable nor default-constructible.
class packet_device_archetype {
 public:
  explicit packet_device_archetype(archetype_tag) {}
  packet_device_archetype(const packet_device_archetype&) = delete;
  packet_device_archetype& operator=(const packet_device_archetype&) = delete;

  warren::result<std::size_t> read_batch(std::span<warren::packet_buffer>) { return std::size_t{0}; }
  warren::result<std::size_t> write_batch(std::span<warren::packet_buffer> batch) { return batch.size(); }
  std::size_t mtu() { return 0; }
};

class pollable_device_archetype : public packet_device_archetype {
 public:
  using packet_device_archetype::packet_device_archetype;
  int native_handle() const { return -1; }
};

static_assert(packet_device<packet_device_archetype>);
static_assert(!pollable_device<packet_device_archetype>);
static_assert(pollable_device<pollable_device_archetype>);

// Near misses.
struct without_mtu {
  warren::result<std::size_t> read_batch(std::span<warren::packet_buffer>);
  warren::result<std::size_t> write_batch(std::span<warren::packet_buffer>);
};
struct returns_plain_size {  // errors must travel in the result
  std::size_t read_batch(std::span<warren::packet_buffer>);
  std::size_t write_batch(std::span<warren::packet_buffer>);
  std::size_t mtu();
};
struct takes_one_buffer {  // a batch is a span, not a single buffer
  warren::result<std::size_t> read_batch(warren::packet_buffer&);
  warren::result<std::size_t> write_batch(warren::packet_buffer&);
  std::size_t mtu();
};
struct handle_is_not_int : packet_device_archetype {
  using packet_device_archetype::packet_device_archetype;
  long native_handle() const;
};
static_assert(!packet_device<without_mtu>);
static_assert(!packet_device<returns_plain_size>);
static_assert(!packet_device<takes_one_buffer>);
static_assert(!pollable_device<handle_is_not_int>);
static_assert(!packet_device<int>);

// Generic code over the concept: one batch from `from` to `to`. Returns how many packets `to`
// took; the rest of what was read is dropped (a real forwarder would keep them for later).
// Uses only what packet_device promises.
template <packet_device From, packet_device To>
warren::result<std::size_t> forward_batch(From& from, To& to, std::span<warren::packet_buffer> batch) {
  auto read = from.read_batch(batch);
  if (!read) return read;
  std::size_t taken = 0;
  while (taken < *read) {
    auto n = to.write_batch(batch.subspan(taken, *read - taken));
    if (!n) {
      if (taken > 0) break;
      return n;
    }
    if (*n == 0) break;  // full: never spin
    taken += *n;
  }
  return taken;
}

// Compiles forward_batch against the archetypes alone.
inline warren::result<std::size_t> forward_between_archetypes(std::span<warren::packet_buffer> batch) {
  packet_device_archetype from{archetype_tag{}};
  pollable_device_archetype to{archetype_tag{}};
  return forward_batch(from, to, batch);
}

}  // namespace warren::tun::test
