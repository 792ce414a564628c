// Model loading (open, config, binding) and the production forward pass over a batch.
#include "model/model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <unordered_map>

#include "gguf/gguf.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/arch.h"
#include "model/blocks.h"
#include "model/weights.h"
#include "tensor/quant.h"
#include "util/mapped_file.h"
#include "util/pages.h"
#include "util/thread_pool.h"

namespace uma::model {

struct model::scratch {
  forward_buffers buf;
  aligned_vector<float> rows;  // (n_logits, n_embd) final hidden states of the wanted positions
};

model::model() = default;
model::~model() = default;

uint64_t model::repacked_bytes() const {
  return weights_->interleaved_bytes;
}

int model::n_threads() const {
  return pool_ ? pool_->size() : 1;
}

result<std::unique_ptr<model>> load_model(const std::string& path, const load_options& opts) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return make_error("no such model file: {}", path);
  if (std::filesystem::is_directory(path, ec)) return make_error("{} is a directory", path);
  if (opts.n_threads < 0 || opts.n_threads > thread_pool::max_threads)
    return make_error("thread count must be between 0 and {}", thread_pool::max_threads);
  if (opts.max_context < 0) return make_error("context length must be >= 0");
  if (opts.max_sequences < 1) return make_error("max_sequences must be >= 1");
  if (opts.reread_huge) {
    auto r = mapped_file::reread_huge(path);
    if (!r.ok()) return r.err();
  }
  auto f = gguf::file::open(path);
  if (!f.ok()) return f.err();  // the reader names the file
  std::unique_ptr<model> m(new model());
  m->file_ = std::make_unique<gguf::file>(std::move(f).value());
  auto cfg = read_config(*m->file_);
  if (!cfg.ok()) return make_error("{}: {}", path, cfg.message());
  m->config_ = std::move(cfg).value();
  auto w = bind_weights(*m->file_, m->config_);
  if (!w.ok()) return make_error("{}: {}", path, w.message());
  m->weights_ = std::move(w).value();
  if (!kernels::kv_fits(opts.kv_format, m->config_.head_dim) ||
      !kernels::kv_fits(opts.kv_format, m->config_.head_dim_v))
    return make_error(
        "{}: a {} KV cache needs head dimensions that are multiples of 32 (this model: "
        "{} / {}); use f16",
        path, kernels::kv_format_name(opts.kv_format), m->config_.head_dim, m->config_.head_dim_v);
  m->opts_ = opts;
  if (m->opts_.max_context == 0)
    m->opts_.max_context = std::min<int64_t>(m->config_.n_ctx_train, 4096);
  // The KV cache is reserved for the whole context up front: refuse one the machine cannot hold
  // (before, `uma run --ctx 99999999999` failed with a bare std::bad_alloc).
  if (const double kv = m->cache_bytes(), ram = physical_memory_bytes(); ram > 0 && kv > ram)
    return make_error(
        "a context of {} positions x {} sequences needs {:.1f} GiB of KV cache, "
        "more than this machine's {:.1f} GiB of memory",
        m->opts_.max_context, m->opts_.max_sequences, kv / (1 << 30), ram / (1 << 30));
  m->weight_bytes_ = decode_bytes(*m->weights_, m->config_);
  for (const auto& t : m->file_->tensors()) m->file_tensor_bytes_ += t.n_bytes;
  try {
    m->pool_ = std::make_unique<thread_pool>(opts.n_threads);
  } catch (const std::exception& e) {  // the system refused a thread
    return make_error("{}", e.what());
  }
  if (opts.repack != repack_mode::none)
    interleave_weights(*m->weights_, *m->file_, m->pool_.get(), opts.repack == repack_mode::all);
  m->scratch_ = std::make_unique<model::scratch>();
  return m;
}

namespace {
constexpr int64_t tokens_per_block = 16;
// Positions a forward appends to a sequence at a time where the cache has windowed layers (their
// rings hold a window and this many more): longer batches run in pieces of this many entries.
constexpr int64_t window_append = 512;

// The windowed layers make_cache gives a ring: the sliding ones, where their ring is shorter
// than a sequence's blocks (otherwise every layer keeps the whole context).
kv_window cache_window(const model_config& c, int64_t blocks_per_seq) {
  kv_window w;
  if (c.sliding_window <= 0 || kv_cache::ring_blocks_for(c.sliding_window, window_append,
                                                         tokens_per_block) >= blocks_per_seq)
    return w;
  w.keys = c.sliding_window;
  w.append = window_append;
  w.layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il)
    w.layers[static_cast<size_t>(il)] = c.layer_is_sliding(il);
  return w;
}
}  // namespace

