# Warnings for warren's own tests, examples and benchmarks (never forced on consumers).
add_library(warren_warnings INTERFACE)
target_compile_options(warren_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<BOOL:${WARREN_WERROR}>:-Werror>
  # g++ 12 at -O3 reports -Wrestrict on std::string appends that cannot overlap (GCC bug 105329,
  # fixed in 13): with -Werror a Release build of the tests stops on library headers' code.
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
