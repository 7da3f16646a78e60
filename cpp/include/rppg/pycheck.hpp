// Argument checks for the CPU bindings: every bad input becomes a Python ValueError/TypeError.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "rppg/basis.hpp"

namespace rppg {
namespace py = pybind11;

enum class DType { F32, F64 };

// x must be a C-contiguous 2-D float32/float64 array of finite values; returns its dtype, fills B, T.
DType check_signal(const py::array& x, const char* name, long& B, long& T);
// freqs: 1-D float64, non-empty, finite, >= 0 and <= fs / 2.
std::vector<double> check_freqs(const py::array& freqs, double fs);
Window parse_window(const std::string& window);
// A saved intermediate or gradient: `rows` x `cols` (cols < 0: 1-D of length rows), forced to F.
template <class F>
py::array_t<F, py::array::c_style | py::array::forcecast> as_buffer(const py::handle& a, const char* name,
                                                                    long rows, long cols);

}  // namespace rppg
