// `atman bench scaling`: the AtMan paper's Figure 8 on this machine — wall-clock time and peak
// memory of a plain forward, one full AtMan explanation (single mode), Integrated Gradients and
// Chefer et al., over sequence length and model size, on random GPT-2 / Llama-style models written
// on the fly (bench_support.h). Memory is the process's peak resident set size during each phase
// (reset between phases), so it includes the loaded weights; "increase" is the peak minus the RSS
// when the phase started. A benchmark, not a test: numbers depend on the machine and its load.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "atman/baselines.h"
#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/image.h"
#include "atman/runtime.h"
#include "bench_support.h"
#include "common.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

namespace atman::cli {

int run_bench_scaling(int argc, char** argv);

namespace {

using Clock = std::chrono::steady_clock;

struct ModelSize {
  int width = 0, layers = 0;
};

struct Record {
  std::string method, arch;
  int width = 0, layers = 0;
  int64_t params = 0;
  int seq_len = 0;
  double seconds = 0;
  int64_t peak_bytes = 0;      // peak RSS during the phase
  int64_t increase_bytes = 0;  // peak minus the RSS at the phase's start
  int forwards = 0;            // forward passes the method ran (batch items)
};

std::vector<int> parse_ints(const std::string& text, const std::string& option) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      out.push_back(std::stoi(item));
    } catch (const std::exception&) {
      throw InputError("--" + option + " expects comma-separated numbers, got '" + text + "'");
    }
    if (out.back() < 2) throw InputError("--" + option + " values must be >= 2");
  }
  if (out.empty()) throw InputError("--" + option + " is empty");
  return out;
}

std::vector<ModelSize> parse_sizes(const std::string& text) {
  std::vector<ModelSize> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    ModelSize s;
    char x = 0;
    std::stringstream one(item);
    if (!(one >> s.width >> x >> s.layers) || x != 'x' || s.width < 64 || s.width % 64 != 0 ||
        s.layers < 1)
      throw InputError(
          "--sizes expects WIDTHxLAYERS items (width a multiple of 64), e.g. 128x2,256x4; got '" +
          item + "'");
    out.push_back(s);
  }
  if (out.empty()) throw InputError("--sizes is empty");
  return out;
}

std::vector<std::string> parse_methods(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (item != "forward" && item != "atman" && item != "atman-b1" && item != "ig" &&
        item != "chefer")
      throw InputError("--methods takes forward, atman, atman-b1, ig, chefer; got '" + item + "'");
    out.push_back(item);
  }
  return out;
}

// A prompt of exactly `tokens` GPT-2 tokens: words that are one token each.
std::string exact_prompt(const Tokenizer& tok, int tokens) {
  const char* words[] = {" cat",    " dog", " lives", " in",  " the", " house", " near", " Paris",
                         " London", " and", " a",     " red", " fox", " sees",  " bird", " river"};
  std::string prompt = "The";
  for (int i = 1; i < tokens; ++i) prompt += words[(i * 7 + i / 16) % 16];
  const auto n = tok.encode(prompt).ids.size();
  if (static_cast<int>(n) != tokens)
    throw Error("scaling prompt has " + std::to_string(n) + " tokens, wanted " +
                std::to_string(tokens));
  return prompt;
}

template <typename Fn>
void measure(Record& rec, Fn&& fn) {
  reset_peak_rss();
  const int64_t before = current_rss_bytes();
  const auto start = Clock::now();
  fn();
  rec.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  rec.peak_bytes = peak_rss_bytes();
  rec.increase_bytes = rec.peak_bytes - before;
}

double mib(int64_t bytes) {
  return bytes / 1048576.0;
}

// Time of `method` at `seq` extrapolated from its last measurement on the same model: AtMan runs
// ~seq forwards of length ~seq (attention ~seq²), the others a fixed number of forwards.
double predicted_seconds(const std::string& method, const Record& last, int seq) {
  const double r = double(seq) / last.seq_len;
  return last.seconds * (method.rfind("atman", 0) == 0 ? r * r * r : r * r);
}

