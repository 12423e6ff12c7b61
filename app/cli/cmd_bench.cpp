// `atman bench forward`: a benchmark, not a test: prints milliseconds per forward.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "atman/error.h"
#include "atman/models/loaded_model.h"
#include "atman/runtime.h"
#include "commands.h"
#include "common.h"

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
  c10::InferenceMode inference;
  std::cout << model->description() << "\n" << "threads: " << compute_threads() << "\n";
  const int seq = args.integer("seq", 0);
  for (int64_t batch : {1, 8, 32}) {
    double ms = 0;
    std::string what;
    if (impl.clip) {
      const int size = impl.clip->vision().config().image_size;
      at::Tensor pixels = at::randn({batch, 3, size, size}).to(impl.device);
      ms = ms_per_call([&] { impl.clip->image_embeds(pixels); });
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

}  // namespace

int run_bench(int argc, char** argv) {
  if (argc < 3) throw InputError("usage: atman bench forward --model DIR");
  std::string what = argv[2];
  Args args(argc, argv, 3, common_options({"model", "seq"}), {});
  apply_common(args);
  if (what == "forward") return bench_forward(args);
  throw InputError("unknown benchmark '" + what + "'; available: forward");
}

}  // namespace atman::cli
