// Public API of the transformer: load a GGUF model (config + zero-copy weight binding), keep a KV
// cache, and run forward passes over a batch of tokens from one or more sequences. Prefill, decode
// and (later) continuous batching all go through `model::forward`.
//
//   auto m = load_model("qwen3-0.6b.q8_0.gguf", {.n_threads = 4, .max_context = 4096});
//   auto cache = (*m)->make_cache();
//   batch b;
//   for (i...) b.add(tokens[i], /*pos=*/i, /*seq=*/0, /*logits=*/i + 1 == n);
//   (*m)->forward(b, *cache, logits.data());   // logits: one n_vocab row per wanted position
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/kv_cache.h"
#include "util/status.h"

namespace uma {
class thread_pool;
namespace gguf {
class file;
}
}  // namespace uma

namespace uma::model {

enum class repack_mode { none, faster, all };

// Keys an attention part spans by default (load_options::attn_part_keys).
inline constexpr int64_t default_attn_part_keys = 512;

struct load_options {
  int n_threads = 0;        // threads of the compute pool, 0 = one per physical core
  int64_t max_context = 0;  // tokens per sequence the default cache holds; 0 = min(train ctx, 4096)
  int max_sequences = 1;    // sequences the default cache can hold at once
  // Copy matrices into the x16 interleaved layout where the CPU has kernels for it (AVX-512
  // VNNI; interleave_weights): `faster` the types whose decode measured faster that way
  // (kernels::repack_faster: on Zen 5 Q4_K, Zen 4 Q3_K / Q2_K, Intel all), `all` every
  // type with an x16 kernel (batched decode gains from it). The copied weights are no longer
  // zero-copy views of the file (their pages in the mapping are dropped; the copies are anonymous
  // memory).
  repack_mode repack = repack_mode::none;
  // Re-read the file into the page cache in 2 MiB pages before mapping it
  // (mapped_file::reread_huge): once after a copy or download, which leave it in 4 KiB pages.
  bool reread_huge = false;
  // How the default cache (make_cache) stores K and V: F16, or Q8_0 (half the bytes read per key
  // and held per position, llama.cpp's `-ctk q8_0 -ctv q8_0`; head dims must be multiples of 32).
  kernels::kv_format kv_format = kernels::kv_format::f16;
  // Attention parts (see model::attention_block): keys a part spans, rounded up to whole spans of
  // the kernel (64 keys); 0: default_attn_part_keys. A row's softmax runs over each part apart and
  // the parts are folded in order, whichever thread computes them: results do not depend on the
  // thread count. Tests set it small to cross part boundaries in short contexts.
  int64_t attn_part_keys = 0;
  // BF16 products in prefill attention (kernels::attn_block_args::bf16: calls of more than 8 query
  // rows, that is prompts and GQA groups of more than 8 heads) where the CPU has them
  // (kernels::attn_bf16_available: AVX512_BF16); ignored elsewhere. About twice the products an
  // instruction on long prompts; the queries, keys, weights and values rounded to 8 significant
  // bits, so prefill and decode no longer agree to the bit.
  bool attn_bf16 = false;
};

// Tokens of one forward step. Entry i is token `tokens[i]` at position `positions[i]` of sequence
// `seq_ids[i]`; `want_logits[i]` asks for its logits. A sequence's positions in a batch must be
// increasing and continue its cache (position == tokens already cached for it, then +1 ...).
struct batch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  std::vector<int32_t> seq_ids;
  std::vector<uint8_t> want_logits;

  void add(int32_t token, int32_t pos, int32_t seq, bool logits) {
    tokens.push_back(token);
    positions.push_back(pos);
    seq_ids.push_back(seq);
    want_logits.push_back(logits ? 1 : 0);
  }
  void clear() {
    tokens.clear();
    positions.clear();
    seq_ids.clear();
    want_logits.clear();
  }
  size_t size() const { return tokens.size(); }
  // Number of entries with want_logits set: the rows `forward` writes.
  size_t n_logits() const {
    size_t n = 0;
    for (auto w : want_logits) n += w ? 1 : 0;
    return n;
  }
};

struct weights;  // bound tensors (model/weights.h)

