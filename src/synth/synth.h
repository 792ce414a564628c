// `uma synth`: GGUF files with random weights but the exact tensor names, shapes and metadata of
// real models (llama.cpp's key and tensor names), so benchmarks and tests run on a model's true
// shape without downloading it. Used by the CLI (src/cli/synth.cpp), `uma bench` and the tests.
//
//   uma::synth::synth_options o;
//   o.preset = "qwen3-0.6b"; o.output = "/tmp/q.gguf"; o.type = "q4_0"; o.seed = 1;
//   UMA_TRY(uma::synth::synthesize(o));
//
// See docs/synth.md for the presets, the weight distributions and the tokenizer choices.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/dtype.h"
#include "util/status.h"

namespace uma::synth {

// Llama 3.x "llama3" RoPE frequency scaling (stored as the rope_freqs.weight tensor, as llama.cpp's
// converter does). factor == 0 means no scaling.
struct rope_llama3 {
  double factor = 0;
  double low_freq_factor = 0;
  double high_freq_factor = 0;
  int64_t original_context = 0;
};

// A model shape, from the model's Hugging Face config.json.
struct preset {
  std::string_view name;  // "qwen3-0.6b", "tiny-llama", ...
  std::string_view
      arch;  // GGUF general.architecture: "llama", "qwen2", "qwen3", "qwen3moe", "gemma3"
  std::string_view display_name;  // "Qwen3 0.6B"
  std::string_view source;        // where the shape comes from
  int64_t n_vocab;                // default vocab size (a tokenizer may change it, see below)
  int64_t n_embd;                 // hidden_size
  int64_t n_layer;                // num_hidden_layers
  int64_t n_ff;                   // intermediate_size
  int64_t n_head;                 // num_attention_heads
  int64_t n_head_kv;              // num_key_value_heads
  int64_t head_dim;               // may differ from n_embd / n_head (qwen3)
  int64_t n_ctx;                  // max_position_embeddings
  double rms_eps;                 // rms_norm_eps
  double rope_theta;              // rope_theta
  bool tied;                      // tie_word_embeddings: no output.weight
  bool qkv_bias;                  // attn_q/k/v.bias (qwen2)
  bool qk_norm;                   // attn_q_norm / attn_k_norm (qwen3)
  bool tiny;                      // a test-sized variant: vocab follows the tokenizer exactly
  rope_llama3 rope_scaling;
  // gemma3: sliding_window (0 = none) of its local layers, and its global layers' linear RoPE
  // scaling factor (rope_scaling.factor of type "linear"; 0 = none).
  int64_t sliding_window = 0;
  double rope_linear_factor = 0;
  // qwen3moe: experts a layer (0 = a dense MLP of n_ff), used per token, and their width
  // (num_experts, num_experts_per_tok, moe_intermediate_size).
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_ff_exp = 0;
};

std::span<const preset> presets();
const preset* find_preset(std::string_view name);  // nullptr if unknown

// What a tensor's random values look like: normal(mean, std) from a 16-bit quantile table (tails
// at +-4.33 std), or fixed values (rope_freqs).
enum class tensor_role { weight, norm, bias, rope_freqs };

struct tensor_plan {
  std::string name;
  dtype type = dtype::f32;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the row length
  tensor_role role = tensor_role::weight;
  float mean = 0;
  float stddev = 0;
  uint64_t n_elements() const;
  uint64_t n_bytes() const;
};

// The full tensor table of a preset for a weight type and vocab size, without writing anything.
struct model_layout {
  const preset* p = nullptr;
  int64_t n_vocab = 0;
  dtype base_type = dtype::f32;  // --type (for a mix: its main type)
  std::string type_name;         // lower-case: "q4_0", "q4_k_m", ...
  uint32_t file_type = 0;        // general.file_type (llama_ftype)
  std::vector<tensor_plan> tensors;
  uint64_t n_elements() const;  // every tensor element, rope_freqs included
  uint64_t n_params() const;    // learned parameters: n_elements() minus rope_freqs
  uint64_t n_bytes() const;     // tensor data bytes (without the header and alignment padding)
};

// The weight types --type accepts, in the order `uma synth --list` prints them.
std::span<const std::string_view> type_names();

// Layout for `type` ("q4_0", ..., or the mixes "q4_k_m" / "q5_k_m") and the vocab size the model
// will have. Each tensor's type follows `uma quantize`'s rule (tensor/quant_plan.h): 2-D weights
// get `type` (mixes: llama.cpp's per-tensor choices; K-quants fall back like llama.cpp when a row
// is not a multiple of 256: q4_k->q5_0, q5_k->q5_1, q6_k->q8_0); norms, biases, rope_freqs f32.
result<model_layout> plan_layout(const preset& p, std::string_view type, int64_t n_vocab);

// Learned parameters of a preset for a vocab size (embedding counted once when tied).
uint64_t param_count(const preset& p, int64_t n_vocab);

struct synth_options {
  std::string preset;          // a name from presets()
  std::string output;          // .gguf path to write (written to .tmp, then renamed)
  std::string type = "q4_0";   // weight type, see type_names()
  uint64_t seed = 0;           // same seed (and inputs) -> byte-identical file
  std::string vocab_gguf;      // copy tokenizer.* metadata from this GGUF (e.g. ggml-vocab-*.gguf)
  std::string tokenizer_json;  // or import a Hugging Face tokenizer.json (+ tokenizer_config.json)
  int threads = 0;             // 0: one per physical core
};

struct synth_report {
  model_layout layout;
  std::string tokenizer;  // what the tokenizer metadata came from, in words
  uint64_t file_bytes = 0;
  double seconds = 0;
};

// Vocab size of the written model: the preset's own size with no tokenizer; with a tokenizer, the
// tokenizer's size for tiny presets, and for full presets the preset's size (the tokenizer padded
// with unused [PAD<id>] tokens, as llama.cpp's converter does) unless the tokenizer is larger.
int64_t model_vocab_size(const preset& p, int64_t tokenizer_tokens, bool has_tokenizer);

// Writes the GGUF. Errors (unknown preset or type, unreadable tokenizer, unwritable path) are one
// line. `report` (optional) receives what was written.
status synthesize(const synth_options& options, synth_report* report = nullptr);

}  // namespace uma::synth
