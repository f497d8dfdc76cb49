// Function multiversioning for hot loops: TORUSML_MULTIVERSION compiles a function for
// x86-64-v4 (AVX-512), x86-64-v3 (AVX2 + FMA) and the baseline, and the dynamic loader picks the
// best for the running CPU (GCC target_clones / ifunc). The library thus runs on any x86-64
// machine and uses AVX-512 where there is one. Elsewhere the macro is empty.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define TORUSML_MULTIVERSION \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TORUSML_MULTIVERSION
#endif
