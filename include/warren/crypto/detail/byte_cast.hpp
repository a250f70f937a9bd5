#pragma once
// std::byte pointers as the unsigned char pointers C crypto libraries take. One place for the
// reinterpret_casts, so the backends read as plain calls.

#include <cstddef>

namespace warren::crypto::detail {

inline unsigned char* uc(std::byte* p) noexcept { return reinterpret_cast<unsigned char*>(p); }
inline const unsigned char* uc(const std::byte* p) noexcept { return reinterpret_cast<const unsigned char*>(p); }

}  // namespace warren::crypto::detail
