// The views of report.h: composing the physics into per-tier rows, envelopes and claim verdicts,
// and the aligned text rendering. JSON lives in report_json.cpp, HTML in html.cpp.
#include "planner/report.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace uma::planner {

std::string format_tokens(int64_t n) {
  if (n <= 0) return "-";
  if (n < 1024) return std::to_string(n);
  double k = n / 1024.0;
  if (std::fabs(k - std::round(k)) < 1e-9 || k >= 100) return fmt::format("{:.0f}k", k);
  return fmt::format("{:.1f}k", k);
}

std::string format_gb(double bytes) {
  double gb = bytes / 1e9;
  if (gb >= 100) return fmt::format("{:.0f} GB", gb);
  if (gb >= 10) return fmt::format("{:.1f} GB", gb);
  return fmt::format("{:.2f} GB", gb);
}

namespace {

std::string num(double v) {
  if (v >= 1000) return fmt::format("{:.0f}", v);
  if (v >= 100) return fmt::format("{:.0f}", v);
  if (v >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2f}", v);
}
std::string opt(const std::optional<double>& v) {
  return v ? num(*v) : "-";
}

// Columns padded to their widest cell; numeric-looking cells right-aligned.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return "";
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  std::string out;
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    const auto& r = rows[ri];
    std::string line;
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) {
      bool right = i > 0 && !r[i].empty() &&
                   (std::isdigit(static_cast<unsigned char>(r[i][0])) || r[i] == "-");
      std::string pad(w[i] - r[i].size(), ' ');
      line += (right ? pad + r[i] : r[i] + pad);
      if (i + 1 < r.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
    if (ri == 0) {
      size_t total = 0;
      for (size_t x : w) total += x + 2;
      out += std::string(total - 2, '-') + "\n";
    }
  }
  return out;
}

const quant_format* effective_quant(const model_spec& m, const plan_options& o) {
  if (o.quant) return o.quant;
  if (m.file_weight_bytes) return nullptr;  // the GGUF's own weights
  return find_quant("q4_k_m");
}

workload make_workload(const model_spec& m, const plan_options& o) {
  workload w;
  w.quant = effective_quant(m, o);
  w.ctx = std::min(o.ctx, m.context_length);
  w.users = o.users;
  w.kv_elem_bytes = o.kv_elem_bytes;
  return w;
}

const link_spec& pick_link(const hardware_spec& hw, const plan_options& o) {
  if (!o.link.empty()) {
    if (const auto* l = find_link(o.link)) return *l;
  }
  return default_link(hw);
}

tier_row make_row(const model_spec& m, const hardware_spec& hw, const workload& w,
                  const plan_options& o, const rent_reference& rent) {
  tier_row r;
  r.hw = hw;
  r.nodes = nodes_needed(m, hw, w, o.max_nodes);
  const link_spec& link = pick_link(hw, o);
  r.usable_per_node = usable_bytes(hw);
  r.bound_tps = decode_bound_tps(m, hw, w.quant);
  int n = std::max(r.nodes, 1);
  r.link = n > 1 ? link.name : "";
  r.need = memory_for(m, w, n);
  if (r.nodes == 0) return r;
  {
    // The ceiling on the machines actually used: all bandwidth, one user, empty cache, links.
    efficiency ideal;
    ideal.decode = ideal.prefill = 1.0;
    workload one = w;
    one.users = 1;
    r.bound_tps = decode(m, hw, one, ideal, n, link, 0).per_user_tps;
  }
  r.max_ctx = max_context(m, hw, w, n);
  r.max_users = max_users(m, hw, w, n);
  r.speed = decode(m, hw, w, o.eff, n, link, w.ctx / 2);
  r.prefill_tps = prefill_tps(m, hw, o.eff, std::min(o.prompt_len, w.ctx));
  if (auto p = hw.power_w()) {
    r.watts = *p * n;
    r.kwh_per_mtok = kwh_per_mtok(*r.watts, r.speed.aggregate_tps);
    if (hw.price_usd) {
      r.own_usd_per_mtok = own_usd_per_mtok(*hw.price_usd * n, o.life_years, o.utilisation,
                                            *r.watts, o.usd_per_kwh, r.speed.aggregate_tps);
      if (rent.nodes > 0) {
        r.break_even_hours = break_even_hours(*hw.price_usd * n, *r.watts, o.usd_per_kwh,
                                              rent.usd_per_hour, r.speed.aggregate_tps, rent.tps);
      }
    }
  }
  return r;
}

