// Turns `uma bench --json` output from the user's own machine into efficiency factors, so the
// planner's predictions for other hardware carry a measured engine efficiency instead of a guess.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "planner/catalog.h"
#include "planner/physics.h"
#include "util/status.h"

namespace uma::planner {

struct calibration {
  efficiency eff;
  std::string model;         // the benched model, as the bench reported it
  std::string cpu;           // the benched CPU (cpu_name, and cpu_uarch in parentheses); or ""
  double bandwidth_gbs = 0;  // measured read bandwidth on the benched machine
  double tg_tps = 0, roofline_tps = 0;
  std::optional<double> pp_tps;
  std::vector<std::string> notes;  // what was and was not calibrated, and why
};

// Validates the bench JSON (an object with positive bandwidth_gbs and tg_tps, and roofline_tps or
// tg_roofline_ratio; optional pp_tps, peak_rss_mb, weight_bytes must not be negative) and derives
// decode efficiency = tg_tps / roofline_tps. When `bench_hw` (the catalog row of the benched
// machine) is given, the loss from its theoretical to its measured bandwidth is folded in.
// Prefill efficiency = pp_tps x 2 x matmul_params / int8 peak (int8_tops), or pp_peak_ratio; kept
// at the default when the JSON has neither. The CPU the bench names (cpu_name, cpu_uarch: strings
// when present) goes into the source line, so a plan says which machine calibrated it.
result<calibration> calibrate_from_bench(std::string_view json_text, const hardware_spec* bench_hw,
                                         const efficiency& defaults);

}  // namespace uma::planner
