// Device queries and stream synchronization.
#include "spectral_internal.cuh"

namespace rppg {
namespace cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

void require_device(int device) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    throw std::runtime_error(std::string("no CUDA device: ") + cudaGetErrorString(err));
  }
  if (n == 0) throw std::runtime_error("no CUDA device");
  if (device < 0 || device >= n)
    throw std::runtime_error("CUDA device " + std::to_string(device) + " does not exist (" +
                             std::to_string(n) + " present)");
}

std::string describe_device(int device) {
  require_device(device);
  cudaDeviceProp p{};
  RPPG_CHECK(cudaGetDeviceProperties(&p, device));
  return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
         std::to_string(p.multiProcessorCount) + " SMs)";
}

void synchronize(int device, std::uintptr_t stream) {
  DeviceGuard guard(device);
  RPPG_CHECK(cudaStreamSynchronize(as_stream(stream)));
}

}  // namespace cuda
}  // namespace rppg
