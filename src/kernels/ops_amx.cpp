// The amx ops backend: the AVX-512 ops (x86/ops_x86-inl.h) with BF16 prompt attention on AMX
// tiles (x86/attn_amx-inl.h) for an F16 cache; every other call as the avx512 backend. With
// UMA_AMX_EMULATE (ops_amx_emulated_avx512.cpp) the tile instructions are amx_tiles-inl.h's
// scalar model, so the tile path runs and is tested on CPUs without AMX (`amx-emulated`).
#include <algorithm>

#include "kernels/x86/ops_x86-inl.h"
//
#include "kernels/x86/amx_tiles-inl.h"
//
#include "kernels/x86/attn_amx-inl.h"

namespace {

void amx_attn_block(const uma::kernels::attn_block_args& a) {
  if (a.bf16 && a.kv == uma::kernels::kv_format::f16 && uma::kernels::attn_bf16_call(a) &&
      a.nk <= 64 && a.d % 32 == 0 && a.dv % 16 == 0) {
    int64_t khi = 0;
    for (int64_t i = 0; i < a.m; ++i)  // rows with an empty range read nothing
      if (a.hi[i] > a.lo[i]) khi = std::max<int64_t>(khi, a.hi[i]);
    if (khi > 0) {
      prefetch_next_block<vec16>(a);
      amx_attention<vec16>(a, khi, spread_prefetch(a));
      return;
    }
  }
  x_attn_block(a);
}

uma::kernels::ops_backend amx_table(const char* name) {
  uma::kernels::ops_backend o = x_ops(name);
  o.attn_block = amx_attn_block;
  o.attn_bf16 = true;  // chosen only where the CPU has AVX512_BF16 (and, for amx, AMX-BF16)
  return o;
}

}  // namespace

namespace uma::kernels {

#if defined(UMA_AMX_EMULATE)
const ops_backend& amx_emulated_ops() {
  static const ops_backend b = amx_table("amx-emulated");
  return b;
}
#else
const ops_backend& amx_ops() {
  static const ops_backend b = amx_table("amx");
  return b;
}
#endif

}  // namespace uma::kernels
