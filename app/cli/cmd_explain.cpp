// `atman explain`: one AtMan explanation (or a κ sweep) written as JSON, CSV and a PNG overlay.
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "atman/conventions.h"
#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/heatmap.h"
#include "atman/names.h"
#include "atman/registry.h"
#include "backend.h"
#include "commands.h"
#include "common.h"

namespace atman::cli {
namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot read labels file " + path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  }
  return lines;
}

std::vector<int> parse_layers(const std::string& text) {
  std::vector<int> layers;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      layers.push_back(std::stoi(item));
    } catch (const std::exception&) {
      throw InputError("--layers expects comma-separated layer numbers, got '" + text + "'");
    }
  }
  return layers;
}

std::vector<double> parse_sweep(const std::string& text) {
  double from, to, step;
  char c1, c2;
  std::stringstream in(text);
  if (!(in >> from >> c1 >> to >> c2 >> step) || c1 != ':' || c2 != ':' || step <= 0 || to < from)
    throw InputError("--kappa-sweep expects FROM:TO:STEP with STEP > 0, got '" + text + "'");
  std::vector<double> kappas;
  for (int i = 0; from + i * step <= to + 1e-9 && i < 1000; ++i)
    kappas.push_back(std::round((from + i * step) * 1e6) / 1e6);
  return kappas;
}

// The option's value by its name in atman/names.h; the error names the option and the choices.
template <typename Enum>
Enum choose(const Args& args, const std::string& name, const std::string& fallback) {
  const std::string value = args.get(name, fallback);
  try {
    return from_string<Enum>(value);
  } catch (const InputError&) {
    std::string names;
    for (const auto& n : enum_names<Enum>()) names += (names.empty() ? "" : ", ") + n;
    throw InputError("--" + name + " must be one of " + names + ", got '" + value + "'");
  }
}

void print_summary(const Explanation& e) {
  std::cerr << e.model << " (" << e.architecture << "), "
            << (e.method == ExplainMethod::Atman ? to_string(e.mode)
                                                 : std::string(to_string(e.method)))
            << (e.mode == SuppressionMode::Correlated ? " κ=" + std::to_string(e.kappa).substr(0, 4)
                                                      : "")
            << ": baseline loss " << e.baseline_loss << ", " << e.candidates.size()
            << " candidates, " << e.timings.forwards << " forwards in " << e.timings.batches
            << " batches, " << e.timings.total_seconds << " s\n";
  if (e.adaptive.enabled)
    std::cerr << "adaptive: " << e.adaptive.refined_groups << " of " << e.adaptive.groups
              << " groups refined (|ΔL| >= " << e.adaptive.threshold << "), "
              << e.adaptive.exact_candidates << " of " << e.candidates.size()
              << " candidates exact, the others inherit their group's value\n";
  std::vector<const Candidate*> top;
  for (const auto& c : e.candidates) top.push_back(&c);
  std::stable_sort(top.begin(), top.end(), [](auto* a, auto* b) { return a->value > b->value; });
  for (size_t i = 0; i < std::min<size_t>(5, top.size()); ++i) {
    const Candidate& c = *top[i];
    std::cerr << "  "
              << (c.kind == CandidateKind::Patch
                      ? "patch r" + std::to_string(c.row) + " c" + std::to_string(c.col)
                      : "token '" + c.text + "'")
              << "  E = " << c.value << "\n";
  }
}

}  // namespace

