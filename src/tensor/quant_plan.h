// Which type each tensor of a model gets when it is converted (`uma quantize IN OUT --type T`).
// Pure functions over names and shapes, so the rule is unit-tested without files.
//
// The rule:
//  1. Tensors of integer types (i8..i64) and f64 keep their type.
//  2. 1-D tensors (norms, biases, rope factors) become F32.
//  3. Only weights are converted: the name ends in "weight", the tensor has 2+ dimensions, and it
//     is none of *_norm.weight, ffn_gate_inp.weight (MoE router), position_embd.weight,
//     token_types.weight, ssm_conv1d.weight (as llama.cpp); other tensors keep their type.
//  4. A plain target (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k) converts
//  every
//     such weight to T ("pure", like llama-quantize --pure).
//     The mixes q3_k_s / q3_k_m / q3_k_l, q4_k_s / q4_k_m and q5_k_s / q5_k_m start from Q3_K /
//     Q4_K / Q5_K and follow llama.cpp's llama_tensor_get_type for those file types (i the
//     layer in blk.<i>., n = block_count, "more bits" layers i < n/8 || i >= 7n/8 ||
//     (i - n/8) % 3 == 2):
//       - output.weight (or token_embd.weight when the model has no output.weight, i.e. tied
//         embeddings) -> Q6_K; Q8_0 if its rows are not a multiple of 256 or the arch is falcon;
//       - attn_v.weight -> q3_k_m: Q5_K for i < 2, else Q4_K; q3_k_l: Q5_K; q4_k_m / q5_k_m:
//         Q6_K on more-bits layers; q4_k_s: Q5_K for i < 4;
//       - ffn_down* -> q3_k_m: Q5_K for i < n/16, else Q4_K (falcon: Q4_K on more-bits layers,
//         else Q3_K); q3_k_l: Q5_K (falcon Q4_K); q4_k_m / q5_k_m: Q6_K on more-bits layers;
//         q4_k_s: Q5_K for i < n/8 (not falcon);
//       - attn_output.weight (no 8 experts, not falcon) -> q3_k_m: Q4_K, q3_k_l: Q5_K; falcon
//         q3_k_l: Q4_K;
//       - attn_qkv.weight -> Q4_K (q3_k_m, q3_k_l) / Q5_K (q4_k_m) / Q6_K (q5_k_m);
//       - with 8 experts: attn_v.weight and attn_k.weight -> Q8_0, attn_output.weight -> Q5_K
//         (q3_k_s, q3_k_m, q4_k_s, q4_k_m);
//       - llama with 80 layers (the 70B shape): an attn_v.weight at Q3_K or Q4_K -> Q5_K.
//  5. Rows whose length is not a multiple of the chosen type's block fall back like llama.cpp:
//     Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0; and F16 if even that block does not divide them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tensor/dtype.h"
#include "util/status.h"

namespace uma {

enum class quant_mix { none, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m };

struct quant_target {
  std::string name;  // lower-case, as accepted: "q4_k_m", "q8_0", ...
  dtype base = dtype::f32;
  quant_mix mix = quant_mix::none;
  uint32_t file_type = 0;  // llama.cpp's LLAMA_FTYPE value, written to general.file_type
};

// Parses --type: a codec type name (not q8_k: an activation format) or one of the mixes.
result<quant_target> parse_quant_target(std::string_view name);
// The accepted names, for help and errors.
std::string quant_target_names();

struct quant_model_info {
  std::string arch;        // general.architecture
  int64_t n_layer = 0;     // <arch>.block_count
  int64_t n_expert = 0;    // <arch>.expert_count (0 when dense)
  bool has_output = true;  // the model has its own output.weight (untied)
};

struct quant_tensor_info {
  std::string_view name;
  int n_dims = 1;
  int64_t ne0 = 0;          // row length
  dtype type = dtype::f32;  // the source type
};

// The type the tensor is written in (equal to the source type when it is kept as it is).
dtype choose_quant_type(const quant_target& target, const quant_model_info& model,
                        const quant_tensor_info& tensor);

// The layer index in a "blk.<i>." name, or -1.
int64_t layer_of(std::string_view tensor_name);

}  // namespace uma
