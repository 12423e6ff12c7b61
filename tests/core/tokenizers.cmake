# Tokenizer tests: golden ids of both tokenizers, spans, decoding and error handling. Needs no
# LibTorch headers.
atman_add_test(test_tokenizers SOURCES core/test_tokenizers.cpp
  LIBS atman_tokenizers nlohmann_json::nlohmann_json LABELS core)
# tokenizer.json (HF `tokenizers` format): GPT-2 parity with the vocab/merges path, Qwen2-style
# regex and ignore_merges, hand-derived SentencePiece-style encodings, hostile files.
atman_add_test(test_tokenizer_json SOURCES core/test_tokenizer_json.cpp
  LIBS atman_tokenizers nlohmann_json::nlohmann_json LABELS core)
