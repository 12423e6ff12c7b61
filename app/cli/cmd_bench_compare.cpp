// `atman bench explain --random-clip b32|b16|l14 | --random-lm gpt2|llama-1b | --model DIR
// [--compare] | --table`: the whole `atman explain` process (a child process of this binary, start
// to exit: loading, tokenising, explaining, writing JSON) against the compute time of a plain
// PyTorch implementation of the same algorithm (scripts/bench/atman_pytorch.py, batched, no KV
// reuse) on the same checkpoint, input and masks. Without python3 + torch only our numbers print.
#include <ATen/ATen.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "atman/error.h"
#include "atman/explanation.h"
#include "atman/image.h"
#include "atman/runtime.h"
#include "atman/tokenizer.h"
#include "bench_support.h"
#include "cli_args.h"

extern char** environ;

namespace atman::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Case {
  std::string title;
  std::string random_clip, random_lm, model;  // one of them
  std::string mode = "single";
  double kappa = 0.7;
  int seq = 0;  // LM prompt tokens (about)
  int batch = 0;
};

struct Row {
  std::string title;
  int candidates = 0, forwards = 0;
  double ours = 0;           // whole process, seconds (best of repeats)
  double explain_phase = 0;  // perturbation_seconds of our JSON
  double total_in_json = 0;  // explanation total (prepare + baseline + perturbations)
  double torch = -1;         // PyTorch compute seconds, -1 = not run
  double max_diff = -1;      // max |E ours - E torch|
  double gflop = 0;          // FLOPs of our perturbation phase, 1e9
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Runs argv to completion; returns the exit status (stdout/stderr inherited).
int spawn(const std::vector<std::string>& argv) {
  std::vector<char*> raw;
  for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
  raw.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, raw[0], nullptr, nullptr, raw.data(), environ) != 0)
    throw InputError("cannot run " + argv[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// The first of `preferred`, python3 on the PATH and Debian's /usr/bin/python3 that imports torch
// and numpy (a pyenv python3 on the PATH does not see Debian's python3-torch); empty if none.
std::string python_with_torch(const std::string& preferred) {
  std::vector<std::string> candidates = {"python3", "/usr/bin/python3"};
  if (!preferred.empty()) candidates = {preferred};
  for (const auto& python : candidates)
    if (std::system((python + " -c 'import torch, numpy' >/dev/null 2>&1").c_str()) == 0)
      return python;
  return {};
}

// The text of a prompt with about `tokens` tokens (facts-gpt2-like sentences).
std::string prompt_of(const Tokenizer& tok, int tokens) {
  const char* animals[] = {"cat", "dog", "fox", "bird", "cow", "pig", "duck", "wolf"};
  const char* cities[] = {"Paris", "London", "Tokyo", "Berlin", "Rome", "Madrid", "Oslo", "Lima"};
  const std::string question = "Question: Where does the cat live? Answer:";
  std::string prompt;
  for (int i = 0;; ++i) {
    std::string next = prompt + "The " + animals[i % 8] + " lives in " + cities[(i * 3) % 8] + ". ";
    if (static_cast<int>(tok.encode(next + question).ids.size()) > tokens) break;
    prompt = next;
  }
  return prompt + question;
}

// FLOPs of one vision-tower / decoder forward item as our explain phase runs it (matmuls only).
double clip_vision_item_flops(const json& cfg, bool class_token_only_last_layer) {
  const auto& v = cfg["vision_config"];
  const double C = v["hidden_size"], I = v["intermediate_size"], L = v["num_hidden_layers"];
  const double g = double(v["image_size"].get<int>() / v["patch_size"].get<int>()), T = g * g + 1;
  const double layer = 2 * T * (4 * C * C + 2 * C * I) + 4 * T * T * C;
  if (!class_token_only_last_layer) return L * layer;
  // Last layer: keys and values of all positions, the rest for the class token only.
  const double last = 2 * T * 2 * C * C + 2 * (2 * C * C + 2 * C * I) + 4 * T * C;
  return (L - 1) * layer + last;
}

Row run_case(const Case& c, const Args& args, const fs::path& scratch, const std::string& python) {
  const bool with_torch = !python.empty();
  Row row;
  row.title = c.title;
  fs::path model_dir;
  const auto shared = model_root();
  auto t0 = std::chrono::steady_clock::now();
  if (!c.random_clip.empty()) {
    model_dir = write_random_clip(scratch / ("clip-" + c.random_clip), c.random_clip,
                                  resolve_model_dir("shapes-clip"));
  } else if (!c.random_lm.empty()) {
    model_dir = write_real_size_lm(scratch / ("lm-" + c.random_lm), c.random_lm,
                                   resolve_model_dir("facts-gpt2"));
  } else {
    model_dir = resolve_model_dir(c.model);
  }
  std::cerr << c.title << ": checkpoint ready in " << seconds_since(t0) << " s\n";
  const json config = json::parse(std::ifstream(model_dir / "config.json"));
  const bool clip = config.value("model_type", "") == "clip";
  auto tokenizer = load_tokenizer(model_dir);

  const fs::path out_json = scratch / "explanation.json";
  // --explain-binary: time another build's `atman explain` (a before/after comparison). By default
  // the `atman` launcher beside this atman-cli: what a user runs.
  std::vector<std::string> argv = {
      args.get("explain-binary",
               (fs::read_symlink("/proc/self/exe").parent_path() / "atman").string()),
      "explain",
      "--model",
      model_dir.string(),
      "--mode",
      c.mode,
      "--kappa",
      std::to_string(c.kappa),
      "--quiet",
      "--json",
      out_json.string()};
  if (args.has("threads")) argv.insert(argv.end(), {"--threads", args.get("threads")});
  if (c.batch > 0) argv.insert(argv.end(), {"--batch-size", std::to_string(c.batch)});
  json job = {
      {"model_dir", model_dir.string()},       {"factor", 0.9},
      {"variant", "multiplicative"},           {"batch_size", args.integer("torch-batch", 16)},
      {"threads", args.integer("threads", 0)}, {"out", (scratch / "torch.json").string()}};
  if (clip) {
    const fs::path data = shared.parent_path() / "data" / "shapes-eval";
    const std::string image = args.get("image", (data / "000.png").string());
    auto item = json::parse(std::ifstream(data / "000.json"));
    auto labels = item["labels"].get<std::vector<std::string>>();
    const std::string target = item["target"].get<std::string>();
    argv.insert(argv.end(), {"--image", image, "--target", target});
    for (const auto& l : labels) argv.insert(argv.end(), {"--labels", l});
    PixelTensor pixels = preprocess_clip(load_image(image), load_preprocess_config(model_dir));
    const fs::path pixel_file = scratch / "pixels.f32";
    std::ofstream(pixel_file, std::ios::binary)
        .write(reinterpret_cast<const char*>(pixels.values.data()),
               static_cast<std::streamsize>(pixels.values.size() * sizeof(float)));
    json label_ids = json::array();
    for (const auto& l : labels) label_ids.push_back(tokenizer->encode(l).ids);
    job.update({{"arch", "clip"},
                {"pixels_file", pixel_file.string()},
                {"label_ids", label_ids},
                {"target", std::find(labels.begin(), labels.end(), target) - labels.begin()}});
  } else {
    const std::string prompt = prompt_of(*tokenizer, c.seq > 0 ? c.seq : 94);
    const std::string target = " Paris";
    argv.insert(argv.end(), {"--prompt", prompt, "--target", target});
    auto ids = tokenizer->encode(prompt).ids;
    auto target_ids = tokenizer->encode(target).ids;
    const int64_t n_prompt = static_cast<int64_t>(ids.size());
    ids.insert(ids.end(), target_ids.begin(), target_ids.end() - 1);
    job.update({{"arch", config.value("model_type", "") == "gpt2" ? "gpt2" : "llama"},
                {"input_ids", ids},
                {"n_prompt", n_prompt},
                {"target_ids", target_ids}});
    row.title += " (" + std::to_string(n_prompt) + " tokens)";
  }

  // Whole process, best of --repeats (the page cache is warm after the first).
  const int repeats = std::max(1, args.integer("repeats", 2));
  for (int r = 0; r < repeats; ++r) {
    auto start = std::chrono::steady_clock::now();
    if (spawn(argv) != 0) throw InputError("atman explain failed for " + c.title);
    const double s = seconds_since(start);
    row.ours = r == 0 ? s : std::min(row.ours, s);
  }
  const Explanation ours = load_explanation(out_json);
  row.candidates = static_cast<int>(ours.candidates.size());
  row.forwards = ours.timings.forwards;
  row.explain_phase = ours.timings.perturbation_seconds;
  row.total_in_json = ours.timings.total_seconds;
  if (clip) row.gflop = row.forwards * clip_vision_item_flops(config, true) / 1e9;

  if (!with_torch) return row;
  // The masks of our explanation, as (position, factor) lists: the same perturbations.
  json masks = json::array();
  for (const auto& cand : ours.candidates) {
    json mask = json::array();
    for (const auto& n : cand.suppressed) {
      if (static_cast<float>(n.factor) == 1.0f) continue;
      for (int pos : ours.candidates[n.candidate].positions) mask.push_back({pos, n.factor});
    }
    masks.push_back(mask);
  }
  job["masks"] = masks;
  const fs::path job_file = scratch / "job.json";
  std::ofstream(job_file) << job.dump();
  const std::string script =
      args.get("pytorch-script", std::string(ATMAN_SCRIPTS_DIR) + "/bench/atman_pytorch.py");
  if (spawn({python, script, job_file.string()}) != 0) {
    std::cerr << "the PyTorch script failed; only our numbers are shown\n";
    return row;
  }
  const json result = json::parse(std::ifstream(scratch / "torch.json"));
  row.torch = result["compute_seconds"].get<double>();
  row.max_diff = 0;
  const auto values = result["values"].get<std::vector<double>>();
  for (size_t i = 0; i < values.size() && i < ours.candidates.size(); ++i) {
    double e = 0;
    for (double v : ours.candidates[i].per_target) e += v;
    row.max_diff = std::max(row.max_diff, std::abs(values[i] - e));
  }
  return row;
}

}  // namespace

int bench_compare(const Args& args) {
  std::vector<Case> cases;
  Case base;
  base.mode = args.get("mode", "");
  base.kappa = args.number("kappa", 0.7);
  base.seq = args.integer("seq", 0);
  base.batch = args.integer("batch-size", 0);
  if (args.has("table")) {
    cases.push_back({"gpt2-124M, single", "", "gpt2", "", "single", 0.7, 94, base.batch});
    cases.push_back(
        {"CLIP B/32, 49 patches, correlated", "b32", "", "", "correlated", 0.7, 0, base.batch});
    cases.push_back(
        {"facts-gpt2 (7M), correlated", "", "", "facts-gpt2", "correlated", 0.7, 116, base.batch});
  } else {
    Case c = base;
    if (args.has("random-clip")) {
      c.random_clip = args.get("random-clip");
      c.title = "CLIP " + c.random_clip;
      if (c.mode.empty()) c.mode = "correlated";
    } else if (args.has("random-lm")) {
      c.random_lm = args.get("random-lm");
      c.title = c.random_lm;
      if (c.seq == 0) c.seq = c.random_lm == "llama-1b" ? 32 : 94;
    } else {
      c.model = args.required("model");
      c.title = fs::path(c.model).filename().string();
    }
    if (c.mode.empty()) c.mode = "single";
    c.title += ", " + c.mode;
    cases.push_back(c);
  }
  // --keep DIR: write the checkpoints and files there and leave them (to time explain again).
  const fs::path scratch = args.has("keep") ? fs::path(args.get("keep"))
                                            : fs::temp_directory_path() /
                                                  ("atman-compare-" + std::to_string(::getpid()));
  fs::create_directories(scratch);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
    }
  } cleanup{args.has("keep") ? fs::path() : scratch};
  const std::string python = args.has("no-pytorch") ? "" : python_with_torch(args.get("python"));
  if (python.empty())
    std::cerr << "python3 with torch and numpy not found (apt-get install python3-torch "
                 "python3-numpy): printing only our numbers\n";
  const double gflops = measure_sgemm_gflops();
  std::vector<Row> rows;
  for (const Case& c : cases) rows.push_back(run_case(c, args, scratch, python));

  std::printf("threads %d; sgemm %.1f GFLOP/s (1024^3, this process)\n", compute_threads(), gflops);
  std::printf(
      "| case | PyTorch (compute only) | `atman explain` (whole process) | ratio | max |dE| |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    if (r.torch >= 0)
      std::printf("| %s | %.2f s | %.2f s | %.2fx | %.1e |\n", r.title.c_str(), r.torch, r.ours,
                  r.torch / r.ours, r.max_diff);
    else
      std::printf("| %s | - | %.2f s | - | - |\n", r.title.c_str(), r.ours);
  }
  for (const Row& r : rows) {
    std::printf("%s: %d candidates, %d forwards; explanation %.2f s, of it perturbations %.2f s",
                r.title.c_str(), r.candidates, r.forwards, r.total_in_json, r.explain_phase);
    if (r.gflop > 0)
      std::printf("; %.1f GFLOP -> FLOP limit %.2f s at %.1f GFLOP/s, ratio %.2f", r.gflop,
                  r.gflop / gflops, gflops, r.explain_phase / (r.gflop / gflops));
    std::printf("\n");
  }
  return 0;
}

}  // namespace atman::cli