rent_reference make_rent(const catalog& cat, const model_spec& m, const workload& w,
                         const plan_options& o) {
  rent_reference rr;
  rr.hardware_id = o.rent_hardware;
  const hardware_spec* hw = cat.find_hardware(o.rent_hardware);
  if (!hw) return rr;
  rr.nodes = nodes_needed(m, *hw, w, 64);
  if (rr.nodes == 0) return rr;
  rr.usd_per_hour = rr.nodes * o.rent_usd_per_hour;
  rr.tps = decode(m, *hw, w, o.eff, rr.nodes, default_link(*hw), w.ctx / 2).aggregate_tps;
  rr.usd_per_mtok = rent_usd_per_mtok(rr.usd_per_hour, o.utilisation, rr.tps);
  return rr;
}

}  // namespace

model_report plan_model(const catalog& cat, const model_spec& m,
                        const std::vector<hardware_spec>& tiers, const plan_options& o) {
  model_report r;
  r.model = m;
  r.opts = o;
  r.work = make_workload(m, o);
  r.quant_name = r.work.quant ? std::string(r.work.quant->name) : m.file_quant + " (file)";
  r.weights_bytes = weight_bytes(m, r.work.quant);
  r.bpw = r.weights_bytes * 8.0 / m.params_total;
  r.kv_bytes_per_token = kv_cache_bytes(m, 1, 1, o.kv_elem_bytes);
  r.read_bytes_per_token = r.weights_bytes * weight_read_fraction(m, 1);
  r.rent = make_rent(cat, m, r.work, o);
  for (const auto& hw : tiers) r.rows.push_back(make_row(m, hw, r.work, o, r.rent));
  return r;
}

