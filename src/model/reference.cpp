// Scalar reference forward; see reference.h. Deliberately written from the equations, not from
// the production blocks: own norm, RoPE, softmax, attention and MLP loops, all in float64.
#include "model/reference.h"

#include <algorithm>
#include <cmath>

#include "kernels/matmul.h"
#include "model/model.h"
#include "tensor/quant.h"

namespace uma::model {

reference_forward::reference_forward(const model_config& c, const weights& w)
    : c_(c), w_(w), k_(static_cast<size_t>(c.n_layer)), v_(static_cast<size_t>(c.n_layer)) {}

reference_forward::reference_forward(const model& m) : reference_forward(m.config(), m.bound()) {}

void reference_forward::reset() {
  length_ = 0;
  min_route_gap_ = INFINITY;
  for (auto& k : k_) k.clear();
  for (auto& v : v_) v.clear();
}

namespace {

// y = x / sqrt(mean(x^2) + eps) * w over each `width` slice of x.
void ref_norm(std::vector<double>& x, int64_t offset, int64_t width, const float* w, double eps) {
  double ss = 0;
  for (int64_t i = 0; i < width; ++i) ss += x[offset + i] * x[offset + i];
  const double s = 1.0 / std::sqrt(ss / static_cast<double>(width) + eps);
  for (int64_t i = 0; i < width; ++i) x[offset + i] *= s * (w ? w[i] : 1.0);
}

// RoPE on one head at x[offset .. offset+head_dim).
void ref_rope(std::vector<double>& x, int64_t offset, const model_config& c, const float* factors,
              int64_t pos, double base, double freq_scale) {
  const int64_t half = c.n_rot / 2;
  for (int64_t i = 0; i < half; ++i) {
    double theta = static_cast<double>(pos) *
                   std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(c.n_rot));
    if (factors) theta /= factors[i];
    theta *= freq_scale;
    const double cs = std::cos(theta), sn = std::sin(theta);
    const int64_t a = c.rope_style == kernels::rope_style::normal ? 2 * i : i;
    const int64_t b = c.rope_style == kernels::rope_style::normal ? 2 * i + 1 : i + half;
    const double x0 = x[offset + a], x1 = x[offset + b];
    x[offset + a] = x0 * cs - x1 * sn;
    x[offset + b] = x0 * sn + x1 * cs;
  }
}

}  // namespace

// y (n, m.rows) = x (n, m.cols) * m^T, each weight row dequantized once.
std::vector<double> reference_forward::project(const matrix_ref& m, const std::vector<double>& x,
                                               int64_t n) const {
  std::vector<double> y(static_cast<size_t>(n * m.rows));
  std::vector<float> row(static_cast<size_t>(m.cols));
  std::vector<uint8_t> packed(m.layout == kernels::weight_layout::x16 ? m.row_bytes : 0);
  for (int64_t r = 0; r < m.rows; ++r) {
    const void* src = m.row(r);
    if (!packed.empty()) {  // an interleaved copy (load_options::repack): its row back first
      kernels::deinterleave_row(m.view(), r, packed.data());
      src = packed.data();
    }
    (void)dequantize_row(m.type, src, row.data(), m.cols);
    for (int64_t t = 0; t < n; ++t) {
      double acc = 0;
      const double* xt = x.data() + t * m.cols;
      for (int64_t i = 0; i < m.cols; ++i) acc += xt[i] * row[static_cast<size_t>(i)];
      y[static_cast<size_t>(t * m.rows + r)] = acc;
    }
  }
  return y;
}

// The mixture of experts on the normed rows h (n, n_embd): per token the softmax of the router's
// logits, the n_expert_used most probable experts (ties: the lower id), their probabilities
// renormalized, and the weighted sum of their SwiGLU outputs.
std::vector<double> reference_forward::experts(const layer_weights& l, const std::vector<double>& h,
                                               int64_t n) const {
  const model_config& c = c_;
  const int64_t e = c.n_embd, ne = c.n_expert;
  const auto logits = project(l.ffn_gate_inp, h, n);
  std::vector<double> out(static_cast<size_t>(n * e), 0.0);
  for (int64_t t = 0; t < n; ++t) {
    std::vector<double> p(logits.begin() + t * ne, logits.begin() + (t + 1) * ne);
    const double mx = *std::max_element(p.begin(), p.end());
    double sum = 0;
    for (double& v : p) sum += (v = std::exp(v - mx));
    for (double& v : p) v /= sum;
    std::vector<int64_t> order(static_cast<size_t>(ne));
    for (int64_t i = 0; i < ne; ++i) order[static_cast<size_t>(i)] = i;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)];
    });
    double chosen = 0;
    for (int64_t j = 0; j < c.n_expert_used; ++j) chosen += p[static_cast<size_t>(order[j])];
    if (c.n_expert_used < ne) {
      const double* lt = logits.data() + t * ne;
      min_route_gap_ =
          std::min(min_route_gap_, lt[order[static_cast<size_t>(c.n_expert_used - 1)]] -
                                       lt[order[static_cast<size_t>(c.n_expert_used)]]);
    }
    const std::vector<double> row(h.begin() + t * e, h.begin() + (t + 1) * e);
    for (int64_t j = 0; j < c.n_expert_used; ++j) {
      const int64_t x = order[static_cast<size_t>(j)];
      auto g = project(l.gate_exps.expert(x), row, 1);
      const auto u = project(l.up_exps.expert(x), row, 1);
      for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      const auto d = project(l.down_exps.expert(x), g, 1);
      const double wt = p[static_cast<size_t>(x)] / chosen;
      for (int64_t i = 0; i < e; ++i)
        out[static_cast<size_t>(t * e + i)] += wt * d[static_cast<size_t>(i)];
    }
  }
  return out;
}

