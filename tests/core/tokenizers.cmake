# Tokenizer tests: golden ids of both tokenizers, spans, decoding and error handling. Needs no
# LibTorch headers.
atman_add_test(test_tokenizers SOURCES core/test_tokenizers.cpp
  LIBS atman_tokenizers atman_text atman_internal nlohmann_json::nlohmann_json LABELS core)
# tokenizer.json (HF `tokenizers` format): GPT-2 parity with the vocab/merges path, Qwen2-style
# regex and ignore_merges, hand-derived SentencePiece-style encodings, hostile files.
atman_add_test(test_tokenizer_json SOURCES core/test_tokenizer_json.cpp
  LIBS atman_tokenizers atman_text atman_internal nlohmann_json::nlohmann_json LABELS core)
# tokenizer.json files with the structure of Llama 3, Qwen2.5/3, Mistral-Nemo, SmolLM2, OLMo 2,
# Gemma 2/3 and Phi-3 over tiny vocabularies (hand-derived encodings), and the add_bos_token /
# add_eos_token flags of tokenizer_config.json.
atman_add_test(test_tokenizer_families SOURCES core/test_tokenizer_families.cpp
  LIBS atman_tokenizers atman_text atman_internal nlohmann_json::nlohmann_json LABELS core)
# SentencePiece model files (protobuf written by the test), the charsmap normalizer, Unigram
# Viterbi, byte fallback, hostile files, and transformers' SiglipTokenizer over spiece.model.
atman_add_test(test_spiece SOURCES core/test_spiece.cpp
  LIBS atman_tokenizers atman_text atman_internal nlohmann_json::nlohmann_json LABELS core)
