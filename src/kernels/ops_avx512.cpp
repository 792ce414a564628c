// avx512 versions of the ops in ops.h.
#include "kernels/ops_backend.h"

namespace uma::kernels {

const ops_backend& avx512_ops() {
  static const ops_backend b = [] {
    ops_backend o;
    o.name = "avx512";
    return o;
  }();
  return b;
}

}  // namespace uma::kernels
