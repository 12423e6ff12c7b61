#!/usr/bin/env python3
"""Writes a random-weight model folder of a real size, for measuring load time, memory and speed
(`atman bench forward`, `atman explain`, `atman info --model`) without downloading a checkpoint.

  scripts/random_checkpoint.py clip-b32 /tmp/clip-b32            # CLIP ViT-B/32 shape, F32, 605 MB
  scripts/random_checkpoint.py llama-1b /tmp/llama-1b --dtype BF16  # Llama, hidden 2048, 16 layers

Standard library only (no numpy, no torch). The values are one block of N(0, 0.02) numbers
repeated, which is enough for timing (they are finite and not degenerate) but not a model that
means anything. Tokenizer files are copied from a bundled model (--models, default
../shared/models): CLIP BPE from shapes-clip, the GPT-2 byte-level BPE tokenizer.json from
shapes-llava for the Llama.
"""
import argparse
import array
import json
import os
import random
import shutil
import struct
import sys

BLOCK = 1 << 20  # floats in the repeated random block


def random_block(dtype):
    rng = random.Random(1)
    values = array.array("f", (rng.gauss(0.0, 0.02) for _ in range(BLOCK)))
    if dtype == "F32":
        return values.tobytes()
    if dtype == "BF16":  # the upper half of each float32 (truncation, fine for random values)
        words = array.array("I", values.tobytes())
        return array.array("H", (w >> 16 for w in words)).tobytes()
    if dtype == "F16":
        return b"".join(struct.pack("<e", v) for v in values)
    raise SystemExit(f"unknown dtype {dtype}")


def write_safetensors(path, shapes, dtype, overrides=None):
    """shapes: name -> shape. overrides: name -> bytes (e.g. constant norms)."""
    size = {"F32": 4, "BF16": 2, "F16": 2}[dtype]
    block = random_block(dtype)
    header, offset = {}, 0
    for name in sorted(shapes):
        count = 1
        for d in shapes[name]:
            count *= d
        header[name] = {"dtype": dtype, "shape": shapes[name], "data_offsets": [offset, offset + count * size]}
        offset += count * size
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text.encode())
        for name in sorted(shapes):
            begin, end = header[name]["data_offsets"]
            left = end - begin
            if overrides and name in overrides:
                out.write(overrides[name])
                continue
            while left:
                chunk = block[: min(left, len(block))]
                out.write(chunk)
                left -= len(chunk)
    return offset


def ones(count, dtype):
    if dtype == "F32":
        return struct.pack("<f", 1.0) * count
    if dtype == "BF16":
        return struct.pack("<H", 0x3F80) * count
    return struct.pack("<e", 1.0) * count


