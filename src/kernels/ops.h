// Element-wise and small vector ops of the forward pass. Each has a scalar reference in
// kernels::ref (same signature) and a dispatched production version here.
// Model code calls these; it never includes SIMD headers (DESIGN.md habit 2).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace uma::kernels {

// y = x / sqrt(mean(x^2) + eps) * w. y may alias x. w may be null (no weight).
void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y);

enum class rope_style {
  normal,  // rotate adjacent pairs (x[2i], x[2i+1]): llama, mistral
  neox,    // rotate halves (x[i], x[i + n_rot/2]): qwen2, qwen3, gemma
};

struct rope_params {
  int n_rot = 0;                        // rotated dims per head (<= head_dim; usually head_dim)
  float freq_base = 10000.f;            // theta
  float freq_scale = 1.f;               // linear position scaling (1 / factor)
  const float* freq_factors = nullptr;  // n_rot/2 divisors of the frequencies (llama 3.1), or null
  rope_style style = rope_style::normal;
};

// Rotates `n_heads` heads of `head_dim` floats (contiguous) in place for position `pos`.
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const rope_params& p);
// rope() in two steps, for callers that rotate many vectors at one position (every layer of a
// forward pass): the cos and sin of the n_rot / 2 pair angles at `pos`, then the rotation with
// them. Bit-identical to rope().
void rope_angles(int64_t pos, const rope_params& p, float* cos, float* sin);
void rope_with(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin,
               const rope_params& p);

// x = softmax(x) in place, numerically stable.
void softmax(float* x, int64_t n);

// out[i] = silu(gate[i]) * up[i]. out may alias gate or up.
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
// out[i] = gelu_tanh(gate[i]) * up[i] (gemma).
void gelu_mul(const float* gate, const float* up, float* out, int64_t n);
// x[i] = cap * tanh(x[i] / cap), cap > 0 (logit soft-capping).
void softcap(float* x, int64_t n, float cap);

// sum_i a[i] * b[i]
float dot_f32(const float* a, const float* b, int64_t n);
// sum_i a[i] * f16(b[i])   (attention scores against an F16 key cache)
float dot_f16(const float* a, const uint16_t* b, int64_t n);
// y[i] += s * f16(x[i])    (attention output accumulation from an F16 value cache)
void axpy_f16(float s, const uint16_t* x, float* y, int64_t n);
// y[i] += x[i]
void add(const float* x, float* y, int64_t n);
// Converts n floats to f16 bits (KV cache writes) and back.
void f32_to_f16_row(const float* x, uint16_t* y, int64_t n);
void f16_to_f32_row(const uint16_t* x, float* y, int64_t n);

// How the KV cache stores a row of head_dim values: F16 (2 bytes a value) or Q8_0 (ggml's 34-byte
// blocks of 32: an F16 scale d and 32 int8 q, value = q * d; llama.cpp's `-ctk q8_0 -ctv q8_0`),
// 1.0625 bytes a value, for head dims that are multiples of 32.
enum class kv_format : uint8_t { f16, q8_0 };
// Bytes of a row of n values (n a multiple of 32 for q8_0).
constexpr int64_t kv_row_bytes(kv_format f, int64_t n) {
  return f == kv_format::f16 ? n * 2 : n / 32 * 34;
}
// Whether rows of n values can be stored in the format.
constexpr bool kv_fits(kv_format f, int64_t n) {
  return f == kv_format::f16 || (n > 0 && n % 32 == 0);
}
// The format's name as the CLI spells it ("f16", "q8_0"), and back (false if unknown).
const char* kv_format_name(kv_format f);
bool parse_kv_format(std::string_view name, kv_format* out);
// Stores n floats as one cache row of the format: F16 by f32_to_f16_row, Q8_0 with ggml's
// rounding (amax / 127 scale, round to nearest even; the activation converter's bytes).
void f32_to_kv_row(kv_format f, const float* x, void* dst, int64_t n);
// The values of one cache row (exact: every stored value is a float).
void kv_row_to_f32(kv_format f, const void* src, float* y, int64_t n);

