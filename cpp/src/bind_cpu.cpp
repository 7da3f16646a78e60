// pybind11 CPU bindings: numpy in, numpy out, through one object per option set.
//
// A Plan fixes (T, freqs, fs, window, periodic, demean, eps) once; its cos/sin bases are looked up
// on first use per dtype and kept, so a call skips the frequency checks, the cache key and mutex.
// Each <op>_forward method returns its outputs plus the intermediates its <op>_backward needs;
// rppg_distill.spectral._cuda mirrors these methods (same names, a plan and torch CUDA tensors).
// The Python side (rppg_distill.spectral._plan) keeps one Plan per option set.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "rppg/bindings.hpp"
#include "rppg/gemm.hpp"
#include "rppg/kernels.hpp"
#include "rppg/parallel.hpp"
#include "rppg/pycheck.hpp"

namespace rppg {
namespace {

namespace py = pybind11;
using py::arg;

template <class F>
using Arr = py::array_t<F, py::array::c_style | py::array::forcecast>;

template <class F>
const F* ptr(const py::array& a) { return static_cast<const F*>(a.data()); }

DType dtype_of(const py::array& a, const char* name) {
  if (a.dtype().is(py::dtype::of<float>())) return DType::F32;
  if (a.dtype().is(py::dtype::of<double>())) return DType::F64;
  throw py::type_error(std::string(name) + " must be float32 or float64");
}

// The one dtype dispatch: calls fn(F{}) with F = float or double; both branches return the same type.
template <class Fn>
decltype(auto) with_dtype(DType dt, Fn&& fn) {
  if (dt == DType::F32) return fn(float{});
  return fn(double{});
}

// An output array [rows] or [rows, cols] of F, or None (and a null pointer) when not wanted.
template <class F>
py::object optional_out(bool want, long rows, long cols, F*& data) {
  data = nullptr;
  if (!want) return py::none();
  Arr<F> a({rows, cols});
  data = a.mutable_data();
  return std::move(a);
}

struct Plan {
  int T;
  std::vector<double> freqs;
  double fs, eps;
  Window window;
  bool periodic, demean;
  std::shared_ptr<const Basis<float>> bf;
  std::shared_ptr<const Basis<double>> bd;

  // Called with the GIL held (the Python face serializes first use).
  const Basis<float>& basis(float) {
    if (!bf) bf = get_basis<float>(T, freqs, fs, window, periodic);
    return *bf;
  }
  const Basis<double>& basis(double) {
    if (!bd) bd = get_basis<double>(T, freqs, fs, window, periodic);
    return *bd;
  }

  void check_T(long t, const char* name) const {
    if (t != T)
      throw py::value_error(std::string(name) + " has T = " + std::to_string(t) + ", the plan was made for T = " +
                            std::to_string(T));
  }

  // A signal [B, T] (checked by check_signal: dtype, rank, contiguity, finiteness); returns its dtype.
  DType signal(const py::array& x, const char* name, long& B) const {
    long t;
    const DType dt = check_signal(x, name, B, t);
    check_T(t, name);
    return dt;
  }

  DType pair(const py::array& s, const py::array& t, long& B) const {
    long Ts, Bt, Tt;
    const DType dt = check_signal(s, "student", B, Ts), dtt = check_signal(t, "teacher", Bt, Tt);
    if (dt != dtt) throw py::type_error("student and teacher must have the same dtype");
    if (B != Bt || Ts != Tt)
      throw py::value_error("student and teacher shapes differ: [" + std::to_string(B) + ", " + std::to_string(Ts) +
                            "] vs [" + std::to_string(Bt) + ", " + std::to_string(Tt) + "]");
    check_T(Ts, "student");
    return dt;
  }

  // ---- band_psd ----
  py::tuple band_psd_forward(const py::array& x, bool normalize) {
    long B;
    return with_dtype(signal(x, "x", B), [&](auto f) -> py::tuple {
      using F = decltype(f);
      const Basis<F>& bs = basis(F{});
      const long K = bs.K;
      Arr<F> out({B, K}), re({B, K}), im({B, K});
      {
        py::gil_scoped_release nogil;
        band_psd_fwd<F>(ptr<F>(x), B, bs, demean, normalize, static_cast<F>(eps), out.mutable_data(),
                        re.mutable_data(), im.mutable_data());
      }
      return py::make_tuple(out, re, im);
    });
  }

