// Windowed perplexity; see perplexity.h.
#include "engine/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace uma::engine {

result<perplexity_result> perplexity(model::model& m, const std::vector<int32_t>& tokens,
                                     int64_t ctx, int32_t bos, int64_t chunk,
                                     const scored_row_fn& on_row) {
  if (ctx < 4) return make_error("context {} is too small (at least 4 tokens)", ctx);
  if (chunk < 1) return make_error("chunk {} is too small (at least 1 token)", chunk);
  const auto n = static_cast<int64_t>(tokens.size());
  if (n < ctx) {
    return make_error("the text has {} tokens, fewer than one window of {} (lower --ctx)", n, ctx);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t nv = m.config().n_vocab;
  auto cache = m.make_cache(ctx, 1);
  perplexity_result r;
  double nll = 0;
  std::vector<float> logits;
  model::batch b;
  const int64_t first_scored = ctx / 2;
  for (int64_t w = 0; (w + 1) * ctx <= n; ++w) {
    cache->clear();
    for (int64_t c0 = 0; c0 < ctx; c0 += chunk) {
      const int64_t c1 = std::min(ctx, c0 + chunk);
      b.clear();
      for (int64_t i = c0; i < c1; ++i) {
        int32_t t = tokens[static_cast<size_t>(w * ctx + i)];
        if (i == 0 && bos >= 0) t = bos;
        // Logits at i predict token i + 1: wanted for i in [ctx/2, ctx - 1) (llama.cpp's choice).
        b.add(t, static_cast<int32_t>(i), 0, i >= first_scored && i + 1 < ctx);
      }
      logits.resize(b.n_logits() * static_cast<size_t>(nv));
      UMA_TRY(m.forward(b, *cache, logits.data()));
      int64_t row = 0;
      for (int64_t i = std::max(c0, first_scored); i < c1 && i + 1 < ctx; ++i, ++row) {
        const float* l = logits.data() + row * nv;
        const float mx = *std::max_element(l, l + nv);
        double sum = 0;
        for (int64_t k = 0; k < nv; ++k) sum += std::exp(double(l[k]) - mx);
        const int32_t next = tokens[static_cast<size_t>(w * ctx + i + 1)];
        nll += std::log(sum) + mx - l[next];
        ++r.scored_tokens;
        if (on_row) UMA_TRY(on_row(l));
      }
    }
    ++r.windows;
  }
  r.mean_nll = nll / double(r.scored_tokens);
  r.perplexity = std::exp(r.mean_nll);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace uma::engine
