// CUDA spectral core: host-side launchers (no CUDA headers here, so plain C++ units can include it).
//
// Every launcher takes raw device pointers (as integers, from torch's tensor.data_ptr()), sizes,
// options, the device ordinal and the caller's stream handle (torch.cuda.current_stream().cuda_stream).
// Outputs are written into buffers the caller allocated. All buffers are C-contiguous and of the
// dtype given by `dtype` (0 = float32, 1 = float64). Launches are asynchronous on `stream`; errors
// (including the launch errors from cudaGetLastError) are thrown as std::runtime_error carrying the
// CUDA error string, which pybind11 turns into a Python RuntimeError.
//
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rppg {
namespace cuda {

enum class DType : int { f32 = 0, f64 = 1 };

// What the cos/sin basis depends on. The basis [2K, T] (rows w cos, then rows w sin; window folded
// in and, when demean is on, each row centered so that the mean removal folds into the basis
// exactly, forward and adjoint) is cached on the device
// per (device, dtype, T, freqs, fs, window, periodic, demean).
struct GridSpec {
  int64_t T = 0;
  std::vector<double> freqs;  // Hz, length K
  double fs = 0.0;
  bool hann = true;           // false: no window
  bool periodic = true;       // Hann periodic (w = 0.5 - 0.5 cos(2 pi t / T)) or symmetric (T - 1)
  bool demean = true;
};

int device_count();                 // 0 when no device / no driver (never throws)
void require_device(int device);    // throws std::runtime_error("no CUDA device ...") when unusable
std::string describe_device(int device);
void clear_basis_cache();
size_t basis_cache_size();
void synchronize(int device, std::uintptr_t stream);

// Buffers: x, student, teacher [B, T]; re, im [B, K] (the windowed DFT at the band frequencies,
// saved by the forward for the backward, as in the CPU core); work [B, 2K] is backward scratch.

// out [B, K] = P, or p = P / (sum P + eps) when normalize.
void band_psd_forward(DType dt, int device, std::uintptr_t stream, int64_t B, const GridSpec& g,
                      bool normalize, double eps, std::uintptr_t x, std::uintptr_t out,
                      std::uintptr_t re, std::uintptr_t im);
// grad_x [B, T] from grad_out [B, K]; out is the forward output.
void band_psd_backward(DType dt, int device, std::uintptr_t stream, int64_t B, const GridSpec& g,
                       bool normalize, double eps, std::uintptr_t grad_out, std::uintptr_t out,
                       std::uintptr_t re, std::uintptr_t im, std::uintptr_t grad_x,
                       std::uintptr_t work);

// loss [B] = KL(p_t || p_s) per sample; mean [1] its batch mean (0 = skip); ps, pt [B, K] saved.
void psd_kl_forward(DType dt, int device, std::uintptr_t stream, int64_t B, const GridSpec& g,
                    double eps, std::uintptr_t student, std::uintptr_t teacher, std::uintptr_t loss,
                    std::uintptr_t mean, std::uintptr_t ps, std::uintptr_t pt, std::uintptr_t re_s,
                    std::uintptr_t im_s, std::uintptr_t re_t, std::uintptr_t im_t);
// The upstream gradient of sample b is grad[grad_is_scalar ? 0 : b] * scale. grad_t and work_t
// may be 0 (asymmetric mode: the teacher gets no gradient).
void psd_kl_backward(DType dt, int device, std::uintptr_t stream, int64_t B, const GridSpec& g,
                     double eps, std::uintptr_t grad, bool grad_is_scalar, double scale,
                     std::uintptr_t ps, std::uintptr_t pt, std::uintptr_t re_s, std::uintptr_t im_s,
                     std::uintptr_t re_t, std::uintptr_t im_t, std::uintptr_t grad_s,
                     std::uintptr_t grad_t, std::uintptr_t work_s, std::uintptr_t work_t);

// RPM-Distill components (docs/METHODS.md §1.3): comps [B, 3] = (peak, off, shape), centroid [B]
// (teacher soft centroid, band bin index 0..K-1), ratio [B] (teacher sum P w / sum P).
void rpm_components_forward(DType dt, int device, std::uintptr_t stream, int64_t B,
                            const GridSpec& g, std::uintptr_t student, std::uintptr_t teacher,
                            std::uintptr_t comps, std::uintptr_t centroid, std::uintptr_t ratio,
                            std::uintptr_t re_s, std::uintptr_t im_s, std::uintptr_t re_t,
                            std::uintptr_t im_t);
// grad_student [B, T] from grad_comps [B, 3] (the teacher is constant).
void rpm_components_backward(DType dt, int device, std::uintptr_t stream, int64_t B,
                             const GridSpec& g, std::uintptr_t grad_comps, std::uintptr_t re_s,
                             std::uintptr_t im_s, std::uintptr_t re_t, std::uintptr_t im_t,
                             std::uintptr_t grad_student, std::uintptr_t work);

// hz [B] float64: peak of the band power with parabolic interpolation (offset clamped to half a
// bin, local grid spacing), as the CPU core. re, im [B, K] scratch.
void peak_frequency_forward(DType dt, int device, std::uintptr_t stream, int64_t B,
                            const GridSpec& g, std::uintptr_t x, std::uintptr_t hz,
                            std::uintptr_t re, std::uintptr_t im);

}  // namespace cuda
}  // namespace rppg
