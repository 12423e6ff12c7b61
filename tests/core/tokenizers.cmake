# Tokenizer tests: golden ids of both tokenizers, spans, decoding and error handling. Needs no
# LibTorch headers.
atman_add_test(test_tokenizers SOURCES core/test_tokenizers.cpp
  LIBS atman_tokenizers nlohmann_json::nlohmann_json LABELS core)
