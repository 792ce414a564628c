// The matmul backends' selection for this CPU (find_backend, best_backend: UMA_BACKEND or the
// widest the CPU has) and the activation formats each weight type takes (act_format_for, with its
// block and row sizes).
#include <cstdlib>
#include <string_view>

#include "kernels/backend.h"
#include "tensor/blocks.h"
#include "util/cpu_features.h"

namespace uma::kernels {

act_format act_format_for(dtype w) {
  switch (w) {
    case dtype::f16:
      return act_format::f16;
    case dtype::bf16:
      return act_format::bf16;
    case dtype::q8_0:
    case dtype::q4_0:
    case dtype::q5_0:
      return act_format::q8_0;
    case dtype::q4_1:
    case dtype::q5_1:
      return act_format::q8_1;
    case dtype::q2_k:
    case dtype::q3_k:
    case dtype::q4_k:
    case dtype::q5_k:
    case dtype::q6_k:
      return act_format::q8_k;
    default:
      return act_format::f32;
  }
}

int64_t act_block_elems(act_format f) {
  switch (f) {
    case act_format::q8_0:
    case act_format::q8_1:
      return qk32;
    case act_format::q8_k:
      return qk_k;
    default:
      return 1;
  }
}

size_t act_row_bytes(act_format f, int64_t cols) {
  const auto c = static_cast<size_t>(cols);
  switch (f) {
    case act_format::f32:
      return c * 4;
    case act_format::f16:
    case act_format::bf16:
      return c * 2;
    case act_format::q8_0:
      return c / qk32 * sizeof(block_q8_0);
    case act_format::q8_1:
      return c / qk32 * sizeof(block_q8_1);
    case act_format::q8_k:
      return c / qk_k * sizeof(block_q8_k);
  }
  return 0;
}

const matmul_backend* find_backend(backend_id id) {
  const auto& f = cpu();
  switch (id) {
    case backend_id::scalar:
      return &scalar_backend();
#if defined(__x86_64__)
    case backend_id::avx2:
      return f.avx2 ? &avx2_backend() : nullptr;
    case backend_id::avx2_vnni:
      return f.avx_vnni ? &avx2_vnni_backend() : nullptr;
    case backend_id::avx512:
      return f.avx512_vnni ? &avx512_backend() : nullptr;
    case backend_id::amx:
      return f.avx512_vnni && f.amx_int8 && amx_usable() ? &amx_backend() : nullptr;
    case backend_id::amx_emulated:
      return f.avx512_vnni && f.avx512_bf16 ? &amx_emulated_backend() : nullptr;
#endif
#if defined(__aarch64__)
    case backend_id::neon:
      return f.neon_dotprod ? &neon_backend() : nullptr;
    case backend_id::neon_i8mm:
      return f.neon_dotprod && f.neon_i8mm ? &neon_i8mm_backend() : nullptr;
    case backend_id::neon_sme:
      return f.neon_dotprod && f.neon_i8mm && f.sme ? &neon_sme_backend() : nullptr;
#endif
    default:
      return nullptr;
  }
}

const matmul_backend& best_backend() {
  static const matmul_backend* best = [] {
    const char* env = std::getenv("UMA_BACKEND");
    if (env != nullptr) {
      const std::string_view want(env);
      for (int i = 0; i < backend_count; ++i) {
        const auto* b = find_backend(static_cast<backend_id>(i));
        if (b != nullptr && want == b->name) return b;
      }
    }
    for (const backend_id id :
         {backend_id::amx, backend_id::avx512, backend_id::avx2_vnni, backend_id::avx2,
          backend_id::neon_sme, backend_id::neon_i8mm, backend_id::neon})
      if (const auto* b = find_backend(id)) return b;
    return &scalar_backend();
  }();
  return *best;
}

}  // namespace uma::kernels