  py::array band_psd_backward(const py::handle& grad_out, const py::handle& out, const py::array& re,
                              const py::handle& im, bool normalize) {
    return with_dtype(dtype_of(re, "re"), [&](auto f) -> py::array {
      using F = decltype(f);
      const Basis<F>& bs = basis(F{});
      const long K = bs.K, B = re.ndim() == 2 ? re.shape(0) : -1;
      auto r = as_buffer<F>(re, "re", B, K), i = as_buffer<F>(im, "im", B, K);
      auto g = as_buffer<F>(grad_out, "grad_out", B, K), o = as_buffer<F>(out, "out", B, K);
      Arr<F> gx({B, static_cast<long>(T)});
      {
        py::gil_scoped_release nogil;
        band_psd_bwd<F>(g.data(), o.data(), r.data(), i.data(), B, bs, demean, normalize, static_cast<F>(eps),
                        gx.mutable_data());
      }
      return gx;
    });
  }

  // ---- psd_kl ----
  py::tuple psd_kl_forward(const py::array& s, const py::array& t) {
    long B;
    return with_dtype(pair(s, t, B), [&](auto f) -> py::tuple {
      using F = decltype(f);
      const Basis<F>& bs = basis(F{});
      const long K = bs.K;
      Arr<F> loss(B), ps({B, K}), pt({B, K}), rs({B, K}), is({B, K}), rt({B, K}), it({B, K});
      {
        py::gil_scoped_release nogil;
        psd_kl_fwd<F>(ptr<F>(s), ptr<F>(t), B, bs, demean, static_cast<F>(eps), loss.mutable_data(),
                      ps.mutable_data(), pt.mutable_data(), rs.mutable_data(), is.mutable_data(), rt.mutable_data(),
                      it.mutable_data());
      }
      return py::make_tuple(loss, ps, pt, rs, is, rt, it);
    });
  }

  py::tuple psd_kl_backward(const py::handle& grad_loss, const py::array& ps, const py::handle& pt,
                            const py::handle& rs, const py::handle& is, const py::handle& rt, const py::handle& it,
                            bool symmetric) {
    return with_dtype(dtype_of(ps, "ps"), [&](auto f) -> py::tuple {
      using F = decltype(f);
      const Basis<F>& bs = basis(F{});
      const long K = bs.K, B = ps.ndim() == 2 ? ps.shape(0) : -1;
      auto gl = as_buffer<F>(grad_loss, "grad_loss", B, -1);
      auto a = as_buffer<F>(ps, "ps", B, K), b = as_buffer<F>(pt, "pt", B, K);
      auto c = as_buffer<F>(rs, "re_s", B, K), d = as_buffer<F>(is, "im_s", B, K);
      auto e = as_buffer<F>(rt, "re_t", B, K), g = as_buffer<F>(it, "im_t", B, K);
      F *gs, *gt;
      py::object gs_obj = optional_out<F>(true, B, T, gs), gt_obj = optional_out<F>(symmetric, B, T, gt);
      {
        py::gil_scoped_release nogil;
        psd_kl_bwd<F>(gl.data(), a.data(), b.data(), c.data(), d.data(), e.data(), g.data(), B, bs, demean,
                      static_cast<F>(eps), gs, gt);
      }
      return py::make_tuple(gs_obj, gt_obj);
    });
  }

