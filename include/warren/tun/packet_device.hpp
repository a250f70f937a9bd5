#pragma once
// packet_device: the one thing the rest of warren needs from a TUN, whatever it is (Linux
// /dev/net/tun, a descriptor from Android's VpnService or iOS, an in-memory pair in tests).
//
// Contract, for a model `d` and a span `batch` of caller-owned buffers:
//   d.read_batch(batch)   fills buffers from the front of the span, one IP packet per buffer.
//                         Each buffer it fills is first emptied with its start kept where it is
//                         (buffer.reset(buffer.headroom())), so the caller chooses the headroom
//                         when it allocates or recycles the buffer; the packet goes into its
//                         tail space, which must hold at least mtu() bytes. Never blocks. Returns
//                         how many buffers it filled, 0 when nothing is waiting. Buffers past the
//                         returned count hold nothing useful.
//   d.write_batch(batch)  hands packets to the device in order, the bytes of each buffer being
//                         one IP packet. Never blocks. Returns how many it took, fewer than
//                         batch.size() (possibly 0) when the device is full: retry the rest once
//                         it has room. The buffers are not changed and the caller may reuse them
//                         as soon as the call returns.
//   d.mtu()               the largest packet, in bytes, that the device reads or writes.
// Errors: a call that hits an error after handling some packets returns their count; the next
// call, starting at the failing packet, reports it. So an error from write_batch always concerns
// batch[0] (drop it and go on, unless it is errc::closed), and an error from read_batch means
// nothing was filled.
// Ownership: the caller owns the buffers before, during and after every call; a device keeps no
// reference to them. Threads: one thread at a time per device (per queue of a multi-queue TUN);
// give each queue its own thread for parallelism.

#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>

#include <concepts>
#include <cstddef>
#include <span>

namespace warren::tun {

template <class D>
concept packet_device = requires(D& d, std::span<warren::packet_buffer> batch) {
  { d.read_batch(batch) } -> std::same_as<warren::result<std::size_t>>;
  { d.write_batch(batch) } -> std::same_as<warren::result<std::size_t>>;
  { d.mtu() } -> std::convertible_to<std::size_t>;
};

// A packet_device backed by a file descriptor that an event loop can poll: readable means
// read_batch will find a packet, writable means write_batch will take one. The descriptor stays
// owned by the device; a poller must not close it.
template <class D>
concept pollable_device = packet_device<D> && requires(const D& d) {
  { d.native_handle() } -> std::same_as<int>;
};

}  // namespace warren::tun
