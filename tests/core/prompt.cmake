# Chat templates and a model's prompt (atman/prompt.h): the Jinja interpreter against jinja2's
# golden output (tests/data/chat_templates), errors, limits, and the prompt of a model folder.
# Needs no LibTorch headers.
atman_add_test(test_chat_template SOURCES core/test_chat_template.cpp
  LIBS atman_prompt atman_internal nlohmann_json::nlohmann_json LABELS core)
