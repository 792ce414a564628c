// Implementation of physics.h. Units: bytes, seconds, tokens; GB/s and TFLOPS are decimal.
#include "planner/physics.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace uma::planner {

const std::vector<link_spec>& link_presets() {
  static const std::vector<link_spec> links = {
      {"tb5-rdma", 8, 80, "Thunderbolt 5 with RDMA (macOS 26.2+): ~5-9 us per hop"},
      {"tb5-tcp", 300, 80, "TCP/IP over Thunderbolt 5: ~300 us per hop"},
      {"tb4-tcp", 300, 40, "TCP/IP over Thunderbolt 4 / USB4: ~300 us per hop"},
      {"10gbe-tcp", 100, 10, "TCP over 10 GbE (assumed ~100 us per hop)"},
      {"200gbe-rdma", 3, 200, "RoCE over ConnectX-7 200 GbE (assumed ~3 us per hop)"},
      {"400gbe-rdma", 3, 400, "RoCE/InfiniBand 400 Gb/s (assumed ~3 us per hop)"},
      {"pcie4", 10, 256, "PCIe 4.0 x16 peer copies (assumed ~10 us per hop)"},
      {"pcie5", 10, 512, "PCIe 5.0 x16 peer copies (assumed ~10 us per hop)"},
      {"nvlink", 2, 7200, "NVLink 4 900 GB/s, tensor parallel (assumed ~2 us per all-reduce)",
       true},
  };
  return links;
}

const link_spec* find_link(std::string_view name) {
  for (const auto& l : link_presets()) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

const link_spec& default_link(const hardware_spec& hw) {
  std::string t;
  for (char c : hw.interconnect) t.push_back(static_cast<char>(std::tolower(c)));
  auto has = [&](std::string_view s) { return t.find(s) != std::string::npos; };
  const char* name = "10gbe-tcp";
  if (const auto* l = find_link(t)) return *l;  // custom:...,link=NAME
  if (has("connectx") && has("400")) {
    name = "400gbe-rdma";
  } else if (has("connectx") || has("200gbe")) {
    name = "200gbe-rdma";
  } else if (has("nvlink") && !has("no nvlink")) {
    name = "nvlink";
  } else if (has("rdma")) {
    name = "tb5-rdma";
  } else if (has("thunderbolt 5")) {
    name = "tb5-tcp";
  } else if (has("thunderbolt") || has("usb4")) {
    name = "tb4-tcp";
  } else if (has("pcie 5")) {
    name = "pcie5";
  } else if (has("pcie 4")) {
    name = "pcie4";
  }
  return *find_link(name);
}

// ---- memory ----

double weight_bytes(const model_spec& m, const quant_format* q) {
  if (!q && m.file_weight_bytes) return *m.file_weight_bytes;
  double bpw = q ? q->bpw : 16.0;
  return m.params_total * bpw / 8.0;
}

double kv_values_per_token_layer(const model_spec& m) {
  if (m.attention == attention_kind::mla) {
    return static_cast<double>(m.kv_lora_rank + m.qk_rope_head_dim);
  }
  double v_dim = m.v_head_dim > 0 ? static_cast<double>(m.v_head_dim) : m.head_dim;
  return static_cast<double>(m.n_kv_heads) * (static_cast<double>(m.head_dim) + v_dim);
}

namespace {

// Token-slots held across all layers for one sequence of `ctx` tokens.
double kv_token_layers(const model_spec& m, int64_t ctx) {
  double c = static_cast<double>(ctx);
  if (m.attention == attention_kind::sliding) {
    double window = static_cast<double>(std::min(ctx, m.sliding_window));
    return static_cast<double>(m.n_layers - m.sliding_layers) * c +
           static_cast<double>(m.sliding_layers) * window;
  }
  return static_cast<double>(m.attention_layers()) * c;
}

}  // namespace

double kv_cache_bytes(const model_spec& m, int64_t ctx, int64_t users, double elem_bytes) {
  if (ctx <= 0 || users <= 0) return 0;
  return static_cast<double>(users) * kv_token_layers(m, ctx) * kv_values_per_token_layer(m) *
         elem_bytes;
}

double overhead_bytes(double weights) {
  return 1.0 * gib + 0.01 * weights;
}

double usable_bytes(const hardware_spec& hw) {
  double total = hw.memory_bytes();
  double reserve;
  if (hw.kind == "gpu") {
    reserve = 1.0 * gib;  // driver context, CUDA/ROCm runtime
  } else if (hw.kind == "server") {
    reserve = std::max(8.0 * gib, 0.05 * total);
  } else {
    reserve = std::max(4.0 * gib, 0.10 * total);  // OS and apps on a unified-memory machine
  }
  return std::max(0.0, total - reserve);
}

memory_need memory_for(const model_spec& m, const workload& w, int nodes) {
  memory_need n;
  n.weights = weight_bytes(m, w.quant);
  n.kv = kv_cache_bytes(m, w.ctx, w.users, w.kv_elem_bytes);
  n.overhead = nodes * overhead_bytes(n.weights / nodes);
  return n;
}

bool fits(const model_spec& m, const hardware_spec& hw, const workload& w, int nodes) {
  return memory_for(m, w, nodes).total() <= nodes * usable_bytes(hw);
}

int nodes_needed(const model_spec& m, const hardware_spec& hw, const workload& w, int max_nodes) {
  for (int n = 1; n <= max_nodes; ++n) {
    if (fits(m, hw, w, n)) return n;
  }
  return 0;
}

int64_t max_context(const model_spec& m, const hardware_spec& hw, const workload& w, int nodes) {
  workload probe = w;
  probe.ctx = 1;
  if (!fits(m, hw, probe, nodes)) return 0;
  int64_t lo = 1, hi = m.context_length;  // fits(lo) holds
  probe.ctx = hi;
  if (fits(m, hw, probe, nodes)) return hi;
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    probe.ctx = mid;
    (fits(m, hw, probe, nodes) ? lo : hi) = mid;
  }
  return lo;
}

