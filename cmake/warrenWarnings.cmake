# Warnings for warren's own tests, examples and benchmarks (never forced on consumers).
add_library(warren_warnings INTERFACE)
target_compile_options(warren_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<BOOL:${WARREN_WERROR}>:-Werror>)