  // Loss and its gradients in one pass (the eager path): see the binding's docstring.
  py::tuple psd_kl_fused(const py::array& s, const py::array& t, bool need_s, bool need_t, double scale) {
    long B;
    return with_dtype(pair(s, t, B), [&](auto f) -> py::tuple {
      using F = decltype(f);
      const Basis<F>& bs = basis(F{});
      Arr<F> loss = scale != 0 ? Arr<F>(std::vector<py::ssize_t>{}) : Arr<F>(B);
      F *gs, *gt;
      py::object gs_obj = optional_out<F>(need_s, B, T, gs), gt_obj = optional_out<F>(need_t, B, T, gt);
      F* lp = loss.mutable_data();
      const F gscale = static_cast<F>(scale != 0 ? scale : 1.0);
      {
        py::gil_scoped_release nogil;
        if (scale != 0) {
          thread_local std::vector<F> rows;
          rows.resize(B);
          psd_kl_fused_fwd_grad<F>(ptr<F>(s), ptr<F>(t), B, bs, demean, static_cast<F>(eps), rows.data(), gscale,
                                   gs, gt);
          double acc = 0;
          for (long b = 0; b < B; ++b) acc += rows[b];
          *lp = static_cast<F>(acc * scale);
        } else {
          psd_kl_fused_fwd_grad<F>(ptr<F>(s), ptr<F>(t), B, bs, demean, static_cast<F>(eps), lp, gscale, gs, gt);
        }
      }
      return py::make_tuple(loss, gs_obj, gt_obj);
    });
  }

  // ---- rpm_components ----
  py::tuple rpm_components_forward(const py::array& s, const py::array& t) {
    long B;
    return with_dtype(pair(s, t, B), [&](auto f) -> py::tuple {
      using F = decltype(f);
      const Basis<F>& bs = basis(F{});
      const long K = bs.K;
      Arr<F> comps({B, 3L}), cen(B), ratio(B), rs({B, K}), is({B, K}), rt({B, K}), it({B, K});
      {
        py::gil_scoped_release nogil;
        rpm_fwd<F>(ptr<F>(s), ptr<F>(t), B, bs, demean, comps.mutable_data(), cen.mutable_data(),
                   ratio.mutable_data(), rs.mutable_data(), is.mutable_data(), rt.mutable_data(), it.mutable_data());
      }
      return py::make_tuple(comps, cen, ratio, rs, is, rt, it);
    });
  }

  py::array rpm_components_backward(const py::handle& grad_comps, const py::array& rs, const py::handle& is,
                                    const py::handle& rt, const py::handle& it) {
    return with_dtype(dtype_of(rs, "re_s"), [&](auto f) -> py::array {
      using F = decltype(f);
      const Basis<F>& bs = basis(F{});
      const long K = bs.K, B = rs.ndim() == 2 ? rs.shape(0) : -1;
      auto g = as_buffer<F>(grad_comps, "grad_comps", B, 3);
      auto a = as_buffer<F>(rs, "re_s", B, K), b = as_buffer<F>(is, "im_s", B, K);
      auto c = as_buffer<F>(rt, "re_t", B, K), d = as_buffer<F>(it, "im_t", B, K);
      Arr<F> gs({B, static_cast<long>(T)});
      {
        py::gil_scoped_release nogil;
        rpm_bwd<F>(g.data(), a.data(), b.data(), c.data(), d.data(), B, bs, demean, gs.mutable_data());
      }
      return gs;
    });
  }

