// Vectorized row math for the fused kernels (AVX2+FMA selected at run time on x86-64, NEON on
// aarch64; scalar fallback).
#pragma once

namespace rppg {

// One psd_kl row in the folded frame (dft.hpp), arrays of n >= K entries (entries past K must
// have re = im = 0). Returns loss = sum_k pt (log(pt + eps) - log(ps + eps)) with p = P / (sum P + eps),
// and writes, when non-null, hs = d loss / d (re_s, im_s) and ht = d loss / d (re_t, im_t), each as
// [n] re part then [n] im part (2n entries). pbuf: scratch of 2n entries.
float kl_row(const float* rs, const float* is, const float* rt, const float* it, int n, float eps,
             float* hs, float* ht, float* pbuf);
double kl_row(const double* rs, const double* is, const double* rt, const double* it, int n, double eps,
              double* hs, double* ht, double* pbuf);

// In place, n any: x = log(x) / exp(x) in float (AVX2 or NEON when available; about 1 ulp-ish, rel. error
// < 3e-7 on normal inputs; special values as std::log / std::exp, exp underflow flushes to 0).
void log_inplace(float* x, int n);
void exp_inplace(float* x, int n);

}  // namespace rppg
