// Sampler chain; see sampler.h.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace uma::sampling {

status validate(const params& p, int64_t n_vocab) {
  auto bad = [](const char* name, double v, const char* range) {
    return make_error("{} = {} is out of range (allowed: {})", name, v, range);
  };
  if (!std::isfinite(p.temperature) || p.temperature < 0 || p.temperature > 100) {
    return bad("temperature", p.temperature, "0 to 100, 0 = greedy");
  }
  if (p.top_k < 0) return bad("top_k", p.top_k, ">= 0, 0 = off");
  if (!(p.top_p > 0 && p.top_p <= 1)) return bad("top_p", p.top_p, "greater than 0, at most 1");
  if (!(p.min_p >= 0 && p.min_p <= 1)) return bad("min_p", p.min_p, "0 to 1");
  if (!(p.typical_p > 0 && p.typical_p <= 1)) {
    return bad("typical_p", p.typical_p, "greater than 0, at most 1");
  }
  if (!(p.repeat_penalty > 0 && p.repeat_penalty <= 10)) {
    return bad("repeat_penalty", p.repeat_penalty, "greater than 0, at most 10");
  }
  if (p.repeat_last_n < 0) return bad("repeat_last_n", p.repeat_last_n, ">= 0");
  if (!(p.presence_penalty >= -2 && p.presence_penalty <= 2)) {
    return bad("presence_penalty", p.presence_penalty, "-2 to 2");
  }
  if (!(p.frequency_penalty >= -2 && p.frequency_penalty <= 2)) {
    return bad("frequency_penalty", p.frequency_penalty, "-2 to 2");
  }
  for (const auto& [tok, bias] : p.logit_bias) {
    if (tok < 0 || tok >= n_vocab) {
      return make_error("logit_bias token {} is outside the vocabulary ({} tokens)", tok, n_vocab);
    }
    if (std::isnan(bias) || bias == std::numeric_limits<float>::infinity()) {
      return make_error("logit_bias for token {} must be a number or -inf", tok);
    }
  }
  return {};
}

result<sampler> sampler::create(const params& p, int64_t n_vocab) {
  if (n_vocab <= 0) return make_error("vocabulary is empty");
  UMA_TRY(validate(p, n_vocab));
  return sampler(p, n_vocab);
}

sampler::sampler(const params& p, int64_t n_vocab) : p_(p), n_vocab_(n_vocab), rng_(p.seed) {}

void sampler::accept(int32_t token) {
  history_.push_back(token);
}

void sampler::reset() {
  history_.clear();
  rng_.seed(p_.seed);
}

namespace {

// Softmax of the candidates' logits into p (sorted or not), scaled by 1/temp.
void softmax(std::vector<candidate>& cs, float temp) {
  float mx = -std::numeric_limits<float>::infinity();
  for (const auto& c : cs) mx = std::max(mx, c.logit);
  double sum = 0;
  for (auto& c : cs) {
    c.p = std::isinf(c.logit) && c.logit < 0 ? 0.f : std::exp((c.logit - mx) / temp);
    sum += c.p;
  }
  for (auto& c : cs) c.p = static_cast<float>(c.p / sum);
}

// The chain's order: descending logit, ties by ascending id (what a stable sort of the id-ordered
// list gives), a strict total order, so that a partial selection keeps the same first k as a full
// sort.
bool before(const candidate& a, const candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

void sort_desc(std::vector<candidate>& cs) {
  std::sort(cs.begin(), cs.end(), before);
}

// A NaN logit (broken weights) ranks as a banned token: the order above stays a strict total
// order, which the sorts and heaps rely on.
float ranked(float logit) {
  return std::isnan(logit) ? -std::numeric_limits<float>::infinity() : logit;
}

// The first k of the chain's order over the whole vocabulary, sorted, without building a candidate
// per token: one pass over the logits with a heap of the k best so far (its top the worst of
// them), the tokens whose logits the bias and penalties changed (`changed`, ascending ids) skipped
// in the pass and offered with their changed logits afterwards. A candidate per token and a
// selection over 152k of them was ~1.5 ms a token of `uma run` on qwen3-0.6b.
std::vector<candidate> first_k(const float* logits, int64_t n_vocab,
                               const std::vector<candidate>& changed, size_t k) {
  std::vector<candidate> heap;
  heap.reserve(k + 1);
  auto offer = [&](const candidate& c) {
    if (heap.size() < k) {
      heap.push_back(c);
      std::push_heap(heap.begin(), heap.end(), before);
    } else if (before(c, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), before);
      heap.back() = c;
      std::push_heap(heap.begin(), heap.end(), before);
    }
  };
  int64_t from = 0;
  auto scan = [&](int64_t to) {  // ids [from, to): ascending, so an equal logit never displaces
    for (int64_t i = from; i < to; ++i) {
      const float l = logits[i];
      if (heap.size() == k && !(l > heap.front().logit)) continue;  // the common case (and NaN)
      offer({int32_t(i), ranked(l), 0.f});
    }
  };
  for (const auto& c : changed) {
    scan(c.id);
    from = int64_t{c.id} + 1;
  }
  scan(n_vocab);
  for (const auto& c : changed) offer(c);
  std::sort_heap(heap.begin(), heap.end(), before);
  return heap;
}

}  // namespace

