// The amx-emulated matmul backend: matmul_amx.cpp compiled with the tile instructions modelled in
// scalar code (x86/amx_tiles-inl.h) and AVX-512 for the rest, so that the amx backend's layouts,
// unpacking, scaling and scheduling are tested on every AVX-512 VNNI + BF16 machine, CI's too.
// Slow by design; best_backend() never picks it (UMA_BACKEND=amx-emulated does).
#define UMA_AMX_EMULATE 1
#include "matmul_amx.cpp"  // NOLINT(bugprone-suspicious-include)
