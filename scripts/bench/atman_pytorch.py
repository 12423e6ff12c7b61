#!/usr/bin/env python3
"""AtMan in plain PyTorch: the yardstick `atman bench explain` compares against.

A straightforward implementation of the same algorithm (spec: ../shared/spec/atman.md): one
batched forward of the whole model per chunk of suppression masks, no KV-cache reuse, no
transformers library. The modules below are written here from the Hugging Face parameter names
and read the same safetensors files the C++ code reads.

Usage: atman_pytorch.py JOB.json   (the job is written by `atman bench explain`)
Job fields: arch (clip | gpt2 | llama), model_dir, factor, variant, batch_size, threads, masks
(one list of [position, factor] per candidate), out (result path); CLIP: pixels_file (raw
float32, 3 x S x S), label_ids, target; LMs: input_ids, n_prompt, target_ids.
Result: {"compute_seconds": s, "values": [E per candidate], "baseline_loss": L}.
"""
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64,
          "I32": np.int32, "F64": np.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        if info["dtype"] == "BF16":
            t = torch.from_numpy(raw.astype(np.int32) << 16).view(torch.float32)
        else:
            t = torch.from_numpy(np.array(raw))
        out[name] = t.float() if t.is_floating_point() else t
    return out


def load_weights(model_dir):
    import os
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
        weights = {}
        for f in files:
            weights.update(read_safetensors(os.path.join(model_dir, f)))
        return weights
    return read_safetensors(os.path.join(model_dir, "model.safetensors"))


def attention(q, k, v, factors, variant, causal):
    """Scaled dot-product attention with AtMan suppression of keys (spec section 1)."""
    if k.shape[1] != q.shape[1]:  # grouped-query attention
        rep = q.shape[1] // k.shape[1]
        k = k.repeat_interleave(rep, 1)
        v = v.repeat_interleave(rep, 1)
    scale = 1.0 / math.sqrt(q.shape[-1])
    scores = q @ k.transpose(-2, -1)
    if factors is not None:
        m = factors[:, None, None, :]
        if variant == "multiplicative":
            scores = (scores - scores.amin(-1, keepdim=True)) * m * scale
        else:
            scores = scores * scale + torch.log(m)
    else:
        scores = scores * scale
    if causal:
        T, S = scores.shape[-2], scores.shape[-1]
        hidden = torch.ones(T, S, dtype=torch.bool).triu(S - T + 1)
        scores = scores.masked_fill(hidden, float("-inf"))
    return torch.softmax(scores, -1) @ v


def split(x, heads):
    B, T, C = x.shape
    return x.view(B, T, heads, C // heads).transpose(1, 2)


def merge(x):
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)


def linear(w, prefix, x, bias=True):
    b = w.get(prefix + ".bias") if bias else None
    return F.linear(x, w[prefix + ".weight"], b)


def layer_norm(w, prefix, x, eps):
    return F.layer_norm(x, x.shape[-1:], w[prefix + ".weight"], w[prefix + ".bias"], eps)