int64_t max_users(const model_spec& m, const hardware_spec& hw, const workload& w, int nodes) {
  workload one = w;
  one.users = 0;
  double free = nodes * usable_bytes(hw) - memory_for(m, one, nodes).total();
  double per_user = kv_cache_bytes(m, w.ctx, 1, w.kv_elem_bytes);
  if (free < per_user || per_user <= 0) return 0;
  return static_cast<int64_t>(std::min(1e6, std::floor(free / per_user)));
}

// ---- speed ----

double weight_read_fraction(const model_spec& m, int64_t users) {
  if (m.params_total <= 0) return 1.0;
  double one;  // fraction read for one sequence
  if (m.file_read_bytes && m.file_weight_bytes && *m.file_weight_bytes > 0) {
    one = *m.file_read_bytes / *m.file_weight_bytes;
  } else if (!m.is_moe()) {
    double lookup = m.tied_embeddings ? 0.0 : static_cast<double>(m.vocab) * m.n_embd;
    one = std::max(0.0, m.params_total - lookup) / m.params_total;
  } else {
    one = m.params_active / m.params_total;
  }
  one = std::clamp(one, 0.0, 1.0);
  if (!m.is_moe() || users <= 1) return one;
  double r = static_cast<double>(m.n_experts_active) / m.n_experts;
  if (r >= 1.0) return one;
  double shared = std::clamp((one - r) / (1.0 - r), 0.0, 1.0);
  double touched = 1.0 - std::pow(1.0 - r, static_cast<double>(users));
  return shared + (1.0 - shared) * touched;
}

double decode_step_bytes(const model_spec& m, const workload& w, int64_t kv_pos) {
  return weight_bytes(m, w.quant) * weight_read_fraction(m, w.users) +
         kv_cache_bytes(m, kv_pos, w.users, w.kv_elem_bytes);
}

double pipeline_hop_seconds(const model_spec& m, int nodes, const link_spec& link, int64_t users) {
  if (nodes <= 1) return 0;
  double act_bytes = static_cast<double>(nodes - 1) * users * m.n_embd * 2.0;
  return nodes * link.latency_us * 1e-6 + act_bytes * 8.0 / (link.gbit_s * 1e9);
}

double tensor_parallel_seconds(const model_spec& m, int nodes, const link_spec& link,
                               int64_t users) {
  if (nodes <= 1) return 0;
  double per_reduce_bytes = 2.0 * (nodes - 1) / nodes * users * m.n_embd * 2.0;
  double per_reduce = link.latency_us * 1e-6 + per_reduce_bytes * 8.0 / (link.gbit_s * 1e9);
  return 2.0 * m.n_layers * per_reduce;
}

namespace {

// Attention FLOPs for one token attending to `span(layer)` earlier tokens, summed over layers.
double attention_flops(const model_spec& m, double full_span, double window_span) {
  double v_dim = m.v_head_dim > 0 ? static_cast<double>(m.v_head_dim) : m.head_dim;
  double per_key = 2.0 * m.n_heads * (static_cast<double>(m.head_dim) + v_dim);
  double layers_full = static_cast<double>(m.attention_layers());
  double layers_window = 0;
  if (m.attention == attention_kind::sliding) {
    layers_full = static_cast<double>(m.n_layers - m.sliding_layers);
    layers_window = static_cast<double>(m.sliding_layers);
  }
  return per_key * (layers_full * full_span + layers_window * window_span);
}

}  // namespace

