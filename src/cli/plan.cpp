// `uma plan`: which models fit which hardware, predicted speed, energy and cost, and checks of
// stated tok/s claims against the bandwidth bound. All logic lives in src/planner; this file parses
// the command line, validates numbers (one-line errors, exit 1) and picks the view.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/command.h"
#include "planner/calibrate.h"
#include "planner/report.h"

namespace {

using namespace uma::planner;

struct plan_cli {
  std::vector<std::string> args;
  std::string quant, ctx, users, hardware, html, calibrate, calibrate_hw, kv_type = "f16";
  std::string max_nodes, link, life_years, utilisation, kwh, rent, rent_hw, prompt;
  std::string decode_eff, prefill_eff, hardware_csv, models_csv;
  bool json = false, list_hardware = false, list_models = false;
};

uma::result<std::string> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return uma::make_error("cannot read {} '{}'", what, path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A positive whole number, optionally with a k suffix (x1024): "8192", "128k".
uma::result<int64_t> parse_count(const std::string& opt, const std::string& s) {
  std::string body = s;
  double scale = 1;
  if (!body.empty() && (body.back() == 'k' || body.back() == 'K')) {
    body.pop_back();
    scale = 1024;
  }
  auto v = parse_number(body);
  if (!v) return uma::make_error("{} must be a number, got '{}'", opt, s);
  double x = *v * scale;
  if (x <= 0) return uma::make_error("{} must be positive, got '{}'", opt, s);
  if (x != std::floor(x) || x > 1e12) {
    return uma::make_error("{} must be a whole number, got '{}'", opt, s);
  }
  return static_cast<int64_t>(x);
}

// A number in [lo, hi] (hi < 0: no upper bound); `zero_ok` allows 0.
uma::result<double> parse_value(const std::string& opt, const std::string& s, bool zero_ok,
                                double hi = -1) {
  auto v = parse_number(s);
  if (!v) return uma::make_error("{} must be a number, got '{}'", opt, s);
  if (*v < 0 || (!zero_ok && *v == 0)) {
    return uma::make_error("{} must be {}, got '{}'", opt, zero_ok ? "non-negative" : "positive",
                           s);
  }
  if (hi > 0 && *v > hi) return uma::make_error("{} must be at most {}, got '{}'", opt, hi, s);
  return *v;
}

uma::status fill_options(const plan_cli& c, const catalog& cat, plan_options& o) {
  if (!c.quant.empty()) {
    o.quant = find_quant(c.quant);
    if (!o.quant) {
      return uma::make_error("unknown quantization '{}' (e.g. q4_k_m, q8_0, f16, 4bit)", c.quant);
    }
  }
  if (!c.ctx.empty()) {
    UMA_ASSIGN(o.ctx, parse_count("--ctx", c.ctx));
  }
  if (!c.users.empty()) {
    UMA_ASSIGN(o.users, parse_count("--users", c.users));
  }
  if (!c.prompt.empty()) {
    UMA_ASSIGN(o.prompt_len, parse_count("--prompt", c.prompt));
  }
  if (!c.max_nodes.empty()) {
    UMA_ASSIGN(int64_t n, parse_count("--max-nodes", c.max_nodes));
    if (n > 1024) return uma::make_error("--max-nodes must be at most 1024");
    o.max_nodes = static_cast<int>(n);
  }
  o.kv_elem_bytes = kv_elem_bytes(c.kv_type);
  o.kv_type = c.kv_type;
  if (o.kv_elem_bytes <= 0) {
    return uma::make_error("unknown --kv-type '{}' (f16, f32, q8_0, q4_0)", c.kv_type);
  }
  if (!c.link.empty()) {
    if (!find_link(c.link)) {
      std::string names;
      for (const auto& l : link_presets()) names += (names.empty() ? "" : ", ") + l.name;
      return uma::make_error("unknown --link '{}' ({})", c.link, names);
    }
    o.link = c.link;
  }
  if (!c.life_years.empty()) {
    UMA_ASSIGN(o.life_years, parse_value("--life-years", c.life_years, false));
  }
  if (!c.utilisation.empty()) {
    UMA_ASSIGN(o.utilisation, parse_value("--utilisation", c.utilisation, false, 1.0));
  }
  if (!c.kwh.empty()) {
    UMA_ASSIGN(o.usd_per_kwh, parse_value("--kwh-price", c.kwh, true));
  }
  if (!c.rent.empty()) {
    UMA_ASSIGN(o.rent_usd_per_hour, parse_value("--rent-per-hour", c.rent, false));
  }
  if (!c.rent_hw.empty()) {
    if (!cat.find_hardware(c.rent_hw)) {
      return uma::make_error("unknown --rent-hardware '{}' (see uma plan --list-hardware)",
                             c.rent_hw);
    }
    o.rent_hardware = c.rent_hw;
  }
  if (!c.calibrate.empty()) {
    UMA_ASSIGN(std::string text, read_file(c.calibrate, "bench JSON"));
    const hardware_spec* bench_hw = nullptr;
    uma::result<hardware_spec> resolved = hardware_spec{};
    if (!c.calibrate_hw.empty()) {
      resolved = resolve_hardware(cat, c.calibrate_hw);
      if (!resolved) return resolved.err();
      bench_hw = &*resolved;
    }
    auto cal = calibrate_from_bench(text, bench_hw, o.eff);
    if (!cal) return uma::make_error("{}: {}", c.calibrate, cal.message());
    o.eff = cal->eff;
    o.notes = cal->notes;
  } else if (!c.calibrate_hw.empty()) {
    return uma::make_error("--calibrate-hardware needs --calibrate bench.json");
  }
  if (!c.decode_eff.empty()) {
    UMA_ASSIGN(o.eff.decode, parse_value("--decode-eff", c.decode_eff, false, 1.0));
    o.eff.source = "set on the command line";
  }
  if (!c.prefill_eff.empty()) {
    UMA_ASSIGN(o.eff.prefill, parse_value("--prefill-eff", c.prefill_eff, false, 1.0));
    o.eff.source = "set on the command line";
  }
  return {};
}

uma::result<catalog> load(const plan_cli& c) {
  std::string hw_text(embedded_hardware_csv()), models_text(embedded_models_csv());
  if (!c.hardware_csv.empty()) {
    UMA_ASSIGN(hw_text, read_file(c.hardware_csv, "hardware CSV"));
  }
  if (!c.models_csv.empty()) {
    UMA_ASSIGN(models_text, read_file(c.models_csv, "models CSV"));
  }
  return load_catalog(hw_text, models_text);
}

uma::status write_html(const std::string& path, const std::string& page) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return uma::make_error("cannot write --html file '{}'", path);
  out << page;
  if (!out.flush()) return uma::make_error("cannot write --html file '{}'", path);
  std::cerr << "wrote " << path << "\n";
  return {};
}

int run_plan(const plan_cli& c) {
  auto fail = [](const std::string& msg) { return uma::cli::fail("plan", msg); };
  auto cat = load(c);
  if (!cat) return fail(cat.message());
  plan_options o;
  if (auto st = fill_options(c, *cat, o); !st) return fail(st.message());

  if (c.list_hardware) {
    std::cout << (c.json ? render_hardware_list_json(*cat) : render_hardware_list(*cat));
    return 0;
  }
  if (c.list_models) {
    std::cout << render_model_list(*cat);
    return 0;
  }
  if (!c.args.empty() && c.args[0] == "check") {
    std::string text;
    for (size_t i = 1; i < c.args.size(); ++i) text += (i > 1 ? " " : "") + c.args[i];
    if (text.empty())
      return fail(
          "check needs a claim, e.g. uma plan check \"Llama 3.3 70B Q4_K_M at 25 tok/s on M5 Max "
          "128GB\"");
    if (!c.html.empty()) return fail("--html is not available for check");
    auto claim = parse_claim(*cat, text, o.quant ? o.quant : find_quant("q4_k_m"));
    if (!claim) return fail(claim.message());
    if (o.quant && claim->quant_stated && claim->quant != o.quant) {
      return fail(
          fmt::format("the claim says {} but --quant says {}", claim->quant->name, o.quant->name));
    }
    auto r = check_claim(*cat, *claim, o);
    std::cout << (c.json ? render_json(r) : render_text(r));
    return 0;
  }
  if (c.args.size() > 1) {
    return fail(fmt::format("expected one MODEL, got {} arguments (quote a claim after 'check')",
                            c.args.size()));
  }
  std::optional<hardware_spec> hw;
  if (!c.hardware.empty()) {
    auto h = resolve_hardware(*cat, c.hardware);
    if (!h) return fail(h.message());
    hw = *h;
  }
  if (!c.args.empty()) {
    auto m = resolve_model(*cat, c.args[0]);
    if (!m) return fail(m.message());
    std::vector<hardware_spec> tiers = hw ? std::vector<hardware_spec>{*hw} : cat->hardware;
    auto r = plan_model(*cat, *m, tiers, o);
    if (!c.html.empty()) {
      if (auto st = write_html(c.html, render_html(r, *cat)); !st) return fail(st.message());
    }
    if (c.json) {
      std::cout << render_json(r);
    } else if (c.html.empty()) {
      std::cout << render_text(r);
    }
    return 0;
  }
  if (hw) {
    auto r = plan_hardware(*cat, *hw, o);
    if (!c.html.empty()) {
      if (auto st = write_html(c.html, render_html(r, *cat)); !st) return fail(st.message());
    }
    if (c.json) {
      std::cout << render_json(r);
    } else if (c.html.empty()) {
      std::cout << render_text(r);
    }
    return 0;
  }
  return fail(
      "give a MODEL (catalog id or .gguf), --hardware ID, --list-hardware, --list-models, "
      "or check \"claim\"");
}

}  // namespace

