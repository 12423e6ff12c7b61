// The CLI's subcommands. Each parses its own options from argv[2...] and returns an exit code;
// errors are thrown as atman::Error and printed by main() as one line.
#pragma once

namespace atman::cli {

int run_info(int argc, char** argv);
int run_tokenize(int argc, char** argv);
int run_forward(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_explain(int argc, char** argv);
int run_generate(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_fetch(int argc, char** argv);
int run_serve(int argc, char** argv);  // ATMAN_WITH_SERVER only

// Lets --model name a Hugging Face repo id (atman::hub::install_repo_resolver with a progress
// printer on stderr). Called once by main().
void install_hub_resolver();

}  // namespace atman::cli
