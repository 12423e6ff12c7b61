atman_add_test(test_golden_forward SOURCES core/test_golden_forward.cpp
               LIBS atman_core atman_internal nlohmann_json::nlohmann_json LABELS "core;model")
atman_add_test(test_golden_atman SOURCES core/test_golden_atman.cpp
               LIBS atman_core atman_test_support nlohmann_json::nlohmann_json LABELS "core;model")
# Every RoPE decoder family (Llama 3, Qwen2.5, Qwen3, Mistral, Gemma 2/3, Phi-3, SmolLM2, OLMo 2)
# against float64 computations from the transformers sources; also runs the CLI.
atman_add_test(test_families SOURCES core/test_families.cpp
               LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json
               LABELS "core;model")
target_compile_definitions(test_families PRIVATE ATMAN_CLI="$<TARGET_FILE:atman>")
add_dependencies(test_families atman)
# SigLIP (zero-shot, sigmoid) against float64 computations from the transformers source; runs the
# CLI's bench on it.
atman_add_test(test_siglip SOURCES core/test_siglip.cpp
               LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json
               LABELS "core;model")
target_compile_definitions(test_siglip PRIVATE ATMAN_CLI="$<TARGET_FILE:atman>")
add_dependencies(test_siglip atman)
# LLaVA with SigLIP towers and feature-layer lists, LLaVA-NeXT anyres and LLaVA-OneVision against
# float64 computations from the transformers sources; the token -> rectangle map and the overlay.
atman_add_test(test_llava_next SOURCES core/test_llava_next.cpp
               LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json
               LABELS "core;model")
# Qwen2.5-VL (processor, windowed vision tower and merger, M-RoPE decoder, merged-token candidates)
# against float64 computations from the transformers source.
atman_add_test(test_qwen2_5_vl SOURCES core/test_qwen2_5_vl.cpp
               LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json
               LABELS "core;model")
target_compile_definitions(test_qwen2_5_vl PRIVATE ATMAN_CLI="$<TARGET_FILE:atman>")
add_dependencies(test_qwen2_5_vl atman)
# PaliGemma and PaliGemma 2 (processor, prefix-LM mask, projector, Gemma 1 / 2 decoders, AtMan)
# against float64 computations from the transformers sources.
atman_add_test(test_paligemma SOURCES core/test_paligemma.cpp
               LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json
               LABELS "core;model")
# SigLIP 2 NaFlex (processor, resized position grid, padding masks, non-square candidates) against
# float64 computations from the transformers source; also runs the CLI.
atman_add_test(test_siglip2 SOURCES core/test_siglip2.cpp
               LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json
               LABELS "core;model")
target_compile_definitions(test_siglip2 PRIVATE ATMAN_CLI="$<TARGET_FILE:atman>")
add_dependencies(test_siglip2 atman)
# Idefics3 / SmolVLM (processor, tower with bucketed position ids, pixel shuffle connector, logits,
# tile + global token rectangles and overlays) against float64 computations from the transformers
# sources.
atman_add_test(test_idefics3 SOURCES core/test_idefics3.cpp
               LIBS atman_core atman_test_support atman_internal nlohmann_json::nlohmann_json
               LABELS "core;model")
target_compile_definitions(test_idefics3 PRIVATE ATMAN_CLI="$<TARGET_FILE:atman>")
add_dependencies(test_idefics3 atman)