UMA_COMMAND(
    plan, "which models fit which hardware: memory, tok/s, energy, $/Mtok, break-even",
    [](CLI::App& app) -> uma::cli::runner {
      auto c = std::make_shared<plan_cli>();
      app.add_option("model", c->args, "catalog model id or .gguf path; or: check \"CLAIM\"");
      app.add_option("--quant", c->quant, "weight format: q4_k_m (default), q8_0, f16, 4bit, ...");
      app.add_option("--ctx", c->ctx, "context tokens per user (default 8192; 128k ok)");
      app.add_option("--users", c->users, "concurrent users (default 1)");
      app.add_option("--hardware", c->hardware,
                     "catalog hardware id or custom:mem=GiB,bw=GB/s[,tflops=,price=,watts=]");
      app.add_flag("--json", c->json, "print JSON");
      app.add_option("--html", c->html, "write a self-contained HTML report to FILE");
      app.add_flag("--list-hardware", c->list_hardware, "list the hardware catalog");
      app.add_flag("--list-models", c->list_models, "list the model catalog");
      app.add_option("--calibrate", c->calibrate, "uma bench --json output to set efficiencies");
      app.add_option("--calibrate-hardware", c->calibrate_hw,
                     "catalog id of the machine the bench ran on");
      app.add_option("--kv-type", c->kv_type, "KV cache type: f16 (default), q8_0, q4_0, f32");
      app.add_option("--max-nodes", c->max_nodes, "most machines in a pipeline (default 8)");
      app.add_option("--link", c->link, "pipeline link: tb5-rdma, tb5-tcp, 10gbe-tcp, ...");
      app.add_option("--life-years", c->life_years, "amortisation period (default 3)");
      app.add_option("--utilisation", c->utilisation, "busy fraction 0-1 (default 0.5)");
      app.add_option("--kwh-price", c->kwh, "electricity $/kWh (default 0.15)");
      app.add_option("--rent-per-hour", c->rent, "rental $/h per GPU (default 2.39)");
      app.add_option("--rent-hardware", c->rent_hw, "rented GPU id (default h100-sxm)");
      app.add_option("--prompt", c->prompt, "prompt tokens for the prefill estimate (2048)");
      app.add_option("--decode-eff", c->decode_eff, "override decode efficiency (0-1)");
      app.add_option("--prefill-eff", c->prefill_eff, "override prefill efficiency (0-1)");
      app.add_option("--hardware-csv", c->hardware_csv, "use this hardware catalog");
      app.add_option("--models-csv", c->models_csv, "use this model catalog");
      return [c] { return run_plan(*c); };
    });
