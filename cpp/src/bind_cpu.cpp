// pybind11 CPU bindings: numpy in, numpy out. Each <op>_forward returns its outputs plus the
// intermediates its <op>_backward needs. The CUDA module mirrors these names and arguments.
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
std::shared_ptr<const Basis<F>> basis_for(long T, const py::array& freqs, double fs,
                                          const std::string& window, bool periodic,
                                          std::vector<double>* fv = nullptr) {
  const std::vector<double> f = check_freqs(freqs, fs);
  if (fv) *fv = f;
  return get_basis<F>(static_cast<int>(T), f, fs, parse_window(window), periodic);
}

template <class F>
const F* ptr(const py::array& a) { return static_cast<const F*>(a.data()); }

DType dtype_of(const py::array& a, const char* name) {
  if (a.dtype().is(py::dtype::of<float>())) return DType::F32;
  if (a.dtype().is(py::dtype::of<double>())) return DType::F64;
  throw py::type_error(std::string(name) + " must be float32 or float64");
}

void check_pair(const py::array& s, const py::array& t, long& B, long& T, DType& dt) {
  long Bt, Tt;
  dt = check_signal(s, "student", B, T);
  const DType dtt = check_signal(t, "teacher", Bt, Tt);
  if (dt != dtt) throw py::type_error("student and teacher must have the same dtype");
  if (B != Bt || T != Tt)
    throw py::value_error("student and teacher shapes differ: [" + std::to_string(B) + ", " +
                          std::to_string(T) + "] vs [" + std::to_string(Bt) + ", " + std::to_string(Tt) + "]");
}

// ---- band_psd ----
template <class F>
py::tuple band_psd_forward_t(const py::array& x, long B, long T, const py::array& freqs, double fs,
                             const std::string& window, bool periodic, bool demean, bool normalize,
                             double eps) {
  auto bs = basis_for<F>(T, freqs, fs, window, periodic);
  const long K = bs->K;
  Arr<F> out({B, K}), re({B, K}), im({B, K});
  {
    py::gil_scoped_release nogil;
    band_psd_fwd<F>(ptr<F>(x), B, *bs, demean, normalize, static_cast<F>(eps), out.mutable_data(),
                    re.mutable_data(), im.mutable_data());
  }
  return py::make_tuple(out, re, im);
}

py::tuple band_psd_forward(const py::array& x, const py::array& freqs, double fs,
                           const std::string& window, bool periodic, bool demean, bool normalize,
                           double eps) {
  long B, T;
  const DType dt = check_signal(x, "x", B, T);
  return dt == DType::F32 ? band_psd_forward_t<float>(x, B, T, freqs, fs, window, periodic, demean, normalize, eps)
                          : band_psd_forward_t<double>(x, B, T, freqs, fs, window, periodic, demean, normalize, eps);
}

template <class F>
py::array band_psd_backward_t(const py::handle& grad_out, const py::handle& out, const py::array& re,
                              const py::handle& im, long T, const py::array& freqs, double fs,
                              const std::string& window, bool periodic, bool demean, bool normalize,
                              double eps) {
  auto bs = basis_for<F>(T, freqs, fs, window, periodic);
  const long K = bs->K, B = re.ndim() == 2 ? re.shape(0) : -1;
  auto r = as_buffer<F>(re, "re", B, K), i = as_buffer<F>(im, "im", B, K);
  auto g = as_buffer<F>(grad_out, "grad_out", B, K), o = as_buffer<F>(out, "out", B, K);
  Arr<F> gx({B, T});
  {
    py::gil_scoped_release nogil;
    band_psd_bwd<F>(g.data(), o.data(), r.data(), i.data(), B, *bs, demean, normalize,
                    static_cast<F>(eps), gx.mutable_data());
  }
  return gx;
}

py::array band_psd_backward(const py::handle& grad_out, const py::handle& out, const py::array& re,
                            const py::handle& im, long T, const py::array& freqs, double fs,
                            const std::string& window, bool periodic, bool demean, bool normalize,
                            double eps) {
  return dtype_of(re, "re") == DType::F32
             ? band_psd_backward_t<float>(grad_out, out, re, im, T, freqs, fs, window, periodic, demean, normalize, eps)
             : band_psd_backward_t<double>(grad_out, out, re, im, T, freqs, fs, window, periodic, demean, normalize, eps);
}