int run_explain(int argc, char** argv) {
  Args args(argc, argv, 2,
            server_options(common_options({"model",
                                           "image",
                                           "prompt",
                                           "question",
                                           "target",
                                           "labels",
                                           "labels-file",
                                           "explain",
                                           "mode",
                                           "kappa",
                                           "factor",
                                           "kappa-sweep",
                                           "csv",
                                           "png",
                                           "layers",
                                           "granularity",
                                           "delimiter",
                                           "tile",
                                           "post",
                                           "batch-size",
                                           "memory-budget-mb",
                                           "max-neighbours",
                                           "colormap",
                                           "opacity",
                                           "overlay-view",
                                           "method",
                                           "ig-steps",
                                           "adaptive-threshold",
                                           "adaptive-group",
                                           "siglip-loss"})),
            {"log-additive", "no-kv-cache", "quiet", "nearest", "adaptive"});
  apply_common(args);
  ExplainRequest r;
  const Backend backend = open_backend(args);  // local, or on --server
  r.model = backend.model;
  if (args.has("image")) r.image = std::make_shared<const RgbImage>(load_image(args.get("image")));
  const bool clip = r.model->target_is_label();  // zero-shot labels instead of a prompt
  if (clip && args.has("question"))
    throw InputError("--question is for language models and LLaVA; CLIP takes --labels");
  r.prompt = clip ? args.get("prompt") : prompt_arg(args, *r.model, r.image != nullptr);
  r.target = args.required("target");
  r.labels = args.all("labels");
  if (args.has("labels-file")) {
    auto more = read_lines(args.get("labels-file"));
    r.labels.insert(r.labels.end(), more.begin(), more.end());
  }
  if (clip && r.labels.empty())
    throw InputError(
        "CLIP needs a label set: --labels L1 --labels L2 ... or --labels-file FILE "
        "(resources/labels/shapes.txt fits the bundled shapes-clip)");
  if (clip) r.target = resolve_label_alias(r.target, r.labels);  // "panda": "a photo of a panda"
  r.explain = choose<ExplainWhat>(
      args, "explain", std::string(to_string(r.model->capabilities().default_explained)));
  r.mode = choose<SuppressionMode>(args, "mode", "single");
  r.kappa = args.number("kappa", 0.7);
  r.factor = args.number("factor", 0.9);
  r.variant = args.has("log-additive") ? SuppressionVariant::LogAdditive
                                       : SuppressionVariant::Multiplicative;
  if (args.has("layers")) r.layers = parse_layers(args.get("layers"));
  r.granularity = choose<Granularity>(args, "granularity", "token");
  r.delimiter = args.get("delimiter");
  if (args.has("delimiter") && !args.has("granularity")) r.granularity = Granularity::Delimiter;
  r.tile = args.integer("tile", 1);
  r.post = choose<PostProcess>(args, "post", "none");
  r.siglip_loss = choose<SiglipLoss>(args, "siglip-loss", "sigmoid");
  r.batch_size = args.integer("batch-size", 0);
  r.memory_budget_bytes = static_cast<int64_t>(args.number("memory-budget-mb", 0) * (1 << 20));
  r.max_neighbours = args.integer("max-neighbours", 0);
  r.reuse_kv_cache = !args.has("no-kv-cache");
  // Adaptive (coarse-to-fine) AtMan: --adaptive, or either of its two knobs.
  r.adaptive = args.has("adaptive") || args.has("adaptive-threshold") || args.has("adaptive-group");
  r.adaptive_threshold = args.number("adaptive-threshold", 0.01);
  r.adaptive_group = args.integer("adaptive-group", 4);

  // --method: a name of the method registry (atman/registry.h): AtMan (default) or a baseline.
  MethodOptions method_options;
  method_options.ig_steps = args.integer("ig-steps", 20);
  // InputError listing the available methods for an unknown one.
  std::unique_ptr<Explainer> chosen =
      backend.make_explainer(args.get("method", "atman"), method_options);
  int last_percent = -1;
  const bool quiet = args.has("quiet");
  auto progress = [&](int done, int total) {
    int percent = total > 0 ? 100 * done / total : 100;
    if (!quiet && percent / 10 != last_percent / 10) {
      std::cerr << "\r" << percent << "% (" << done << "/" << total << " forwards)" << std::flush;
      last_percent = percent;
    }
    return true;
  };
  std::string json;
  Explanation main_result;
  if (args.has("kappa-sweep")) {
    r.mode = SuppressionMode::Correlated;
    auto results = chosen->kappa_sweep(r, parse_sweep(args.get("kappa-sweep")), progress);
    json = "{\"sweep\": [";
    for (size_t i = 0; i < results.size(); ++i) json += (i ? ",\n" : "\n") + to_json(results[i], 1);
    json += "]}";
    main_result = results.front();
  } else {
    main_result = chosen->attribute(r, progress);
    json = to_json(main_result);
  }
  if (!quiet) {
    std::cerr << "\n";
    print_summary(main_result);
  }
  emit_json(args, json);
  if (args.has("csv")) {
    std::ofstream out(args.get("csv"));
    out << to_csv(main_result);
    if (!out) throw InputError("cannot write " + args.get("csv"));
  }
  if (args.has("png")) {
    if (!r.image) throw InputError("--png draws the heatmap over the image: give --image");
    OverlayOptions options;
    options.colormap = parse_colormap(args.get("colormap", "jet"));
    options.opacity = args.number("opacity", 0.5);
    options.smooth = !args.has("nearest");
    options.view = parse_overlay_view(args.get("overlay-view", "all"));
    save_png(render_overlay(*r.image, main_result, options), args.get("png"));
  }
  return 0;
}

}  // namespace atman::cli
