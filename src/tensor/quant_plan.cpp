// Implementation of the per-tensor type rule of `uma quantize` (see quant_plan.h for the rule).
#include "tensor/quant_plan.h"

#include <array>
#include <cctype>

#include "tensor/blocks.h"

namespace uma {
namespace {

struct target_row {
  std::string_view name;
  dtype base;
  quant_mix mix;
  uint32_t file_type;  // LLAMA_FTYPE_*
};

// LLAMA_FTYPE values: ALL_F32 0, MOSTLY_F16 1, Q4_0 2, Q4_1 3, Q8_0 7, Q5_0 8, Q5_1 9,
// Q2_K 10, Q3_K_S 11, Q3_K_M 12, Q3_K_L 13, Q4_K_S 14, Q4_K_M 15, Q5_K_S 16, Q5_K_M 17, Q6_K 18,
// BF16 32. A pure K target
// is recorded as its _S file type (what llama.cpp records for --pure).
constexpr std::array kTargets = {
    target_row{"f32", dtype::f32, quant_mix::none, 0},
    target_row{"f16", dtype::f16, quant_mix::none, 1},
    target_row{"bf16", dtype::bf16, quant_mix::none, 32},
    target_row{"q8_0", dtype::q8_0, quant_mix::none, 7},
    target_row{"q4_0", dtype::q4_0, quant_mix::none, 2},
    target_row{"q4_1", dtype::q4_1, quant_mix::none, 3},
    target_row{"q5_0", dtype::q5_0, quant_mix::none, 8},
    target_row{"q5_1", dtype::q5_1, quant_mix::none, 9},
    target_row{"q2_k", dtype::q2_k, quant_mix::none, 10},
    target_row{"q3_k", dtype::q3_k, quant_mix::none, 11},
    target_row{"q4_k", dtype::q4_k, quant_mix::none, 14},
    target_row{"q5_k", dtype::q5_k, quant_mix::none, 16},
    target_row{"q6_k", dtype::q6_k, quant_mix::none, 18},
    target_row{"q3_k_s", dtype::q3_k, quant_mix::q3_k_s, 11},
    target_row{"q3_k_m", dtype::q3_k, quant_mix::q3_k_m, 12},
    target_row{"q3_k_l", dtype::q3_k, quant_mix::q3_k_l, 13},
    target_row{"q4_k_s", dtype::q4_k, quant_mix::q4_k_s, 14},
    target_row{"q4_k_m", dtype::q4_k, quant_mix::q4_k_m, 15},
    target_row{"q5_k_s", dtype::q5_k, quant_mix::q5_k_s, 16},
    target_row{"q5_k_m", dtype::q5_k, quant_mix::q5_k_m, 17},
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

bool is_integer_type(dtype t) {
  return t == dtype::i8 || t == dtype::i16 || t == dtype::i32 || t == dtype::i64 || t == dtype::f64;
}

bool is_converted_weight(const quant_tensor_info& t) {
  if (!ends_with(t.name, "weight") || t.n_dims < 2) return false;
  for (std::string_view skip : {"_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight"})
    if (contains(t.name, skip)) return false;
  return t.name != "position_embd.weight" && t.name != "token_types.weight";
}

// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third between.
bool use_more_bits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

dtype mix_type(const quant_target& target, const quant_model_info& m, const quant_tensor_info& t) {
  using enum quant_mix;
  dtype type = target.base;
  const quant_mix mix = target.mix;
  const std::string_view name = t.name;
  const int64_t layer = layer_of(name) < 0 ? 0 : layer_of(name);
  const int64_t n_layer = m.n_layer > 0 ? m.n_layer : 1;
  const bool falcon = m.arch == "falcon", more = use_more_bits(layer, n_layer);
  const bool m_mix = mix == q4_k_m || mix == q5_k_m;
  if (name == "output.weight" || (!m.has_output && name == "token_embd.weight")) {
    if (falcon || t.ne0 % qk_k != 0) return dtype::q8_0;
    return dtype::q6_k;
  }
  if (contains(name, "attn_v.weight")) {
    if (mix == q3_k_m) type = layer < 2 ? dtype::q5_k : dtype::q4_k;
    if (mix == q3_k_l) type = dtype::q5_k;
    if (m_mix && more) type = dtype::q6_k;
    if (mix == q4_k_s && layer < 4) type = dtype::q5_k;
    if (m.arch == "llama" && m.n_layer == 80 && (type == dtype::q3_k || type == dtype::q4_k))
      type = dtype::q5_k;
    if (m.n_expert == 8) type = dtype::q8_0;
  } else if (contains(name, "attn_k.weight")) {
    if (m.n_expert == 8) type = dtype::q8_0;
  } else if (contains(name, "ffn_down")) {
    if (mix == q3_k_m)
      type = layer < n_layer / 16 ? dtype::q5_k : !falcon || more ? dtype::q4_k : dtype::q3_k;
    if (mix == q3_k_l) type = falcon ? dtype::q4_k : dtype::q5_k;
    if (m_mix && more) type = dtype::q6_k;
    if (mix == q4_k_s && !falcon && layer < n_layer / 8) type = dtype::q5_k;
  } else if (contains(name, "attn_output.weight")) {
    if (falcon) {
      if (mix == q3_k_l) type = dtype::q4_k;
    } else if (m.n_expert == 8) {
      if (mix == q3_k_s || mix == q3_k_m || mix == q4_k_s || mix == q4_k_m) type = dtype::q5_k;
    } else if (mix == q3_k_m) {
      type = dtype::q4_k;
    } else if (mix == q3_k_l) {
      type = dtype::q5_k;
    }
  } else if (contains(name, "attn_qkv.weight")) {
    if (mix == q3_k_m || mix == q3_k_l) type = dtype::q4_k;
    if (mix == q4_k_m) type = dtype::q5_k;
    if (mix == q5_k_m) type = dtype::q6_k;
  }
  return type;
}

}  // namespace

result<quant_target> parse_quant_target(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& row : kTargets)
    if (row.name == lower) return quant_target{lower, row.base, row.mix, row.file_type};
  if (lower == "q8_k")
    return make_error(
        "q8_k is the activation format of the K-quant dot products, not a weight "
        "type (use q8_0)");
  if (auto t = dtype_from_name(lower); t && can_dequantize(*t))
    return make_error("type {} can be read but not written (dequantize only)", lower);
  return make_error("unknown type '{}' (one of: {})", std::string(name), quant_target_names());
}

std::string quant_target_names() {
  std::string out;
  for (const auto& row : kTargets) {
    if (!out.empty()) out += ", ";
    out += row.name;
  }
  return out;
}

int64_t layer_of(std::string_view n) {
  if (n.substr(0, 4) != "blk.") return -1;
  int64_t v = 0;
  size_t i = 4;
  if (i >= n.size() || !std::isdigit(static_cast<unsigned char>(n[i]))) return -1;
  for (; i < n.size() && std::isdigit(static_cast<unsigned char>(n[i])); ++i) {
    v = v * 10 + (n[i] - '0');
    if (v > (int64_t{1} << 40)) return -1;
  }
  return i < n.size() && n[i] == '.' ? v : -1;
}

dtype choose_quant_type(const quant_target& target, const quant_model_info& model,
                        const quant_tensor_info& t) {
  if (is_integer_type(t.type)) return t.type;
  if (t.n_dims <= 1) return dtype::f32;
  if (!is_converted_weight(t)) return t.type;
  dtype type = target.mix == quant_mix::none ? target.base : mix_type(target, model, t);
  if (t.ne0 % traits(type).block_elems != 0) {
    switch (type) {
      case dtype::q2_k:
      case dtype::q3_k:
        type = dtype::q4_0;
        break;
      case dtype::q4_k:
        type = dtype::q5_0;
        break;
      case dtype::q5_k:
        type = dtype::q5_1;
        break;
      case dtype::q6_k:
        type = dtype::q8_0;
        break;
      default:
        break;
    }
    if (t.ne0 % traits(type).block_elems != 0) type = dtype::f16;
  }
  return type;
}

}  // namespace uma
