// `uma plan --html FILE`: one self-contained page (inline CSS, inline SVG charts, no external
// resources) with the report tables, a "decode tok/s vs model size" chart per hardware tier and a
// memory-envelope chart. A tiny inline script checks the charts rendered and sets data-check="ok"
// (or "error: ...") on the <html> element, so a headless browser test can read the result.
#include <algorithm>
#include <cmath>
#include <set>

#include "planner/report.h"

namespace uma::planner {

namespace {

std::string esc(std::string_view s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o.push_back(c);
    }
  }
  return o;
}

const char* palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                         "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

struct point {
  double x, y;
  std::string label;
  bool moe = false;  // drawn hollow and left off the line (its speed follows active params)
};
struct series {
  std::string name;
  std::vector<point> pts;
  bool bold = false;
};

double log_pos(double v, double lo, double hi, double a, double b) {
  double t = (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
  return a + t * (b - a);
}

// Log-log line chart: x = weights GB, y = tok/s.
std::string line_chart(const std::string& title, const std::vector<series>& all,
                       std::optional<double> marker_x) {
  const double W = 900, H = 420, L = 70, R = 200, T = 40, B = 50;
  double xlo = 1e18, xhi = 0, ylo = 1e18, yhi = 0;
  for (const auto& s : all) {
    for (const auto& p : s.pts) {
      xlo = std::min(xlo, p.x), xhi = std::max(xhi, p.x);
      ylo = std::min(ylo, p.y), yhi = std::max(yhi, p.y);
    }
  }
  std::string o = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" "
      "role=\"img\" aria-label=\"{}\">\n<text x=\"{}\" y=\"22\" class=\"title\">{}</text>\n",
      W, H, esc(title), L, esc(title));
  if (xhi <= 0 || yhi <= 0) return o + "<text x=\"70\" y=\"80\">no data</text></svg>\n";
  xlo = std::pow(10, std::floor(std::log10(xlo))), xhi = std::pow(10, std::ceil(std::log10(xhi)));
  ylo = std::pow(10, std::floor(std::log10(ylo))), yhi = std::pow(10, std::ceil(std::log10(yhi)));
  if (xhi <= xlo) xhi = xlo * 10;
  if (yhi <= ylo) yhi = ylo * 10;
  auto X = [&](double v) { return log_pos(v, xlo, xhi, L, W - R); };
  auto Y = [&](double v) { return log_pos(v, ylo, yhi, H - B, T); };
  for (double d = xlo; d <= xhi * 1.0001; d *= 10) {
    o += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" class=\"grid\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" class=\"tick\" text-anchor=\"middle\">{4:g}"
        "</text>\n",
        X(d), T, H - B, H - B + 16, d);
  }
  for (double d = ylo; d <= yhi * 1.0001; d *= 10) {
    o += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" class=\"grid\"/>"
        "<text x=\"{3}\" y=\"{2:.1f}\" class=\"tick\" text-anchor=\"end\">{4:g}</text>\n",
        L, W - R, Y(d), L - 6, d);
  }
  o += fmt::format(
      "<text x=\"{}\" y=\"{}\" class=\"axis\" text-anchor=\"middle\">weights (GB, log); filled "
      "+ line: dense models, hollow: MoE (speed follows active params)</text><text x=\"16\" "
      "y=\"{}\" class=\"axis\" transform=\"rotate(-90 16 {})\" "
      "text-anchor=\"middle\">decode tok/s (log)</text>\n",
      (L + W - R) / 2, H - 8, (T + H - B) / 2, (T + H - B) / 2);
  if (marker_x && *marker_x > 0) {
    o += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" class=\"marker\"/>\n",
        X(*marker_x), T, H - B);
  }
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& s = all[i];
    const char* color = palette[i % std::size(palette)];
    std::string path;
    for (const auto& p : s.pts) {
      if (p.moe) continue;
      path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", X(p.x), Y(p.y));
    }
    o += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"/>\n", path,
                     color, s.bold ? 3 : 1.5);
    for (const auto& p : s.pts) {
      o += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\" stroke=\"{}\" "
          "stroke-width=\"1.5\"><title>{}: {} at {:.1f} tok/s</title></circle>\n",
          X(p.x), Y(p.y), p.moe ? "#fff" : color, color, esc(s.name), esc(p.label), p.y);
    }
    o += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" "
        "y=\"{}\" class=\"legend\">{}</text>\n",
        W - R + 12, T + 16 * i, color, W - R + 26, T + 16 * i + 9, esc(s.name));
  }
  return o + "</svg>\n";
}

