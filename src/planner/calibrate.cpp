// Implementation of calibrate.h.
#include "planner/calibrate.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace uma::planner {

namespace {

using json = nlohmann::json;

// A field that must be a finite number when present: nullopt when absent.
result<std::optional<double>> number_field(const json& j, const char* key, bool positive) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<double>();
  if (!it->is_number()) return make_error("bench JSON: '{}' must be a number", key);
  double v = it->get<double>();
  if (!std::isfinite(v)) return make_error("bench JSON: '{}' must be finite", key);
  if (v < 0) return make_error("bench JSON: '{}' must not be negative, got {}", key, v);
  if (positive && v == 0) return make_error("bench JSON: '{}' must be positive", key);
  return std::optional<double>(v);
}

result<double> required_field(const json& j, const char* key) {
  UMA_ASSIGN(auto v, number_field(j, key, true));
  if (!v) return make_error("bench JSON: missing required field '{}'", key);
  return *v;
}

// First present field among aliases, scaled to base units.
result<std::optional<double>> first_of(const json& j,
                                       std::initializer_list<std::pair<const char*, double>> keys) {
  for (auto [k, scale] : keys) {
    UMA_ASSIGN(auto v, number_field(j, k, true));
    if (v) return std::optional<double>(*v * scale);
  }
  return std::optional<double>();
}

}  // namespace

result<calibration> calibrate_from_bench(std::string_view json_text, const hardware_spec* bench_hw,
                                         const efficiency& defaults) {
  json j = json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (j.is_discarded()) return make_error("bench JSON: not valid JSON");
  if (!j.is_object())
    return make_error(
        "bench JSON: expected an object from `uma bench --json` (a bench over lists prints an "
        "array of them: pass one)");
  calibration c;
  c.eff = defaults;
  UMA_ASSIGN(c.bandwidth_gbs, required_field(j, "bandwidth_gbs"));
  UMA_ASSIGN(c.tg_tps, required_field(j, "tg_tps"));
  UMA_ASSIGN(auto roofline, number_field(j, "roofline_tps", true));
  UMA_ASSIGN(auto ratio_field, number_field(j, "tg_roofline_ratio", false));
  const double ratio = ratio_field.value_or(0.0);  // 0: absent
  UMA_ASSIGN(c.pp_tps, number_field(j, "pp_tps", false));
  UMA_ASSIGN(auto rss, number_field(j, "peak_rss_mb", false));
  UMA_ASSIGN(auto wbytes, number_field(j, "weight_bytes", false));
  (void)rss;
  if (auto it = j.find("model"); it != j.end()) {
    if (!it->is_string()) return make_error("bench JSON: 'model' must be a string");
    c.model = it->get<std::string>();
  }
  for (const char* key : {"cpu_name", "cpu_uarch"}) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    if (!it->is_string()) return make_error("bench JSON: '{}' must be a string", key);
    const auto text = it->get<std::string>();
    if (text.empty()) continue;
    c.cpu = c.cpu.empty() ? text : fmt::format("{} ({})", c.cpu, text);
  }
  if (!roofline && wbytes && *wbytes > 0) roofline = c.bandwidth_gbs * 1e9 / *wbytes;
  if (!roofline && ratio > 0) roofline = c.tg_tps / ratio;
  if (!roofline) {
    return make_error("bench JSON: missing required field 'roofline_tps' (or tg_roofline_ratio)");
  }
  c.roofline_tps = *roofline;
  double measured = c.tg_tps / c.roofline_tps;
  if (ratio > 0 && std::fabs(ratio - measured) > 0.05 * measured + 1e-9) {
    c.notes.push_back(fmt::format(
        "tg_roofline_ratio {:.3f} disagrees with tg_tps/roofline_tps {:.3f}; using the latter",
        ratio, measured));
  }
  if (measured > 1.5) {
    return make_error("bench JSON: tg_tps {} is {:.1f}x roofline_tps {}: inconsistent", c.tg_tps,
                      measured, c.roofline_tps);
  }
  double decode = measured;
  if (bench_hw) {
    double stream = c.bandwidth_gbs / bench_hw->bandwidth_gbs;
    decode *= stream;
    c.notes.push_back(fmt::format(
        "decode efficiency {:.3f} = tg/roofline {:.3f} x measured/theoretical bandwidth {:.3f} "
        "({} GB/s of {}'s {} GB/s)",
        decode, measured, stream, c.bandwidth_gbs, bench_hw->id, bench_hw->bandwidth_gbs));
  } else {
    c.notes.push_back(fmt::format(
        "decode efficiency {:.3f} = tg/roofline at the measured {} GB/s (pass --calibrate-hardware "
        "ID to also count the theoretical-to-measured bandwidth loss)",
        decode, c.bandwidth_gbs));
  }
  c.eff.decode = std::min(decode, 1.0);

  UMA_ASSIGN(auto peak_ops, first_of(j, {{"int8_peak_gops", 1e9},
                                         {"peak_int8_gops", 1e9},
                                         {"int8_gops", 1e9},
                                         {"int8_peak_tops", 1e12},
                                         {"int8_tops", 1e12}}));
  UMA_ASSIGN(auto params,
             first_of(j, {{"matmul_params", 1.0}, {"params", 1.0}, {"n_params", 1.0}}));
  UMA_ASSIGN(auto pp_ratio, number_field(j, "pp_peak_ratio", false));
  // The prompt's attention (bench since 2026-12-07: it grows with --depth, the cached tokens the
  // prompt follows) is work the planner's prefill model counts too (prefill_flops_per_token);
  // absent in older output, where the prompt ran from an empty cache and it was small.
  UMA_ASSIGN(auto pp_attn, number_field(j, "pp_attention_flops_per_token", false));
  if (c.pp_tps && *c.pp_tps > 0 && peak_ops && params) {
    const double attn = pp_attn.value_or(0.0);
    double pre = *c.pp_tps * (2.0 * *params + attn) / *peak_ops;
    c.eff.prefill = std::min(pre, 1.0);
    c.notes.push_back(
        attn > 0 ? fmt::format("prefill efficiency {:.3f} = pp_tps x (2 x params + the prompt's "
                               "attention FLOPs a token, {:.3g}) / int8 peak",
                               c.eff.prefill, attn)
                 : fmt::format("prefill efficiency {:.3f} = pp_tps x 2 x params / int8 peak",
                               c.eff.prefill));
  } else if (pp_ratio && *pp_ratio > 0) {
    c.eff.prefill = std::min(*pp_ratio, 1.0);
    c.notes.push_back(fmt::format("prefill efficiency {:.3f} = pp_peak_ratio", c.eff.prefill));
  } else {
    c.notes.push_back(fmt::format(
        "prefill efficiency not calibrated (needs pp_tps, an int8 peak and params): keeping {:.2f}",
        c.eff.prefill));
  }
  c.eff.source = c.model.empty() ? "calibrated from uma bench"
                                 : fmt::format("calibrated from uma bench on {}", c.model);
  if (!c.cpu.empty()) c.eff.source += fmt::format(", {}", c.cpu);
  return c;
}

}  // namespace uma::planner
