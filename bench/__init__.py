"""Benchmarks and the model zoo: side-by-side comparisons with ONNX Runtime.

Modules:
    zoo               the models the project tests and benchmarks on (built and cached)
    zoo_light         random-weight variants of the onnx package's light_* graphs
    zoo_transformers  BERT-family exports from transformers configs (no weights downloaded)
    modelutil         small ONNX helpers shared by the above (static dims, IR version, counts)
    ort_baseline      ONNX Runtime node counts and latency, the baseline DNNFusion is compared to
    synthetic         a deterministic ~10,000-node graph to time the planner on
    real_models       where the trained PP-OCR models are (models/, $DNNFUSION_MODELS_DIR, ../shared)
"""
