// A single-sequence generation loop for `uma run` and `uma perplexity`: keeps one sequence's KV
// cache in step with its tokens (reusing the common prefix when a chat turn resends the whole
// conversation), prefills in chunks, samples, streams whole UTF-8 text, and stops at
// end-of-generation tokens, a token limit or a stop string. The multi-request engine (scheduler,
// continuous batching) goes through the same model::forward.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"
#include "util/status.h"

namespace uma::engine {

struct generate_options {
  int max_tokens = 128;           // -n; < 0 = until the context is full
  std::vector<std::string> stop;  // stop strings (not included in the output)
  bool stop_at_eog = true;        // stop at the vocabulary's end-of-generation tokens
};

struct generate_stats {
  int64_t prompt_tokens = 0;  // tokens actually computed for the prompt (after prefix reuse)
  int64_t reused_tokens = 0;  // prompt tokens whose K/V were already cached
  int64_t generated_tokens = 0;
  double prompt_seconds = 0;
  double generate_seconds = 0;
  std::string stop_reason;  // "eog", "length", "stop", "context", "cancelled"
};

// Holds text back while it could still be the start of a stop string.
class stop_matcher {
 public:
  explicit stop_matcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Appends text; returns what can be emitted now. Sets `stopped` when a stop string appeared
  // (the text before it is returned, the rest discarded).
  std::string push(std::string_view text, bool& stopped);
  std::string flush();  // the held-back tail at the end

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

// Tokens a prefill forward takes at most: a longer prompt runs in forwards of this many (the
// activations of a forward grow with its tokens, ~61 KB a token for qwen3-0.6b, so a 32k-token
// prompt in one forward would hold ~2 GB of them; per 512 tokens the matmuls already run at their
// batched rate).
inline constexpr int64_t prefill_chunk = 512;

class session {
 public:
  session(model::model& m, const tok::tokenizer& t, int64_t max_context);

  // Makes the cache hold exactly `tokens`: keeps the longest common prefix with what is cached,
  // computes the rest in chunks of `chunk` tokens. `last_logits` gets the logits after the last
  // token (n_vocab floats). Fails when the tokens exceed the context.
  status sync(const std::vector<int32_t>& tokens, std::vector<float>& last_logits,
              generate_stats& stats, int64_t chunk = prefill_chunk);

  // Samples up to max_tokens after the current tokens. `on_text` receives whole UTF-8 text as it
  // is produced; returning false cancels.
  result<generate_stats> generate(const std::vector<int32_t>& prompt, sampling::sampler& s,
                                  const generate_options& o,
                                  const std::function<bool(std::string_view)>& on_text);

  const std::vector<int32_t>& tokens() const { return tokens_; }
  model::model& get_model() { return m_; }
  int64_t max_context() const { return cache_->max_context(); }

 private:
  model::model& m_;
  const tok::tokenizer& t_;
  std::unique_ptr<model::kv_cache> cache_;
  std::vector<int32_t> tokens_;  // tokens whose K/V are in the cache
};

}  // namespace uma::engine