// Keys are stored in tiles of kv_key_tile keys, kv_tile_bytes(f, ld) each (the same bytes as
// that many rows of ld values):
// - F16: transposed, 16 keys a vector lane each: value e of key j at halves e * 16 + j.
// - Q8_0: transposed for integer dot products, 16 keys a vector lane each. For each group g of 32
//   values (ld / 32 groups, 544 bytes each, one after the other): the 16 keys' F16 scales d
//   (32 bytes), then 8 runs of 64 bytes, run r holding values 4r .. 4r + 3 of the group for key
//   j at bytes 4j .. 4j + 3, each as q + 128 (unsigned; q in [-127, 127]). The values are the
//   same as f32_to_kv_row's row of the key (the same scales and q).
// A Q8_0 cache's scores are computed as ggml computes them against a Q8_0 K cache: the query row
// is quantized to Q8_0 too (attn_quantize_queries), each group's integer dot product is exact, and
// the groups are added in order in float (acc = fma(d_key * d_query, isum, acc), the product of
// two F16 scales and the int32 sum both exact in float).
constexpr int64_t kv_key_tile = 16;
constexpr int64_t kv_tile_bytes(kv_format f, int64_t ld) {
  return kv_key_tile * kv_row_bytes(f, ld);
}
// In a Q8_0 key tile: the bytes of one group of 32 values, and where value e (< 32) of a group
// lies for key `slot` (from the group's start; its scale at 2 x slot).
constexpr int64_t kv_q8_tile_group = kv_key_tile * 34;
constexpr int64_t kv_q8_tile_value(int64_t e, int64_t slot) {
  return 32 + e / 4 * 64 + slot * 4 + e % 4;
}
// Stores n floats as key `slot` (< kv_key_tile) of a tile (any width >= n: a key's place in its
// tile does not depend on the width; for Q8_0 the same rounding as f32_to_kv_row), and reads it
// back.
void f32_to_kv_key(kv_format f, const float* x, int64_t n, void* tile, int64_t slot);
void kv_key_to_f32(kv_format f, const void* tile, int64_t slot, float* y, int64_t n);

// Query rows quantized for a Q8_0 cache's keys: per row of d values (a multiple of 32), d int8
// (ggml's Q8_0 rounding of the row, as f32_to_kv_row), then per group of 32 its scale as a float
// (the F16 value) and 128 x the sum of its int8 values (the offset of the keys' unsigned bytes),
// attn_q8_row_bytes(d) bytes a row, rows one after the other.
constexpr int64_t attn_q8_row_bytes(int64_t d) {
  return d + d / 32 * 8;
}
void attn_quantize_queries(const float* q, int64_t m, int64_t ldq, int64_t d, void* out);

