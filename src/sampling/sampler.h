// Token sampling: logits -> token through a fixed chain (as llama.cpp's default order):
//   logit bias -> repetition / presence / frequency penalties -> (greedy if temperature == 0)
//   -> top-k -> typical-p -> top-p -> min-p -> temperature -> draw with a seeded RNG.
// Filters act on the untempered distribution; temperature only reshapes what survives.
// Same seed + same logits + same history => same tokens, on every platform (own RNG mapping).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "util/status.h"

namespace uma::sampling {

struct params {
  float temperature = 0.8f;        // 0 = greedy (argmax); range [0, 100]
  int32_t top_k = 40;              // 0 = off
  float top_p = 0.95f;             // 1 = off; range (0, 1]
  float min_p = 0.05f;             // 0 = off; range [0, 1]
  float typical_p = 1.0f;          // 1 = off; range (0, 1]
  float repeat_penalty = 1.0f;     // 1 = off; range (0, 10]
  int32_t repeat_last_n = 64;      // history window of the three penalties; 0 = off
  float presence_penalty = 0.0f;   // range [-2, 2]
  float frequency_penalty = 0.0f;  // range [-2, 2]
  std::vector<std::pair<int32_t, float>> logit_bias;  // token -> added to its logit (-inf bans)
  uint64_t seed = 0x5eed;
};

// Checks every field; errors name the parameter and its allowed range.
status validate(const params& p, int64_t n_vocab);

struct candidate {
  int32_t id;
  float logit;
  float p;  // probability after the chain
};

class sampler {
 public:
  // Validates `p` against the vocabulary size.
  static result<sampler> create(const params& p, int64_t n_vocab);

  // Picks the next token from `logits` (n_vocab floats). Does not record it: call accept().
  int32_t sample(const float* logits);
  // Records a token in the penalty history (prompt tokens too, if they should be penalized).
  void accept(int32_t token);
  void reset();  // clears the history and reseeds

  // The distribution the draw is made from (after every filter and temperature), sorted by
  // descending probability; for temperature 0, the argmax with p = 1.
  std::vector<candidate> distribution(const float* logits) const;

  const params& settings() const { return p_; }

 private:
  sampler(const params& p, int64_t n_vocab);
  // The tokens whose logits the bias and penalties change, with the changed logits, by id.
  std::vector<candidate> changed_logits(const float* logits) const;
  params p_;
  int64_t n_vocab_;
  std::vector<int32_t> history_;
  std::mt19937_64 rng_;
};

}  // namespace uma::sampling