def clip_b32(out, dtype, models):
    V, Pt, Ct, It, Lt = 49408, 77, 512, 2048, 12
    Cv, Iv, Lv, image, patch = 768, 3072, 12, 224, 32
    proj = 512
    shapes, overrides = {}, {}

    def encoder(prefix, C, I, L):
        for i in range(L):
            p = f"{prefix}encoder.layers.{i}."
            for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
                shapes[p + f"self_attn.{n}.weight"] = [C, C]
                shapes[p + f"self_attn.{n}.bias"] = [C]
            shapes[p + "mlp.fc1.weight"] = [I, C]
            shapes[p + "mlp.fc1.bias"] = [I]
            shapes[p + "mlp.fc2.weight"] = [C, I]
            shapes[p + "mlp.fc2.bias"] = [C]
            for n in ("layer_norm1", "layer_norm2"):
                shapes[p + n + ".weight"] = [C]
                overrides[p + n + ".weight"] = ones(C, dtype)
                shapes[p + n + ".bias"] = [C]

    encoder("text_model.", Ct, It, Lt)
    encoder("vision_model.", Cv, Iv, Lv)
    shapes["text_model.embeddings.token_embedding.weight"] = [V, Ct]
    shapes["text_model.embeddings.position_embedding.weight"] = [Pt, Ct]
    shapes["text_model.final_layer_norm.weight"] = [Ct]
    overrides["text_model.final_layer_norm.weight"] = ones(Ct, dtype)
    shapes["text_model.final_layer_norm.bias"] = [Ct]
    grid = image // patch
    shapes["vision_model.embeddings.class_embedding"] = [Cv]
    shapes["vision_model.embeddings.patch_embedding.weight"] = [Cv, 3, patch, patch]
    shapes["vision_model.embeddings.position_embedding.weight"] = [grid * grid + 1, Cv]
    for n in ("pre_layrnorm", "post_layernorm"):
        shapes[f"vision_model.{n}.weight"] = [Cv]
        overrides[f"vision_model.{n}.weight"] = ones(Cv, dtype)
        shapes[f"vision_model.{n}.bias"] = [Cv]
    shapes["visual_projection.weight"] = [proj, Cv]
    shapes["text_projection.weight"] = [proj, Ct]
    shapes["logit_scale"] = []
    write_safetensors(os.path.join(out, "model.safetensors"), shapes, dtype, overrides)

    src = os.path.join(models, "shapes-clip")
    config = json.load(open(os.path.join(src, "config.json")))
    config["projection_dim"] = proj
    config["torch_dtype"] = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[dtype]
    config["text_config"].update(hidden_size=Ct, intermediate_size=It, num_hidden_layers=Lt,
                                 num_attention_heads=8, max_position_embeddings=Pt, projection_dim=proj)
    config["vision_config"].update(hidden_size=Cv, intermediate_size=Iv, num_hidden_layers=Lv,
                                   num_attention_heads=12, image_size=image, patch_size=patch,
                                   projection_dim=proj)
    json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=2)
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json",
                 "preprocessor_config.json"):
        shutil.copy(os.path.join(src, name), out)
    pre = json.load(open(os.path.join(out, "preprocessor_config.json")))
    for key in ("crop_size", "size"):
        if isinstance(pre.get(key), dict):
            pre[key] = {k: image for k in pre[key]}
        elif key in pre:
            pre[key] = image
    json.dump(pre, open(os.path.join(out, "preprocessor_config.json"), "w"), indent=2)


def llama_1b(out, dtype, models):
    V, C, L, H, Hkv, I = 50304, 2048, 16, 16, 16, 5632
    D = C // H
    shapes, overrides = {}, {}
    shapes["model.embed_tokens.weight"] = [V, C]
    shapes["lm_head.weight"] = [V, C]
    shapes["model.norm.weight"] = [C]
    overrides["model.norm.weight"] = ones(C, dtype)
    for i in range(L):
        p = f"model.layers.{i}."
        shapes[p + "self_attn.q_proj.weight"] = [H * D, C]
        shapes[p + "self_attn.k_proj.weight"] = [Hkv * D, C]
        shapes[p + "self_attn.v_proj.weight"] = [Hkv * D, C]
        shapes[p + "self_attn.o_proj.weight"] = [C, H * D]
        shapes[p + "mlp.gate_proj.weight"] = [I, C]
        shapes[p + "mlp.up_proj.weight"] = [I, C]
        shapes[p + "mlp.down_proj.weight"] = [C, I]
        for n in ("input_layernorm", "post_attention_layernorm"):
            shapes[p + n + ".weight"] = [C]
            overrides[p + n + ".weight"] = ones(C, dtype)
    write_safetensors(os.path.join(out, "model.safetensors"), shapes, dtype, overrides)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": V,
        "hidden_size": C, "intermediate_size": I, "num_hidden_layers": L,
        "num_attention_heads": H, "num_key_value_heads": Hkv, "hidden_act": "silu",
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 2048,
        "tie_word_embeddings": False, "bos_token_id": 50256, "eos_token_id": 50256,
        "torch_dtype": {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[dtype],
    }
    json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=2)
    src = os.path.join(models, "shapes-llava")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if os.path.exists(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["clip-b32", "llama-1b"])
    parser.add_argument("out")
    parser.add_argument("--dtype", default="F32", choices=["F32", "BF16", "F16"])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--models", default=os.path.join(here, "..", "..", "shared", "models"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    {"clip-b32": clip_b32, "llama-1b": llama_1b}[args.kind](args.out, args.dtype, args.models)
    print(args.out)


if __name__ == "__main__":
    sys.exit(main())
