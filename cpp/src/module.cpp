// The rppg_distill._core extension: one module, framework-free, numpy in / numpy out on the CPU
// and raw device pointers + the caller's stream on CUDA.
#include <pybind11/pybind11.h>

#include "rppg/bindings.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "rppg_distill spectral core (band PSD, PSD-KL, RPM-Distill components, peak frequency)";

  m.def("build_info", [m]() {
    py::dict info;
    info["version"] = RPPG_VERSION;
    info["compiler"] = RPPG_CXX_COMPILER;
    info["cpu"] = true;
    info["simd"] = m.attr("simd")();
#ifdef RPPG_WITH_CUDA
    info["cuda"] = true;
    info["cuda_archs"] = RPPG_CUDA_ARCHS;
    info["cuda_version"] = RPPG_CUDA_VERSION;
#else
    info["cuda"] = false;
    info["cuda_archs"] = "";
    info["cuda_version"] = "";
#endif
    return info;
  });

  rppg::bind_cpu(m);
#ifdef RPPG_WITH_CUDA
  rppg::bind_cuda(m);
#endif
}