class Clip:
    def __init__(self, w, config):
        self.w, self.v, self.t = w, config["vision_config"], config["text_config"]
        self.scale = math.exp(float(w["logit_scale"]))

    def act(self, cfg, x):
        if cfg.get("hidden_act", "quick_gelu") == "quick_gelu":
            return x * torch.sigmoid(1.702 * x)
        return F.gelu(x)

    def encoder(self, prefix, cfg, x, factors, variant, causal):
        eps, heads = cfg.get("layer_norm_eps", 1e-5), cfg["num_attention_heads"]
        for l in range(cfg["num_hidden_layers"]):
            p = f"{prefix}encoder.layers.{l}."
            h = layer_norm(self.w, p + "layer_norm1", x, eps)
            q = split(linear(self.w, p + "self_attn.q_proj", h), heads)
            k = split(linear(self.w, p + "self_attn.k_proj", h), heads)
            v = split(linear(self.w, p + "self_attn.v_proj", h), heads)
            x = x + linear(self.w, p + "self_attn.out_proj", merge(attention(q, k, v, factors, variant, causal)))
            h = layer_norm(self.w, p + "layer_norm2", x, eps)
            x = x + linear(self.w, p + "mlp.fc2", self.act(cfg, linear(self.w, p + "mlp.fc1", h)))
        return x

    def image_embeds(self, pixels, factors, variant):
        w, cfg = self.w, self.v
        eps, p = cfg.get("layer_norm_eps", 1e-5), cfg["patch_size"]
        patches = F.conv2d(pixels, w["vision_model.embeddings.patch_embedding.weight"], stride=p)
        patches = patches.flatten(2).transpose(1, 2)
        B = patches.shape[0]
        cls = w["vision_model.embeddings.class_embedding"].view(1, 1, -1).expand(B, 1, -1)
        x = torch.cat([cls, patches], 1) + w["vision_model.embeddings.position_embedding.weight"]
        x = layer_norm(w, "vision_model.pre_layrnorm", x, eps)
        x = self.encoder("vision_model.", cfg, x, factors, variant, causal=False)
        pooled = layer_norm(w, "vision_model.post_layernorm", x[:, 0], eps)
        return pooled @ w["visual_projection.weight"].t()

    def text_embeds(self, ids):
        w, cfg = self.w, self.t
        ids = torch.tensor([ids])
        x = w["text_model.embeddings.token_embedding.weight"][ids]
        x = x + w["text_model.embeddings.position_embedding.weight"][: ids.shape[1]]
        x = self.encoder("text_model.", cfg, x, None, "multiplicative", causal=True)
        x = layer_norm(w, "text_model.final_layer_norm", x, cfg.get("layer_norm_eps", 1e-5))
        eos = cfg.get("eos_token_id", 2)
        end = int(ids.argmax(-1)) if eos == 2 else int((ids[0] == eos).int().argmax())
        return x[:, end] @ w["text_projection.weight"].t()

    def logits(self, image, text):
        image = image / image.norm(dim=-1, keepdim=True)
        text = text / text.norm(dim=-1, keepdim=True)
        return self.scale * image @ text.t()


class Gpt2:
    def __init__(self, w, config):
        prefix = "transformer." if "transformer.wte.weight" in w else ""
        self.w, self.c, self.p = w, config, prefix
        self.head = w.get("lm_head.weight", w[prefix + "wte.weight"])

    def hidden(self, ids, factors, variant):
        w, c, p = self.w, self.c, self.p
        eps, heads = c.get("layer_norm_epsilon", 1e-5), c["n_head"]
        x = w[p + "wte.weight"][ids] + w[p + "wpe.weight"][: ids.shape[1]]
        for l in range(c["n_layer"]):
            b = f"{p}h.{l}."
            h = layer_norm(w, b + "ln_1", x, eps)
            qkv = torch.addmm(w[b + "attn.c_attn.bias"], h.reshape(-1, h.shape[-1]), w[b + "attn.c_attn.weight"])
            q, k, v = qkv.view(x.shape[0], x.shape[1], -1).chunk(3, -1)
            y = merge(attention(split(q, heads), split(k, heads), split(v, heads), factors, variant, True))
            x = x + (y @ w[b + "attn.c_proj.weight"] + w[b + "attn.c_proj.bias"])
            h = layer_norm(w, b + "ln_2", x, eps)
            h = F.gelu(h @ w[b + "mlp.c_fc.weight"] + w[b + "mlp.c_fc.bias"], approximate="tanh")
            x = x + (h @ w[b + "mlp.c_proj.weight"] + w[b + "mlp.c_proj.bias"])
        return layer_norm(w, p + "ln_f", x, eps)