decode_speed decode(const model_spec& m, const hardware_spec& hw, const workload& w,
                    const efficiency& eff, int nodes, const link_spec& link, int64_t kv_pos) {
  decode_speed s;
  double bytes = decode_step_bytes(m, w, kv_pos);
  double t_mem = bytes / (eff.decode * hw.bandwidth_gbs * 1e9);
  double t_flops = 0;
  if (hw.fp16_tflops && *hw.fp16_tflops > 0) {
    double pos = static_cast<double>(kv_pos);
    double window =
        m.sliding_window > 0 ? std::min(pos, static_cast<double>(m.sliding_window)) : pos;
    double per_token =
        2.0 * m.params_total * weight_read_fraction(m, 1) + attention_flops(m, pos, window);
    t_flops = w.users * per_token / (eff.prefill * *hw.fp16_tflops * 1e12);
  }
  s.compute_bound = t_flops > t_mem;
  double step = std::max(t_mem, t_flops);
  if (nodes > 1 && link.tensor_parallel) {
    step = step / nodes + tensor_parallel_seconds(m, nodes, link, w.users);
  } else {
    step += pipeline_hop_seconds(m, nodes, link, w.users);
  }
  s.per_user_tps = step > 0 ? 1.0 / step : 0;
  s.aggregate_tps = s.per_user_tps * w.users;
  return s;
}

double decode_bound_tps(const model_spec& m, const hardware_spec& hw, const quant_format* q) {
  double bytes = weight_bytes(m, q) * weight_read_fraction(m, 1);
  return bytes > 0 ? hw.bandwidth_gbs * 1e9 / bytes : 0;
}

double prefill_flops_per_token(const model_spec& m, int64_t prompt_len) {
  double p = static_cast<double>(std::max<int64_t>(prompt_len, 1));
  double full_avg = p / 2.0;  // mean prefix length over the prompt
  double window_avg = full_avg;
  if (m.sliding_window > 0 && p > m.sliding_window) {
    double wnd = static_cast<double>(m.sliding_window);
    window_avg = wnd - wnd * wnd / (2.0 * p);  // mean of min(pos, W) for pos in [0, P)
  }
  return 2.0 * m.params_total * weight_read_fraction(m, 1) +
         attention_flops(m, full_avg, window_avg);
}

std::optional<double> prefill_tps(const model_spec& m, const hardware_spec& hw,
                                  const efficiency& eff, int64_t prompt_len) {
  if (!hw.fp16_tflops || *hw.fp16_tflops <= 0) return std::nullopt;
  return eff.prefill * *hw.fp16_tflops * 1e12 / prefill_flops_per_token(m, prompt_len);
}

// ---- energy and money ----

double kwh_per_mtok(double watts, double tps) {
  return tps > 0 ? watts * (1e6 / tps) / 3.6e6 : 0;
}

double own_usd_per_mtok(double price_usd, double life_years, double utilisation, double watts,
                        double usd_per_kwh, double tps) {
  if (tps <= 0 || life_years <= 0 || utilisation <= 0) return 0;
  double busy_hours = life_years * 8760.0 * utilisation;
  double usd_per_busy_hour = price_usd / busy_hours + watts / 1000.0 * usd_per_kwh;
  return usd_per_busy_hour / (tps * 3600.0) * 1e6;
}

double rent_usd_per_mtok(double usd_per_hour, double utilisation, double tps) {
  if (tps <= 0 || utilisation <= 0) return 0;
  return usd_per_hour / utilisation / (tps * 3600.0) * 1e6;
}

std::optional<double> break_even_hours(double price_usd, double watts, double usd_per_kwh,
                                       double rent_usd_per_hour, double tps_own, double tps_rent) {
  if (tps_own <= 0 || tps_rent <= 0) return std::nullopt;
  // One hour of owned generation makes tps_own*3600 tokens; renting them takes tps_own/tps_rent
  // rented hours. Owning wins once the saved rent has paid the price.
  double saved_per_hour = rent_usd_per_hour * tps_own / tps_rent - watts / 1000.0 * usd_per_kwh;
  if (saved_per_hour <= 0) return std::nullopt;
  return price_usd / saved_per_hour;
}

}  // namespace uma::planner
