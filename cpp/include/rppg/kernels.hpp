// Spectral kernels on contiguous row-major buffers (CPU). Shapes in comments; B batch, T samples,
// K band bins. All outputs are caller-allocated. Intermediates re/im [B, K] come from dft_forward.
#pragma once
#include "rppg/basis.hpp"

namespace rppg {

// out [B, K] = P (or p = P / (sum P + eps) when normalize).
template <class F>
void band_psd_fwd(const F* x, long B, const Basis<F>& bs, bool demean, bool normalize, F eps,
                  F* out, F* re, F* im);
// grad_out [B, K] -> grad_x [B, T]. out is the forward output (p when normalize).
template <class F>
void band_psd_bwd(const F* grad_out, const F* out, const F* re, const F* im, long B,
                  const Basis<F>& bs, bool demean, bool normalize, F eps, F* grad_x);

// loss [B] = sum_k p_t (log(p_t + eps) - log(p_s + eps)); ps, pt [B, K] saved for backward.
template <class F>
void psd_kl_fwd(const F* s, const F* t, long B, const Basis<F>& bs, bool demean, F eps, F* loss,
                F* ps, F* pt, F* re_s, F* im_s, F* re_t, F* im_t);
// grad_loss [B] -> grad_s [B, T]; grad_t [B, T] when non-null (symmetric mode).
template <class F>
void psd_kl_bwd(const F* grad_loss, const F* ps, const F* pt, const F* re_s, const F* im_s,
                const F* re_t, const F* im_t, long B, const Basis<F>& bs, bool demean, F eps,
                F* grad_s, F* grad_t);

// Fused psd_kl for the eager path: loss [B] and, when non-null, hs / ht [B, 2 ldh] = d loss_b /
// d (re', im') of the student / teacher in the folded DFT frame (dft.hpp) -- all the backward needs.
// Row b holds the re part at [b * 2 ldh, + K) and the im part at [b * 2 ldh + ldh, + K); ldh = K
// (<= 0: K) or ldh = bs.Kp, where the rows are written in place (no copy) and columns K..Kp-1 are 0.
template <class F>
void psd_kl_fused_fwd(const F* s, const F* t, long B, const Basis<F>& bs, bool demean, F eps, F* loss,
                      F* hs, F* ht, int ldh = 0);
// grad_x [B, T] = (grad_loss[b] or grad_scale when grad_loss is null) * d loss_b / d x_b from h
// [B, 2 ldh] (as written by psd_kl_fused_fwd with the same ldh; the GEMM reads it in place).
// Forward and gradient in one pass (one parallel region; h never leaves the block's scratch):
// loss [B] as psd_kl_fused_fwd, gs / gt [B, T] (either may be null) = grad_scale * d loss_b / d x_b.
template <class F>
void psd_kl_fused_fwd_grad(const F* s, const F* t, long B, const Basis<F>& bs, bool demean, F eps,
                           F* loss, F grad_scale, F* gs, F* gt);

template <class F>
void psd_kl_fused_bwd(const F* grad_loss, F grad_scale, const F* h, long B, const Basis<F>& bs,
                      bool demean, F* grad_x, int ldh = 0);

// comps [B, 3] (peak, off, shape), centroid_t [B] (band bin index 0..K-1), ratio [B]
// (teacher sum P w / sum P). docs/METHODS.md §1.3; teacher constant.
template <class F>
void rpm_fwd(const F* s, const F* t, long B, const Basis<F>& bs, bool demean, F* comps,
             F* centroid_t, F* ratio, F* re_s, F* im_s, F* re_t, F* im_t);
template <class F>
void rpm_bwd(const F* grad_comps, const F* re_s, const F* im_s, const F* re_t, const F* im_t,
             long B, const Basis<F>& bs, bool demean, F* grad_s);

// Peak of P over the grid with parabolic interpolation (uniform grid assumed) -> freq [B] in Hz.
template <class F>
void peak_frequency_fwd(const F* x, long B, const Basis<F>& bs, const double* freqs, bool demean,
                        double* freq);

}  // namespace rppg
