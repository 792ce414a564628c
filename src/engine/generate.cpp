// Single-sequence generation loop; see generate.h.
#include "engine/generate.h"

#include <algorithm>
#include <chrono>

namespace uma::engine {

std::string stop_matcher::push(std::string_view text, bool& stopped) {
  stopped = false;
  held_.append(text);
  size_t hit = std::string::npos;
  for (const auto& s : stops_) {
    if (s.empty()) continue;
    hit = std::min(hit, held_.find(s));
  }
  if (hit != std::string::npos) {
    stopped = true;
    std::string out = held_.substr(0, hit);
    held_.clear();
    return out;
  }
  // Keep the longest tail that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const auto& s : stops_) {
    for (size_t k = std::min(s.size() - (s.empty() ? 0 : 1), held_.size()); k > keep; --k) {
      if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
        keep = k;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string stop_matcher::flush() {
  std::string out;
  out.swap(held_);
  return out;
}

session::session(model::model& m, const tok::tokenizer& t, int64_t max_context)
    : m_(m), t_(t), cache_(m.make_cache(max_context, 1)) {}

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

status session::sync(const std::vector<int32_t>& tokens, std::vector<float>& last_logits,
                     generate_stats& stats, int64_t chunk) {
  const int64_t nv = m_.config().n_vocab;
  if (tokens.empty()) return make_error("nothing to compute: no tokens");
  if (static_cast<int64_t>(tokens.size()) > cache_->max_context()) {
    return make_error("{} tokens do not fit the context of {} tokens", tokens.size(),
                      cache_->max_context());
  }
  size_t common = 0;
  while (common < tokens.size() && common < tokens_.size() && tokens[common] == tokens_[common]) {
    ++common;
  }
  // The last token is always recomputed so that its logits are available.
  if (common == tokens.size()) --common;
  cache_->truncate(0, static_cast<int64_t>(common));
  // A cache with windowed layers may keep less (kv_cache::truncate): go on from what it kept.
  common = static_cast<size_t>(cache_->seq_length(0));
  tokens_.resize(common);
  stats.reused_tokens = static_cast<int64_t>(common);
  last_logits.resize(static_cast<size_t>(nv));
  const double t0 = now_seconds();
  model::batch b;
  for (size_t i = common; i < tokens.size();) {
    b.clear();
    const size_t end = std::min(tokens.size(), i + static_cast<size_t>(chunk));
    for (size_t j = i; j < end; ++j) {
      b.add(tokens[j], static_cast<int32_t>(j), 0, j + 1 == tokens.size());
    }
    auto st = m_.forward(b, *cache_, last_logits.data());
    if (!st.ok()) {
      cache_->truncate(0, static_cast<int64_t>(tokens_.size()));
      return st;
    }
    tokens_.insert(tokens_.end(), tokens.begin() + static_cast<std::ptrdiff_t>(i),
                   tokens.begin() + static_cast<std::ptrdiff_t>(end));
    i = end;
  }
  stats.prompt_tokens = static_cast<int64_t>(tokens.size() - common);
  stats.prompt_seconds = now_seconds() - t0;
  return {};
}

result<generate_stats> session::generate(const std::vector<int32_t>& prompt, sampling::sampler& s,
                                         const generate_options& o,
                                         const std::function<bool(std::string_view)>& on_text) {
  generate_stats stats;
  std::vector<float> logits;
  UMA_TRY(sync(prompt, logits, stats));
  for (auto t : prompt) s.accept(t);

  tok::stream_decoder dec(t_);
  stop_matcher stops(o.stop);
  const double t0 = now_seconds();
  model::batch b;
  stats.stop_reason = "length";
  bool cancelled = false;
  auto emit = [&](const std::string& text) {
    if (!text.empty() && !on_text(text)) cancelled = true;
  };
  while (o.max_tokens < 0 || stats.generated_tokens < o.max_tokens) {
    const int32_t tok = s.sample(logits.data());
    s.accept(tok);
    if (o.stop_at_eog && t_.is_eog(tok)) {
      stats.stop_reason = "eog";
      break;
    }
    ++stats.generated_tokens;
    bool stopped = false;
    emit(stops.push(dec.push(tok), stopped));
    if (stopped) {
      stats.stop_reason = "stop";
      break;
    }
    if (cancelled) {
      stats.stop_reason = "cancelled";
      break;
    }
    if (o.max_tokens >= 0 && stats.generated_tokens >= o.max_tokens) break;
    if (static_cast<int64_t>(tokens_.size()) >= cache_->max_context()) {
      stats.stop_reason = "context";
      break;
    }
    b.clear();
    b.add(tok, static_cast<int32_t>(tokens_.size()), 0, true);
    UMA_TRY(m_.forward(b, *cache_, logits.data()));
    tokens_.push_back(tok);
  }
  if (stats.stop_reason != "stop" && stats.stop_reason != "cancelled") {
    bool stopped = false;
    std::string tail = stops.push(dec.flush(), stopped);
    if (!stopped) tail += stops.flush();
    emit(tail);
  }
  stats.generate_seconds = now_seconds() - t0;
  return stats;
}

}  // namespace uma::engine
