"""The model zoo: the models the project tests and benchmarks on, built once and cached.

    from bench.zoo import ZOO
    entry = ZOO["bert_tiny_test"]
    path = entry.path()                 # builds into the cache if missing
    feeds = entry.random_inputs(seed=0)  # valid inputs for entry.input_shapes

Cache: `<repo>/.cache/zoo` (git-ignored), or $DNNFUSION_ZOO_DIR. Each built model has a sidecar
`<name>.json` recording its recipe; a recipe change rebuilds. The PP-OCR models are used
in place from wherever `bench.real_models` finds them (the repository's `models/` folder, or
$DNNFUSION_MODELS_DIR, or `../shared/models`); the light_* graphs from the installed onnx package.

CLI:  python -m bench.zoo list
      python -m bench.zoo build [NAMES...]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import onnx

from bench import zoo_light
from bench.modelutil import pin_input_shapes, save_atomic
from bench.real_models import real_model_path
from bench.zoo_transformers import EXPORT_RECIPE, TransformerSpec, export_transformer

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cache_dir() -> str:
    return os.environ.get("DNNFUSION_ZOO_DIR") or os.path.join(REPO_ROOT, ".cache", "zoo")


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[None]:
    """Serialize builds of one model across processes (pytest-xdist, parallel CLIs)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass(frozen=True, eq=False)
