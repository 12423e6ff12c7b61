// atman: the headless command-line tool over the AtMan core.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "atman/error.h"
#include "atman/eval.h"
#include "atman/names.h"
#include "atman/registry.h"
#include "atman/runtime.h"
#include "commands.h"

namespace {

// {name} slots are filled from the core's tables (usage()), so the lists cannot drift from what
// the options accept.
constexpr const char* kUsage = R"(atman - explain transformer predictions with AtMan

Usage: atman COMMAND [options]

Commands:
  info [--model DIR [--load [--copy-weights]]]
                               version, BLAS library, threads, devices, model root; with a model:
                               the memory its weights need in --dtype on --device, and what is free;
                               --load: load it and print the load time and resident memory
  tokenize --model DIR --text TEXT
                               token ids, strings and character spans as JSON
  forward --model DIR [--image PATH] [--text TEXT]...
                               CLIP: image/text embeddings and logits; LM: logits at the last position
  explain --model DIR [--image PATH] [--prompt TEXT | --question TEXT] --target TEXT [--labels L]...
          [--explain {explain}] [--mode {mode}] [--kappa K] [--factor F]
          [--log-additive] [--kappa-sweep FROM:TO:STEP] [--layers 0,1,..]
          [--granularity {granularity}] [--delimiter D] [--tile K]
          [--post {post}] [--labels-file FILE] [--batch-size N]
          [--memory-budget-mb MB] [--max-neighbours K] [--no-kv-cache]
          [--adaptive] [--adaptive-threshold T (0.01)] [--adaptive-group K (4)]
          [--json OUT.json] [--csv OUT.csv] [--png OVERLAY.png] [--colormap jet] [--opacity A]
          [--overlay-view all|base|tiles]
          [--method {method}] [--ig-steps N]
          [--siglip-loss {siglip_loss}]
                               AtMan explanation (or a baseline); CLIP: target is one of the labels;
                               SigLIP: loss -log sigmoid(target logit) or softmax over the labels;
                               LLaVA-NeXT/OneVision, SmolVLM --png: base (SmolVLM: global) view
                               and tiles summed per pixel (all), or one of them
  generate --model DIR [--image PATH] [--prompt TEXT | --question TEXT] [--max-new-tokens N]
           [--steer-text SUBSTRING=FACTOR]... [--steer-patches R0:R1,C0:C1=FACTOR]... [--log-additive]
                               greedy continuation of a language model (LLaVA: with the image);
                               steering scales attention to those tokens (<1 suppresses, >1 amplifies)
  serve --models-dir DIR [--listen 127.0.0.1:7861] --token-file F | --insecure-no-token
        [--tls-cert CERT.pem --tls-key KEY.pem] [--max-concurrent-per-client N (4)]
        [--max-request-mb M (64)] [--timeout-s T (600)] [--hub-cache DIR]
                               the core as a gRPC service (docs/remote.md; built with gRPC:
                               ATMAN_WITH_SERVER); anything but loopback
                               needs TLS and a token. explain, generate and eval take
                               --server HOST:PORT [--token-file F] [--ca CA.pem | --pinned-cert C]
                               [--tls-server-name NAME] to run there, with the same output
                               (eval: data here, explanations there, no faithfulness curves)
  fetch REPO_ID [--revision R] [--cache-dir DIR] [--endpoint URL] [--offline]
                               download a model from the Hugging Face Hub into its cache
                               (HF_HUB_CACHE); prints the snapshot folder
  eval shapes|facts|coco|squad [--model DIR] [--data PATH] [--limit N]
       [--methods M,...] [--kappa K] [--faithfulness-steps S] [--max-context-tokens T]
       [--prompt TEXT] [--json OUT] [--csv OUT] [--results FILE.jsonl] [--shard I/N]
       M: {eval_methods}
                               localisation (mAP, mAR, IQ means, pointing) and faithfulness
                               (deletion/insertion AUC) against ground truth; --results: resumable,
                               --shard or mpirun -n N: split over processes (docs/cluster.md);
                               --server HOST:PORT: explanations on a server (docs/remote.md)
  bench forward --model DIR    milliseconds per forward for batch sizes 1, 8, 32
  bench explain --model DIR    naive loop vs batched AtMan: time, peak memory, ratios
               [--random-lm llama --width 256 --seq 512]   ... on a small random LM (KV reuse)
  bench explain --random-clip b32|b16|l14 | --random-lm gpt2|llama-1b | --model DIR --compare
               | --table [--mode M --seq N --repeats R --no-pytorch]
                             whole `atman explain` process vs plain PyTorch (scripts/bench/)
  bench adaptive --set shapes|facts|long [--limit N] [--thresholds 0.001,0.01,0.05] [--group K]
                               adaptive vs exact AtMan: speed-up, Spearman ρ, top-5 overlap
  bench scaling [--quick] [--json OUT] [--csv OUT] [--png PLOT]
                               forward / AtMan / IG / Chefer time and memory vs length and size

Options for every command:
  --models-dir DIR             model root (default $ATMAN_MODELS or ../shared/models)
  --threads N                  compute threads (default: all cores)
  --device D                   cpu (default) or cuda[:N] when LibTorch has CUDA
  --dtype T                    compute dtype: auto (default: the checkpoint's on CUDA, float32 on
                               the CPU), float32, bfloat16 (half the memory), float16 (CUDA only)
  --json FILE                  write JSON there instead of stdout
  --help                       this text

The input of a language model or LLaVA: --prompt TEXT is used as it is (<image> marks where the
image goes); --question TEXT is put into the model's prompt: the "{question}" slot of its
prompt_format.json, or its Hugging Face chat template (chat_template.jinja, chat_template.json or
tokenizer_config.json), as one user turn with the image. With neither, a bundled model's
prompt_format.json prompt is used (docs/prompts.md).

A model is a Hugging Face folder (config.json, model.safetensors, tokenizer files), the name of
one under the model root, e.g. --model shapes-clip, or a Hugging Face Hub repo id, e.g.
--model openai/clip-vit-base-patch32 (taken from the cache, downloaded first when missing;
HF_HUB_OFFLINE=1 never downloads, HF_TOKEN for gated repos).
)";