// ---- psd_kl ----
template <class F>
py::tuple psd_kl_forward_t(const py::array& s, const py::array& t, long B, long T,
                           const py::array& freqs, double fs, const std::string& window, bool periodic,
                           bool demean, double eps) {
  auto bs = basis_for<F>(T, freqs, fs, window, periodic);
  const long K = bs->K;
  Arr<F> loss(B), ps({B, K}), pt({B, K}), rs({B, K}), is({B, K}), rt({B, K}), it({B, K});
  {
    py::gil_scoped_release nogil;
    psd_kl_fwd<F>(ptr<F>(s), ptr<F>(t), B, *bs, demean, static_cast<F>(eps), loss.mutable_data(),
                  ps.mutable_data(), pt.mutable_data(), rs.mutable_data(), is.mutable_data(),
                  rt.mutable_data(), it.mutable_data());
  }
  return py::make_tuple(loss, ps, pt, rs, is, rt, it);
}

py::tuple psd_kl_forward(const py::array& s, const py::array& t, const py::array& freqs, double fs,
                         const std::string& window, bool periodic, bool demean, double eps) {
  long B, T;
  DType dt;
  check_pair(s, t, B, T, dt);
  return dt == DType::F32 ? psd_kl_forward_t<float>(s, t, B, T, freqs, fs, window, periodic, demean, eps)
                          : psd_kl_forward_t<double>(s, t, B, T, freqs, fs, window, periodic, demean, eps);
}

template <class F>
py::tuple psd_kl_backward_t(const py::handle& grad_loss, const py::array& ps, const py::handle& pt,
                            const py::handle& rs, const py::handle& is, const py::handle& rt,
                            const py::handle& it, long T, const py::array& freqs, double fs,
                            const std::string& window, bool periodic, bool demean, double eps,
                            bool symmetric) {
  auto bs = basis_for<F>(T, freqs, fs, window, periodic);
  const long K = bs->K, B = ps.ndim() == 2 ? ps.shape(0) : -1;
  auto gl = as_buffer<F>(grad_loss, "grad_loss", B, -1);
  auto a = as_buffer<F>(ps, "ps", B, K), b = as_buffer<F>(pt, "pt", B, K);
  auto c = as_buffer<F>(rs, "re_s", B, K), d = as_buffer<F>(is, "im_s", B, K);
  auto e = as_buffer<F>(rt, "re_t", B, K), f = as_buffer<F>(it, "im_t", B, K);
  Arr<F> gs({B, T});
  py::object gt_obj = py::none();
  F* gt = nullptr;
  if (symmetric) {
    Arr<F> g2({B, T});
    gt = g2.mutable_data();
    gt_obj = g2;
  }
  {
    py::gil_scoped_release nogil;
    psd_kl_bwd<F>(gl.data(), a.data(), b.data(), c.data(), d.data(), e.data(), f.data(), B, *bs,
                  demean, static_cast<F>(eps), gs.mutable_data(), gt);
  }
  return py::make_tuple(gs, gt_obj);
}

py::tuple psd_kl_backward(const py::handle& grad_loss, const py::array& ps, const py::handle& pt,
                          const py::handle& rs, const py::handle& is, const py::handle& rt,
                          const py::handle& it, long T, const py::array& freqs, double fs,
                          const std::string& window, bool periodic, bool demean, double eps,
                          bool symmetric) {
  return dtype_of(ps, "ps") == DType::F32
             ? psd_kl_backward_t<float>(grad_loss, ps, pt, rs, is, rt, it, T, freqs, fs, window, periodic, demean, eps, symmetric)
             : psd_kl_backward_t<double>(grad_loss, ps, pt, rs, is, rt, it, T, freqs, fs, window, periodic, demean, eps, symmetric);
}

