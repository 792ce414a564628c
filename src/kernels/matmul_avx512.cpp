// avx512-vnni matmul kernels: the shared x86 kernel source (x86/matmul_x86-inl.h) compiled with
// this target's flags. Only reached through find_backend(), after the CPU check.
#include <algorithm>
#include <cmath>
#include <type_traits>

#define UMA_VNNI 1
#include "kernels/x86/matmul_x86-inl.h"

namespace uma::kernels {

const matmul_backend& avx512_backend() {
  static const matmul_backend be = [] {
    matmul_backend b = scalar_backend();
    b.name = "avx512-vnni";
    fill_table(b);
    return b;
  }();
  return be;
}

}  // namespace uma::kernels
