// Table of element types and their block geometry (matches ggml's type_traits).
#include "tensor/dtype.h"

#include <array>
#include <cctype>
#include <string>

#include "util/checked.h"

namespace uma {
namespace {

constexpr std::array kTypes = {
    dtype_traits{dtype::f32, "f32", 1, 4, false, true},
    dtype_traits{dtype::f16, "f16", 1, 2, false, true},
    dtype_traits{dtype::q4_0, "q4_0", 32, 18, true, true},
    dtype_traits{dtype::q4_1, "q4_1", 32, 20, true, true},
    dtype_traits{dtype::q5_0, "q5_0", 32, 22, true, true},
    dtype_traits{dtype::q5_1, "q5_1", 32, 24, true, true},
    dtype_traits{dtype::q8_0, "q8_0", 32, 34, true, true},
    dtype_traits{dtype::q8_1, "q8_1", 32, 36, true, false},
    dtype_traits{dtype::q2_k, "q2_k", 256, 84, true, true},
    dtype_traits{dtype::q3_k, "q3_k", 256, 110, true, true},
    dtype_traits{dtype::q4_k, "q4_k", 256, 144, true, true},
    dtype_traits{dtype::q5_k, "q5_k", 256, 176, true, true},
    dtype_traits{dtype::q6_k, "q6_k", 256, 210, true, true},
    dtype_traits{dtype::q8_k, "q8_k", 256, 292, true, true},
    dtype_traits{dtype::iq2_xxs, "iq2_xxs", 256, 66, true, false},
    dtype_traits{dtype::iq2_xs, "iq2_xs", 256, 74, true, false},
    dtype_traits{dtype::iq3_xxs, "iq3_xxs", 256, 98, true, false},
    dtype_traits{dtype::iq1_s, "iq1_s", 256, 50, true, false},
    dtype_traits{dtype::iq4_nl, "iq4_nl", 32, 18, true, false},
    dtype_traits{dtype::iq3_s, "iq3_s", 256, 110, true, false},
    dtype_traits{dtype::iq2_s, "iq2_s", 256, 82, true, false},
    dtype_traits{dtype::iq4_xs, "iq4_xs", 256, 136, true, false},
    dtype_traits{dtype::i8, "i8", 1, 1, false, false},
    dtype_traits{dtype::i16, "i16", 1, 2, false, false},
    dtype_traits{dtype::i32, "i32", 1, 4, false, false},
    dtype_traits{dtype::i64, "i64", 1, 8, false, false},
    dtype_traits{dtype::f64, "f64", 1, 8, false, false},
    dtype_traits{dtype::iq1_m, "iq1_m", 256, 56, true, false},
    dtype_traits{dtype::bf16, "bf16", 1, 2, false, true},
    dtype_traits{dtype::tq1_0, "tq1_0", 256, 54, true, false},
    dtype_traits{dtype::tq2_0, "tq2_0", 256, 66, true, false},
    dtype_traits{dtype::mxfp4, "mxfp4", 32, 17, true, false},
};

}  // namespace

const dtype_traits* find_dtype(uint32_t id) {
  for (const auto& t : kTypes)
    if (static_cast<uint32_t>(t.type) == id) return &t;
  return nullptr;
}

const dtype_traits& traits(dtype t) {
  const dtype_traits* p = find_dtype(static_cast<uint32_t>(t));
  // Every enumerator has a row; a value outside the enum is a programming error.
  return p != nullptr ? *p : kTypes[0];
}

std::optional<dtype> dtype_from_name(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& t : kTypes)
    if (t.name == lower) return t.type;
  return std::nullopt;
}

std::optional<uint64_t> bytes_for(dtype t, uint64_t n) {
  const auto& tr = traits(t);
  if (n % tr.block_elems != 0) return std::nullopt;
  return checked_mul(n / tr.block_elems, tr.block_bytes);
}

}  // namespace uma
