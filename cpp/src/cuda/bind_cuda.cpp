// pybind11 CUDA bindings: raw device pointers (ints from torch's tensor.data_ptr()), sizes, options,
// the device ordinal and the caller's stream (torch.cuda.current_stream().cuda_stream). Outputs go
// into buffers the caller allocated (python/rppg_distill/spectral/_cuda.py allocates them with
// torch.empty on the input's device and mirrors the CPU bindings' names and arguments).
// CUDA errors surface as RuntimeError carrying the CUDA error string; bad options as ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "rppg/bindings.hpp"
#include "rppg/cuda/spectral_cuda.hpp"
#include "rppg/pycheck.hpp"

namespace rppg {
namespace {

namespace py = pybind11;
namespace rc = rppg::cuda;
using py::arg;
using Ptr = std::uintptr_t;

rc::DType parse_dtype(const std::string& dt) {
  if (dt == "float32") return rc::DType::f32;
  if (dt == "float64") return rc::DType::f64;
  throw py::type_error("dtype must be 'float32' or 'float64', got '" + dt + "'");
}

rc::GridSpec make_grid(long T, const py::array& freqs, double fs, const std::string& window,
                       bool periodic, bool demean) {
  if (T < 1) throw py::value_error("T must be >= 1");
  rc::GridSpec g;
  g.T = T;
  g.freqs = check_freqs(freqs, fs);  // ValueError on empty / non-finite / above Nyquist
  g.fs = fs;
  g.hann = parse_window(window) == Window::Hann;
  g.periodic = periodic;
  g.demean = demean;
  return g;
}

void check_batch(long B) {
  if (B < 1) throw py::value_error("empty batch (B = 0)");
}

// std::invalid_argument from the launchers -> ValueError; std::runtime_error -> RuntimeError.
template <class Fn>
void run(Fn&& fn) {
  try {
    py::gil_scoped_release nogil;
    fn();
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

}  // namespace

void bind_cuda(py::module_& m) {
  py::module_ c = m.def_submodule(
      "cuda", R"(CUDA kernels of the spectral core (raw device pointers + the caller's stream).

Every function takes ints for pointers (tensor.data_ptr()), the dtype name ('float32'/'float64'),
the device ordinal and the stream handle (torch.cuda.current_stream().cuda_stream), and writes
into caller-allocated C-contiguous buffers. Launches are asynchronous on that stream.
Use rppg_distill.spectral._cuda, which allocates, checks and passes the pointers.)");

  c.def("device_count", &rc::device_count, "Number of visible CUDA devices (0 without a driver/GPU).");
  c.def("describe_device", &rc::describe_device, arg("device") = 0, "Name, sm and SM count of a device.");
  c.def("basis_cache_size", &rc::basis_cache_size, "Number of cos/sin bases cached on devices.");
  c.def("basis_cache_clear", &rc::clear_basis_cache, "Free all cached device bases.");
  c.def("synchronize", [](int device, Ptr stream) { run([&] { rc::synchronize(device, stream); }); },
        arg("device"), arg("stream"), "cudaStreamSynchronize (raises RuntimeError on a CUDA error).");

  c.def("band_psd_forward",
        [](Ptr x, long B, long T, const py::array& freqs, double fs, const std::string& window,
           bool periodic, bool demean, bool normalize, double eps, const std::string& dtype,
           int device, Ptr stream, Ptr out, Ptr re, Ptr im) {
          check_batch(B);
          const auto g = make_grid(T, freqs, fs, window, periodic, demean);
          const auto dt = parse_dtype(dtype);
          run([&] { rc::band_psd_forward(dt, device, stream, B, g, normalize, eps, x, out, re, im); });
        },
        arg("x"), arg("B"), arg("T"), arg("freqs"), arg("fs"), arg("window"), arg("periodic"),
        arg("demean"), arg("normalize"), arg("eps"), arg("dtype"), arg("device"), arg("stream"),
        arg("out"), arg("re"), arg("im"),
        "x [B, T] -> out [B, K] (P or p), re, im [B, K].");
  c.def("band_psd_backward",
        [](Ptr grad_out, Ptr out, Ptr re, Ptr im, long B, long T, const py::array& freqs, double fs,
           const std::string& window, bool periodic, bool demean, bool normalize, double eps,
           const std::string& dtype, int device, Ptr stream, Ptr grad_x, Ptr work) {
          check_batch(B);
          const auto g = make_grid(T, freqs, fs, window, periodic, demean);
          const auto dt = parse_dtype(dtype);
          run([&] {
            rc::band_psd_backward(dt, device, stream, B, g, normalize, eps, grad_out, out, re, im,
                                  grad_x, work);
          });
        },
        arg("grad_out"), arg("out"), arg("re"), arg("im"), arg("B"), arg("T"), arg("freqs"),
        arg("fs"), arg("window"), arg("periodic"), arg("demean"), arg("normalize"), arg("eps"),
        arg("dtype"), arg("device"), arg("stream"), arg("grad_x"), arg("work"),
        "grad_out [B, K] -> grad_x [B, T]; work [B, 2K] scratch.");

  c.def("psd_kl_forward",
        [](Ptr student, Ptr teacher, long B, long T, const py::array& freqs, double fs,
           const std::string& window, bool periodic, bool demean, double eps,
           const std::string& dtype, int device, Ptr stream, Ptr loss, Ptr mean, Ptr ps, Ptr pt,
           Ptr re_s, Ptr im_s, Ptr re_t, Ptr im_t) {
          check_batch(B);
          const auto g = make_grid(T, freqs, fs, window, periodic, demean);
          const auto dt = parse_dtype(dtype);
          run([&] {
            rc::psd_kl_forward(dt, device, stream, B, g, eps, student, teacher, loss, mean, ps, pt,
                               re_s, im_s, re_t, im_t);
          });
        },
        arg("student"), arg("teacher"), arg("B"), arg("T"), arg("freqs"), arg("fs"), arg("window"),
        arg("periodic"), arg("demean"), arg("eps"), arg("dtype"), arg("device"), arg("stream"),
        arg("loss"), arg("mean"), arg("ps"), arg("pt"), arg("re_s"), arg("im_s"), arg("re_t"),
        arg("im_t"),
        "loss [B] (and its mean into mean [1] unless mean == 0), ps, pt, re_s, im_s, re_t, im_t [B, K].");
  c.def("psd_kl_backward",
        [](Ptr grad_loss, bool grad_is_scalar, double scale, Ptr ps, Ptr pt, Ptr re_s, Ptr im_s,
           Ptr re_t, Ptr im_t, long B, long T, const py::array& freqs, double fs,
           const std::string& window, bool periodic, bool demean, double eps,
           const std::string& dtype, int device, Ptr stream, Ptr grad_s, Ptr grad_t, Ptr work_s,
           Ptr work_t) {
          check_batch(B);
          const auto g = make_grid(T, freqs, fs, window, periodic, demean);
          const auto dt = parse_dtype(dtype);
          run([&] {
            rc::psd_kl_backward(dt, device, stream, B, g, eps, grad_loss, grad_is_scalar, scale, ps,
                                pt, re_s, im_s, re_t, im_t, grad_s, grad_t, work_s, work_t);
          });
        },
        arg("grad_loss"), arg("grad_is_scalar"), arg("scale"), arg("ps"), arg("pt"), arg("re_s"),
        arg("im_s"), arg("re_t"), arg("im_t"), arg("B"), arg("T"), arg("freqs"), arg("fs"),
        arg("window"), arg("periodic"), arg("demean"), arg("eps"), arg("dtype"), arg("device"),
        arg("stream"), arg("grad_s"), arg("grad_t"), arg("work_s"), arg("work_t"),
        "Row b's upstream gradient is grad_loss[0 if grad_is_scalar else b] * scale; grad_t = work_t = 0 "
        "skips the teacher (asymmetric).");

  c.def("rpm_components_forward",
        [](Ptr student, Ptr teacher, long B, long T, const py::array& freqs, double fs,
           const std::string& window, bool periodic, bool demean, const std::string& dtype,
           int device, Ptr stream, Ptr comps, Ptr centroid, Ptr ratio, Ptr re_s, Ptr im_s,
           Ptr re_t, Ptr im_t) {
          check_batch(B);
          const auto g = make_grid(T, freqs, fs, window, periodic, demean);
          const auto dt = parse_dtype(dtype);
          run([&] {
            rc::rpm_components_forward(dt, device, stream, B, g, student, teacher, comps, centroid,
                                       ratio, re_s, im_s, re_t, im_t);
          });
        },
        arg("student"), arg("teacher"), arg("B"), arg("T"), arg("freqs"), arg("fs"), arg("window"),
        arg("periodic"), arg("demean"), arg("dtype"), arg("device"), arg("stream"), arg("comps"),
        arg("centroid"), arg("ratio"), arg("re_s"), arg("im_s"), arg("re_t"), arg("im_t"),
        "comps [B, 3], teacher centroid [B] (band bin index), peak ratio [B], re/im [B, K].");
  c.def("rpm_components_backward",
        [](Ptr grad_comps, Ptr re_s, Ptr im_s, Ptr re_t, Ptr im_t, long B, long T,
           const py::array& freqs, double fs, const std::string& window, bool periodic, bool demean,
           const std::string& dtype, int device, Ptr stream, Ptr grad_s, Ptr work) {
          check_batch(B);
          const auto g = make_grid(T, freqs, fs, window, periodic, demean);
          const auto dt = parse_dtype(dtype);
          run([&] {
            rc::rpm_components_backward(dt, device, stream, B, g, grad_comps, re_s, im_s, re_t, im_t,
                                        grad_s, work);
          });
        },
        arg("grad_comps"), arg("re_s"), arg("im_s"), arg("re_t"), arg("im_t"), arg("B"), arg("T"),
        arg("freqs"), arg("fs"), arg("window"), arg("periodic"), arg("demean"), arg("dtype"),
        arg("device"), arg("stream"), arg("grad_s"), arg("work"),
        "grad_comps [B, 3] -> grad_student [B, T]; work [B, 2K] scratch.");

  c.def("peak_frequency_forward",
        [](Ptr x, long B, long T, const py::array& freqs, double fs, const std::string& window,
           bool periodic, bool demean, const std::string& dtype, int device, Ptr stream, Ptr hz,
           Ptr re, Ptr im) {
          check_batch(B);
          const auto g = make_grid(T, freqs, fs, window, periodic, demean);
          const auto dt = parse_dtype(dtype);
          run([&] { rc::peak_frequency_forward(dt, device, stream, B, g, x, hz, re, im); });
        },
        arg("x"), arg("B"), arg("T"), arg("freqs"), arg("fs"), arg("window"), arg("periodic"),
        arg("demean"), arg("dtype"), arg("device"), arg("stream"), arg("hz"), arg("re"), arg("im"),
        "x [B, T] -> hz [B] float64 (parabolic-interpolated peak); re, im [B, K] scratch.");
}

}  // namespace rppg