class ZooEntry:
    """One model: where it lives (or how to build it), its static input shapes, its inputs.

    kind is "cnn" or "transformer". For built entries `builder` returns the ModelProto and
    `recipe` names the build recipe (a change of recipe invalidates the cached file).
    """

    name: str
    kind: str
    input_shapes: dict[str, tuple[int, ...]]
    description: str
    source_path: Callable[[], str] | None = None  # a file we use in place
    builder: Callable[[], onnx.ModelProto] | None = None
    recipe: str = ""
    vocab_size: int = 0  # transformers: token ids are drawn from [0, vocab_size)
    input_dtypes: dict[str, str] = field(default_factory=dict)  # default float32

    # -- files -------------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        """True if the entry is built by the zoo (as opposed to used in place)."""
        return self.builder is not None

    def cached_path(self) -> str:
        if self.source_path is not None:
            return self.source_path()
        return os.path.join(cache_dir(), f"{self.name}.onnx")

    def _meta_path(self) -> str:
        return os.path.join(cache_dir(), f"{self.name}.json")

    def is_ready(self) -> bool:
        path = self.cached_path()
        if not os.path.exists(path):
            return False
        if not self.built:
            return True
        try:
            with open(self._meta_path()) as fh:
                return json.load(fh).get("recipe") == self.recipe
        except (OSError, ValueError):
            return False

    def path(self) -> str:
        """The .onnx path, building (and caching) the model first if needed."""
        if self.is_ready():
            return self.cached_path()
        if not self.built:
            raise FileNotFoundError(f"{self.name}: {self.cached_path()} does not exist")
        target = self.cached_path()
        with _file_lock(target + ".lock"):
            if self.is_ready():  # another process built it while we waited
                return target
            start = time.perf_counter()
            model = self.builder()
            save_atomic(model, target)
            meta = {
                "name": self.name,
                "recipe": self.recipe,
                "build_seconds": round(time.perf_counter() - start, 2),
                "producer": model.producer_name,
                "versions": _versions(),
            }
            with open(self._meta_path(), "w") as fh:
                json.dump(meta, fh, indent=2)
        return target

    def build_info(self) -> dict:
        """The sidecar metadata of a built entry ({} for entries used in place)."""
        try:
            with open(self._meta_path()) as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return {}

    def static_path(self) -> str:
        """A copy of the model with input dims pinned to `input_shapes` (cached)."""
        path = self.path()
        model = onnx.load(path, load_external_data=False)
        if _is_static(model, self.input_shapes):
            return path
        target = os.path.join(cache_dir(), f"{self.name}.static.onnx")
        with _file_lock(target + ".lock"):
            if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(path):
                save_atomic(pin_input_shapes(onnx.load(path), self.input_shapes), target)
        return target

    # -- inputs ------------------------------------------------------------------------------
    def random_inputs(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Valid random inputs: images ~ N(0, 1); for transformers, token ids in vocab range,
        an attention mask of ones over a random valid prefix then zeros, segment ids 0 then 1
        inside the valid prefix."""
        rng = np.random.default_rng(seed)
        if self.kind != "transformer":
            return {
                name: rng.standard_normal(shape).astype(self.input_dtypes.get(name, "float32"))
                for name, shape in self.input_shapes.items()
            }
        batch, seq = self.input_shapes["input_ids"]
        valid = rng.integers(max(1, seq // 2), seq + 1, size=batch)
        positions = np.arange(seq)[None, :]
        mask = (positions < valid[:, None]).astype(np.int64)
        feeds = {
            "input_ids": rng.integers(0, self.vocab_size, size=(batch, seq), dtype=np.int64),
            "attention_mask": mask,
        }
        if "token_type_ids" in self.input_shapes:
            split = rng.integers(1, valid + 1)  # segment B starts inside the valid prefix
            feeds["token_type_ids"] = ((positions >= split[:, None]) & (mask == 1)).astype(np.int64)
        return {k: feeds[k] for k in self.input_shapes}


def _is_static(model: onnx.ModelProto, input_shapes: dict[str, tuple[int, ...]]) -> bool:
    by_name = {i.name: i for i in model.graph.input}
    for name, shape in input_shapes.items():
        if name not in by_name:
            return False
        dims = by_name[name].type.tensor_type.shape.dim
        if tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims) != tuple(shape):
            return False
    return True


def _versions() -> dict[str, str]:
    import onnxruntime

    out = {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}
    for mod in ("torch", "transformers"):
        if mod in sys.modules:
            out[mod] = sys.modules[mod].__version__
    return out


# -- entries ----------------------------------------------------------------------------------


def _real(file: str) -> Callable[[], str]:
    return lambda: str(real_model_path(file))


def _light_entries() -> list[ZooEntry]:
    out = []
    for name in zoo_light.LIGHT_NAMES:
        shapes = {zoo_light.LIGHT_INPUT_NAMES[name]: (1, 3, 224, 224)}
        out.append(
            ZooEntry(
                name=f"light_{name}",
                kind="cnn",
                input_shapes=shapes,
                description=f"onnx package light_{name} (ConstantOfShape weights, all 0.02)",
                source_path=lambda name=name: zoo_light.light_path(name),
            )
        )
        out.append(
            ZooEntry(
                name=f"light_{name}_random",
                kind="cnn",
                input_shapes=shapes,
                description=f"light_{name} with random initializers instead of ConstantOfShape",
                builder=lambda name=name: zoo_light.build_light_random(name),
                recipe=zoo_light.RANDOM_RECIPE,
            )
        )
    return out


def _transformer_entry(name: str, description: str, spec: TransformerSpec) -> ZooEntry:
    shape = (spec.batch, spec.seq_len)
    return ZooEntry(
        name=name,
        kind="transformer",
        input_shapes={n: shape for n in spec.input_names},
        description=description,
        builder=lambda: export_transformer(spec)[0],
        recipe=f"{EXPORT_RECIPE}:{spec!r}",
        vocab_size=spec.vocab_size,
        input_dtypes={n: "int64" for n in spec.input_names},
    )


BERT_BASE = TransformerSpec("bert", ())
DISTILBERT = TransformerSpec("distilbert", ())
TINYBERT = TransformerSpec(
    "bert",
    (
        ("hidden_size", 312),
        ("num_hidden_layers", 4),
        ("intermediate_size", 1200),
        ("num_attention_heads", 12),
    ),
)
BERT_TINY_TEST = TransformerSpec(
    "bert",
    (
        ("vocab_size", 1024),
        ("hidden_size", 64),
        ("num_hidden_layers", 2),
        ("num_attention_heads", 4),
        ("intermediate_size", 128),
        ("max_position_embeddings", 64),
    ),
    seq_len=16,
)
DISTILBERT_TINY_TEST = TransformerSpec(
    "distilbert",
    (
        ("vocab_size", 1024),
        ("dim", 64),
        ("n_layers", 2),
        ("n_heads", 4),
        ("hidden_dim", 128),
        ("max_position_embeddings", 64),
    ),
    seq_len=16,
)

# GPT-2 (decoder: causal mask, GELU in its tanh form, LayerNorm, Conv1D = Gemm), no KV cache.
GPT2 = TransformerSpec("gpt2", (("use_cache", False),))
GPT2_TINY_TEST = TransformerSpec(
    "gpt2",
    (
        ("vocab_size", 1024),
        ("n_embd", 64),
        ("n_layer", 2),
        ("n_head", 4),
        ("n_positions", 64),
        ("bos_token_id", 0),
        ("eos_token_id", 0),
        ("use_cache", False),
    ),
    seq_len=16,
)


def _make_zoo() -> dict[str, ZooEntry]:
    entries = [
        ZooEntry(
            name="ppocr_v4_det",
            kind="cnn",
            input_shapes={"x": (1, 3, 640, 640)},
            description="PP-OCRv4 text detector (shared model, dynamic dims)",
            source_path=_real("ppocr_v4_det.onnx"),
        ),
        ZooEntry(
            name="ppocr_mobile_v2_cls",
            kind="cnn",
            input_shapes={"x": (1, 3, 48, 192)},
            description="PP-OCR text-direction classifier (shared model, dynamic dims)",
            source_path=_real("ppocr_mobile_v2_cls.onnx"),
        ),
        *_light_entries(),
        _transformer_entry("bert_base", "BERT-base, seq 128 (random weights)", BERT_BASE),
        _transformer_entry("distilbert", "DistilBERT-base, seq 128 (random weights)", DISTILBERT),
        _transformer_entry(
            "tinybert", "TinyBERT: hidden 312, 4 layers, 12 heads, seq 128", TINYBERT
        ),
        _transformer_entry(
            "bert_tiny_test", "BERT 2 layers, hidden 64, seq 16 (fast tests)", BERT_TINY_TEST
        ),
        _transformer_entry(
            "distilbert_tiny_test",
            "DistilBERT 2 layers, dim 64, seq 16 (fast tests)",
            DISTILBERT_TINY_TEST,
        ),
        _transformer_entry("gpt2", "GPT-2 small (124M), seq 128, no KV cache (random weights)",
                           GPT2),
        _transformer_entry("gpt2_tiny_test", "GPT-2 2 layers, dim 64, seq 16 (fast tests)",
                           GPT2_TINY_TEST),
    ]
    return {e.name: e for e in entries}


ZOO: dict[str, ZooEntry] = _make_zoo()


def get(name: str) -> ZooEntry:
    try:
        return ZOO[name]
    except KeyError:
        raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(ZOO)}") from None


# -- CLI --------------------------------------------------------------------------------------


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _cmd_list() -> int:
    for e in ZOO.values():
        state = "ready" if e.is_ready() else ("missing" if not e.built else "not built")
        shapes = ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in e.input_shapes.items())
        print(f"{e.name:28s} {e.kind:12s} {state:10s} {shapes}  -- {e.description}")
    return 0


def _cmd_build(names: list[str], force: bool) -> int:
    todo = [get(n) for n in names] if names else list(ZOO.values())
    failures = 0
    for e in todo:
        if force and e.built and os.path.exists(e._meta_path()):
            os.unlink(e._meta_path())
        start = time.perf_counter()
        try:
            path = e.path()
        except Exception as err:
            failures += 1
            print(f"{e.name:28s} FAILED: {type(err).__name__}: {err}", file=sys.stderr)
            continue
        took = time.perf_counter() - start
        nodes = len(onnx.load(path, load_external_data=False).graph.node)
        print(
            f"{e.name:28s} {_human(os.path.getsize(path)):>9s} {nodes:6d} nodes"
            f"  {took:7.1f} s  {path}",
            flush=True,
        )
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.zoo", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the zoo and what is built")
    build = sub.add_parser("build", help="build (or locate) models; all when no names are given")
    build.add_argument("names", nargs="*", help="zoo names (default: all)")
    build.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        return _cmd_list()
    try:
        return _cmd_build(args.names, args.force)
    except KeyError as err:
        print(err.args[0], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
