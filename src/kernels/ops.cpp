// Dispatch of the ops in ops.h to the best backend for this CPU (see ops_backend.h).
#include "kernels/ops.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "kernels/ops_backend.h"
#include "tensor/blocks.h"
#include "tensor/half.h"
#include "tensor/quant.h"
#include "util/cpu_features.h"

namespace uma::kernels {

const ops_backend& scalar_ops() {
  static const ops_backend b = [] {
    ops_backend o;
    o.name = "scalar";
    o.rms_norm = ref::rms_norm;
    o.rope_with = ref::rope_with;
    o.softmax = ref::softmax;
    o.silu_mul = ref::silu_mul;
    o.gelu_mul = ref::gelu_mul;
    o.softcap = ref::softcap;
    o.dot_f32 = ref::dot_f32;
    o.dot_f16 = ref::dot_f16;
    o.axpy_f16 = ref::axpy_f16;
    o.add = ref::add;
    o.f32_to_f16_row = ref::f32_to_f16_row;
    o.f16_to_f32_row = ref::f16_to_f32_row;
    o.attn_block = ref::attn_block;
    o.attn_bf16 = true;
    return o;
  }();
  return b;
}

namespace {
ops_backend filled(ops_backend o) {
  const ops_backend& s = scalar_ops();
  if (!o.rms_norm) o.rms_norm = s.rms_norm;
  if (!o.rope_with) o.rope_with = s.rope_with;
  if (!o.softmax) o.softmax = s.softmax;
  if (!o.silu_mul) o.silu_mul = s.silu_mul;
  if (!o.gelu_mul) o.gelu_mul = s.gelu_mul;
  if (!o.softcap) o.softcap = s.softcap;
  if (!o.dot_f32) o.dot_f32 = s.dot_f32;
  if (!o.dot_f16) o.dot_f16 = s.dot_f16;
  if (!o.axpy_f16) o.axpy_f16 = s.axpy_f16;
  if (!o.add) o.add = s.add;
  if (!o.f32_to_f16_row) o.f32_to_f16_row = s.f32_to_f16_row;
  if (!o.f16_to_f32_row) o.f16_to_f32_row = s.f16_to_f32_row;
  if (!o.attn_block) o.attn_block = s.attn_block;
  return o;
}
}  // namespace

const ops_backend* find_ops(backend_id id) {
  const auto& f = cpu();
  switch (id) {
    case backend_id::scalar:
      return &scalar_ops();
#if defined(__x86_64__)
    case backend_id::avx2:
      if (!f.avx2) return nullptr;
      {
        static const ops_backend b = filled(avx2_ops());
        return &b;
      }
    case backend_id::avx512:
      if (!f.avx512) return nullptr;
      {
        static const ops_backend b = filled(avx512_ops());
        return &b;
      }
    case backend_id::amx:  // AVX-512's ops, prompt attention's BF16 products on the tiles
      if (!f.amx_int8) return nullptr;
      if (f.amx_bf16 && f.avx512_bf16 && amx_usable()) {
        static const ops_backend b = filled(amx_ops());
        return &b;
      }
      return find_ops(backend_id::avx512);
    case backend_id::amx_emulated:
      if (!f.avx512_bf16) return nullptr;
      {
        static const ops_backend b = filled(amx_emulated_ops());
        return &b;
      }
#endif
#if defined(__aarch64__)
    case backend_id::neon: {
      if (!f.neon_dotprod) return nullptr;  // compiled for armv8.2-a+dotprod+fp16
      static const ops_backend b = filled(neon_ops());
      return &b;
    }
    case backend_id::neon_i8mm:  // the neon ops (smmla and SME are only in the matmul kernels)
      return f.neon_i8mm ? find_ops(backend_id::neon) : nullptr;
    case backend_id::neon_sme:
      return f.neon_i8mm && f.sme ? find_ops(backend_id::neon) : nullptr;
#endif
    default:
      return nullptr;
  }
}

const ops_backend& best_ops() {
  static const ops_backend* best = [] {
    const char* env = std::getenv("UMA_BACKEND");
    for (int i = backend_count - 1; i >= 0; --i) {
      // The emulated tiles only where asked for (slow by design).
      if (i == static_cast<int>(backend_id::amx_emulated) &&
          (env == nullptr || std::string_view(env) != "amx-emulated"))
        continue;
      const auto* b = find_ops(static_cast<backend_id>(i));
      if (b == nullptr) continue;
      if (env == nullptr || std::string_view(env).starts_with(b->name) ||
          (std::string_view(env) == "amx" && i == static_cast<int>(backend_id::amx)) ||
          (std::string_view(env) == "amx-emulated" &&
           i == static_cast<int>(backend_id::amx_emulated)))
        return b;
    }
    return &scalar_ops();
  }();
  return *best;
}

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  best_ops().rms_norm(x, w, n, eps, y);
}
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const rope_params& p) {
  thread_local std::vector<float> cs;
  cs.resize(static_cast<size_t>(p.n_rot));
  ref::rope_angles(pos, p, cs.data(), cs.data() + p.n_rot / 2);
  best_ops().rope_with(x, n_heads, head_dim, cs.data(), cs.data() + p.n_rot / 2, p);
}

void rope_angles(int64_t pos, const rope_params& p, float* cos, float* sin) {
  ref::rope_angles(pos, p, cos, sin);
}

