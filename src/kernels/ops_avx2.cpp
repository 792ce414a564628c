// avx2 versions of the ops in ops.h.
#include "kernels/ops_backend.h"

namespace uma::kernels {

const ops_backend& avx2_ops() {
  static const ops_backend b = [] {
    ops_backend o;
    o.name = "avx2";
    return o;
  }();
  return b;
}

}  // namespace uma::kernels
