// Registration hooks: each binding unit adds its functions to the _core module.
#pragma once
#include <pybind11/pybind11.h>

namespace rppg {
void bind_cpu(pybind11::module_& m);   // cpp/src/bind_cpu.cpp
#ifdef RPPG_WITH_CUDA
void bind_cuda(pybind11::module_& m);  // cpp/src/cuda/bind_cuda.cpp
#endif
}  // namespace rppg
