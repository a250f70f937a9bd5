#pragma once
// The one place that chooses warren's crypto backend: fast_backend (OpenSSL 3 AEAD and BLAKE2s,
// libsodium X25519) wherever it builds. A port without OpenSSL switches this alias to
// mbedtls_backend; generic code names warren::crypto::default_backend, never a backend itself.

#include <warren/crypto/backend.hpp>
#include <warren/crypto/fast_backend.hpp>

namespace warren::crypto {

using default_backend = fast_backend;

static_assert(backend<default_backend>);

}  // namespace warren::crypto
