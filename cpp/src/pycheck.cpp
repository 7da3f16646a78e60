#include "rppg/pycheck.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace rppg {
namespace {

template <class U>
bool all_finite_bits(const void* data, long n, U exp_mask) {
  const U* u = static_cast<const U*>(data);
  U bad = 0;  // exponent all ones <=> inf or nan; integer OR-reduction vectorizes
  for (long i = 0; i < n; ++i) bad |= static_cast<U>((u[i] & exp_mask) == exp_mask);
  return bad == 0;
}

}  // namespace

DType check_signal(const py::array& x, const char* name, long& B, long& T) {
  DType dt;
  if (x.dtype().is(py::dtype::of<float>())) dt = DType::F32;
  else if (x.dtype().is(py::dtype::of<double>())) dt = DType::F64;
  else
    throw py::type_error(std::string(name) + " must be float32 or float64, got dtype " +
                         py::str(x.dtype()).cast<std::string>());
  if (x.ndim() != 2)
    throw py::value_error(std::string(name) + " must be 2-D [B, T], got " + std::to_string(x.ndim()) +
                          "-D");
  if (!(x.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + " must be C-contiguous (use np.ascontiguousarray / .contiguous())");
  B = static_cast<long>(x.shape(0));
  T = static_cast<long>(x.shape(1));
  if (B < 1) throw py::value_error(std::string(name) + " has an empty batch (B = 0)");
  if (T < 1) throw py::value_error(std::string(name) + " has no samples (T = 0)");
  const bool ok = dt == DType::F32 ? all_finite_bits<uint32_t>(x.data(), B * T, 0x7f800000u)
                                   : all_finite_bits<uint64_t>(x.data(), B * T, 0x7ff0000000000000ull);
  if (!ok) throw py::value_error(std::string(name) + " contains NaN or inf");
  return dt;
}

std::vector<double> check_freqs(const py::array& freqs, double fs) {
  if (!(fs > 0) || !std::isfinite(fs)) throw py::value_error("fs must be a finite positive number");
  auto f = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(freqs);
  if (!f || f.ndim() != 1) throw py::value_error("freqs must be a 1-D array of frequencies in Hz");
  if (f.shape(0) < 1) throw py::value_error("empty band: no frequency in the grid");
  std::vector<double> v(f.data(), f.data() + f.shape(0));
  for (double x : v)
    if (!std::isfinite(x) || x < 0 || x > fs / 2 + 1e-9)
      throw py::value_error("freqs must be finite and within [0, fs/2], got " + std::to_string(x));
  return v;
}

Window parse_window(const std::string& window) {
  if (window == "hann") return Window::Hann;
  if (window == "none") return Window::None;
  throw py::value_error("window must be 'hann' or 'none', got '" + window + "'");
}

template <class F>
py::array_t<F, py::array::c_style | py::array::forcecast> as_buffer(const py::handle& a, const char* name,
                                                                    long rows, long cols) {
  auto arr = py::array_t<F, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!arr) throw py::type_error(std::string(name) + " must be an array");
  const bool ok = cols < 0 ? (arr.ndim() == 1 && arr.shape(0) == rows)
                           : (arr.ndim() == 2 && arr.shape(0) == rows && arr.shape(1) == cols);
  if (!ok)
    throw py::value_error(std::string(name) + " has shape mismatch: expected [" + std::to_string(rows) +
                          (cols < 0 ? "" : ", " + std::to_string(cols)) + "]");
  return arr;
}

template py::array_t<float, py::array::c_style | py::array::forcecast> as_buffer<float>(
    const py::handle&, const char*, long, long);
template py::array_t<double, py::array::c_style | py::array::forcecast> as_buffer<double>(
    const py::handle&, const char*, long, long);

}  // namespace rppg
