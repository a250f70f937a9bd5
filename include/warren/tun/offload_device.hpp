#pragma once
// offload_device: a packet_device over a Linux TUN queue opened with offloads
// (linux_tun_options::offload), which is how a userspace VPN gets near kernel speed on TCP.
//
//   read_batch   reads what the kernel wrote, often a 64 KiB TCP super-packet behind a
//                virtio_net_hdr, and hands out its segments one per buffer (gso_segmenter),
//                with full checksums. A super-packet that does not fit the rest of the batch
//                is carried over to the next call, so nothing is lost to a small batch.
//   write_batch  coalesces runs of TCP segments of one flow into super-packets (gro_coalescer)
//                and writes each with writev, headers and payloads straight from the caller's
//                buffers; everything else goes one packet a write, in order.
// To the caller it is the plain contract of packet_device: one IP packet per buffer, at most
// mtu() bytes. Differences: write_batch takes the whole batch (a TUN write never waits) and
// counts what the kernel refused in dropped(); it reports an error only when the first write
// failed, so the caller drops batch[0] and offers the rest again.
//
// Ownership: owns the queue's fd_device. Threads: one thread at a time.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/tun/error.hpp>
#include <warren/tun/fd_device.hpp>
#include <warren/tun/gro_coalescer.hpp>
#include <warren/tun/gso_segmenter.hpp>
#include <warren/tun/packet_device.hpp>
#include <warren/tun/virtio_net_header.hpp>

#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace warren::tun {

struct offload_counters {
  std::uint64_t super_packets_read = 0;  // reads that held more than one segment
  std::uint64_t segments_read = 0;       // packets handed out by read_batch
  std::uint64_t coalesced_writes = 0;    // writes that carried more than one packet
  std::uint64_t packets_written = 0;
  std::uint64_t dropped = 0;  // bad offload headers, packets the kernel refused
};

class offload_device {
 public:
  static constexpr std::size_t max_read = virtio_net_header::size + 65535;

  // `queue` comes from a linux_tun opened with offload = true. With `offloads` false (a TUN
  // opened without, e.g. where the kernel refused them) it passes everything to the fd_device.
  explicit offload_device(fd_device queue, bool offloads = true)
      : fd_(std::move(queue)), offloads_(offloads),
        scratch_(offloads ? std::make_unique<std::byte[]>(max_read) : nullptr) {}

  bool offloads() const noexcept { return offloads_; }

  result<std::size_t> read_batch(std::span<packet_buffer> batch) {
    if (!offloads_) return counted_read(batch);
    if (fd_.native_handle() < 0) return unexpected(make_error_code(errc::closed));
    std::size_t filled = 0;
    unsigned refused = 0;
    while (filled < batch.size()) {
      if (batch[filled].tail_space().size() + batch[filled].size() < mtu())
        return stop(filled, make_error_code(errc::buffer_too_small));
      if (!segmenter_.done()) {
        if (segmenter_.next(batch[filled])) {
          ++filled;
          ++counters_.segments_read;
        } else {
          counters_.dropped += segmenter_.remaining();  // a segment larger than the MTU
          segmenter_.clear();
        }
        continue;
      }
      ssize_t n = ::read(fd_.native_handle(), scratch_.get(), max_read);
      if (n < 0) {
        int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) return filled;
        // The kernel could not describe one packet in a virtio header (an offload it should not
        // have used): that packet is gone, the queue is fine. Bounded, in case it is not.
        if (e == EINVAL && ++refused < 64) {
          ++counters_.dropped;
          continue;
        }
        return stop(filled, fd_device::from_errno(e));
      }
      if (n == 0) return stop(filled, make_error_code(errc::closed));
      byte_view got(scratch_.get(), static_cast<std::size_t>(n));
      auto header = virtio_net_header::parse(got);
      if (!header || !segmenter_.start(*header, got.subspan(virtio_net_header::size))) {
        ++counters_.dropped;
        continue;
      }
      if (segmenter_.remaining() > 1) ++counters_.super_packets_read;
    }
    return filled;
  }

  result<std::size_t> write_batch(std::span<packet_buffer> batch) {
    if (!offloads_) return counted_write(batch);
    if (fd_.native_handle() < 0) return unexpected(make_error_code(errc::closed));
    coalescer_.plan(batch);
    auto writes = coalescer_.writes();
    for (std::size_t k = 0; k < writes.size(); ++k) {
      const auto& w = writes[k];
      std::array<std::byte, virtio_net_header::size> vnet{};
      w.header.write(vnet.data());
      iov_.clear();
      iov_.push_back({vnet.data(), vnet.size()});
      if (w.count == 1) {
        byte_view b = batch[w.first].bytes();
        if (b.size() > mtu()) {
          if (k == 0 && writes.size() == 1) return unexpected(make_error_code(errc::packet_too_large));
          ++counters_.dropped;
          continue;
        }
        iov_.push_back({const_cast<std::byte*>(b.data()), b.size()});
      } else {
        iov_.push_back({const_cast<std::byte*>(w.head.data()), w.headers});
        for (std::size_t i = w.first; i != gro_coalescer::no_next; i = coalescer_.next(i)) {
          byte_view b = batch[i].bytes();
          iov_.push_back({const_cast<std::byte*>(b.data() + w.headers), b.size() - w.headers});
        }
      }
      ssize_t n;
      do n = ::writev(fd_.native_handle(), iov_.data(), static_cast<int>(iov_.size()));
      while (n < 0 && errno == EINTR);
      if (n < 0) {
        auto ec = fd_device::from_errno(errno);
        if (k == 0) return unexpected(ec);  // nothing written: the caller drops batch[0]
        counters_.dropped += w.count;
        if (ec == errc::closed) {
          for (std::size_t j = k + 1; j < writes.size(); ++j) counters_.dropped += writes[j].count;
          break;  // the next call reports it
        }
        continue;
      }
      counters_.packets_written += w.count;
      if (w.count > 1) ++counters_.coalesced_writes;
    }
    return batch.size();
  }

  std::size_t mtu() const noexcept { return fd_.mtu(); }
  int native_handle() const noexcept { return fd_.native_handle(); }
  const offload_counters& counters() const noexcept { return counters_; }
  std::uint64_t dropped() const noexcept { return counters_.dropped + fd_.dropped(); }

 private:
  result<std::size_t> counted_read(std::span<packet_buffer> batch) {
    auto n = fd_.read_batch(batch);
    if (n) counters_.segments_read += *n;
    return n;
  }
  result<std::size_t> counted_write(std::span<packet_buffer> batch) {
    auto n = fd_.write_batch(batch);
    if (n) counters_.packets_written += *n;
    return n;
  }

  static result<std::size_t> stop(std::size_t done, std::error_code ec) {
    if (done > 0) return done;
    return unexpected(ec);
  }

  fd_device fd_;
  bool offloads_ = true;
  std::unique_ptr<std::byte[]> scratch_;  // one read: a super-packet behind its header
  gso_segmenter segmenter_;
  gro_coalescer coalescer_;
  std::vector<iovec> iov_;
  offload_counters counters_;
};

static_assert(packet_device<offload_device>);
static_assert(pollable_device<offload_device>);

}  // namespace warren::tun