class Llama:
    def __init__(self, w, config):
        self.w, self.c = w, config
        self.head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        H = config["num_attention_heads"]
        D = config.get("head_dim") or config["hidden_size"] // H
        self.inv_freq = 1.0 / (config.get("rope_theta", 10000.0) ** (torch.arange(0, D, 2, dtype=torch.float64) / D))

    def rms(self, name, x):
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.c.get("rms_norm_eps", 1e-6))
        return x * self.w[name + ".weight"]

    def hidden(self, ids, factors, variant):
        w, c = self.w, self.c
        H, Hkv = c["num_attention_heads"], c.get("num_key_value_heads", c["num_attention_heads"])
        T = ids.shape[1]
        angles = torch.outer(torch.arange(T, dtype=torch.float64), self.inv_freq)
        angles = torch.cat([angles, angles], -1)
        cos, sin = angles.cos().float(), angles.sin().float()

        def rope(t):
            a, b = t.chunk(2, -1)
            return t * cos + torch.cat([-b, a], -1) * sin

        x = w["model.embed_tokens.weight"][ids]
        for l in range(c["num_hidden_layers"]):
            p = f"model.layers.{l}."
            h = self.rms(p + "input_layernorm", x)
            q = rope(split(linear(w, p + "self_attn.q_proj", h), H))
            k = rope(split(linear(w, p + "self_attn.k_proj", h), Hkv))
            v = split(linear(w, p + "self_attn.v_proj", h), Hkv)
            x = x + linear(w, p + "self_attn.o_proj", merge(attention(q, k, v, factors, variant, True)), False)
            h = self.rms(p + "post_attention_layernorm", x)
            x = x + linear(w, p + "mlp.down_proj",
                           F.silu(linear(w, p + "mlp.gate_proj", h)) * linear(w, p + "mlp.up_proj", h))
        return self.rms("model.norm", x)


def mask_factors(masks, positions):
    factors = torch.ones(len(masks), positions)
    for b, mask in enumerate(masks):
        for pos, f in mask:
            factors[b, pos] = f
    return factors


def main():
    job = json.load(open(sys.argv[1]))
    torch.set_num_threads(int(job.get("threads") or torch.get_num_threads()))
    config = json.load(open(job["model_dir"] + "/config.json"))
    weights = load_weights(job["model_dir"])
    variant, batch, masks = job["variant"], int(job["batch_size"]), job["masks"]
    values = []
    with torch.inference_mode():
        start = time.perf_counter()
        if job["arch"] == "clip":
            model = Clip(weights, config)
            size = config["vision_config"]["image_size"]
            pixels = torch.from_numpy(np.fromfile(job["pixels_file"], dtype=np.float32)).view(1, 3, size, size)
            target = job["target"]
            text = torch.cat([model.text_embeds(ids) for ids in job["label_ids"]], 0)

            def loss(factors):
                B = 1 if factors is None else factors.shape[0]
                image = model.image_embeds(pixels.expand(B, -1, -1, -1), factors, variant)
                return -torch.log_softmax(model.logits(image, text), -1)[:, target]

            positions = (size // config["vision_config"]["patch_size"]) ** 2 + 1
        else:
            model = Gpt2(weights, config) if job["arch"] == "gpt2" else Llama(weights, config)
            ids = torch.tensor([job["input_ids"]])
            n, targets = job["n_prompt"], torch.tensor(job["target_ids"])
            at = torch.arange(n - 1, n - 1 + len(targets))

            def loss(factors):
                B = 1 if factors is None else factors.shape[0]
                hidden = model.hidden(ids.expand(B, -1), factors, variant)[:, at]  # (B, nt, C)
                logp = torch.log_softmax(hidden @ model.head.t(), -1)
                return -logp.gather(2, targets.view(1, -1, 1).expand(B, -1, 1)).squeeze(2).sum(1)

            positions = ids.shape[1]
        base = float(loss(None)[0])
        for begin in range(0, len(masks), batch):
            chunk = masks[begin:begin + batch]
            values += [float(l) - base for l in loss(mask_factors(chunk, positions))]
        seconds = time.perf_counter() - start
    json.dump({"compute_seconds": seconds, "values": values, "baseline_loss": base,
               "threads": torch.get_num_threads(), "torch": torch.__version__}, open(job["out"], "w"))


if __name__ == "__main__":
    main()
