# Finds warren's dependencies and gives each an imported target named warren::<dep>.
# Included both by the top-level CMakeLists.txt and by the installed warrenConfig.cmake, so
# that a consumer re-creates exactly the targets warren::warren links.
include_guard(GLOBAL)
include(CMakeFindDependencyMacro)
list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")

# find_dependency returns from the including file on failure; inside the build tree the
# plain find_package with REQUIRED gives the better message, so pick by context.
macro(_warren_find)
  if(_warren_in_config)
    find_dependency(${ARGN})
  else()
    find_package(${ARGN} REQUIRED)
  endif()
endmacro()

set(THREADS_PREFER_PTHREAD_FLAG ON)
_warren_find(Threads)
_warren_find(tl-expected CONFIG)
_warren_find(Asio)
_warren_find(MbedTLS)
_warren_find(nlohmann_json 3.10 CONFIG)
_warren_find(PkgConfig)

if(NOT TARGET warren::asio)
  add_library(warren::asio INTERFACE IMPORTED)
  target_link_libraries(warren::asio INTERFACE Asio::Asio Threads::Threads)
  # Asio 1.22 detects coroutines for clang only through the old Coroutines TS.
  target_compile_definitions(warren::asio INTERFACE $<$<CXX_COMPILER_ID:Clang>:ASIO_HAS_CO_AWAIT=1>)
endif()
if(NOT TARGET warren::json)
  add_library(warren::json INTERFACE IMPORTED)
  target_link_libraries(warren::json INTERFACE nlohmann_json::nlohmann_json)
endif()
if(NOT TARGET warren::mbedtls)
  add_library(warren::mbedtls INTERFACE IMPORTED)
  target_link_libraries(warren::mbedtls INTERFACE MbedTLS::mbedtls)
endif()

pkg_check_modules(WARREN_LIBNL_ROUTE REQUIRED IMPORTED_TARGET GLOBAL libnl-route-3.0)
pkg_check_modules(WARREN_NGTCP2 REQUIRED IMPORTED_TARGET GLOBAL libngtcp2>=1.0)
# libngtcp2_crypto_gnutls.pc does not declare its gnutls requirement.
pkg_check_modules(WARREN_NGTCP2_GNUTLS REQUIRED IMPORTED_TARGET GLOBAL
  libngtcp2_crypto_gnutls>=1.0 gnutls)
pkg_check_modules(WARREN_NGHTTP3 REQUIRED IMPORTED_TARGET GLOBAL libnghttp3>=1.0)
pkg_check_modules(WARREN_SODIUM REQUIRED IMPORTED_TARGET GLOBAL libsodium>=1.0.18)
pkg_check_modules(WARREN_B2 REQUIRED IMPORTED_TARGET GLOBAL libb2)
pkg_check_modules(WARREN_GCRYPT REQUIRED IMPORTED_TARGET GLOBAL libgcrypt>=1.10)

foreach(_dep libnl_route ngtcp2 nghttp3 sodium b2 gcrypt)
  if(NOT TARGET warren::${_dep})
    add_library(warren::${_dep} INTERFACE IMPORTED)
  endif()
endforeach()
target_link_libraries(warren::libnl_route INTERFACE PkgConfig::WARREN_LIBNL_ROUTE)
target_link_libraries(warren::ngtcp2 INTERFACE PkgConfig::WARREN_NGTCP2_GNUTLS PkgConfig::WARREN_NGTCP2)
target_link_libraries(warren::nghttp3 INTERFACE PkgConfig::WARREN_NGHTTP3)
target_link_libraries(warren::sodium INTERFACE PkgConfig::WARREN_SODIUM)
target_link_libraries(warren::b2 INTERFACE PkgConfig::WARREN_B2)
target_link_libraries(warren::gcrypt INTERFACE PkgConfig::WARREN_GCRYPT)
