// The amx-emulated ops backend: ops_amx.cpp with the tile instructions modelled in scalar code
// (x86/amx_tiles-inl.h), so that BF16 prompt attention on tiles is tested on every AVX-512 BF16
// machine, CI's too. Slow by design; best_ops() never picks it (UMA_BACKEND=amx-emulated does).
#define UMA_AMX_EMULATE 1
#include "ops_amx.cpp"  // NOLINT(bugprone-suspicious-include)
