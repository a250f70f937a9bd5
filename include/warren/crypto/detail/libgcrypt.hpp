#pragma once
// libgcrypt for fast_backend's ChaCha20-Poly1305: initialisation as a library must do it, and a
// cipher handle that closes itself.

#include <gcrypt.h>

#include <mutex>

namespace warren::crypto::detail {

// libgcrypt wants gcry_check_version() before any other call, once per process. An application
// that uses libgcrypt itself may have done that (and set its own options) already; then this
// leaves its choices alone. No secure memory: our handles hold keys that also live in ordinary
// memory (wiped secret<> objects), and the handles are closed, which wipes them.
inline bool ensure_gcrypt() noexcept {
  static std::once_flag once;
  static bool ready = false;
  std::call_once(once, [] {
    if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
      if (gcry_check_version(GCRYPT_VERSION) == nullptr) return;  // an older library than we built against
      gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    }
    ready = true;
  });
  return ready;
}

struct gcrypt_handle {
  gcry_cipher_hd_t h = nullptr;
  gcrypt_handle() = default;
  gcrypt_handle(gcrypt_handle&& o) noexcept : h(o.h) { o.h = nullptr; }
  gcrypt_handle& operator=(gcrypt_handle&& o) noexcept {
    if (this != &o) {
      reset();
      h = o.h;
      o.h = nullptr;
    }
    return *this;
  }
  gcrypt_handle(const gcrypt_handle&) = delete;
  gcrypt_handle& operator=(const gcrypt_handle&) = delete;
  ~gcrypt_handle() { reset(); }
  // gcry_cipher_close wipes the handle's key schedule and state.
  void reset() noexcept {
    if (h) gcry_cipher_close(h);
    h = nullptr;
  }
  // A ChaCha20-Poly1305 (RFC 8439) handle, or false.
  bool open_chacha_poly1305() noexcept {
    reset();
    if (gcry_cipher_open(&h, GCRY_CIPHER_CHACHA20, GCRY_CIPHER_MODE_POLY1305, 0) != 0) h = nullptr;
    return h != nullptr;
  }
  explicit operator bool() const noexcept { return h != nullptr; }
};

}  // namespace warren::crypto::detail