struct bar {
  std::string label;
  double weights, kv, overhead, capacity;  // bytes
};

// Horizontal stacked bars (weights | KV | overhead) with a capacity tick per bar.
std::string bar_chart(const std::string& title, const std::vector<bar>& bars) {
  const double W = 900, L = 200, R = 40, T = 40, row = 18;
  double H = T + row * bars.size() + 40;
  // Scale to the needs (with room to show the headroom); capacities far beyond it are clipped.
  double hi = 0;
  for (const auto& b : bars) hi = std::max(hi, b.weights + b.kv + b.overhead);
  double cap_hi = 0;
  for (const auto& b : bars) cap_hi = std::max(cap_hi, b.capacity);
  hi = std::min(std::max(hi * 2.5, 1.0), std::max(cap_hi, hi) * 1.02);
  auto X = [&](double v) { return L + std::min(v, hi) / hi * (W - L - R); };
  std::string o = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" "
      "role=\"img\" aria-label=\"{}\">\n<text x=\"10\" y=\"22\" class=\"title\">{}</text>\n",
      W, H, esc(title), esc(title));
  for (size_t i = 0; i < bars.size(); ++i) {
    const auto& b = bars[i];
    double y = T + row * i;
    double x0 = X(0), x1 = X(b.weights), x2 = X(b.weights + b.kv),
           x3 = X(b.weights + b.kv + b.overhead);
    bool fits = b.weights + b.kv + b.overhead <= b.capacity;
    o += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">{}</text>", L - 6,
                     y + 12, esc(b.label));
    o += fmt::format("<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"13\" class=\"w{}\"/>",
                     x0, y, x1 - x0, fits ? "" : " over");
    o += fmt::format("<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"13\" class=\"kv\"/>",
                     x1, y, x2 - x1);
    o += fmt::format("<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"13\" class=\"ov\"/>",
                     x2, y, x3 - x2);
    o += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" class=\"cap\"><title>"
        "usable {3}</title></line>\n",
        X(b.capacity), y - 2, y + 15, format_gb(b.capacity));
    if (b.capacity > hi) {
      o += fmt::format(
          "<text x=\"{:.1f}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">{} "
          "&#8594;</text>\n",
          X(hi) - 4, y + 11, format_gb(b.capacity));
    }
  }
  o += fmt::format(
      "<text x=\"{}\" y=\"{}\" class=\"legend\">bars: weights (blue; red when it does "
      "not fit), KV cache (orange), overhead (grey); black tick: usable memory; "
      "scale 0-{}</text>\n",
      L, H - 12, format_gb(hi));
  return o + "</svg>\n";
}

// Decode tok/s of every catalog model that fits one machine of `hw`, ordered by size.
series tier_series(const catalog& cat, const hardware_spec& hw, const plan_options& o,
                   const std::optional<model_spec>& extra) {
  series s;
  s.name = hw.id;
  std::vector<model_spec> models = cat.models;
  if (extra && !cat.find_model(extra->id)) models.push_back(*extra);
  for (const auto& m : models) {
    workload w;
    w.quant = o.quant ? o.quant : (m.file_weight_bytes ? nullptr : find_quant("q4_k_m"));
    w.ctx = std::min(o.ctx, m.context_length);
    w.users = o.users;
    w.kv_elem_bytes = o.kv_elem_bytes;
    if (!fits(m, hw, w, 1)) continue;
    double tps = decode(m, hw, w, o.eff, 1, default_link(hw), w.ctx / 2).per_user_tps;
    if (tps > 0) s.pts.push_back({weight_bytes(m, w.quant) / 1e9, tps, m.id, m.is_moe()});
  }
  std::sort(s.pts.begin(), s.pts.end(), [](const point& a, const point& b) { return a.x < b.x; });
  return s;
}

// At most `n` tiers spread over the bandwidth range, always keeping `keep`.
std::vector<hardware_spec> pick_tiers(std::vector<hardware_spec> hw, size_t n,
                                      const std::string& keep) {
  std::sort(hw.begin(), hw.end(),
            [](const auto& a, const auto& b) { return a.bandwidth_gbs < b.bandwidth_gbs; });
  if (hw.size() <= n) return hw;
  std::vector<hardware_spec> out;
  std::set<std::string> ids;
  for (size_t i = 0; i < n; ++i) {
    const auto& h = hw[i * (hw.size() - 1) / (n - 1)];
    if (ids.insert(h.id).second) out.push_back(h);
  }
  for (const auto& h : hw) {
    if (h.id == keep && ids.insert(h.id).second) out.push_back(h);
  }
  return out;
}

