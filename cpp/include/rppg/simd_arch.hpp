// Which CPU vector path the kernels compile: AVX2+FMA on x86-64 (function attributes, chosen at run
// time by cpu_has_avx2()), NEON on aarch64 (part of the base ISA, chosen at build time).
// Define RPPG_DISABLE_SIMD to build the portable scalar code only (used to check the SIMD paths).
#pragma once

#if !defined(RPPG_DISABLE_SIMD) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RPPG_X86_AVX2 1
#include <immintrin.h>
#endif

#if !defined(RPPG_DISABLE_SIMD) && defined(__aarch64__) && defined(__ARM_NEON)
#define RPPG_ARM_NEON 1
#include <arm_neon.h>
#endif