// Where the calling thread's time goes in model::forward, by operation (set_timeline): wall time
// in ns summed over the forwards run while attached. The five matmul / attention entries time
// their pool jobs together with the activation's conversion before them; layer_glue is the rest
// of the layers (norms, residuals, SiLU, biases, RoPE angles); output the final norm and the
// output matrix; other the rest of the forward (checks, embedding rows).
struct op_timeline {
  enum op { qkv, attention, o_proj, gate_up, down, layer_glue, output, other, n_ops };
  static constexpr const char* names[n_ops] = {"qkv",  "attention",  "o",      "gate_up",
                                               "down", "layer_glue", "output", "other"};
  double ns[n_ops] = {};
  int64_t forwards = 0;
  // ns[first] + ... + ns[last].
  double sum(op first = qkv, op last = other) const {
    double v = 0;
    for (int o = first; o <= last; ++o) v += ns[o];
    return v;
  }
};

class model {
 public:
  ~model();
  model(const model&) = delete;
  model& operator=(const model&) = delete;

  const model_config& config() const { return config_; }
  const weights& bound() const { return *weights_; }
  const gguf::file& file() const { return *file_; }

  // Bytes of weights read to decode one token (every layer tensor, the output matrix, one row of
  // the embedding): what bounds decode speed (DESIGN.md "Performance method").
  uint64_t weight_bytes() const { return weight_bytes_; }
  // Bytes of all tensors in the file.
  uint64_t file_tensor_bytes() const { return file_tensor_bytes_; }
  // Bytes of weights copied to the interleaved layout (load_options::repack), 0 when zero-copy.
  uint64_t repacked_bytes() const;

  // A KV cache for up to `max_sequences` sequences of `max_context` tokens each (0 = the load
  // options' values). Sliding-window layers (gemma3) get a window-sized ring per sequence where
  // that is shorter than the context (kv_window; a sequence then goes back only as far as its
  // rings reach: kv_cache::truncate).
  std::unique_ptr<kv_cache> make_cache(int64_t max_context = 0, int max_sequences = 0) const;
  // Bytes make_cache(max_context, max_sequences) would reserve, to check before making it.
  double cache_bytes(int64_t max_context = 0, int max_sequences = 0) const;

  // Runs the batch, appending its K/V to `cache`, and writes the logits of every entry with
  // want_logits (in batch order, n_vocab floats each) to `logits` (may be null when none wanted).
  // Errors: token id out of range, position not continuing the sequence, cache full, a cache
  // whose windows do not fit the model. With a cache of rings the batch runs in pieces of
  // kv_cache::max_append() entries (the rings hold that many positions beyond a window).
  // Not reentrant: one forward at a time per model (scratch buffers are shared).
  status forward(const batch& b, kv_cache& cache, float* logits);

  thread_pool* pool() { return pool_.get(); }
  // Adds each later forward's time by operation to *t (null: off, the default; a few clock reads
  // a layer when on). Not owned.
  void set_timeline(op_timeline* t) { timeline_ = t; }
  int n_threads() const;

 private:
  struct scratch;
  model();
  // forward's computation of a checked batch whose blocks are reserved.
  status run(const batch& b, kv_cache& cache, float* logits);
  friend result<std::unique_ptr<model>> load_model(const std::string& path,
                                                   const load_options& opts);
  friend struct forward_impl;
  model_config config_;
  load_options opts_;
  std::unique_ptr<gguf::file> file_;
  std::unique_ptr<weights> weights_;
  std::unique_ptr<thread_pool> pool_;
  uint64_t weight_bytes_ = 0;
  uint64_t file_tensor_bytes_ = 0;
  std::unique_ptr<scratch> scratch_;
  op_timeline* timeline_ = nullptr;
};

// Bytes a KV cache for `c` reserves for `max_sequences` sequences of `max_context` positions in
// format `f`, as model::make_cache makes it (sliding-window layers in rings where those are
// shorter than the context): model::cache_bytes, and `uma inspect` without loading the weights.
double cache_bytes_for(const model_config& c, int64_t max_context, int max_sequences,
                       kernels::kv_format f);

// Opens `path`, reads the config, binds and checks every tensor. One-line errors for a missing or
// truncated file, an unsupported architecture, a missing tensor, a wrong shape, an inconsistent
// hyperparameter.
result<std::unique_ptr<model>> load_model(const std::string& path, const load_options& opts = {});

// Attention part tasks run so far in this process, by every model (attention's split of decode's
// few long (sequence, KV head) tasks over the threads, load_options::attn_part_keys; for tests
// and benchmarks).
uint64_t attention_part_tasks();

}  // namespace uma::model