// ---- psd_kl, fused eager path ----
template <class F>
py::tuple psd_kl_fused_forward_t(const py::array& s, const py::array& t, long B, long T,
                                 const py::array& freqs, double fs, const std::string& window,
                                 bool periodic, bool demean, double eps, bool need_s, bool need_t) {
  auto bs = basis_for<F>(T, freqs, fs, window, periodic);
  const long K = bs->K;
  Arr<F> loss(B);
  py::object hs_obj = py::none(), ht_obj = py::none();
  F *hs = nullptr, *ht = nullptr;
  if (need_s) {
    Arr<F> a({B, 2 * K});
    hs = a.mutable_data();
    hs_obj = a;
  }
  if (need_t) {
    Arr<F> a({B, 2 * K});
    ht = a.mutable_data();
    ht_obj = a;
  }
  {
    py::gil_scoped_release nogil;
    psd_kl_fused_fwd<F>(ptr<F>(s), ptr<F>(t), B, *bs, demean, static_cast<F>(eps), loss.mutable_data(), hs, ht);
  }
  return py::make_tuple(loss, hs_obj, ht_obj);
}

py::tuple psd_kl_fused_forward(const py::array& s, const py::array& t, const py::array& freqs, double fs,
                               const std::string& window, bool periodic, bool demean, double eps,
                               bool need_s, bool need_t) {
  long B, T;
  DType dt;
  check_pair(s, t, B, T, dt);
  return dt == DType::F32
             ? psd_kl_fused_forward_t<float>(s, t, B, T, freqs, fs, window, periodic, demean, eps, need_s, need_t)
             : psd_kl_fused_forward_t<double>(s, t, B, T, freqs, fs, window, periodic, demean, eps, need_s, need_t);
}

template <class F>
py::array psd_kl_fused_backward_t(const py::array& h, const py::handle& grad, long T, const py::array& freqs,
                                  double fs, const std::string& window, bool periodic, bool demean) {
  auto bs = basis_for<F>(T, freqs, fs, window, periodic);
  const long K = bs->K, B = h.ndim() == 2 ? h.shape(0) : -1;
  auto hb = as_buffer<F>(h, "h", B, 2 * K);
  F scale = 0;
  Arr<F> gb;
  const F* g = nullptr;
  if (py::isinstance<py::float_>(grad) || py::isinstance<py::int_>(grad)) {
    scale = static_cast<F>(grad.cast<double>());
  } else {
    gb = as_buffer<F>(grad, "grad_loss", B, -1);
    g = gb.data();
  }
  Arr<F> gx({B, T});
  {
    py::gil_scoped_release nogil;
    psd_kl_fused_bwd<F>(g, scale, hb.data(), B, *bs, demean, gx.mutable_data());
  }
  return gx;
}

py::array psd_kl_fused_backward(const py::array& h, const py::handle& grad, long T, const py::array& freqs,
                                double fs, const std::string& window, bool periodic, bool demean) {
  return dtype_of(h, "h") == DType::F32
             ? psd_kl_fused_backward_t<float>(h, grad, T, freqs, fs, window, periodic, demean)
             : psd_kl_fused_backward_t<double>(h, grad, T, freqs, fs, window, periodic, demean);
}

// ---- rpm_components ----
template <class F>
py::tuple rpm_forward_t(const py::array& s, const py::array& t, long B, long T, const py::array& freqs,
                        double fs, const std::string& window, bool periodic, bool demean) {
  auto bs = basis_for<F>(T, freqs, fs, window, periodic);
  const long K = bs->K;
  Arr<F> comps({B, 3L}), cen(B), ratio(B), rs({B, K}), is({B, K}), rt({B, K}), it({B, K});
  {
    py::gil_scoped_release nogil;
    rpm_fwd<F>(ptr<F>(s), ptr<F>(t), B, *bs, demean, comps.mutable_data(), cen.mutable_data(),
               ratio.mutable_data(), rs.mutable_data(), is.mutable_data(), rt.mutable_data(),
               it.mutable_data());
  }
  return py::make_tuple(comps, cen, ratio, rs, is, rt, it);
}

