// avx512 versions of the ops in ops.h: the shared x86 source (x86/ops_x86-inl.h) compiled with this
// target's flags.
#include <algorithm>

#include "kernels/x86/ops_x86-inl.h"

namespace uma::kernels {

const ops_backend& avx512_ops() {
  static const ops_backend b = x_ops("avx512");
  return b;
}

}  // namespace uma::kernels