// ---- the plot: log-log line charts drawn with OpenCV ----

struct Series {
  std::string name;
  cv::Scalar color;  // BGR
  std::vector<std::pair<double, double>> points;
};

cv::Scalar method_color(const std::string& m) {
  if (m == "forward") return {60, 60, 60};
  if (m == "atman") return {40, 110, 230};     // orange-red
  if (m == "atman-b1") return {40, 180, 240};  // amber
  if (m == "ig") return {180, 100, 30};        // blue
  return {60, 160, 60};                        // chefer: green
}

void put(cv::Mat& img, const std::string& text, cv::Point at, double scale = 0.45,
         cv::Scalar color = {30, 30, 30}, int thickness = 1) {
  cv::putText(img, text, at, cv::FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv::LINE_AA);
}

std::string tick_label(double v) {
  std::ostringstream s;
  if (v >= 1e6)
    s << std::setprecision(3) << v / 1e6 << "M";
  else if (v >= 1e4)
    s << std::setprecision(3) << v / 1e3 << "k";
  else if (v >= 1)
    s << std::fixed << std::setprecision(0) << v;
  else
    s << std::setprecision(2) << v;
  return s.str();
}

void draw_panel(cv::Mat& img, cv::Rect area, const std::string& title, const std::string& xlabel,
                const std::vector<Series>& series) {
  double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
  for (const auto& s : series)
    for (auto [x, y] : s.points) {
      if (x <= 0 || y <= 0) continue;
      xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y),
      ymax = std::max(ymax, y);
    }
  put(img, title, {area.x + 60, area.y + 22}, 0.55, {0, 0, 0}, 1);
  if (xmin > xmax) {
    put(img, "(no data)", {area.x + area.width / 2 - 40, area.y + area.height / 2});
    return;
  }
  // Whole decades around the data on y; a little margin on x.
  const double lx0 = std::log10(xmin) - 0.05,
               lx1 = std::log10(xmax) + 0.05 + (xmax == xmin ? 0.5 : 0);
  const double ly0 = std::floor(std::log10(ymin)),
               ly1 = std::max(ly0 + 1, std::ceil(std::log10(ymax)));
  const cv::Rect plot(area.x + 60, area.y + 35, area.width - 170,
                      area.height - 85);  // legend on the right
  auto px = [&](double x) {
    return plot.x + int((std::log10(x) - lx0) / (lx1 - lx0) * plot.width);
  };
  auto py = [&](double y) {
    return plot.y + plot.height - int((std::log10(y) - ly0) / (ly1 - ly0) * plot.height);
  };
  cv::rectangle(img, plot, {120, 120, 120}, 1);
  for (double d = ly0; d <= ly1 + 1e-9; d += 1) {
    for (int k = 1; k < 10; ++k) {
      const double y = std::pow(10.0, d) * k;
      if (std::log10(y) > ly1 + 1e-9) break;
      cv::line(img, {plot.x, py(y)}, {plot.x + plot.width, py(y)},
               k == 1 ? cv::Scalar(200, 200, 200) : cv::Scalar(235, 235, 235), 1);
      if (k == 1) put(img, tick_label(y), {area.x + 8, py(y) + 5}, 0.4);
    }
  }
  std::vector<double> xticks;
  for (const auto& s : series)
    for (auto [x, y] : s.points) xticks.push_back(x);
  std::sort(xticks.begin(), xticks.end());
  xticks.erase(std::unique(xticks.begin(), xticks.end()), xticks.end());
  int last_label_x = -1000;
  for (double x : xticks) {
    cv::line(img, {px(x), plot.y}, {px(x), plot.y + plot.height}, {225, 225, 225}, 1);
    const std::string label = tick_label(x);
    if (px(x) - last_label_x > 45) {
      put(img, label, {px(x) - 12, plot.y + plot.height + 18}, 0.4);
      last_label_x = px(x);
    }
  }
  put(img, xlabel, {plot.x + plot.width / 2 - 40, plot.y + plot.height + 40}, 0.45);
  int legend_y = plot.y + 18;
  for (const auto& s : series) {
    std::vector<cv::Point> pts;
    for (auto [x, y] : s.points)
      if (x > 0 && y > 0) pts.push_back({px(x), py(y)});
    for (size_t i = 1; i < pts.size(); ++i)
      cv::line(img, pts[i - 1], pts[i], s.color, 2, cv::LINE_AA);
    for (const auto& p : pts) cv::circle(img, p, 4, s.color, cv::FILLED, cv::LINE_AA);
    if (!pts.empty()) {
      const int lx = plot.x + plot.width + 10;
      cv::line(img, {lx, legend_y - 4}, {lx + 22, legend_y - 4}, s.color, 2, cv::LINE_AA);
      put(img, s.name, {lx + 28, legend_y}, 0.42);
      legend_y += 18;
    }
  }
}