py::tuple rpm_components_forward(const py::array& s, const py::array& t, const py::array& freqs,
                                 double fs, const std::string& window, bool periodic, bool demean) {
  long B, T;
  DType dt;
  check_pair(s, t, B, T, dt);
  return dt == DType::F32 ? rpm_forward_t<float>(s, t, B, T, freqs, fs, window, periodic, demean)
                          : rpm_forward_t<double>(s, t, B, T, freqs, fs, window, periodic, demean);
}

template <class F>
py::array rpm_backward_t(const py::handle& grad_comps, const py::array& rs, const py::handle& is,
                         const py::handle& rt, const py::handle& it, long T, const py::array& freqs,
                         double fs, const std::string& window, bool periodic, bool demean) {
  auto bs = basis_for<F>(T, freqs, fs, window, periodic);
  const long K = bs->K, B = rs.ndim() == 2 ? rs.shape(0) : -1;
  auto g = as_buffer<F>(grad_comps, "grad_comps", B, 3);
  auto a = as_buffer<F>(rs, "re_s", B, K), b = as_buffer<F>(is, "im_s", B, K);
  auto c = as_buffer<F>(rt, "re_t", B, K), d = as_buffer<F>(it, "im_t", B, K);
  Arr<F> gs({B, T});
  {
    py::gil_scoped_release nogil;
    rpm_bwd<F>(g.data(), a.data(), b.data(), c.data(), d.data(), B, *bs, demean, gs.mutable_data());
  }
  return gs;
}

py::array rpm_components_backward(const py::handle& grad_comps, const py::array& rs,
                                  const py::handle& is, const py::handle& rt, const py::handle& it,
                                  long T, const py::array& freqs, double fs,
                                  const std::string& window, bool periodic, bool demean) {
  return dtype_of(rs, "re_s") == DType::F32
             ? rpm_backward_t<float>(grad_comps, rs, is, rt, it, T, freqs, fs, window, periodic, demean)
             : rpm_backward_t<double>(grad_comps, rs, is, rt, it, T, freqs, fs, window, periodic, demean);
}

// ---- peak_frequency ----
template <class F>
py::array peak_t(const py::array& x, long B, long T, const py::array& freqs, double fs,
                 const std::string& window, bool periodic, bool demean) {
  std::vector<double> fv;
  auto bs = basis_for<F>(T, freqs, fs, window, periodic, &fv);
  py::array_t<double> out(B);
  {
    py::gil_scoped_release nogil;
    peak_frequency_fwd<F>(ptr<F>(x), B, *bs, fv.data(), demean, out.mutable_data());
  }
  return out;
}

py::array peak_frequency_forward(const py::array& x, const py::array& freqs, double fs,
                                 const std::string& window, bool periodic, bool demean) {
  long B, T;
  const DType dt = check_signal(x, "x", B, T);
  return dt == DType::F32 ? peak_t<float>(x, B, T, freqs, fs, window, periodic, demean)
                          : peak_t<double>(x, B, T, freqs, fs, window, periodic, demean);
}


// ---- precomputed handles (eager fast path) ----
// A Spec fixes (T, freqs, fs, window, periodic, demean, eps) once: its bases are looked up on first
// use per dtype and kept, so a call through it skips the frequency checks, the cache key and mutex.
// The Python side caches one Spec per tuple of options.
struct Spec {
  int T;
  std::vector<double> freqs;
  double fs, eps;
  Window window;
  bool periodic, demean;
  std::shared_ptr<const Basis<float>> bf;
  std::shared_ptr<const Basis<double>> bd;

  const Basis<float>& basis(float*) {
    if (!bf) bf = get_basis<float>(T, freqs, fs, window, periodic);
    return *bf;
  }
  const Basis<double>& basis(double*) {
    if (!bd) bd = get_basis<double>(T, freqs, fs, window, periodic);
    return *bd;
  }
};