const char* style = R"(<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:12px 0;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}
.chart{width:100%;max-width:900px;border:1px solid #ddd;margin:12px 0;background:#fff}
.grid{stroke:#eee}.tick{font-size:10px;fill:#555}.axis{font-size:12px;fill:#333}
.title{font-size:14px;font-weight:600}.legend{font-size:11px}
.marker{stroke:#000;stroke-dasharray:4 3}.cap{stroke:#000;stroke-width:2}
.w{fill:#4a78b5}.w.over{fill:#c0392b}.kv{fill:#f39c12}.ov{fill:#aaa}
.note{color:#555;font-size:12px}
</style>)";

const char* check_script = R"(<script>
window.onerror=function(m){document.documentElement.setAttribute('data-check','error: '+m);};
(function(){var s=document.querySelectorAll('svg.chart');var bad=0;
document.querySelectorAll('svg *').forEach(function(e){for(var i=0;i<e.attributes.length;i++){
var v=e.attributes[i].value;if(/NaN|Infinity|undefined/.test(v))bad++;}});
document.documentElement.setAttribute('data-check',(s.length>=2&&bad==0)?'ok':
'error: '+s.length+' charts, '+bad+' bad attributes');})();
</script>)";

std::string page(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + esc(title) +
         "</title>" + style + "</head><body>\n" + body + check_script + "\n</body></html>\n";
}

std::string html_table(const std::vector<std::vector<std::string>>& rows) {
  std::string o = "<table>";
  for (size_t i = 0; i < rows.size(); ++i) {
    o += "<tr>";
    for (const auto& c : rows[i])
      o += (i == 0 ? "<th>" : "<td>") + esc(c) + (i == 0 ? "</th>" : "</td>");
    o += "</tr>\n";
  }
  return o + "</table>\n";
}

std::string sources_html(const std::vector<std::pair<std::string, std::string>>& src) {
  std::string o = "<h2>Sources</h2><ul class=\"note\">";
  std::set<std::string> seen;
  for (const auto& [id, url] : src) {
    if (!seen.insert(id).second) continue;
    bool link = url.rfind("http", 0) == 0;
    o += "<li>" + esc(id) + ": " +
         (link ? "<a href=\"" + esc(url) + "\">" + esc(url) + "</a>" : esc(url)) + "</li>";
  }
  return o + "</ul>\n";
}

std::string fixed(double v) {
  return v >= 100 ? fmt::format("{:.0f}", v) : fmt::format("{:.3g}", v);
}
std::string cell(const std::optional<double>& v) {
  return v ? fixed(*v) : "-";
}

}  // namespace

std::string render_html(const model_report& r, const catalog& cat) {
  const auto& m = r.model;
  std::string b = fmt::format(
      "<h1>uma plan: {}</h1>\n<p>{} &middot; {:.1f}B params ({:.1f}B "
      "active) &middot; {} at {:.2f} bits/weight = {} of weights &middot; "
      "{} context x {} user(s)</p>\n",
      esc(m.name), esc(m.id), m.params_total / 1e9, m.params_active / 1e9, esc(r.quant_name), r.bpw,
      format_gb(r.weights_bytes), format_tokens(r.work.ctx), r.work.users);
  std::vector<std::vector<std::string>> rows = {{"hardware", "fits", "max ctx", "max users",
                                                 "tg bound", "tg tok/s", "pp tok/s", "W",
                                                 "kWh/Mtok", "$/Mtok own", "break-even h"}};
  std::vector<hardware_spec> tiers;
  std::vector<bar> bars;
  for (const auto& t : r.rows) {
    tiers.push_back(t.hw);
    rows.push_back({t.hw.id,
                    t.nodes == 1   ? "yes"
                    : t.nodes == 0 ? "no"
                                   : fmt::format("{} nodes", t.nodes),
                    format_tokens(t.max_ctx), t.nodes ? std::to_string(t.max_users) : "-",
                    fixed(t.bound_tps), t.nodes ? fixed(t.speed.aggregate_tps) : "-",
                    cell(t.prefill_tps), cell(t.watts), cell(t.kwh_per_mtok),
                    cell(t.own_usd_per_mtok), cell(t.break_even_hours)});
    memory_need one = memory_for(m, r.work, 1);
    bars.push_back({t.hw.id, one.weights, one.kv, one.overhead, t.usable_per_node});
  }
  b += html_table(rows);
  std::vector<series> ss;
  std::string keep = r.rows.size() == 1 ? r.rows[0].hw.id : "";
  for (const auto& hw : pick_tiers(tiers, 8, keep)) {
    ss.push_back(tier_series(cat, hw, r.opts, m));
    ss.back().bold = hw.id == keep;
  }
  b += line_chart(
      fmt::format("Decode tok/s vs model size per hardware tier ({} context, one machine)",
                  format_tokens(r.opts.ctx)),
      ss, r.weights_bytes / 1e9);
  b += bar_chart(
      fmt::format("Memory envelope: {} at {} on one machine of each tier", m.id, r.quant_name),
      bars);
  b += "<p class=\"note\">tg bound = bandwidth / bytes read per token for one user, plus link "
       "time when several machines are needed: no engine beats it. "
       "Efficiency: " +
       esc(fmt::format("decode {:.2f}, prefill {:.2f} ({})", r.opts.eff.decode, r.opts.eff.prefill,
                       r.opts.eff.source)) +
       ".</p>\n";
  std::vector<std::pair<std::string, std::string>> src = {{m.id, m.source_url}};
  for (const auto& t : r.rows) src.push_back({t.hw.id, t.hw.source_url});
  b += sources_html(src);
  return page("uma plan " + m.id, b);
}

std::string render_html(const hardware_report& r, const catalog& cat) {
  std::string b = fmt::format(
      "<h1>uma plan: {}</h1>\n<p>{} &middot; {:.0f} GiB ({:.0f} GiB usable) &middot; "
      "{:g} GB/s &middot; {} context x {} user(s)</p>\n",
      esc(r.hw.name), esc(r.hw.id), r.hw.memory_gb, usable_bytes(r.hw) / gib, r.hw.bandwidth_gbs,
      format_tokens(r.opts.ctx), r.opts.users);
  std::vector<std::string> head = {"model"};
  for (const auto* q : quant_ladder()) head.push_back(std::string(q->name));
  head.insert(head.end(), {"best", "tg tok/s"});
  std::vector<std::vector<std::string>> rows = {head};
  std::vector<bar> bars;
  const quant_format* q4 = find_quant("q4_k_m");
  for (const auto& row : r.rows) {
    std::vector<std::string> c = {row.model.id};
    for (const auto& e : row.cells) c.push_back(format_tokens(e.max_ctx));
    c.push_back(row.best ? std::string(row.cells[*row.best].quant->name) : "no fit");
    c.push_back(row.best ? fixed(row.cells[*row.best].tps) : "-");
    rows.push_back(c);
    workload w;
    w.quant = r.opts.quant ? r.opts.quant : q4;
    w.ctx = std::min(r.opts.ctx, row.model.context_length);
    w.users = r.opts.users;
    w.kv_elem_bytes = r.opts.kv_elem_bytes;
    memory_need n = memory_for(row.model, w, 1);
    bars.push_back({row.model.id, n.weights, n.kv, n.overhead, usable_bytes(r.hw)});
  }
  b += html_table(rows);
  b += "<ul>";
  for (const auto& f : r.falls_over) b += "<li>" + esc(f) + "</li>";
  b += "</ul>\n";
  std::vector<series> ss;
  for (const auto& hw : pick_tiers(cat.hardware, 6, r.hw.id)) {
    ss.push_back(tier_series(cat, hw, r.opts, std::nullopt));
    ss.back().bold = hw.id == r.hw.id;
  }
  if (!cat.find_hardware(r.hw.id)) {
    ss.push_back(tier_series(cat, r.hw, r.opts, std::nullopt));
    ss.back().bold = true;
  }
  b += line_chart("Decode tok/s vs model size per hardware tier (bold: this machine)", ss,
                  std::nullopt);
  b += bar_chart(fmt::format("Memory envelope on {} at {}", r.hw.id,
                             r.opts.quant ? r.opts.quant->name : q4->name),
                 bars);
  std::vector<std::pair<std::string, std::string>> src = {{r.hw.id, r.hw.source_url}};
  for (const auto& row : r.rows) src.push_back({row.model.id, row.model.source_url});
  b += sources_html(src);
  return page("uma plan " + r.hw.id, b);
}

}  // namespace uma::planner
