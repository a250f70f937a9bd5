#pragma once
// The one place that chooses warren's crypto backend: fast_backend (libgcrypt AEAD, libsodium
// X25519, libb2 BLAKE2s) wherever it builds. A port without libgcrypt switches this alias to
// mbedtls_backend; generic code names warren::crypto::default_backend, never a backend itself.

#include <warren/crypto/backend.hpp>
#include <warren/crypto/fast_backend.hpp>

namespace warren::crypto {

using default_backend = fast_backend;

static_assert(backend<default_backend>);

}  // namespace warren::crypto