void rope_with(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin,
               const rope_params& p) {
  best_ops().rope_with(x, n_heads, head_dim, cos, sin, p);
}
void softmax(float* x, int64_t n) {
  best_ops().softmax(x, n);
}
void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  best_ops().silu_mul(gate, up, out, n);
}
void gelu_mul(const float* gate, const float* up, float* out, int64_t n) {
  best_ops().gelu_mul(gate, up, out, n);
}
void softcap(float* x, int64_t n, float cap) {
  best_ops().softcap(x, n, cap);
}
float dot_f32(const float* a, const float* b, int64_t n) {
  return best_ops().dot_f32(a, b, n);
}
float dot_f16(const float* a, const uint16_t* b, int64_t n) {
  return best_ops().dot_f16(a, b, n);
}
void axpy_f16(float s, const uint16_t* x, float* y, int64_t n) {
  best_ops().axpy_f16(s, x, y, n);
}
void attn_block(const attn_block_args& a) {
  best_ops().attn_block(a);
}
const char* kv_format_name(kv_format f) {
  return f == kv_format::q8_0 ? "q8_0" : "f16";
}
bool parse_kv_format(std::string_view name, kv_format* out) {
  if (name == "f16") return *out = kv_format::f16, true;
  if (name == "q8_0") return *out = kv_format::q8_0, true;
  return false;
}
void f32_to_kv_row(kv_format f, const float* x, void* dst, int64_t n) {
  if (f == kv_format::f16) {
    best_ops().f32_to_f16_row(x, static_cast<uint16_t*>(dst), n);
    return;
  }
  // The matmul backend's Q8_0 activation converter: ggml's bytes (tested against the scalar one).
  static const act_convert_fn to_q8_0 = [] {
    const auto i = static_cast<size_t>(act_format::q8_0);
    const act_convert_fn f = best_backend().convert[i];
    return f != nullptr ? f : scalar_backend().convert[i];
  }();
  to_q8_0(x, dst, n);
}
void kv_row_to_f32(kv_format f, const void* src, float* y, int64_t n) {
  if (f == kv_format::f16)
    best_ops().f16_to_f32_row(static_cast<const uint16_t*>(src), y, n);
  else
    dequantize_row_q8_0(src, y, n);  // ggml's q * d
}

void f32_to_kv_key(kv_format f, const float* x, int64_t n, void* tile, int64_t slot) {
  auto* t = static_cast<uint8_t*>(tile);
  if (f == kv_format::f16) {
    uint16_t h[64];
    for (int64_t e0 = 0; e0 < n; e0 += 64) {
      const int64_t len = std::min<int64_t>(64, n - e0);
      f32_to_kv_row(f, x + e0, h, len);
      for (int64_t e = 0; e < len; ++e)
        std::memcpy(t + ((e0 + e) * kv_key_tile + slot) * 2, &h[e], 2);
    }
    return;
  }
  for (int64_t g = 0; g < n / 32; ++g) {
    block_q8_0 b;
    f32_to_kv_row(f, x + g * 32, &b, 32);
    uint8_t* grp = t + g * kv_q8_tile_group;
    std::memcpy(grp + slot * 2, &b.d, 2);
    for (int64_t e = 0; e < 32; ++e)
      grp[kv_q8_tile_value(e, slot)] = static_cast<uint8_t>(b.qs[e] + 128);
  }
}

void kv_key_to_f32(kv_format f, const void* tile, int64_t slot, float* y, int64_t n) {
  const auto* t = static_cast<const uint8_t*>(tile);
  if (f == kv_format::f16) {
    for (int64_t e = 0; e < n; ++e) {
      uint16_t h;
      std::memcpy(&h, t + (e * kv_key_tile + slot) * 2, 2);
      y[e] = f16_to_f32(h);
    }
    return;
  }
  for (int64_t g = 0; g < n / 32; ++g) {
    const uint8_t* grp = t + g * kv_q8_tile_group;
    uint16_t h;
    std::memcpy(&h, grp + slot * 2, 2);
    const float d = f16_to_f32(h);
    for (int64_t e = 0; e < 32; ++e)
      y[g * 32 + e] = float(int(grp[kv_q8_tile_value(e, slot)]) - 128) * d;
  }
}

void attn_quantize_queries(const float* q, int64_t m, int64_t ldq, int64_t d, void* out) {
  const int64_t groups = d / 32;
  constexpr int64_t chunk = 8;  // groups converted a call (a 256-value head in one)
  block_q8_0 b[chunk];
  for (int64_t i = 0; i < m; ++i) {
    auto* row = static_cast<uint8_t*>(out) + i * attn_q8_row_bytes(d);
    for (int64_t g0 = 0; g0 < groups; g0 += chunk) {
      const int64_t n = std::min(chunk, groups - g0);
      f32_to_kv_row(kv_format::q8_0, q + i * ldq + g0 * 32, b, n * 32);
      for (int64_t g = g0; g < g0 + n; ++g) {
        const block_q8_0& blk = b[g - g0];
        std::memcpy(row + g * 32, blk.qs, 32);
        int32_t sum = 0;
        for (const int8_t v : blk.qs) sum += v;
        const float scale = f16_to_f32(blk.d);
        const int32_t bias = 128 * sum;
        std::memcpy(row + d + g * 4, &scale, 4);
        std::memcpy(row + d + groups * 4 + g * 4, &bias, 4);
      }
    }
  }
}
bool attn_bf16_available() {
  return best_ops().attn_bf16;
}

void attn_bf16_queries(const float* q, int64_t m, int64_t ldq, int64_t d, uint16_t* out) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t e = 0; e < d; ++e) out[i * d + e] = attn_bf16_round(q[i * ldq + e]);
}

void add(const float* x, float* y, int64_t n) {
  best_ops().add(x, y, n);
}
void f32_to_f16_row(const float* x, uint16_t* y, int64_t n) {
  best_ops().f32_to_f16_row(x, y, n);
}
void f16_to_f32_row(const uint16_t* x, float* y, int64_t n) {
  best_ops().f16_to_f32_row(x, y, n);
}

}  // namespace uma::kernels