hardware_report plan_hardware(const catalog& cat, const hardware_spec& hw, const plan_options& o) {
  hardware_report r;
  r.hw = hw;
  r.opts = o;
  const auto& ladder = quant_ladder();
  std::vector<std::string> none_fit, short_ctx;
  for (const auto& m : cat.models) {
    hardware_model_row row;
    row.model = m;
    for (size_t i = 0; i < ladder.size(); ++i) {
      plan_options qo = o;
      qo.quant = ladder[i];
      workload w = make_workload(m, qo);
      envelope_cell c;
      c.quant = ladder[i];
      c.max_ctx = max_context(m, hw, w, 1);
      c.fits = fits(m, hw, w, 1);
      if (c.max_ctx > 0)
        c.tps = decode(m, hw, w, o.eff, 1, default_link(hw), w.ctx / 2).per_user_tps;
      bool wanted = !o.quant || o.quant == ladder[i];
      if (c.fits && wanted && !row.best) row.best = i;
      row.cells.push_back(c);
    }
    if (row.best) {
      row.prefill_tps = prefill_tps(m, hw, o.eff, std::min(o.prompt_len, o.ctx));
    } else {
      bool any_ctx = std::any_of(row.cells.begin(), row.cells.end(),
                                 [](const envelope_cell& c) { return c.max_ctx > 0; });
      (any_ctx ? short_ctx : none_fit).push_back(m.id);
    }
    r.rows.push_back(std::move(row));
  }
  auto biggest = std::max_element(r.rows.begin(), r.rows.end(), [](const auto& a, const auto& b) {
    return (a.best ? a.model.params_total : 0) < (b.best ? b.model.params_total : 0);
  });
  if (biggest != r.rows.end() && biggest->best) {
    r.falls_over.push_back(fmt::format(
        "largest model that fits with {} context x {} user(s): {} at {}", format_tokens(o.ctx),
        o.users, biggest->model.id, biggest->cells[*biggest->best].quant->name));
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  if (!short_ctx.empty()) {
    r.falls_over.push_back(fmt::format("loads but not with {} context x {} user(s): {}",
                                       format_tokens(o.ctx), o.users, join(short_ctx)));
  }
  if (!none_fit.empty()) {
    r.falls_over.push_back(
        fmt::format("does not load even at {}: {}", ladder.back()->name, join(none_fit)));
  }
  return r;
}

claim_report check_claim(const catalog& cat, const parsed_claim& c, const plan_options& o) {
  claim_report r;
  r.claim = c;
  r.model = cat.models[c.model];
  r.hw = cat.hardware[c.hardware];
  r.opts = o;
  workload w = make_workload(r.model, o);
  w.quant = c.quant;
  w.users = 1;
  r.read_bytes_per_token = weight_bytes(r.model, c.quant) * weight_read_fraction(r.model, 1);
  r.bound_tps = decode_bound_tps(r.model, r.hw, c.quant);
  if (c.nodes > 1) {
    // Stages run one after another for a single stream: same bytes, plus the hops.
    double t = 1.0 / r.bound_tps + pipeline_hop_seconds(r.model, c.nodes, pick_link(r.hw, o), 1);
    r.bound_tps = 1.0 / t;
  }
  r.expected_tps = r.bound_tps * o.eff.decode;
  int limit = std::max(o.max_nodes, c.nodes);
  r.nodes_needed = nodes_needed(r.model, r.hw, w, limit);
  double ratio = c.tps / r.bound_tps;
  std::string fit_note;
  if (r.nodes_needed == 0) {
    fit_note =
        fmt::format(" Also, it does not fit in {} machines of {:.0f} GiB.", limit, r.hw.memory_gb);
  } else if (r.nodes_needed > c.nodes) {
    fit_note = fmt::format(" Also, it does not fit in {} machine(s) of {:.0f} GiB: it needs {}.",
                           c.nodes, r.hw.memory_gb, r.nodes_needed);
  }
  for (size_t i : c.model_alternatives) r.also_matches.push_back(cat.models[i].id);
  for (size_t i : c.hardware_alternatives) r.also_matches.push_back(cat.hardware[i].id);
  if (!r.also_matches.empty()) {
    std::string alts;
    for (const auto& id : r.also_matches) alts += (alts.empty() ? "" : ", ") + id;
    fit_note +=
        fmt::format(" (The text also matches {}; name it more precisely to pick one.)", alts);
  }
  if (ratio > 1.05) {
    r.verdict = claim_verdict::above_bound;
    r.message = fmt::format(
        "ABOVE THE BANDWIDTH LIMIT: {} tok/s is {:.2f}x the physical bound of {} tok/s ({} GB/s "
        "/ {} per token). Not real for plain decoding of one stream: it would need speculative "
        "decoding, a smaller quantization, or several users' tokens counted together.{}",
        num(c.tps), ratio, num(r.bound_tps), num(r.hw.bandwidth_gbs),
        format_gb(r.read_bytes_per_token), fit_note);
  } else if (ratio > o.eff.decode) {
    r.verdict = claim_verdict::optimistic;
    r.message = fmt::format(
        "OPTIMISTIC: {} tok/s needs {:.0f}% of the physical bound of {} tok/s; engines usually "
        "reach ~{:.0f}% ({}), i.e. ~{} tok/s.{}",
        num(c.tps), ratio * 100, num(r.bound_tps), o.eff.decode * 100, o.eff.source,
        num(r.expected_tps), fit_note);
  } else {
    r.verdict = claim_verdict::plausible;
    r.message = fmt::format(
        "PLAUSIBLE: {} tok/s is {:.0f}% of the physical bound of {} tok/s (expected ~{} tok/s at "
        "{:.0f}% efficiency).{}",
        num(c.tps), ratio * 100, num(r.bound_tps), num(r.expected_tps), o.eff.decode * 100,
        fit_note);
  }
  return r;
}

// ---- text ----

namespace {

std::string fits_text(const tier_row& r) {
  if (r.nodes == 1) return "yes";
  if (r.nodes == 0) return "no";
  return fmt::format("{} nodes", r.nodes);
}

std::string sources_text(const std::vector<std::pair<std::string, std::string>>& src) {
  std::string out = "\nSources:\n";
  std::set<std::string> seen;
  for (const auto& [id, url] : src) {
    if (!seen.insert(id).second) continue;
    out += fmt::format("  {}: {}\n", id, url);
  }
  return out;
}

std::string assumptions_text(const plan_options& o) {
  std::string s = fmt::format(
      "Assumptions: decode efficiency {:.2f}, prefill efficiency {:.2f} ({}); KV cache {}; "
      "{:.0f}-year life, {:.0f}% utilisation, ${:.2f}/kWh, rent ${:.2f}/h per {}.\n",
      o.eff.decode, o.eff.prefill, o.eff.source, o.kv_type, o.life_years, o.utilisation * 100,
      o.usd_per_kwh, o.rent_usd_per_hour, o.rent_hardware);
  for (const auto& n : o.notes) s += "  note: " + n + "\n";
  return s;
}

}  // namespace

std::string render_text(const model_report& r) {
  const auto& m = r.model;
  std::string out =
      fmt::format("{} ({}): {:.1f}B params, {:.1f}B active, {} layers, {} attention, context {}\n",
                  m.name, m.id, m.params_total / 1e9, m.params_active / 1e9, m.n_layers,
                  m.attention_text, format_tokens(m.context_length));
  out += fmt::format(
      "{}: {:.2f} bits/weight -> weights {}; KV cache {} per 1k tokens per user; {} read per "
      "token\n",
      r.quant_name, r.bpw, format_gb(r.weights_bytes), format_gb(r.kv_bytes_per_token * 1024),
      format_gb(r.read_bytes_per_token));
  out +=
      fmt::format("Workload: {} context x {} user(s)\n", format_tokens(r.work.ctx), r.work.users);
  if (r.rent.nodes > 0) {
    out +=
        fmt::format("Renting: {} x {} at ${:.2f}/h -> {} tok/s, ${}/Mtok at {:.0f}% utilisation\n",
                    r.rent.nodes, r.rent.hardware_id, r.rent.usd_per_hour, num(r.rent.tps),
                    opt(r.rent.usd_per_mtok), r.opts.utilisation * 100);
  }
  out += "\n";
  std::vector<std::vector<std::string>> rows = {{"hardware", "mem GiB", "GB/s", "fits", "max ctx",
                                                 "max users", "tg bound", "tg tok/s", "pp tok/s",
                                                 "W", "kWh/Mtok", "$/Mtok own", "break-even h"}};
  for (const auto& t : r.rows) {
    rows.push_back({t.hw.id, num(t.hw.memory_gb), num(t.hw.bandwidth_gbs), fits_text(t),
                    format_tokens(t.max_ctx), t.nodes ? std::to_string(t.max_users) : "-",
                    num(t.bound_tps), t.nodes ? num(t.speed.aggregate_tps) : "-",
                    opt(t.prefill_tps), opt(t.watts), opt(t.kwh_per_mtok), opt(t.own_usd_per_mtok),
                    opt(t.break_even_hours)});
  }
  out += table(rows);
  out +=
      "\ntg bound = bandwidth / bytes per token for one user (+ link time when several machines "
      "are needed; one machine when none fits): no engine beats it.\ntg tok/s = predicted for "
      "all users together at half the context. Several machines: a layer pipeline, or tensor "
      "parallel over NVLink (link in --json).\n";
  out += assumptions_text(r.opts);
  std::vector<std::pair<std::string, std::string>> src = {{m.id, m.source_url}};
  for (const auto& t : r.rows) src.push_back({t.hw.id, t.hw.source_url});
  out += sources_text(src);
  return out;
}

std::string render_text(const hardware_report& r) {
  std::string out =
      fmt::format("{} ({}): {:.0f} GiB ({:.0f} GiB usable), {} GB/s", r.hw.name, r.hw.id,
                  r.hw.memory_gb, usable_bytes(r.hw) / gib, num(r.hw.bandwidth_gbs));
  if (r.hw.fp16_tflops) out += fmt::format(", {} fp16 TFLOPS", num(*r.hw.fp16_tflops));
  out += fmt::format(
      "\nWorkload: {} context x {} user(s). Cells: longest context that fits at "
      "each quantization (- = does not load).\n\n",
      format_tokens(r.opts.ctx), r.opts.users);
  std::vector<std::string> head = {"model", "params B"};
  for (const auto* q : quant_ladder()) head.push_back(std::string(q->name));
  head.insert(head.end(), {"best", "tg tok/s", "pp tok/s"});
  std::vector<std::vector<std::string>> rows = {head};
  for (const auto& row : r.rows) {
    std::vector<std::string> cells = {row.model.id,
                                      fmt::format("{}/{}", num(row.model.params_total / 1e9),
                                                  num(row.model.params_active / 1e9))};
    for (const auto& c : row.cells) cells.push_back(format_tokens(c.max_ctx));
    if (row.best) {
      cells.push_back(std::string(row.cells[*row.best].quant->name));
      cells.push_back(num(row.cells[*row.best].tps));
    } else {
      cells.push_back("no fit");
      cells.push_back("-");
    }
    cells.push_back(opt(row.prefill_tps));
    rows.push_back(cells);
  }
  out += table(rows);
  out += "\n";
  for (const auto& f : r.falls_over) out += "* " + f + "\n";
  out += assumptions_text(r.opts);
  std::vector<std::pair<std::string, std::string>> src = {{r.hw.id, r.hw.source_url}};
  for (const auto& row : r.rows) src.push_back({row.model.id, row.model.source_url});
  out += sources_text(src);
  return out;
}

std::string render_text(const claim_report& r) {
  const auto& c = r.claim;
  std::string out = fmt::format("Claim: \"{}\"\n", c.text);
  out += fmt::format(
      "Read as: {} ({}) at {} ({:.2f} bits/weight{}), {} tok/s, on {}{} ({}: {} GB/s, "
      "{:.0f} GiB)\n",
      r.model.id, r.model.name, c.quant->name, c.quant->bpw,
      c.quant_stated ? "" : "; not stated, assumed", num(c.tps),
      c.nodes > 1 ? fmt::format("{} x ", c.nodes) : "", r.hw.id, r.hw.name, num(r.hw.bandwidth_gbs),
      r.hw.memory_gb);
  out += fmt::format("Bytes read per token: {} -> bandwidth bound {} tok/s\n",
                     format_gb(r.read_bytes_per_token), num(r.bound_tps));
  out += r.message + "\n";
  out += sources_text({{r.model.id, r.model.source_url}, {r.hw.id, r.hw.source_url}});
  return out;
}

std::string render_hardware_list(const catalog& cat) {
  std::vector<std::vector<std::string>> rows = {
      {"id", "kind", "mem GiB", "GB/s", "fp16 TFLOPS", "price $", "W", "name"}};
  for (const auto& h : cat.hardware) {
    rows.push_back({h.id, h.kind, num(h.memory_gb), num(h.bandwidth_gbs), opt(h.fp16_tflops),
                    opt(h.price_usd), opt(h.power_w()), h.name});
  }
  std::string out = table(rows);
  std::vector<std::pair<std::string, std::string>> src;
  for (const auto& h : cat.hardware) src.push_back({h.id, h.source_url});
  out += sources_text(src);
  out +=
      "\nCustom hardware: --hardware custom:mem=GiB,bw=GB/s[,tflops=,int8=,price=,watts=,name=,"
      "link=]\n";
  return out;
}

std::string render_model_list(const catalog& cat) {
  std::vector<std::vector<std::string>> rows = {
      {"id", "params B", "active B", "layers", "attention", "context", "name"}};
  for (const auto& m : cat.models) {
    rows.push_back({m.id, num(m.params_total / 1e9), num(m.params_active / 1e9),
                    std::to_string(m.n_layers), m.attention_text, format_tokens(m.context_length),
                    m.name});
  }
  return table(rows);
}

}  // namespace uma::planner
