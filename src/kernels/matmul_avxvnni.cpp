// avx2-vnni matmul kernels: the shared x86 kernel source (x86/matmul_x86-inl.h) compiled with the
// AVX2 backend's flags plus AVX-VNNI, whose VEX vpdpbusd / vpdpwssd replace the AVX2 kernels'
// vpmaddubsw + vpmaddwd + vpaddd (UMA_AVXVNNI). Only reached through find_backend(), after the
// CPU check.
#include <algorithm>
#include <cmath>
#include <type_traits>

#define UMA_VNNI 0
#define UMA_AVXVNNI 1
#include "kernels/x86/matmul_x86-inl.h"

namespace uma::kernels {

const matmul_backend& avx2_vnni_backend() {
  static const matmul_backend be = [] {
    matmul_backend b = scalar_backend();
    b.name = "avx2-vnni";
    fill_table(b);
    return b;
  }();
  return be;
}

}  // namespace uma::kernels
