"""Opaque operators [ours]: never fused, no code generator (a model holding one is planned,
not compiled). Shape computations, control flow, data-dependent sizes, randomness, sequences,
strings, recurrent and quantized-integer kernels, and every other default-domain operator the
importer accepts. ``random`` operators are never folded at import (nor matched by rules);
``keep`` operators are kept as written at import.
"""

from __future__ import annotations

from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops.spec import FREE, op

OPAQUE = MappingType.OPAQUE

ROWS = [
    op("Constant", OPAQUE, flops=FREE),  # lifted to an initializer at import
    *(op(name, OPAQUE, random=True) for name in """
        RandomNormal RandomNormalLike RandomUniform RandomUniformLike Multinomial Bernoulli
    """.split()),
    op("DynamicQuantizeLinear", OPAQUE, keep=True),
    *(op(name, OPAQUE) for name in """
        Shape Size NonZero NonMaxSuppression Scatter Loop If Scan
        OneHot Compress Unique ReverseSequence
        AffineGrid GridSample CenterCropPad Col2Im DeformConv Det DFT STFT
        BlackmanWindow HammingWindow HannWindow MelWeightMatrix
        ConvInteger MatMulInteger QLinearConv QLinearMatMul
        GRU LSTM RNN MaxRoiPool RoiAlign MaxUnpool GlobalLpPool MeanVarianceNormalization
        NegativeLogLikelihoodLoss SoftmaxCrossEntropyLoss TfIdfVectorizer ImageDecoder
        Optional OptionalGetElement OptionalHasElement
        SequenceAt SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength
        SequenceMap SplitToSequence ConcatFromSequence
        RegexFullMatch StringConcat StringNormalizer StringSplit
    """.split()),
]