void save_plot(const std::vector<Record>& records, const std::vector<std::string>& methods,
               const std::string& path) {
  // Top: against sequence length, for the model with the most measurements (the larger on ties).
  // Bottom: against parameters, at the sequence length with the most measurements (the longer).
  std::map<int64_t, int> per_model;
  std::map<int, int> per_seq;
  for (const auto& r : records) ++per_model[r.params], ++per_seq[r.seq_len];
  int64_t model = 0;
  int most = 0;
  for (const auto& [params, n] : per_model)
    if (n >= most) most = n, model = params;
  int common_seq = 0;
  most = 0;
  for (const auto& [seq, n] : per_seq)
    if (n >= most) most = n, common_seq = seq;
  std::vector<Series> time_seq, mem_seq, time_par, mem_par;
  for (const auto& m : methods) {
    Series a{m, method_color(m), {}}, b = a, c = a, d = a;
    for (const auto& r : records) {
      if (r.method != m) continue;
      if (r.params == model) {
        a.points.push_back({double(r.seq_len), r.seconds});
        b.points.push_back({double(r.seq_len), std::max(0.1, mib(r.increase_bytes))});
      }
      if (r.seq_len == common_seq) {
        c.points.push_back({double(r.params), r.seconds});
        d.points.push_back({double(r.params), std::max(0.1, mib(r.increase_bytes))});
      }
    }
    for (auto* s : {&a, &b, &c, &d}) std::sort(s->points.begin(), s->points.end());
    time_seq.push_back(a), mem_seq.push_back(b), time_par.push_back(c), mem_par.push_back(d);
  }
  const int W = 1200, H = 900;
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  std::string model_name;
  for (const auto& r : records)
    if (r.params == model) {
      model_name = r.arch + " " + std::to_string(r.width) + "x" + std::to_string(r.layers) + " (" +
                   tick_label(double(r.params)) + " params)";
      break;
    }
  put(img,
      "atman bench scaling: " + model_name +
          " on top; memory = peak RSS minus RSS at phase start (weights excluded)",
      {20, H - 12}, 0.45, {80, 80, 80});
  draw_panel(img, {0, 0, W / 2, H / 2 - 10}, "seconds vs seq_len", "sequence length (tokens)",
             time_seq);
  draw_panel(img, {W / 2, 0, W / 2, H / 2 - 10}, "peak RSS increase MiB vs seq_len",
             "sequence length (tokens)", mem_seq);
  draw_panel(img, {0, H / 2 - 10, W / 2, H / 2 - 10},
             "seconds vs parameters, seq_len " + std::to_string(common_seq), "parameters",
             time_par);
  draw_panel(img, {W / 2, H / 2 - 10, W / 2, H / 2 - 10},
             "peak RSS increase MiB vs parameters, seq_len " + std::to_string(common_seq),
             "parameters", mem_par);
  RgbImage out{W, H, std::vector<uint8_t>(size_t(W) * H * 3)};
  cv::Mat rgb(H, W, CV_8UC3, out.pixels.data());
  cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
  save_png(out, path);
}

}  // namespace

