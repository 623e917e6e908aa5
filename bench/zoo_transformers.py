"""BERT-family and GPT-2 models exported to ONNX from transformers configs (random weights, no download).

Export recipe (see `export_transformer`):
- the model is built from a config with `torch.manual_seed(seed)` set, so builds are reproducible;
- attention runs in the "eager" implementation, which exports as the classic
  MatMul -> Mul(scale) -> Add(mask) -> Softmax -> MatMul chain (SDPA adds NaN guards:
  IsNaN/Where around the softmax);
- biases and LayerNorm gains are perturbed after init (transformers initializes them to 0 and 1:
  constant weights would hide a wrong index, and the exporter's optimizer would merge the identical
  bias tensors into one);
- torch.onnx.export with the dynamo exporter (torch 2.13's default) at opset 20, static shapes,
  weights inside the file; falls back to the TorchScript exporter if dynamo fails.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import onnx

from bench.modelutil import cap_ir_version

OPSET = 20
# Bump when the export recipe changes: cached builds are redone.
EXPORT_RECIPE = f"transformer-export-v1-opset{OPSET}"


@dataclass(frozen=True)
class TransformerSpec:
    """What to build: a transformers model type plus config overrides, and the input size."""

    model_type: str  # "bert" | "distilbert" | "gpt2"
    config: tuple[tuple[str, int], ...]  # overrides for AutoConfig.for_model
    seq_len: int = 128
    batch: int = 1
    seed: int = 0

    @property
    def vocab_size(self) -> int:
        return dict(self.config).get("vocab_size", 30522)

    @property
    def input_names(self) -> tuple[str, ...]:
        if self.model_type == "bert":
            return ("input_ids", "attention_mask", "token_type_ids")
        return ("input_ids", "attention_mask")

    @property
    def output_names(self) -> tuple[str, ...]:
        if self.model_type == "bert":
            return ("last_hidden_state", "pooler_output")
        return ("last_hidden_state",)


def _perturb_(model) -> None:
    """Give 1-D parameters (biases, LayerNorm gain/shift) random values around their init."""
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() != 1:
                continue
            if name.endswith("weight"):  # LayerNorm gain
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.02 * torch.randn_like(p))


def build_torch_model(spec: TransformerSpec):
    """The eval-mode torch model for `spec` (random weights from the config's initializer)."""
    import torch
    from transformers import AutoConfig, AutoModel

    torch.manual_seed(spec.seed)
    config = AutoConfig.for_model(spec.model_type, **dict(spec.config))
    config._attn_implementation = "eager"
    model = AutoModel.from_config(config, attn_implementation="eager")
    _perturb_(model)
    return model.eval()


def example_inputs(spec: TransformerSpec) -> dict:
    """Token ids in vocab range, a full attention mask, segment ids 0 then 1 (BERT)."""
    import torch

    g = torch.Generator().manual_seed(spec.seed)
    shape = (spec.batch, spec.seq_len)
    feeds = {
        "input_ids": torch.randint(0, spec.vocab_size, shape, generator=g, dtype=torch.int64),
        "attention_mask": torch.ones(shape, dtype=torch.int64),
    }
    if "token_type_ids" in spec.input_names:
        tt = torch.zeros(shape, dtype=torch.int64)
        tt[:, spec.seq_len // 2 :] = 1
        feeds["token_type_ids"] = tt
    return feeds


def _export(model, feeds: dict, spec: TransformerSpec, path: str, dynamo: bool) -> None:
    import torch

    kwargs = {
        "input_names": list(spec.input_names),
        "output_names": list(spec.output_names),
        "opset_version": OPSET,
        "dynamo": dynamo,
    }
    if dynamo:
        kwargs["external_data"] = False
        kwargs["verbose"] = False
    with torch.no_grad(), warnings.catch_warnings(), _quiet_logger("torch.onnx"):
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(model, (), path, kwargs=dict(feeds), **kwargs)


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Silence a logger's warnings (torch.onnx notes that torchvision is not installed)."""
    logger = logging.getLogger(name)
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old)


def export_transformer(spec: TransformerSpec) -> tuple[onnx.ModelProto, str]:
    """Export `spec` to ONNX; returns the model and which exporter produced it."""
    model = build_torch_model(spec)
    feeds = example_inputs(spec)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        try:
            _export(model, feeds, spec, path, dynamo=True)
            exporter = "dynamo"
        except Exception as err:  # pragma: no cover - only when the dynamo exporter breaks
            print(f"dynamo export failed ({type(err).__name__}: {err}); using dynamo=False")
            _export(model, feeds, spec, path, dynamo=False)
            exporter = "torchscript"
        onnx_model = onnx.load(path, load_external_data=True)
    cap_ir_version(onnx_model)
    onnx_model.producer_name = f"{onnx_model.producer_name} via bench.zoo ({exporter})"
    onnx.checker.check_model(onnx_model)
    return onnx_model, exporter