std::unique_ptr<kv_cache> model::make_cache(int64_t max_context, int max_sequences) const {
  if (max_context <= 0) max_context = opts_.max_context;
  if (max_sequences <= 0) max_sequences = opts_.max_sequences;
  const int64_t blocks_per_seq = (max_context + tokens_per_block - 1) / tokens_per_block;
  return std::make_unique<kv_cache>(config_.n_layer, config_.n_head_kv, config_.kv_width(),
                                    config_.v_width(), tokens_per_block,
                                    blocks_per_seq * max_sequences, max_sequences, max_context, 0,
                                    0, opts_.kv_format, cache_window(config_, blocks_per_seq));
}

double cache_bytes_for(const model_config& c, int64_t max_context, int max_sequences,
                       kernels::kv_format f) {
  // In floating point: a context near INT64_MAX must come out huge (and be refused), not wrap.
  const double blocks_per_seq = std::ceil(double(max_context) / double(tokens_per_block));
  const double row = double(c.n_head_kv) * double(kernels::kv_row_bytes(f, c.head_dim) +
                                                  kernels::kv_row_bytes(f, c.head_dim_v));
  // As make_cache: the windowed layers' rings, the full layers' whole context.
  const kv_window w =
      cache_window(c, static_cast<int64_t>(std::min(blocks_per_seq, double(int64_t{1} << 50))));
  double ring_layers = 0;
  for (const bool l : w.layers) ring_layers += l ? 1 : 0;
  const double ring_blocks =
      ring_layers > 0 ? double(kv_cache::ring_blocks_for(w.keys, w.append, tokens_per_block)) : 0;
  return double(max_sequences) * double(tokens_per_block) * row *
         (blocks_per_seq * (double(c.n_layer) - ring_layers) + ring_blocks * ring_layers);
}

double model::cache_bytes(int64_t max_context, int max_sequences) const {
  if (max_context <= 0) max_context = opts_.max_context;
  if (max_sequences <= 0) max_sequences = opts_.max_sequences;
  return cache_bytes_for(config_, max_context, max_sequences, opts_.kv_format);
}

namespace {

void grow(aligned_vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

}  // namespace

status model::forward(const batch& b, kv_cache& cache, float* logits) {
  // With a timeline: the whole call is timed, and what no scope below claims is `other`.
  struct whole_call {
    op_timeline* t;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    double claimed = t != nullptr ? t->sum() : 0;
    ~whole_call() {
      if (t == nullptr) return;
      const double total =
          std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
      t->ns[op_timeline::other] += total - (t->sum() - claimed);
      ++t->forwards;
    }
  } const whole{timeline_};
  const model_config& c = config_;
  const int64_t n = static_cast<int64_t>(b.size());
  if (n == 0) return {};
  if (b.positions.size() != b.tokens.size() || b.seq_ids.size() != b.tokens.size() ||
      b.want_logits.size() != b.tokens.size()) {
    return make_error("batch arrays have different lengths");
  }
  if (cache.n_layer() != c.n_layer || cache.n_head_kv() != c.n_head_kv ||
      cache.k_width() != c.kv_width() || cache.v_width() != c.v_width()) {
    return make_error("KV cache was made for a different model");
  }
  // (A cache's format fits its head widths: kv_cache's constructor refuses one that does not.)
  // Validate tokens and positions, then reserve cache blocks for each sequence.
  std::unordered_map<int32_t, int64_t> next_pos;  // seq -> next expected position
  for (int64_t t = 0; t < n; ++t) {
    const auto i = static_cast<size_t>(t);
    if (b.tokens[i] < 0 || b.tokens[i] >= c.n_vocab) {
      return make_error("token id {} is outside the vocabulary ({} tokens)", b.tokens[i],
                        c.n_vocab);
    }
    const int32_t s = b.seq_ids[i];
    if (s < 0 || s >= cache.max_sequences()) {
      return make_error("sequence id {} out of range (cache holds {})", s, cache.max_sequences());
    }
    auto it = next_pos.find(s);
    const int64_t expect = it == next_pos.end() ? cache.seq_length(s) : it->second;
    if (b.positions[i] != expect) {
      return make_error("sequence {}: position {} given, {} expected", s, b.positions[i], expect);
    }
    next_pos[s] = expect + 1;
  }
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const int64_t win = cache.window(il);
    if (win != 0 && (!c.layer_is_sliding(il) || win < c.sliding_window))
      return make_error("KV cache was made for a different model (layer {}'s window)", il);
  }
  if (b.n_logits() > 0 && !logits) return make_error("logits requested but no output buffer");
  for (const auto& [s, end] : next_pos) UMA_TRY(cache.reserve(s, end));
  // A cache with windowed layers holds only max_append() positions beyond a window: a longer
  // batch runs in pieces (each piece's K/V written, then read, before the next overwrites).
  const int64_t piece = cache.max_append();
  if (piece <= 0 || n <= piece) return run(b, cache, logits);
  batch sub;
  for (int64_t t0 = 0; t0 < n; t0 += piece) {
    sub.clear();
    for (int64_t t = t0; t < std::min(n, t0 + piece); ++t) {
      const auto i = static_cast<size_t>(t);
      sub.add(b.tokens[i], b.positions[i], b.seq_ids[i], b.want_logits[i] != 0);
    }
    UMA_TRY(run(sub, cache, logits));
    if (logits != nullptr) logits += static_cast<int64_t>(sub.n_logits()) * c.n_vocab;
  }
  return {};
}

