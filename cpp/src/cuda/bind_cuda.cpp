#include "rppg/bindings.hpp"

namespace rppg {
void bind_cuda(pybind11::module_& m) { (void)m; }
}  // namespace rppg