std::shared_ptr<Spec> make_spec(long T, const py::array& freqs, double fs, const std::string& window,
                                bool periodic, bool demean, double eps) {
  if (T < 1) throw py::value_error("T must be >= 1");
  auto sp = std::make_shared<Spec>();
  sp->T = static_cast<int>(T);
  sp->freqs = check_freqs(freqs, fs);
  sp->fs = fs;
  sp->eps = eps;
  sp->window = parse_window(window);
  sp->periodic = periodic;
  sp->demean = demean;
  return sp;
}

// Signal check for a handle call: shape [B, spec.T], finite (check_signal).
DType check_for(const Spec& sp, const py::array& x, const char* name, long& B) {
  long T;
  const DType dt = check_signal(x, name, B, T);
  if (T != sp.T)
    throw py::value_error(std::string(name) + " has T = " + std::to_string(T) + ", the spec was made for T = " +
                          std::to_string(sp.T));
  return dt;
}

template <class F>
py::tuple kl_fwd_h_t(Spec& sp, const py::array& s, const py::array& t, long B, bool need_s, bool need_t,
                     double scale) {
  const Basis<F>& bs = sp.basis(static_cast<F*>(nullptr));
  const long Kp = bs.Kp;  // h rows padded to 2 Kp: the backward GEMM reads them in place
  Arr<F> loss = scale != 0 ? Arr<F>(std::vector<py::ssize_t>{}) : Arr<F>(B);
  py::object hs_obj = py::none(), ht_obj = py::none();
  F *hs = nullptr, *ht = nullptr;
  if (need_s) {
    Arr<F> a({B, 2 * Kp});
    hs = a.mutable_data();
    hs_obj = a;
  }
  if (need_t) {
    Arr<F> a({B, 2 * Kp});
    ht = a.mutable_data();
    ht_obj = a;
  }
  F* lp = loss.mutable_data();
  {
    py::gil_scoped_release nogil;
    if (scale != 0) {
      std::vector<F> rows(B);
      psd_kl_fused_fwd<F>(ptr<F>(s), ptr<F>(t), B, bs, sp.demean, static_cast<F>(sp.eps), rows.data(), hs, ht, static_cast<int>(Kp));
      double acc = 0;
      for (long b = 0; b < B; ++b) acc += rows[b];
      *lp = static_cast<F>(acc * scale);
    } else {
      psd_kl_fused_fwd<F>(ptr<F>(s), ptr<F>(t), B, bs, sp.demean, static_cast<F>(sp.eps), lp, hs, ht, static_cast<int>(Kp));
    }
  }
  return py::make_tuple(loss, hs_obj, ht_obj);
}

py::tuple kl_fwd_h(Spec& sp, const py::array& s, const py::array& t, bool need_s, bool need_t, double scale) {
  long B, Bt;
  const DType dt = check_for(sp, s, "student", B), dtt = check_for(sp, t, "teacher", Bt);
  if (dt != dtt) throw py::type_error("student and teacher must have the same dtype");
  if (B != Bt) throw py::value_error("student and teacher shapes differ");
  return dt == DType::F32 ? kl_fwd_h_t<float>(sp, s, t, B, need_s, need_t, scale)
                          : kl_fwd_h_t<double>(sp, s, t, B, need_s, need_t, scale);
}

template <class F>
py::tuple kl_fwd_grad_h_t(Spec& sp, const py::array& s, const py::array& t, long B, bool need_s, bool need_t,
                          double scale) {
  const Basis<F>& bs = sp.basis(static_cast<F*>(nullptr));
  const long T = bs.T;
  Arr<F> loss = scale != 0 ? Arr<F>(std::vector<py::ssize_t>{}) : Arr<F>(B);
  py::object gs_obj = py::none(), gt_obj = py::none();
  F *gs = nullptr, *gt = nullptr;
  if (need_s) {
    Arr<F> a({B, T});
    gs = a.mutable_data();
    gs_obj = a;
  }
  if (need_t) {
    Arr<F> a({B, T});
    gt = a.mutable_data();
    gt_obj = a;
  }
  F* lp = loss.mutable_data();
  const F gscale = static_cast<F>(scale != 0 ? scale : 1.0);
  {
    py::gil_scoped_release nogil;
    if (scale != 0) {
      thread_local std::vector<F> rows;
      rows.resize(B);
      psd_kl_fused_fwd_grad<F>(ptr<F>(s), ptr<F>(t), B, bs, sp.demean, static_cast<F>(sp.eps), rows.data(), gscale,
                               gs, gt);
      double acc = 0;
      for (long b = 0; b < B; ++b) acc += rows[b];
      *lp = static_cast<F>(acc * scale);
    } else {
      psd_kl_fused_fwd_grad<F>(ptr<F>(s), ptr<F>(t), B, bs, sp.demean, static_cast<F>(sp.eps), lp, gscale, gs, gt);
    }
  }
  return py::make_tuple(loss, gs_obj, gt_obj);
}

