// The views of `uma plan`: one model across hardware tiers, one machine across catalog models, and
// the check of a stated tok/s claim; each rendered as an aligned text table, JSON or an HTML page.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "planner/catalog.h"
#include "planner/claim.h"
#include "planner/physics.h"

namespace uma::planner {

struct plan_options {
  const quant_format* quant = nullptr;  // null: q4_k_m for catalog models, a GGUF's own weights
  int64_t ctx = 8192;
  int64_t users = 1;
  double kv_elem_bytes = 2.0;
  std::string kv_type = "f16";
  int max_nodes = 8;
  std::string link;  // empty: chosen from each machine's interconnect
  double life_years = 3.0;
  double utilisation = 0.5;
  double usd_per_kwh = 0.15;
  double rent_usd_per_hour = 2.39;
  std::string rent_hardware = "h100-sxm";
  int64_t prompt_len = 2048;  // prompt length for the prefill estimate (capped at ctx)
  efficiency eff;
  std::vector<std::string> notes;  // calibration notes, shown in reports
};

// One model on one machine (or a pipeline of identical machines).
struct tier_row {
  hardware_spec hw;
  int nodes = 0;  // machines needed (0: more than max_nodes)
  std::string link;
  memory_need need;
  double usable_per_node = 0;
  int64_t max_ctx = 0, max_users = 0;
  double bound_tps = 0;  // the physical ceiling for one user on the machines used (see render)
  decode_speed speed;    // predicted, at half the context filled
  std::optional<double> prefill_tps, watts, kwh_per_mtok, own_usd_per_mtok, break_even_hours;
};

struct rent_reference {
  std::string hardware_id;
  int nodes = 0;
  double usd_per_hour = 0;  // all rented nodes
  double tps = 0;
  std::optional<double> usd_per_mtok;
};

struct model_report {
  model_spec model;
  std::string quant_name;
  double bpw = 0;
  workload work;
  plan_options opts;
  double weights_bytes = 0, kv_bytes_per_token = 0, read_bytes_per_token = 0;
  rent_reference rent;
  std::vector<tier_row> rows;
};

// Quantization envelope of one model on one machine.
struct envelope_cell {
  const quant_format* quant = nullptr;
  bool fits = false;
  int64_t max_ctx = 0;
  double tps = 0;
};
struct hardware_model_row {
  model_spec model;
  std::vector<envelope_cell> cells;  // one per quant_ladder() entry
  std::optional<size_t> best;        // index of the highest-precision cell that fits at ctx
  std::optional<double> prefill_tps;
};
struct hardware_report {
  hardware_spec hw;
  plan_options opts;
  std::vector<hardware_model_row> rows;
  std::vector<std::string> falls_over;  // summary lines: where the machine stops coping
};

enum class claim_verdict { plausible, optimistic, above_bound };
struct claim_report {
  parsed_claim claim;
  model_spec model;
  hardware_spec hw;
  plan_options opts;
  double read_bytes_per_token = 0;
  double bound_tps = 0;
  double expected_tps = 0;  // at the engine efficiency
  int nodes_needed = 0;     // at opts.ctx and opts.users; 0: more than max_nodes
  claim_verdict verdict = claim_verdict::plausible;
  std::string message;
  std::vector<std::string> also_matches;  // other catalog ids the text matched equally well
};

model_report plan_model(const catalog& cat, const model_spec& m,
                        const std::vector<hardware_spec>& tiers, const plan_options& o);
hardware_report plan_hardware(const catalog& cat, const hardware_spec& hw, const plan_options& o);
claim_report check_claim(const catalog& cat, const parsed_claim& c, const plan_options& o);

std::string render_text(const model_report& r);
std::string render_text(const hardware_report& r);
std::string render_text(const claim_report& r);
std::string render_hardware_list(const catalog& cat);
std::string render_model_list(const catalog& cat);

std::string render_json(const model_report& r);
std::string render_json(const hardware_report& r);
std::string render_json(const claim_report& r);
std::string render_hardware_list_json(const catalog& cat);

// Self-contained pages (inline CSS and SVG, no scripts from elsewhere). `cat` supplies the other
// catalog models for the "tok/s vs model size" chart.
std::string render_html(const model_report& r, const catalog& cat);
std::string render_html(const hardware_report& r, const catalog& cat);

// "131072" -> "128k", "1536" -> "1.5k"; bytes -> "42.6 GB".
std::string format_tokens(int64_t n);
std::string format_gb(double bytes);

}  // namespace uma::planner