status model::run(const batch& b, kv_cache& cache, float* logits) {
  const model_config& c = config_;
  const int64_t n = static_cast<int64_t>(b.size());

  forward_buffers& buf = scratch_->buf;
  grow(buf.x, n * c.n_embd);
  grow(buf.xn, n * c.n_embd);
  grow(buf.q, n * c.q_width());
  grow(buf.k, n * c.kv_width());
  grow(buf.v, n * c.v_width());
  grow(buf.attn, n * c.n_head * c.head_dim_v);
  grow(buf.o, n * c.n_embd);
  grow(buf.gate, n * c.n_ff);
  grow(buf.up, n * c.n_ff);
  grow(buf.scores, static_cast<int64_t>(n_threads()) * cache.max_context());

  // Embeddings: dequantize one row per token.
  const weights& w = *weights_;
  for (int64_t t = 0; t < n; ++t) {
    float* x = buf.x.data() + t * c.n_embd;
    UMA_TRY(dequantize_row(w.token_embd.type, w.token_embd.row(b.tokens[static_cast<size_t>(t)]), x,
                           c.n_embd));
    if (c.embed_scale) {
      const float s = std::sqrt(static_cast<float>(c.n_embd));
      for (int64_t i = 0; i < c.n_embd; ++i) x[i] *= s;
    }
  }

  forward_state st{c, w, cache, pool_.get(), b, n, buf, n_threads()};
  st.timeline = timeline_;
  if (opts_.attn_part_keys > 0) st.attn_part_keys = opts_.attn_part_keys;
  st.attn_bf16 = opts_.attn_bf16 && kernels::attn_bf16_available();
  const arch_def* def = find_arch(c.arch_name);
  {
    // The layers' time less what their matmul and attention scopes claimed is layer_glue.
    const auto claimed = [&] { return timeline_->sum(op_timeline::qkv, op_timeline::down); };
    const double in_ops = timeline_ != nullptr ? claimed() : 0;
    const op_scope layers(timeline_, op_timeline::layer_glue);
    for (int64_t il = 0; il < c.n_layer; ++il) def->layer_forward(st, il);
    if (timeline_ != nullptr) timeline_->ns[op_timeline::layer_glue] -= claimed() - in_ops;
  }

  // Final norm and output projection for the wanted rows only.
  const auto n_out = static_cast<int64_t>(b.n_logits());
  if (n_out == 0) return {};
  const op_scope output(timeline_, op_timeline::output);
  grow(scratch_->rows, n_out * c.n_embd);
  int64_t r = 0;
  for (int64_t t = 0; t < n; ++t) {
    if (!b.want_logits[static_cast<size_t>(t)]) continue;
    kernels::rms_norm(buf.x.data() + t * c.n_embd, w.output_norm, c.n_embd, c.norm_eps,
                      scratch_->rows.data() + r * c.n_embd);
    ++r;
  }
  kernels::matmul(w.output.view(), scratch_->rows.data(), n_out, logits, pool_.get());
  if (c.final_logit_softcap > 0.f)
    kernels::softcap(logits, n_out * c.n_vocab, c.final_logit_softcap);
  return {};
}

}  // namespace uma::model
