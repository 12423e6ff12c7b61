// `atman bench forward`: a benchmark, not a test: prints milliseconds per forward.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>

#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/runtime.h"
#include "bench_support.h"
#include "commands.h"
#include "common.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

namespace atman::cli {
namespace {

// Median-free but warm: one untimed run, then enough repeats to fill ~0.5 s.
template <typename Fn>
double ms_per_call(Fn&& fn) {
  fn();
  int repeats = 0;
  auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    fn();
    ++repeats;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < 0.5 && repeats < 200);
  return 1000.0 * elapsed / repeats;
}

int bench_forward(const Args& args) {
  auto model = load_model_arg(args);
  const auto& impl = model->impl();
  if (impl.siglip2)  // its image size (and so its patch count) varies per image
    throw InputError(
        "bench forward supports CLIP, SigLIP, LLaVA and causal LMs, not SigLIP 2 NaFlex");
  c10::InferenceMode inference;
  std::cout << model->description() << "\n"
            << "threads: " << compute_threads() << "\n";
  const int seq = args.integer("seq", 0);
  for (int64_t batch : {1, 8, 32}) {
    double ms = 0;
    std::string what;
    if (impl.clip || impl.siglip) {
      const int size = impl.clip ? impl.clip->vision().config().image_size
                                 : impl.siglip->config().vision.image_size;
      at::Tensor pixels = at::randn({batch, 3, size, size}).to(impl.device);
      ms = ms_per_call(
          [&] { impl.clip ? impl.clip->image_embeds(pixels) : impl.siglip->image_embeds(pixels); });
      what = "image tower " + std::to_string(size) + "px";
    } else {
      const CausalLM& lm = impl.language_model();
      const int64_t T = seq > 0 ? seq : std::min<int64_t>(128, lm.max_positions());
      at::Tensor ids = at::randint(0, lm.vocab_size(), {batch, T}, at::kLong).to(impl.device);
      ms = ms_per_call([&] { lm.forward_embeds(lm.embed_tokens(ids), nullptr, nullptr); });
      what = std::to_string(T) + " tokens";
    }
    std::printf("batch %3lld  %-20s %9.2f ms/forward  %8.2f ms/item\n",
                static_cast<long long>(batch), what.c_str(), ms, ms / batch);
  }
  return 0;
}

struct Phase {
  double seconds = 0;
  int64_t peak = 0;      // peak RSS during the phase (absolute)
  int64_t increase = 0;  // peak minus the RSS when the phase started
};

template <typename Fn>
Phase measure(Fn&& fn) {
  reset_peak_rss();
  const int64_t before = current_rss_bytes();
  auto start = std::chrono::steady_clock::now();
  fn();
  Phase p;
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  p.peak = peak_rss_bytes();
  p.increase = p.peak - before;
  return p;
}

double mib(int64_t bytes) {
  return bytes / 1048576.0;
}

// The text of a prompt with about `tokens` tokens, made of fact sentences like facts-gpt2's world.
std::string long_prompt(const Tokenizer& tok, int tokens) {
  const char* animals[] = {"cat", "dog", "fox", "bird", "cow", "pig", "duck", "wolf"};
  const char* cities[] = {"Paris", "London", "Tokyo", "Berlin", "Rome", "Madrid", "Oslo", "Lima"};
  std::string prompt;
  for (int i = 0; tok.encode(prompt).ids.size() + 12 < static_cast<size_t>(tokens); ++i)
    prompt += std::string("The ") + animals[i % 8] + " lives in " + cities[(i * 3) % 8] + ". ";
  return prompt + "Question: Where does the cat live? Answer:";
}

// E of the first `limit` candidates: `loss` with only the candidate's positions (of `positions`)
// scaled to `own`, one forward each, minus the unsuppressed loss.
std::vector<double> each_candidate(const Explanation& real, size_t limit, int64_t positions,
                                   float own,
                                   const std::function<double(const Suppression*)>& loss) {
  std::vector<double> values;
  const double base = loss(nullptr);
  for (const auto& c : real.candidates) {
    if (values.size() >= limit) break;
    Suppression s;
    s.factors = at::ones({1, positions});
    for (int p : c.positions) s.factors[0][p] = own;
    values.push_back(loss(&s) - base);
  }
  return values;
}

// One unbatched forward of the whole model per candidate, nothing reused: what a straightforward
// loop over perturbations does. Returns E per candidate (summed over target tokens).
std::vector<double> naive_loop(const ExplainRequest& r, const Explanation& real, size_t limit) {
  const auto& impl = r.model->impl();
  const float own = static_cast<float>(1.0 - r.factor);
  if (impl.clip) {
    const ClipModel& clip = *impl.clip;
    at::Tensor pixels =
        pixels_to_tensor(preprocess_clip(*r.image, r.model->preprocess_config()), impl.device);
    const int64_t target = std::find(r.labels.begin(), r.labels.end(), r.target) - r.labels.begin();
    auto loss = [&](const Suppression* s) {
      at::Tensor image = clip.image_embeds(pixels, s);
      std::vector<at::Tensor> texts;
      for (const auto& label : r.labels)
        texts.push_back(
            clip.text_embeds(ids_to_tensor(r.model->tokenizer().encode(label).ids, impl.device)));
      return -at::log_softmax(clip.logits(image, at::cat(texts, 0)), -1)[0][target].item<double>();
    };
    const int64_t positions = clip.vision().grid_size() * clip.vision().grid_size() + 1;
    return each_candidate(real, limit, positions, own, loss);
  }
  if (impl.siglip) {
    // The task's loss (siglip_task.cpp): -log σ(logit of the target), or CLIP's softmax loss.
    const SiglipModel& siglip = *impl.siglip;
    at::Tensor pixels =
        pixels_to_tensor(preprocess_clip(*r.image, r.model->preprocess_config()), impl.device);
    const int64_t target = std::find(r.labels.begin(), r.labels.end(), r.target) - r.labels.begin();
    std::vector<at::Tensor> texts;
    for (const auto& label : r.labels)
      texts.push_back(siglip.text_embeds(
          ids_to_tensor(siglip_text_ids(siglip, r.model->tokenizer(), label), impl.device)));
    const at::Tensor text = at::cat(texts, 0);
    auto loss = [&](const Suppression* s) {
      at::Tensor logits = siglip.logits(siglip.image_embeds(pixels, s), text).to(at::kFloat)[0];
      if (r.siglip_loss == SiglipLoss::Softmax)
        return -at::log_softmax(logits, -1)[target].item<double>();
      return -at::log_sigmoid(logits[target]).item<double>();
    };
    const int64_t positions = siglip.grid_size() * siglip.grid_size();  // no class token
    return each_candidate(real, limit, positions, own, loss);
  }
  const CausalLM& lm = impl.language_model();
  std::vector<int64_t> prompt = r.model->tokenizer().encode(r.prompt).ids;
  std::vector<int64_t> target = r.model->tokenizer().encode(r.target).ids;
  std::vector<int64_t> ids = prompt;
  ids.insert(ids.end(), target.begin(), target.end() - 1);
  at::Tensor input = ids_to_tensor(ids, impl.device);
  const int64_t n = static_cast<int64_t>(prompt.size());
  auto loss = [&](const Suppression* s) {
    at::Tensor logp = at::log_softmax(lm.forward_logits(input, s), -1)[0];  // (T, V), full head
    double total = 0;
    for (size_t t = 0; t < target.size(); ++t) total -= logp[n - 1 + t][target[t]].item<double>();
    return total;
  };
  return each_candidate(real, limit, static_cast<int64_t>(ids.size()), own, loss);
}

int bench_explain(const Args& args) {
  std::shared_ptr<const Model> model;
  std::filesystem::path scratch;
  if (args.has("random-lm")) {
    scratch =
        std::filesystem::temp_directory_path() / ("atman-bench-" + std::to_string(::getpid()));
    write_random_lm(scratch, args.get("random-lm"), args.integer("positions", 1024),
                    args.integer("width", 256), args.integer("layers", 4),
                    resolve_model_dir(args.get("tokenizer-model", "facts-gpt2")));
    model = Model::load(scratch, LoadOptions{args.get("device", "cpu")});
  } else {
    model = load_model_arg(args);
  }
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{scratch};

  ExplainRequest r;
  r.model = model;
  r.mode = args.get("mode", "single") == "correlated" ? SuppressionMode::Correlated
                                                      : SuppressionMode::Single;
  r.kappa = args.number("kappa", 0.7);
  r.batch_size = args.integer("batch-size", 32);
  if (model->target_is_label()) {
    auto data = model_root() / ".." / "data" / "shapes-eval";
    auto image = args.get("image", (data / "000.png").string());
    r.image = std::make_shared<const RgbImage>(load_image(image));
    // The demo item's labels and target unless both are given (then no data folder is needed).
    nlohmann::json item;
    if (!args.has("labels") || !args.has("target"))
      item = nlohmann::json::parse(std::ifstream(data / "000.json"));
    r.labels =
        args.has("labels") ? args.all("labels") : item["labels"].get<std::vector<std::string>>();
    r.target = args.has("target") ? args.get("target") : item["target"].get<std::string>();
    r.explain = ExplainWhat::ImagePatches;
  } else {
    r.prompt = args.has("prompt") ? args.get("prompt")
                                  : long_prompt(model->tokenizer(), args.integer("seq", 512));
    r.target = args.get("target", " Paris");
    r.explain = ExplainWhat::PromptTokens;
  }
  if (model->reads_images() && model->generates())
    throw InputError("bench explain supports CLIP, SigLIP and causal LMs");

  c10::InferenceMode inference;
  std::cout << model->description() << "; threads " << compute_threads() << "; batch "
            << r.batch_size << "\n";
  const auto& impl = model->impl();
  if (impl.siglip2)
    throw InputError(
        "bench explain supports CLIP, SigLIP, LLaVA and causal LMs, not SigLIP 2 NaFlex");
  // Warm-up (thread pool, allocator) so the first phase is not charged for it.
  AtmanExplainer().attribute(r);

  // A plain forward of one batch of the same input: the memory yardstick.
  Phase plain = measure([&] {
    if (impl.clip || impl.siglip) {
      at::Tensor pixels =
          pixels_to_tensor(preprocess_clip(*r.image, model->preprocess_config()), impl.device)
              .expand({r.batch_size, -1, -1, -1});
      impl.clip ? impl.clip->image_embeds(pixels) : impl.siglip->image_embeds(pixels);
    } else {
      const CausalLM& lm = impl.language_model();
      auto ids = model->tokenizer().encode(r.prompt).ids;
      at::Tensor input = ids_to_tensor(ids, impl.device).expand({r.batch_size, -1});
      lm.forward_embeds(lm.embed_tokens(input), nullptr, nullptr);
    }
  });
  Explanation real;
  Phase batched = measure([&] { real = AtmanExplainer().attribute(r); });
  // The naive loop costs the same per candidate: time `limit` of them and scale (--naive-limit 0:
  // all).
  const int limit_arg = args.integer("naive-limit", model->target_is_label() ? 0 : 64);
  const size_t limit =
      limit_arg <= 0 ? real.candidates.size() : std::min<size_t>(limit_arg, real.candidates.size());
  std::vector<double> naive_values;
  Phase naive = measure([&] { naive_values = naive_loop(r, real, limit); });
  naive.seconds *= double(real.candidates.size() + 1) / double(limit + 1);
  double max_diff = 0;
  for (size_t i = 0; i < naive_values.size(); ++i)
    max_diff = std::max(max_diff, std::abs(naive_values[i] - real.candidates[i].value));

  std::printf("%zu candidates, %d perturbed forwards (%d answered by the mask cache)\n",
              real.candidates.size(), real.timings.forwards, real.timings.cache_hits);
  std::printf("%-34s %10s %12s %14s\n", "phase", "seconds", "peak RSS MiB", "increase MiB");
  auto row = [](const char* name, const Phase& p) {
    std::printf("%-34s %10.3f %12.1f %14.1f\n", name, p.seconds, mib(p.peak), mib(p.increase));
  };
  row("plain forward (one batch)", plain);
  row(limit == real.candidates.size() ? "naive loop (unbatched, no reuse)"
                                      : "naive loop (extrapolated)",
      naive);
  row("AtMan (batched, cached, KV reuse)", batched);
  std::printf("speed-up vs naive loop: %.2fx (max |E diff| %.2g)\n",
              naive.seconds / batched.seconds, max_diff);
  std::printf("peak RSS: AtMan / plain forward batch = %.2f (increase ratio %.2f)\n",
              double(batched.peak) / plain.peak,
              double(batched.increase) / std::max<int64_t>(1, plain.increase));
  if (!model->target_is_label()) {  // the KV cache is the language models'
    ExplainRequest no_reuse = r;
    no_reuse.reuse_kv_cache = false;
    Phase without = measure([&] { AtmanExplainer().attribute(no_reuse); });
    row("AtMan without KV reuse", without);
    std::printf("KV-cache reuse speed-up: %.2fx at %zu prompt tokens\n",
                without.seconds / batched.seconds, model->tokenizer().encode(r.prompt).ids.size());
  }
  return 0;
}

}  // namespace

