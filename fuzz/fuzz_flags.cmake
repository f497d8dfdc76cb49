# Flags of a TORUSML_FUZZ build tree (included by the top-level CMakeLists.txt before the
# libraries): every library is compiled with libFuzzer's coverage instrumentation
# (-fsanitize=fuzzer-no-link), AddressSanitizer and UndefinedBehaviorSanitizer (no recovery: any
# report aborts); the fuzz targets add -fsanitize=fuzzer at link time (fuzz/CMakeLists.txt).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "TORUSML_FUZZ needs clang (libFuzzer): configure a separate tree with "
                      "CC=clang CXX=clang++ (scripts/fuzz does)")
endif()
if(TORUSML_SANITIZE)
  message(FATAL_ERROR "TORUSML_FUZZ builds with ASan + UBSan already: leave TORUSML_SANITIZE OFF")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)
# Some optimisation for throughput; no NDEBUG.
set(CMAKE_CXX_FLAGS_RELEASE "-O1 -g" CACHE STRING "" FORCE)
# GCC's [[gnu::always_inline]] on the FFT kernels' lambdas (tfhe/fft_simd_common.h) is a
# performance hint clang cannot attach there; it only affects the speed of this instrumented tree.
add_compile_options(-Wno-ignored-attributes)