std::vector<candidate> sampler::changed_logits(const float* logits) const {
  std::unordered_map<int32_t, float> changed;
  auto logit = [&](int32_t tok) -> float& {
    return changed.try_emplace(tok, logits[tok]).first->second;
  };
  for (const auto& [tok, bias] : p_.logit_bias) logit(tok) += bias;

  // Penalties over the last repeat_last_n accepted tokens (llama.cpp semantics).
  if (p_.repeat_last_n > 0 && !history_.empty() &&
      (p_.repeat_penalty != 1.f || p_.presence_penalty != 0.f || p_.frequency_penalty != 0.f)) {
    std::unordered_map<int32_t, int> counts;
    const size_t n = std::min(history_.size(), static_cast<size_t>(p_.repeat_last_n));
    for (size_t i = history_.size() - n; i < history_.size(); ++i) counts[history_[i]]++;
    for (const auto& [tok, cnt] : counts) {
      if (tok < 0 || tok >= n_vocab_) continue;
      float& l = logit(tok);
      l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
      l -= static_cast<float>(cnt) * p_.frequency_penalty + p_.presence_penalty;
    }
  }
  std::vector<candidate> out;
  out.reserve(changed.size());
  for (const auto& [tok, l] : changed) out.push_back({tok, ranked(l), 0.f});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

std::vector<candidate> sampler::distribution(const float* logits) const {
  const std::vector<candidate> changed = changed_logits(logits);
  if (p_.temperature == 0.f) {  // the first in the chain's order
    const candidate best = first_k(logits, n_vocab_, changed, 1)[0];
    return {{best.id, best.logit, 1.f}};
  }
  // Top-k (selected before the banned tokens are dropped: they come last in the order, so the
  // same tokens survive as when they are dropped first).
  std::vector<candidate> cs;
  if (p_.top_k > 0 && p_.top_k < n_vocab_) {
    cs = first_k(logits, n_vocab_, changed, static_cast<size_t>(p_.top_k));
  } else {
    cs.resize(static_cast<size_t>(n_vocab_));
    for (int64_t i = 0; i < n_vocab_; ++i) cs[size_t(i)] = {int32_t(i), ranked(logits[i]), 0.f};
    for (const auto& c : changed) cs[static_cast<size_t>(c.id)] = c;
    sort_desc(cs);
  }
  // Drop banned tokens (bias -inf), keeping at least one.
  while (cs.size() > 1 && std::isinf(cs.back().logit) && cs.back().logit < 0) cs.pop_back();

  if (p_.typical_p < 1.f && cs.size() > 1) {
    softmax(cs, 1.f);
    double entropy = 0;
    for (const auto& c : cs) {
      if (c.p > 0) entropy -= c.p * std::log(static_cast<double>(c.p));
    }
    std::vector<std::pair<double, size_t>> shifted;
    for (size_t i = 0; i < cs.size(); ++i) {
      const double surprise = cs[i].p > 0 ? -std::log(static_cast<double>(cs[i].p)) : 1e30;
      shifted.emplace_back(std::abs(surprise - entropy), i);
    }
    std::stable_sort(shifted.begin(), shifted.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<candidate> kept;
    double cum = 0;
    for (const auto& [score, i] : shifted) {
      kept.push_back(cs[i]);
      cum += cs[i].p;
      if (cum >= p_.typical_p) break;
    }
    cs = std::move(kept);
    sort_desc(cs);
  }
  if (p_.top_p < 1.f && cs.size() > 1) {
    softmax(cs, 1.f);
    double cum = 0;
    size_t keep = cs.size();
    for (size_t i = 0; i < cs.size(); ++i) {
      cum += cs[i].p;
      if (cum >= p_.top_p) {
        keep = i + 1;
        break;
      }
    }
    cs.resize(keep);
  }
  if (p_.min_p > 0.f && cs.size() > 1) {
    softmax(cs, 1.f);
    const float threshold = p_.min_p * cs[0].p;
    size_t keep = 1;
    while (keep < cs.size() && cs[keep].p >= threshold) ++keep;
    cs.resize(keep);
  }
  softmax(cs, p_.temperature);
  return cs;
}

int32_t sampler::sample(const float* logits) {
  const auto cs = distribution(logits);
  if (cs.size() == 1) return cs[0].id;
  // 53 random bits -> [0, 1): the same mapping everywhere (std distributions are not portable).
  const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0);
  double cum = 0;
  for (const auto& c : cs) {
    cum += c.p;
    if (u < cum) return c.id;
  }
  return cs.back().id;
}

}  // namespace uma::sampling