std::string join(const std::vector<std::string>& names, std::string_view separator) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : std::string(separator)) + name;
  return out;
}

std::string usage() {
  std::vector<std::string> methods;
  for (const auto& m : atman::explanation_methods()) methods.emplace_back(m.name);
  const std::map<std::string, std::string, std::less<>> slots = {
      {"explain", join(atman::enum_names<atman::ExplainWhat>(), "|")},
      {"mode", join(atman::enum_names<atman::SuppressionMode>(), "|")},
      {"granularity", join(atman::enum_names<atman::Granularity>(), "|")},
      {"post", join(atman::enum_names<atman::PostProcess>(), "|")},
      {"siglip_loss", join(atman::enum_names<atman::SiglipLoss>(), "|")},
      {"method", join(methods, "|")},
      {"eval_methods", join(atman::eval::method_names(), "|")},
  };
  std::string text = kUsage;
  for (size_t open = text.find('{'); open != std::string::npos; open = text.find('{', open)) {
    const size_t close = text.find('}', open);
    auto slot = close == std::string::npos ? slots.end()
                                           : slots.find(text.substr(open + 1, close - open - 1));
    if (slot == slots.end()) {
      ++open;  // a literal brace, e.g. the "{question}" of the prompt text
      continue;
    }
    text.replace(open, close + 1 - open, slot->second);
    open += slot->second.size();
  }
  return text;
}

int run(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    std::cout << usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    argv[1] = const_cast<char*>("info");
  }
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::cout << usage();
      return 0;
    }
  }
  const std::map<std::string, std::function<int(int, char**)>> commands = {
      {"info", atman::cli::run_info},       {"tokenize", atman::cli::run_tokenize},
      {"forward", atman::cli::run_forward}, {"bench", atman::cli::run_bench},
      {"explain", atman::cli::run_explain}, {"generate", atman::cli::run_generate},
      {"eval", atman::cli::run_eval},       {"fetch", atman::cli::run_fetch},
#ifdef ATMAN_WITH_SERVER
      {"serve", atman::cli::run_serve},
#endif
  };
  auto command = commands.find(argv[1]);
  if (command == commands.end()) {
    std::cerr << "atman: unknown command '" << argv[1] << "' (see atman --help)\n";
    return 2;
  }
  try {
    atman::configure_memory_allocator();
    // Links the start-up hook that makes idle OpenMP workers sleep (runtime.h).
    static_cast<void>(atman::passive_thread_waiting());
    atman::cli::install_hub_resolver();
    return command->second(argc, argv);
  } catch (const atman::Cancelled&) {
    std::cerr << "atman: cancelled\n";
    return 130;
  } catch (const std::exception& e) {
    std::string message = e.what();
    // LibTorch errors carry a C++ backtrace after the first line; a user needs the first line.
    if (auto nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
    std::cerr << "atman: error: " << message << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int status = run(argc, argv);
#ifndef ATMAN_SANITIZED
  // The command's objects are gone with run() and what it printed is flushed here; what is left
  // are the static destructors of LibTorch and its ~340 libraries (~50 ms: the operator registry
  // deregisters its kernels one by one), with nothing to write. The sanitizer build exits normally,
  // for LeakSanitizer's check at exit.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(status);
#endif
  return status;
}
