// JSON rendering of the planner's views (`uma plan ... --json`): the same numbers as the text
// tables, unrounded, with units in the key names and every source URL.
#include <nlohmann/json.hpp>

#include "planner/report.h"

namespace uma::planner {

namespace {

using json = nlohmann::json;

json opt(const std::optional<double>& v) {
  return v ? json(*v) : json(nullptr);
}

json hardware_json(const hardware_spec& h) {
  return {{"id", h.id},
          {"name", h.name},
          {"kind", h.kind},
          {"memory_gib", h.memory_gb},
          {"bandwidth_gbs", h.bandwidth_gbs},
          {"fp16_tflops", opt(h.fp16_tflops)},
          {"int8_tops", opt(h.int8_tops)},
          {"price_usd", opt(h.price_usd)},
          {"power_w", opt(h.power_w())},
          {"interconnect", h.interconnect},
          {"source_url", h.source_url}};
}

json model_json(const model_spec& m) {
  return {{"id", m.id},
          {"name", m.name},
          {"arch", m.arch},
          {"params_total", m.params_total},
          {"params_active", m.params_active},
          {"n_layers", m.n_layers},
          {"attention", m.attention_text},
          {"context_length", m.context_length},
          {"source_url", m.source_url}};
}

json options_json(const plan_options& o) {
  return {{"ctx", o.ctx},
          {"users", o.users},
          {"kv_type", o.kv_type},
          {"max_nodes", o.max_nodes},
          {"decode_efficiency", o.eff.decode},
          {"prefill_efficiency", o.eff.prefill},
          {"efficiency_source", o.eff.source},
          {"life_years", o.life_years},
          {"utilisation", o.utilisation},
          {"usd_per_kwh", o.usd_per_kwh},
          {"rent_usd_per_hour", o.rent_usd_per_hour},
          {"rent_hardware", o.rent_hardware},
          {"notes", o.notes}};
}

}  // namespace

std::string render_json(const model_report& r) {
  json rows = json::array();
  for (const auto& t : r.rows) {
    rows.push_back({{"hardware", hardware_json(t.hw)},
                    {"fits_one_node", t.nodes == 1},
                    {"nodes", t.nodes},
                    {"link", t.link},
                    {"memory_weights_bytes", t.need.weights},
                    {"memory_kv_bytes", t.need.kv},
                    {"memory_overhead_bytes", t.need.overhead},
                    {"memory_total_bytes", t.need.total()},
                    {"usable_bytes_per_node", t.usable_per_node},
                    {"max_ctx", t.max_ctx},
                    {"max_users", t.max_users},
                    {"decode_bound_tps", t.bound_tps},
                    {"decode_tps_per_user", t.speed.per_user_tps},
                    {"decode_tps", t.speed.aggregate_tps},
                    {"decode_compute_bound", t.speed.compute_bound},
                    {"prefill_tps", opt(t.prefill_tps)},
                    {"power_w", opt(t.watts)},
                    {"kwh_per_mtok", opt(t.kwh_per_mtok)},
                    {"own_usd_per_mtok", opt(t.own_usd_per_mtok)},
                    {"break_even_hours", opt(t.break_even_hours)}});
  }
  json j = {{"view", "model"},
            {"model", model_json(r.model)},
            {"quant", r.quant_name},
            {"bits_per_weight", r.bpw},
            {"ctx", r.work.ctx},
            {"users", r.work.users},
            {"weights_bytes", r.weights_bytes},
            {"kv_bytes_per_token", r.kv_bytes_per_token},
            {"read_bytes_per_token", r.read_bytes_per_token},
            {"rent",
             {{"hardware", r.rent.hardware_id},
              {"nodes", r.rent.nodes},
              {"usd_per_hour", r.rent.usd_per_hour},
              {"decode_tps", r.rent.tps},
              {"usd_per_mtok", opt(r.rent.usd_per_mtok)}}},
            {"options", options_json(r.opts)},
            {"rows", rows}};
  return j.dump(2) + "\n";
}

std::string render_json(const hardware_report& r) {
  json rows = json::array();
  for (const auto& row : r.rows) {
    json cells = json::array();
    for (const auto& c : row.cells) {
      cells.push_back({{"quant", c.quant->name},
                       {"fits", c.fits},
                       {"max_ctx", c.max_ctx},
                       {"decode_tps", c.tps}});
    }
    rows.push_back({{"model", model_json(row.model)},
                    {"best_quant", row.best ? json(row.cells[*row.best].quant->name) : json()},
                    {"decode_tps", row.best ? json(row.cells[*row.best].tps) : json()},
                    {"prefill_tps", opt(row.prefill_tps)},
                    {"envelope", cells}});
  }
  json j = {{"view", "hardware"},
            {"hardware", hardware_json(r.hw)},
            {"usable_bytes", usable_bytes(r.hw)},
            {"options", options_json(r.opts)},
            {"falls_over", r.falls_over},
            {"rows", rows}};
  return j.dump(2) + "\n";
}

std::string render_json(const claim_report& r) {
  const char* verdict = r.verdict == claim_verdict::above_bound  ? "above_bound"
                        : r.verdict == claim_verdict::optimistic ? "optimistic"
                                                                 : "plausible";
  json j = {{"view", "check"},
            {"claim", r.claim.text},
            {"claimed_tps", r.claim.tps},
            {"model", model_json(r.model)},
            {"hardware", hardware_json(r.hw)},
            {"quant", r.claim.quant->name},
            {"quant_stated", r.claim.quant_stated},
            {"bits_per_weight", r.claim.quant->bpw},
            {"read_bytes_per_token", r.read_bytes_per_token},
            {"decode_bound_tps", r.bound_tps},
            {"expected_tps", r.expected_tps},
            {"ratio_to_bound", r.claim.tps / r.bound_tps},
            {"also_matches", r.also_matches},
            {"nodes_claimed", r.claim.nodes},
            {"nodes_needed", r.nodes_needed},
            {"verdict", verdict},
            {"message", r.message}};
  return j.dump(2) + "\n";
}

std::string render_hardware_list_json(const catalog& cat) {
  json arr = json::array();
  for (const auto& h : cat.hardware) arr.push_back(hardware_json(h));
  return json{{"view", "hardware_list"}, {"hardware", arr}}.dump(2) + "\n";
}

}  // namespace uma::planner