  // ---- peak_frequency ----
  py::array peak_frequency_forward(const py::array& x) {
    long B;
    return with_dtype(signal(x, "x", B), [&](auto f) -> py::array {
      using F = decltype(f);
      const Basis<F>& bs = basis(F{});
      py::array_t<double> out(B);
      {
        py::gil_scoped_release nogil;
        peak_frequency_fwd<F>(ptr<F>(x), B, bs, freqs.data(), demean, out.mutable_data());
      }
      return out;
    });
  }
};

std::shared_ptr<Plan> make_plan(long T, const py::array& freqs, double fs, const std::string& window,
                                bool periodic, bool demean, double eps) {
  if (T < 1) throw py::value_error("T must be >= 1");
  auto p = std::make_shared<Plan>();
  p->T = static_cast<int>(T);
  p->freqs = check_freqs(freqs, fs);
  p->fs = fs;
  p->eps = eps;
  p->window = parse_window(window);
  p->periodic = periodic;
  p->demean = demean;
  return p;
}

}  // namespace

void bind_cpu(py::module_& m) {
  py::class_<Plan, std::shared_ptr<Plan>>(m, "Plan",
      R"(Options fixed once: (T, freqs [K] float64 Hz <= fs/2, fs, window 'hann'/'none', periodic, demean,
eps). Its methods take C-contiguous float32/float64 numpy arrays (signals [B, T], finite; B >= 1)
and return numpy arrays of the same dtype.)")
      .def(py::init(&make_plan), arg("T"), arg("freqs"), arg("fs"), arg("window") = "hann",
           arg("periodic") = true, arg("demean") = true, arg("eps") = 1e-8)
      .def_property_readonly("T", [](const Plan& p) { return p.T; })
      .def_property_readonly("K", [](const Plan& p) { return p.freqs.size(); })
      .def("band_psd_forward", &Plan::band_psd_forward, arg("x"), arg("normalize") = false,
           R"(Band power spectrum by direct DFT: x [B, T] -> (out [B, K], re [B, K], im [B, K]);
out = P = re^2 + im^2, or p = P / (sum_k P + eps) when normalize; re/im (windowed, demeaned DFT
parts) are saved for band_psd_backward.)")
      .def("band_psd_backward", &Plan::band_psd_backward, arg("grad_out"), arg("out"), arg("re"), arg("im"),
           arg("normalize") = false, "grad_out [B, K] and out/re/im from the forward -> grad_x [B, T].")
      .def("psd_kl_forward", &Plan::psd_kl_forward, arg("student"), arg("teacher"),
           R"(KL(p_teacher || p_student) of the normalized band PSDs per sample: student, teacher [B, T] ->
(loss [B], ps, pt, re_s, im_s, re_t, im_t [B, K]); loss_b = sum_k pt (log(pt + eps) - log(ps + eps)).)")
      .def("psd_kl_backward", &Plan::psd_kl_backward, arg("grad_loss"), arg("ps"), arg("pt"), arg("re_s"),
           arg("im_s"), arg("re_t"), arg("im_t"), arg("symmetric") = false,
           "grad_loss [B] and the saved [B, K] arrays -> (grad_student [B, T], grad_teacher [B, T] or None).")
      .def("psd_kl_fused", &Plan::psd_kl_fused, arg("student"), arg("teacher"), arg("need_student") = false,
           arg("need_teacher") = false, arg("scale") = 0.0,
           R"(Loss and its gradients in one pass -> (loss, grad_student, grad_teacher) ([B, T] or None).
scale != 0: loss = scale * sum_b loss_b (0-d, accumulated in double) and the gradients are of that
loss; scale == 0: loss [B] and row b of a gradient is d loss_b / d x_b.)")
      .def("rpm_components_forward", &Plan::rpm_components_forward, arg("student"), arg("teacher"),
           R"(RPM-Distill spectral components (docs/METHODS.md §1.3), teacher constant: -> (components [B, 3]
(peak, off, shape), teacher_centroid [B] (band bin index 0..K-1), peak_ratio [B], re_s, im_s, re_t,
im_t [B, K]).)")
      .def("rpm_components_backward", &Plan::rpm_components_backward, arg("grad_comps"), arg("re_s"),
           arg("im_s"), arg("re_t"), arg("im_t"), "grad_comps [B, 3] -> grad_student [B, T].")
      .def("peak_frequency_forward", &Plan::peak_frequency_forward, arg("x"),
           "Peak frequency (Hz) of the band power, parabolic interpolation: x [B, T] -> float64 [B].");
  m.def("get_num_threads", &get_num_threads, "CPU kernel threads (RPPG_NUM_THREADS or hardware).");
  m.def("set_num_threads", &set_num_threads, arg("n"), "Set CPU kernel threads; n <= 0 restores the default.");
  m.def("basis_cache_size", &basis_cache_size, "Number of cached cos/sin bases.");
  m.def("basis_cache_clear", &basis_cache_clear, "Drop all cached cos/sin bases.");
  m.def("simd", &simd_name, "CPU kernel variant in use: 'avx2+fma', 'neon' or 'generic'.");
}

}  // namespace rppg
