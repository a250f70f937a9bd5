#pragma once
// asio_device: a pollable_device (fd_device, a linux_tun queue) driven by an Asio event loop.
// It adds waiting and nothing else: async_read_batch tries read_batch, and while that finds
// nothing it waits for the descriptor to become readable and tries again; async_write_batch does
// the same with write_batch and writability. Packets, buffers and errors are the device's, as
// its contract describes (warren/tun/packet_device.hpp).
//
// Ownership: an asio_device owns its Device. It watches the Device's descriptor through a
// non-owning asio::posix::stream_descriptor, released (never closed) before the Device goes, so
// the Device alone decides whether the descriptor is closed. Buffers passed to an operation stay
// the caller's and must outlive it. Threads: as Asio's own I/O objects: not thread-safe; at most
// one read and one write outstanding; run handlers on one thread (or a strand). Moving an
// asio_device with an operation outstanding is undefined, as for Asio sockets.

#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/tun/packet_device.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/compose.hpp>
#include <asio/post.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include <cstddef>
#include <span>
#include <system_error>
#include <utility>

namespace warren::tun {

template <pollable_device Device>
class asio_device {
 public:
  using executor_type = asio::any_io_executor;

  // Registers the device's descriptor with the executor's reactor.
  static result<asio_device> create(const executor_type& executor, Device device) {
    asio_device d(executor, std::move(device));
    std::error_code ec;
    d.descriptor_.assign(d.device_.native_handle(), ec);
    if (ec) return unexpected(ec);
    return d;
  }

  asio_device(asio_device&& o) noexcept
      : device_(std::move(o.device_)), descriptor_(std::move(o.descriptor_)) {}
  asio_device& operator=(asio_device&& o) noexcept {
    if (this != &o) {
      // A move-assigned stream_descriptor would close our descriptor, which the Device owns.
      release_descriptor();
      device_ = std::move(o.device_);
      descriptor_ = std::move(o.descriptor_);
    }
    return *this;
  }
  asio_device(const asio_device&) = delete;
  asio_device& operator=(const asio_device&) = delete;
  ~asio_device() { release_descriptor(); }

  executor_type get_executor() noexcept { return descriptor_.get_executor(); }
  Device& device() noexcept { return device_; }
  const Device& device() const noexcept { return device_; }

  // Completes with (error, n) once read_batch has filled n > 0 buffers of `batch` or failed, or
  // with asio::error::operation_aborted after cancel(). An empty batch completes with 0.
  template <class CompletionToken>
  auto async_read_batch(std::span<packet_buffer> batch, CompletionToken&& token) {
    return asio::async_compose<CompletionToken, void(std::error_code, std::size_t)>(
        batch_op{this, batch, false}, token, descriptor_);
  }

  // Completes with (error, n) once write_batch has taken n > 0 packets of `batch` (maybe fewer
  // than all: call again for the rest) or failed, or with operation_aborted after cancel().
  template <class CompletionToken>
  auto async_write_batch(std::span<packet_buffer> batch, CompletionToken&& token) {
    return asio::async_compose<CompletionToken, void(std::error_code, std::size_t)>(
        batch_op{this, batch, true}, token, descriptor_);
  }

  // Ends outstanding waits with operation_aborted.
  void cancel() {
    std::error_code ignored;
    descriptor_.cancel(ignored);
  }

 private:
  asio_device(const executor_type& executor, Device device)
      : device_(std::move(device)), descriptor_(executor) {}

  void release_descriptor() noexcept {
    if (descriptor_.is_open()) descriptor_.release();  // also cancels outstanding waits
  }

  struct batch_op {
    asio_device* self;
    std::span<packet_buffer> batch;
    bool write;
    enum class step { start, waiting, done } at = step::start;
    std::error_code result_ec{};
    std::size_t result_n = 0;

    template <class Op>
    void operator()(Op& op, std::error_code ec = {}) {
      switch (at) {
        case step::start:
          // Try before waiting: under load the device is rarely empty, and a wait costs a trip
          // through the reactor. A result found now is posted, because a handler must not run
          // inside the function that started the operation.
          if (attempt()) {
            at = step::done;
            asio::post(std::move(op));
            return;
          }
          at = step::waiting;
          wait(op);
          return;
        case step::waiting:
          if (ec) return op.complete(ec, 0);
          // Readiness is a hint: another reader may have taken the packet, so 0 waits again.
          if (attempt()) return op.complete(result_ec, result_n);
          wait(op);
          return;
        case step::done:
          return op.complete(result_ec, result_n);
      }
    }

    // True when the operation has its result (packets or an error).
    bool attempt() {
      auto r = write ? self->device_.write_batch(batch) : self->device_.read_batch(batch);
      if (!r) {
        result_ec = r.error();
        result_n = 0;
        return true;
      }
      result_n = *r;
      return result_n > 0 || batch.empty();
    }

    template <class Op>
    void wait(Op& op) {
      self->descriptor_.async_wait(write ? asio::posix::descriptor_base::wait_write
                                         : asio::posix::descriptor_base::wait_read,
                                   std::move(op));
    }
  };

  Device device_;
  asio::posix::stream_descriptor descriptor_;
};

}  // namespace warren::tun