// BF16 attention products (attn_block_args::bf16): x rounded to bf16 as `vcvtne2ps2bf16` rounds
// it (to nearest even; a denormal float to a zero of its sign, a NaN to a quiet NaN), and the m
// query rows (stride ldq) rounded so, d values a row, rows d apart.
inline uint16_t attn_bf16_round(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0) return static_cast<uint16_t>((u >> 16) & 0x8000u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
void attn_bf16_queries(const float* q, int64_t m, int64_t ldq, int64_t d, uint16_t* out);
// Whether attn_block takes BF16 products here (the dispatched backend's ops_backend::attn_bf16).
bool attn_bf16_available();

// One step of flash-style attention: m query rows against one block of nk cached keys and
// values (F16 or Q8_0, kv_format; keys in tiles from the block's first key), updating each row's
// online-softmax state. Row i sees keys [lo[i], hi[i]) of the block (causal and sliding-window
// masks; an empty range leaves the row as it is). Queries are pre-scaled by the softmax scale (and
// so quantized, for a Q8_0 cache). The state starts as row_max = -inf, row_sum = 0, o = 0; after
// the last block the output is o / row_sum. Each key tile and value row is read (and widened
// exactly to floats, a Q8_0 value q * d; Q8_0 keys are not widened: integer dot products) once
// for a group of rows, which is what makes prefill attention and grouped-query decode cheap.
//
// The most keys per attn_block call that the vector versions take.
constexpr int64_t attn_vector_keys = 64;
struct attn_block_args {
  const float* q = nullptr;  // m rows of d floats, stride ldq
  int64_t m = 0, ldq = 0, d = 0, dv = 0;
  kv_format kv = kv_format::f16;     // how k and v store their rows
  const void* k = nullptr;           // nk keys of d values in tiles of ldk (kv_key_tile)
  const void* v = nullptr;           // nk rows of dv values, ldv values apart (kv_row_bytes)
  int64_t ldk = 0, ldv = 0, nk = 0;  // nk <= attn_vector_keys for the vector versions (else scalar)
  // Per row: the first visible key of the block and one past the last; 0 <= lo, hi <= nk, and
  // lo >= hi is an empty range (the kernels read no key for such a row).
  const int32_t* lo = nullptr;
  const int32_t* hi = nullptr;
  float* row_max = nullptr;  // m running maxima
  float* row_sum = nullptr;  // m running sums of exp(score - max)
  float* o = nullptr;        // m rows of dv floats (unnormalised), stride ldo
  int64_t ldo = 0;
  float* scratch = nullptr;  // nk rounded up to whole tiles x (d + dv) floats of work space
  // For a Q8_0 cache: the m query rows quantized (attn_quantize_queries of q); null: quantized
  // here on every call (slower).
  const void* q8 = nullptr;
  // The next block's K and V rows (same format and strides), prefetched while this one is
  // computed; null where there is none. A hint only: results do not depend on it.
  const void* k_next = nullptr;
  const void* v_next = nullptr;
  int64_t nk_next = 0;
  // BF16 products for a prefill call (more than 8 rows, scratch given), where the backend has them
  // (ops_backend::attn_bf16; others ignore it, the scalar reference always follows it): the
  // queries, F16 keys, the softmax weights and the values rounded to bf16 (attn_bf16_round), each
  // score and each output value a chain of pair sums in f32 as `vdpbf16ps` adds them: per pair of
  // dims (2t, 2t + 1), or of keys (2t, 2t + 1) from the block's first, the odd product added first,
  // then the even one, each sum rounded (the products are exact; f32 denormal sums are not
  // flushed here, the instruction flushes them). A Q8_0 cache's keys keep their integer products;
  // the row sums of the softmax are of the unrounded weights. Calls of up to 8 rows (decode) stay
  // f32, so with it prefill and decode no longer agree to the bit.
  bool bf16 = false;
  // The m query rows rounded (attn_bf16_queries of q, rows d apart); null: rounded here on every
  // call (slower).
  const uint16_t* qbf = nullptr;
};
// Whether a call takes BF16 products (attn_block_args::bf16 and its row count).
inline bool attn_bf16_call(const attn_block_args& a) {
  return a.bf16 && a.m > 8 && a.scratch != nullptr;
}
void attn_block(const attn_block_args& a);

namespace ref {
void attn_block(const attn_block_args& a);
void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y);
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const rope_params& p);
void rope_angles(int64_t pos, const rope_params& p, float* cos, float* sin);
void rope_with(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin,
               const rope_params& p);
void softmax(float* x, int64_t n);
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
void gelu_mul(const float* gate, const float* up, float* out, int64_t n);
void softcap(float* x, int64_t n, float cap);
float dot_f32(const float* a, const float* b, int64_t n);
float dot_f16(const float* a, const uint16_t* b, int64_t n);
void axpy_f16(float s, const uint16_t* x, float* y, int64_t n);
void add(const float* x, float* y, int64_t n);
void f32_to_f16_row(const float* x, uint16_t* y, int64_t n);
void f16_to_f32_row(const uint16_t* x, float* y, int64_t n);
}  // namespace ref

}  // namespace uma::kernels