int run_bench_scaling(int argc, char** argv) {
  Args args(argc, argv, 3,
            common_options({"arch", "seqs", "sizes", "methods", "ig-steps", "csv", "png",
                            "tokenizer-model", "max-seconds", "from-json"}),
            {"quick"});
  apply_common(args);
  const bool quick = args.has("quick");
  const std::string arch = args.get("arch", "gpt2");
  if (arch != "gpt2" && arch != "llama") throw InputError("--arch must be gpt2 or llama");
  if (args.get("device", "cpu") != "cpu")
    throw InputError(
        "bench scaling measures CPU time and resident memory; run it with --device cpu");
  const auto seqs =
      parse_ints(args.get("seqs", quick ? "64,128,256" : "64,128,256,512,1024"), "seqs");
  const auto sizes =
      parse_sizes(args.get("sizes", quick ? "128x2,256x4" : "128x2,256x4,512x8,768x12"));
  auto methods = parse_methods(args.get("methods", "forward,atman,atman-b1,ig,chefer"));
  const int ig_steps = args.integer("ig-steps", 20);
  // Skip a (method, model) once its next length is predicted to exceed this many seconds.
  const double max_seconds = args.number("max-seconds", quick ? 120 : 600);
  const auto tokenizer_dir = resolve_model_dir(args.get("tokenizer-model", "facts-gpt2"));
  const int positions = *std::max_element(seqs.begin(), seqs.end());

  std::printf("bench scaling: %s, threads %d, IG %d steps, seq %s, sizes %s\n", arch.c_str(),
              compute_threads(), ig_steps,
              args.get("seqs", quick ? "64,128,256" : "64,...,1024").c_str(),
              args.get("sizes", quick ? "128x2,256x4" : "128x2,...,768x12").c_str());
  std::printf("%-8s %-7s %9s %6s %10s %12s %13s %9s\n", "method", "model", "params", "seq",
              "seconds", "peak MiB", "increase MiB", "forwards");
  std::vector<Record> records;
  const auto scratch =
      std::filesystem::temp_directory_path() / ("atman-scaling-" + std::to_string(::getpid()));
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{scratch};

  // --from-json: the table, CSV and plot of an earlier run's --json records; nothing is measured.
  const bool replot = args.has("from-json");
  if (replot) {
    std::ifstream in(args.get("from-json"));
    if (!in) throw InputError("cannot read " + args.get("from-json"));
    methods.clear();
    for (const auto& j : nlohmann::json::parse(in)) {
      Record r;
      r.method = j.at("method");
      r.arch = j.value("arch", "");
      r.width = j.value("width", 0);
      r.layers = j.value("layers", 0);
      r.params = j.at("params");
      r.seq_len = j.at("seq_len");
      r.seconds = j.at("seconds");
      r.peak_bytes = j.at("peak_bytes");
      r.increase_bytes = j.value("increase_bytes", int64_t{0});
      r.forwards = j.value("forwards", 0);
      if (std::find(methods.begin(), methods.end(), r.method) == methods.end())
        methods.push_back(r.method);
      const std::string name = std::to_string(r.width) + "x" + std::to_string(r.layers);
      std::printf("%-8s %-7s %8.1fM %6d %10.3f %12.1f %13.1f %9d\n", r.method.c_str(), name.c_str(),
                  r.params / 1e6, r.seq_len, r.seconds, mib(r.peak_bytes), mib(r.increase_bytes),
                  r.forwards);
      records.push_back(r);
    }
  }

  for (const ModelSize& size : replot ? std::vector<ModelSize>{} : sizes) {
    std::shared_ptr<const Model> model;
    {
      const auto dir = scratch / (std::to_string(size.width) + "x" + std::to_string(size.layers));
      at::manual_seed(size.width * 1000 + size.layers);
      write_random_lm(dir, arch, positions, size.width, size.layers, tokenizer_dir);
      model = Model::load(dir);
      std::filesystem::remove_all(dir);  // the weights are in memory now
    }
    const CausalLM& lm = model->impl().language_model();
    const std::string name = std::to_string(size.width) + "x" + std::to_string(size.layers);
    auto request_for = [&](int seq) {
      ExplainRequest r;
      r.model = model;
      r.prompt = exact_prompt(model->tokenizer(), seq);
      r.target = " Paris";  // one token: input = the prompt, seq tokens
      r.explain = ExplainWhat::PromptTokens;
      return r;
    };
    {  // warm-up: thread pool, allocator, first-touch of the weights
      ExplainRequest r = request_for(16);
      AtmanExplainer().attribute(r);
      make_baseline("ig", {2})->attribute(r);
      make_baseline("chefer")->attribute(r);
    }
    std::map<std::string, Record> last;
    for (int seq : seqs) {
      const ExplainRequest r = request_for(seq);
      for (const auto& method : methods) {
        if (last.count(method) && predicted_seconds(method, last[method], seq) > max_seconds) {
          std::printf("%-8s %-7s %8.1fM %6d    skipped (predicted %.0f s > --max-seconds %.0f)\n",
                      method.c_str(), name.c_str(), model->parameter_count() / 1e6, seq,
                      predicted_seconds(method, last[method], seq), max_seconds);
          continue;
        }
        Record rec;
        rec.method = method;
        rec.arch = arch;
        rec.width = size.width;
        rec.layers = size.layers;
        rec.params = model->parameter_count();
        rec.seq_len = seq;
        if (method == "forward") {
          const auto ids = model->tokenizer().encode(r.prompt).ids;
          measure(rec, [&] {
            c10::InferenceMode inference;
            at::Tensor hidden =
                lm.forward_embeds(lm.embed_tokens(ids_to_tensor(ids, at::kCPU)), nullptr, nullptr);
            lm.lm_logits(hidden.narrow(1, hidden.size(1) - 1, 1));  // the head where it predicts
          });
          rec.forwards = 1;
        } else {
          const bool atman = method.rfind("atman", 0) == 0;
          std::unique_ptr<Explainer> explainer =
              atman            ? std::unique_ptr<Explainer>(std::make_unique<AtmanExplainer>())
              : method == "ig" ? make_baseline("ig", {ig_steps})
                               : make_baseline("chefer");
          ExplainRequest rm = r;
          if (method == "atman-b1") rm.batch_size = 1;  // sequential: the memory of one forward
          Explanation e;
          measure(rec, [&] { e = explainer->attribute(rm); });
          rec.forwards = e.timings.forwards + (atman ? 1 : 0);
        }
        std::printf("%-8s %-7s %8.1fM %6d %10.3f %12.1f %13.1f %9d\n", method.c_str(), name.c_str(),
                    rec.params / 1e6, seq, rec.seconds, mib(rec.peak_bytes),
                    mib(rec.increase_bytes), rec.forwards);
        std::fflush(stdout);
        last[method] = rec;
        records.push_back(rec);
      }
    }
  }

  if (args.has("json") && !replot) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : records)
      list.push_back({{"method", r.method},
                      {"params", r.params},
                      {"seq_len", r.seq_len},
                      {"seconds", r.seconds},
                      {"peak_bytes", r.peak_bytes},
                      {"increase_bytes", r.increase_bytes},
                      {"arch", r.arch},
                      {"width", r.width},
                      {"layers", r.layers},
                      {"forwards", r.forwards},
                      {"threads", compute_threads()}});
    emit_json(args, list.dump(2));
  }
  if (args.has("csv")) {
    std::ofstream out(args.get("csv"));
    out << "method,arch,width,layers,params,seq_len,seconds,peak_bytes,increase_bytes,forwards\n";
    for (const auto& r : records)
      out << r.method << "," << r.arch << "," << r.width << "," << r.layers << "," << r.params
          << "," << r.seq_len << "," << r.seconds << "," << r.peak_bytes << "," << r.increase_bytes
          << "," << r.forwards << "\n";
    if (!out) throw InputError("cannot write " + args.get("csv"));
  }
  if (args.has("png")) save_plot(records, methods, args.get("png"));
  return 0;
}

}  // namespace atman::cli
