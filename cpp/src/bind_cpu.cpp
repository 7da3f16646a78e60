#include "rppg/bindings.hpp"

namespace rppg {
void bind_cpu(pybind11::module_& m) { (void)m; }
}  // namespace rppg