py::tuple kl_fwd_grad_h(Spec& sp, const py::array& s, const py::array& t, bool need_s, bool need_t, double scale) {
  long B, Bt;
  const DType dt = check_for(sp, s, "student", B), dtt = check_for(sp, t, "teacher", Bt);
  if (dt != dtt) throw py::type_error("student and teacher must have the same dtype");
  if (B != Bt) throw py::value_error("student and teacher shapes differ");
  return dt == DType::F32 ? kl_fwd_grad_h_t<float>(sp, s, t, B, need_s, need_t, scale)
                          : kl_fwd_grad_h_t<double>(sp, s, t, B, need_s, need_t, scale);
}

}  // namespace

void bind_cpu(py::module_& m) {
  py::class_<Spec, std::shared_ptr<Spec>>(m, "Spec",
      "Precomputed options (T, freqs, fs, window, periodic, demean, eps) for the *_h fast-path calls.")
      .def(py::init(&make_spec), arg("T"), arg("freqs"), arg("fs"), arg("window") = "hann",
           arg("periodic") = true, arg("demean") = true, arg("eps") = 1e-8)
      .def_property_readonly("T", [](const Spec& s) { return s.T; })
      .def_property_readonly("K", [](const Spec& s) { return s.freqs.size(); });
  m.def("psd_kl_fused_forward_h", &kl_fwd_h, arg("spec"), arg("student"), arg("teacher"),
        arg("need_student") = true, arg("need_teacher") = false, arg("scale") = 0.0,
        R"(psd_kl_fused_forward through a Spec. scale != 0: loss is the 0-d scale * sum_b loss_b
(accumulated in double), else loss [B]. Returns (loss, h_student, h_teacher).)");
  m.def("psd_kl_fused_forward_grad_h", &kl_fwd_grad_h, arg("spec"), arg("student"), arg("teacher"),
        arg("need_student") = true, arg("need_teacher") = false, arg("scale") = 0.0,
        R"(Loss and its gradients in one pass. Returns (loss, grad_student, grad_teacher) [B, T] (or None):
scale != 0: loss = scale * sum_b loss_b (0-d) and the gradients are of that loss; scale == 0: loss [B]
and row b of a gradient is d loss_b / d x_b.)");
  m.def("band_psd_forward", &band_psd_forward, arg("x"), arg("freqs"), arg("fs"), arg("window") = "hann",
        arg("periodic") = true, arg("demean") = true, arg("normalize") = false, arg("eps") = 1e-8,
        R"(Band power spectrum by direct DFT.

x [B, T] float32/float64 C-contiguous, finite; freqs [K] float64 (Hz, <= fs/2).
Returns (out [B, K], re [B, K], im [B, K]): out = P = re^2 + im^2, or p = P / (sum_k P + eps)
when normalize; re/im are the windowed (demeaned) DFT parts, saved for band_psd_backward.)");
  m.def("band_psd_backward", &band_psd_backward, arg("grad_out"), arg("out"), arg("re"), arg("im"),
        arg("T"), arg("freqs"), arg("fs"), arg("window") = "hann", arg("periodic") = true,
        arg("demean") = true, arg("normalize") = false, arg("eps") = 1e-8,
        R"(Gradient of band_psd_forward: grad_out [B, K], out/re/im [B, K] from the forward -> grad_x [B, T].)");
  m.def("psd_kl_forward", &psd_kl_forward, arg("student"), arg("teacher"), arg("freqs"), arg("fs"),
        arg("window") = "hann", arg("periodic") = true, arg("demean") = true, arg("eps") = 1e-8,
        R"(Fused normalized PSDs and KL(p_teacher || p_student) per sample.

student, teacher [B, T] (same dtype and shape); freqs [K] float64.
Returns (loss [B], ps [B, K], pt [B, K], re_s, im_s, re_t, im_t [B, K]);
loss_b = sum_k pt (log(pt + eps) - log(ps + eps)).)");
  m.def("psd_kl_backward", &psd_kl_backward, arg("grad_loss"), arg("ps"), arg("pt"), arg("re_s"),
        arg("im_s"), arg("re_t"), arg("im_t"), arg("T"), arg("freqs"), arg("fs"), arg("window") = "hann",
        arg("periodic") = true, arg("demean") = true, arg("eps") = 1e-8, arg("symmetric") = false,
        R"(Gradient of psd_kl_forward: grad_loss [B] and the saved [B, K] arrays ->
(grad_student [B, T], grad_teacher [B, T] if symmetric else None).)");
  m.def("psd_kl_fused_forward", &psd_kl_fused_forward, arg("student"), arg("teacher"), arg("freqs"),
        arg("fs"), arg("window") = "hann", arg("periodic") = true, arg("demean") = true, arg("eps") = 1e-8,
        arg("need_student") = true, arg("need_teacher") = false,
        R"(psd_kl forward for the eager path: returns (loss [B], h_student, h_teacher), h [B, 2K] =
d loss_b / d (re', im') in the folded DFT frame (None unless needed), the only saved state of
psd_kl_fused_backward.)");
  m.def("psd_kl_fused_backward", &psd_kl_fused_backward, arg("h"), arg("grad_loss"), arg("T"),
        arg("freqs"), arg("fs"), arg("window") = "hann", arg("periodic") = true, arg("demean") = true,
        R"(grad_loss (float: the same for every row, or [B]) and h from psd_kl_fused_forward -> grad [B, T].)");
  m.def("rpm_components_forward", &rpm_components_forward, arg("student"), arg("teacher"),
        arg("freqs"), arg("fs"), arg("window") = "hann", arg("periodic") = true, arg("demean") = true,
        R"(RPM-Distill spectral components (docs/METHODS.md §1.3), teacher constant.

student, teacher [B, T]; freqs [K] float64. Returns (components [B, 3] (peak, off, shape),
teacher_centroid [B] (band bin index, 0..K-1), peak_ratio [B] (teacher sum P w / sum P),
re_s, im_s, re_t, im_t [B, K]).)");
  m.def("rpm_components_backward", &rpm_components_backward, arg("grad_comps"), arg("re_s"),
        arg("im_s"), arg("re_t"), arg("im_t"), arg("T"), arg("freqs"), arg("fs"),
        arg("window") = "hann", arg("periodic") = true, arg("demean") = true,
        R"(Gradient of rpm_components_forward wrt the student: grad_comps [B, 3] -> grad_student [B, T].)");
  m.def("peak_frequency_forward", &peak_frequency_forward, arg("x"), arg("freqs"), arg("fs"),
        arg("window") = "hann", arg("periodic") = true, arg("demean") = true,
        R"(Peak frequency (Hz) of the band power over the grid freqs [K], parabolic interpolation.
x [B, T] -> float64 [B]. Forward only.)");
  m.def("get_num_threads", &get_num_threads, "CPU kernel threads (RPPG_NUM_THREADS or hardware).");
  m.def("set_num_threads", &set_num_threads, arg("n"), "Set CPU kernel threads; n <= 0 restores the default.");
  m.def("basis_cache_size", &basis_cache_size, "Number of cached cos/sin bases.");
  m.def("basis_cache_clear", &basis_cache_clear, "Drop all cached cos/sin bases.");
  m.def("simd", &simd_name, "CPU kernel variant in use: 'avx2+fma' or 'generic'.");
}

}  // namespace rppg
