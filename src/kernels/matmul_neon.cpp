// The neon matmul backend (armv8.2-a dotprod): per-weight-type matvec (n == 1) and gemm (n > 1)
// tiles and the activation converters (arm/matmul_neon-inl.h), the converters bit-identical to the
// scalar ones. CMake compiles *_neon.cpp with
// -march=armv8.2-a+dotprod+fp16; the table is only reached through find_backend() after the
// cpu().neon_dotprod check. Everything except neon_backend() lives in an anonymous namespace so
// that no inline function compiled with these flags can be merged by the linker into code that
// runs on a CPU without them (for the same reason tensor/half.h is not used here).
#include "kernels/arm/matmul_neon-inl.h"

namespace uma::kernels {

const matmul_backend& neon_backend() {
  static const matmul_backend be = [] {
    matmul_backend b = scalar_backend();
    b.name = "neon";
    fill_table(b);
    return b;
  }();
  return be;
}

}  // namespace uma::kernels