int run_bench_scaling(int argc, char** argv);  // cmd_bench_scaling.cpp: its own options
int bench_compare(const Args& args);           // cmd_bench_compare.cpp: vs plain PyTorch
int bench_adaptive(const Args& args);          // cmd_bench_adaptive.cpp: adaptive vs exact

int run_bench(int argc, char** argv) {
  if (argc < 3)
    throw InputError("usage: atman bench forward|explain --model DIR | bench scaling [--quick]");
  std::string what = argv[2];
  if (what == "scaling") return run_bench_scaling(argc, argv);
  Args args(argc, argv, 3,
            common_options({"model",   "seq",         "random-lm",       "positions",
                            "width",   "layers",      "tokenizer-model", "mode",
                            "kappa",   "batch-size",  "image",           "labels",
                            "target",  "prompt",      "naive-limit",     "random-clip",
                            "repeats", "torch-batch", "pytorch-script",  "explain-binary",
                            "python",  "set",         "limit",           "thresholds",
                            "group",   "keep"}),
            {"table", "compare", "no-pytorch"});
  apply_common(args);
  if (what == "forward") return bench_forward(args);
  if (what == "adaptive") return bench_adaptive(args);
  if (what == "explain") {
    // The small configurable random LM (--width/--layers/--positions, or "llama") keeps the naive
    // loop comparison; real-size random checkpoints and --table/--compare compare with PyTorch.
    const bool small_random =
        args.has("random-lm") && (args.get("random-lm") == "llama" || args.has("width") ||
                                  args.has("layers") || args.has("positions"));
    if (args.has("random-clip") || args.has("table") || args.has("compare") ||
        (args.has("random-lm") && !small_random))
      return bench_compare(args);
    return bench_explain(args);
  }
  throw InputError("unknown benchmark '" + what +
                   "'; available: forward, explain, adaptive, scaling");
}

}  // namespace atman::cli