result<std::vector<float>> reference_forward::forward(const std::vector<int32_t>& tokens) {
  const model_config& c = c_;
  const auto n = static_cast<int64_t>(tokens.size());
  const int64_t e = c.n_embd, hd = c.head_dim, hdv = c.head_dim_v;
  const int64_t group = c.n_head / c.n_head_kv;
  std::vector<double> x(static_cast<size_t>(n * e));
  std::vector<float> row(static_cast<size_t>(e));
  for (int64_t t = 0; t < n; ++t) {
    const int32_t tok = tokens[static_cast<size_t>(t)];
    if (tok < 0 || tok >= c.n_vocab) return make_error("token id {} out of range", tok);
    UMA_TRY(dequantize_row(w_.token_embd.type, w_.token_embd.row(tok), row.data(), e));
    for (int64_t i = 0; i < e; ++i) {
      x[static_cast<size_t>(t * e + i)] =
          row[static_cast<size_t>(i)] * (c.embed_scale ? std::sqrt(double(e)) : 1.0);
    }
  }

  for (int64_t il = 0; il < c.n_layer; ++il) {
    const layer_weights& l = w_.layers[static_cast<size_t>(il)];
    const bool sliding = c.layer_is_sliding(il);
    const double base = sliding ? c.rope_freq_base_local : c.rope_freq_base;
    const double freq_scale = sliding ? c.rope_freq_scale_local : c.rope_freq_scale;
    // Attention.
    std::vector<double> h = x;
    for (int64_t t = 0; t < n; ++t) ref_norm(h, t * e, e, l.attn_norm, c.norm_eps);
    auto q = project(l.wq, h, n);
    auto k = project(l.wk, h, n);
    auto v = project(l.wv, h, n);
    for (int64_t t = 0; t < n; ++t) {
      const int64_t pos = length_ + t;
      for (int64_t i = 0; l.bq && i < c.q_width(); ++i) q[t * c.q_width() + i] += l.bq[i];
      for (int64_t i = 0; l.bk && i < c.kv_width(); ++i) k[t * c.kv_width() + i] += l.bk[i];
      for (int64_t i = 0; l.bv && i < c.v_width(); ++i) v[t * c.v_width() + i] += l.bv[i];
      for (int64_t hh = 0; hh < c.n_head; ++hh) {
        const int64_t off = t * c.q_width() + hh * hd;
        if (l.q_norm) ref_norm(q, off, hd, l.q_norm, c.norm_eps);
        ref_rope(q, off, c, w_.rope_freqs, pos, base, freq_scale);
      }
      for (int64_t hh = 0; hh < c.n_head_kv; ++hh) {
        const int64_t off = t * c.kv_width() + hh * hd;
        if (l.k_norm) ref_norm(k, off, hd, l.k_norm, c.norm_eps);
        ref_rope(k, off, c, w_.rope_freqs, pos, base, freq_scale);
      }
    }
    const double scale = c.attn_scale > 0 ? c.attn_scale : 1.0 / std::sqrt(double(hd));
    // Each head's row as a Q8_0 cache stores it (ggml's quantize_row_q8_0 and back).
    const auto round_rows = [&](std::vector<double>& x, int64_t width, int64_t d) {
      std::vector<float> row(static_cast<size_t>(d));
      std::vector<uint8_t> blocks(static_cast<size_t>(d / 32 * 34));
      for (int64_t i = 0; i < n * width; i += d) {
        for (int64_t e = 0; e < d; ++e) row[e] = static_cast<float>(x[i + e]);
        quantize_row_q8_0(row.data(), blocks.data(), d);
        dequantize_row_q8_0(blocks.data(), row.data(), d);
        for (int64_t e = 0; e < d; ++e) x[i + e] = row[e];
      }
    };
    // Against a Q8_0 cache the scores take the scaled queries rounded to Q8_0 as well (as ggml's
    // flash attention converts Q to the K cache's type).
    std::vector<double> q_rounded;
    if (kv_q8_0_) {
      round_rows(k, c.kv_width(), hd);
      round_rows(v, c.v_width(), hdv);
      q_rounded = q;
      for (double& x : q_rounded) x *= scale;
      round_rows(q_rounded, c.q_width(), hd);
    }
    auto& kc = k_[static_cast<size_t>(il)];
    auto& vc = v_[static_cast<size_t>(il)];
    kc.insert(kc.end(), k.begin(), k.end());
    vc.insert(vc.end(), v.begin(), v.end());

    std::vector<double> att(static_cast<size_t>(n * c.n_head * hdv), 0.0);
    std::vector<double> p;
    const double qscale = kv_q8_0_ ? 1.0 : scale;  // the rounded queries are scaled already
    for (int64_t t = 0; t < n; ++t) {
      const int64_t pos = length_ + t;
      const int64_t first = sliding ? std::max<int64_t>(0, pos - c.sliding_window + 1) : 0;
      for (int64_t hh = 0; hh < c.n_head; ++hh) {
        const int64_t kvh = hh / group;
        const double* qh = (kv_q8_0_ ? q_rounded : q).data() + t * c.q_width() + hh * hd;
        p.assign(static_cast<size_t>(pos + 1 - first), 0.0);
        double mx = -1e300;
        for (int64_t j = first; j <= pos; ++j) {
          const double* kj = kc.data() + j * c.kv_width() + kvh * hd;
          double s = 0;
          for (int64_t i = 0; i < hd; ++i) s += qh[i] * kj[i];
          p[static_cast<size_t>(j - first)] = s * qscale;
          mx = std::max(mx, s * qscale);
        }
        double sum = 0;
        for (auto& pj : p) sum += (pj = std::exp(pj - mx));
        double* out = att.data() + t * c.n_head * hdv + hh * hdv;
        for (int64_t j = first; j <= pos; ++j) {
          const double pj = p[static_cast<size_t>(j - first)] / sum;
          const double* vj = vc.data() + j * c.v_width() + kvh * hdv;
          for (int64_t i = 0; i < hdv; ++i) out[i] += pj * vj[i];
        }
      }
    }
    auto o = project(l.wo, att, n);
    for (int64_t t = 0; t < n; ++t) {
      if (l.bo) {
        for (int64_t i = 0; i < e; ++i) o[t * e + i] += l.bo[i];
      }
      if (l.post_attn_norm) ref_norm(o, t * e, e, l.post_attn_norm, c.norm_eps);
    }
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];

    // MLP.
    h = x;
    for (int64_t t = 0; t < n; ++t) ref_norm(h, t * e, e, l.ffn_norm, c.norm_eps);
    if (c.moe()) {
      const auto d = experts(l, h, n);
      for (size_t i = 0; i < x.size(); ++i) x[i] += d[i];
      continue;
    }
    auto g = project(l.w_gate, h, n);
    auto u = project(l.w_up, h, n);
    for (size_t i = 0; i < g.size(); ++i) {
      const double a = g[i];
      const double act =
          c.gelu ? 0.5 * a * (1 + std::tanh(0.7978845608028654 * (a + 0.044715 * a * a * a)))
                 : a / (1 + std::exp(-a));
      g[i] = act * u[i];
    }
    auto d = project(l.w_down, g, n);
    if (l.post_ffn_norm) {
      for (int64_t t = 0; t < n; ++t) ref_norm(d, t * e, e, l.post_ffn_norm, c.norm_eps);
    }
    for (size_t i = 0; i < x.size(); ++i) x[i] += d[i];
  }
  length_ += n;

  for (int64_t t = 0; t < n; ++t) ref_norm(x, t * e, e, w_.output_norm, c.norm_eps);
  auto logits = project(w_.output, x, n);
  if (c.final_logit_softcap > 0) {
    const double cap = c.final_logit_softcap;
    for (double& z : logits) z = cap * std::tanh(z / cap);
  }
  return std::vector<float>(logits.begin(), logits.end());
}

result<std::vector<int32_t>> reference_greedy(reference_forward& ref,
                                              const std::vector<int32_t>& prompt, int n) {
  std::vector<int32_t> out;
  UMA_ASSIGN(auto logits, ref.forward(prompt));
  const int64_t nv = static_cast<int64_t>(logits.size() / prompt.size());
  std::vector<float> last(logits.end() - nv, logits.end());
  for (int i = 0; i < n; ++i) {
    const auto best =
        static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
    out.push_back(best);
    if (i + 1 == n) break;
    UMA_ASSIGN(last, ref.forward({best}));
  }
  return out;
}

}  // namespace uma::model
