// Perplexity of a model on a token stream, as llama.cpp's `llama-perplexity` measures it:
// non-overlapping windows of `ctx` tokens (the first replaced by BOS when the model has one), each
// computed in forwards of up to `chunk` tokens (so that a long window holds one chunk's
// activations and logits, not the window's: at --ctx 4096 a 151936-token vocabulary's scored
// half alone was 1.2 GB of logits); only the second half of each window is scored, so every
// scored token has at least ctx/2 tokens of context.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/generate.h"
#include "model/model.h"
#include "util/status.h"

namespace uma::engine {

struct perplexity_result {
  double perplexity = 0;
  double mean_nll = 0;  // natural log
  int64_t windows = 0;
  int64_t scored_tokens = 0;
  double seconds = 0;
};

// Called with each scored position's logits (n_vocab floats), in order (kl_scored_rows of them);
// a failed status ends the run with it (kl_divergence.h saves or compares them).
using scored_row_fn = std::function<status(const float* logits)>;

// Errors: ctx < 4, chunk < 1, fewer than ctx tokens, a failed on_row.
result<perplexity_result> perplexity(model::model& m, const std::vector<int32_t>& tokens,
                                     int64_t ctx, int32_t bos, int64_t chunk = prefill_chunk,
                                     const scored_row_fn& on_row = {});

}  // namespace uma::engine
