// AMX probe loops (see probe.h): TDPBUSD (int8) or TDPBF16PS (bf16) into four independent
// 16 x 16 accumulator tiles from register-resident 16 x 64-byte operand tiles, so only the tile
// unit is measured.
#include <immintrin.h>

#include <cstdint>

#include "kernels/probe.h"
#include "kernels/x86/amx_tiles-inl.h"

namespace uma::kernels {

namespace {
void load_probe_tiles() {
  amx::tile_config cfg;
  for (int t = 0; t < 6; ++t) cfg.rows[t] = 16, cfg.colsb[t] = 64;
  amx::config(cfg);
  alignas(64) static const int8_t zeros[16 * 64] = {};
  _tile_loadd(4, zeros, 64);
  _tile_loadd(5, zeros, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
}

void release_probe_tiles() {
  alignas(64) int32_t out[256];
  _tile_stored(0, out, 64);
  _tile_release();
  volatile int sink = out[0];
  (void)sink;
}
}  // namespace

namespace {
// `iters` x 4 independent products on the probe tiles; returns the MACs (16 x 16 x K each).
template <bool Bf16>
uint64_t tile_loop(int64_t iters) {
  load_probe_tiles();
  for (int64_t i = 0; i < iters; ++i) {
    if constexpr (Bf16) {
      _tile_dpbf16ps(0, 4, 5);
      _tile_dpbf16ps(1, 4, 5);
      _tile_dpbf16ps(2, 4, 5);
      _tile_dpbf16ps(3, 4, 5);
    } else {
      _tile_dpbusd(0, 4, 5);
      _tile_dpbusd(1, 4, 5);
      _tile_dpbusd(2, 4, 5);
      _tile_dpbusd(3, 4, 5);
    }
  }
  release_probe_tiles();
  return static_cast<uint64_t>(iters) * 4 * 16 * 16 * (Bf16 ? 32 : 64);
}
}  // namespace

uint64_t probe_int8_loop_amx(int64_t iters) {
  return tile_loop<false>(iters);
}

uint64_t probe_bf16_loop_amx(int64_t iters) {
  return tile_loop<true>(iters);
}

}  // namespace uma::kernels
