// Models declared by attributes and compiled by the generator as part of this test project: a grid in which every
// value of every option appears (cells x sizes {1, 3, 7, 8, 9, 17, 33} x layers {1, 2, 3} x directions x bias x
// layout x relu), plus models that chain layers of different kinds. ForwardGridTests pairs each with its
// hand-written oracle description.
using Deepbox;

namespace Deepbox.Tests.Models;

[Rnn(1, 3)]
public partial class Rnn1x3;

[Rnn(3, 7, NumLayers = 2, Bidirectional = true)]
public partial class Rnn3x7;

[Rnn(7, 8, Bias = false, BatchFirst = false, Nonlinearity = Nonlinearity.Relu)]
public partial class Rnn7x8;

[Rnn(8, 9, NumLayers = 3)]
public partial class Rnn8x9;

[Rnn(9, 17, Bidirectional = true, Nonlinearity = Nonlinearity.Relu)]
public partial class Rnn9x17;

[Rnn(17, 33, BatchFirst = false)]
public partial class Rnn17x33;

// Wider than one 128-row chunk of W_hh: the sequence kernels sum the recurrent product in chunks.
[Rnn(4, 129)]
public partial class Rnn4x129;

[Rnn(33, 1, NumLayers = 2, Bias = false)]
public partial class Rnn33x1;

[Lstm(3, 1)]
public partial class Lstm3x1;

[Lstm(7, 3, Bidirectional = true, BatchFirst = false)]
public partial class Lstm7x3;

[Lstm(8, 7, NumLayers = 2, Bias = false)]
public partial class Lstm8x7;

[Lstm(9, 8)]
public partial class Lstm9x8;

[Lstm(17, 9, NumLayers = 3, Bidirectional = true)]
public partial class Lstm17x9;

[Lstm(33, 17)]
public partial class Lstm33x17;

[Lstm(5, 130)]
public partial class Lstm5x130;

/// <summary>Gate rows of 2 KB (4 x 128 floats): each block's update goes tile by tile over more than 32 sequences.</summary>
[Lstm(3, 128)]
public partial class Lstm3x128;

/// <summary>Gate rows of 4 KB (4 x 256 floats), both directions: the update goes tile by tile over more than 16 sequences.</summary>
[Lstm(2, 256, Bidirectional = true)]
public partial class Lstm2x256;

[Lstm(1, 33, NumLayers = 2, Bidirectional = true, Bias = false, BatchFirst = false)]
public partial class Lstm1x33;

[Gru(7, 1, NumLayers = 2)]
public partial class Gru7x1;

[Gru(8, 3, BatchFirst = false)]
public partial class Gru8x3;

[Gru(9, 7, Bidirectional = true, Bias = false)]
public partial class Gru9x7;

[Gru(17, 8, NumLayers = 2, Bidirectional = true)]
public partial class Gru17x8;

[Gru(33, 9)]
public partial class Gru33x9;

[Gru(3, 129, Bidirectional = true)]
public partial class Gru3x129;

// Hidden sizes of whole 16-float vectors: Step has 512-bit kernels too (one block; three blocks; two chunks).
[Lstm(8, 16)]
public partial class Lstm8x16;

[Gru(5, 48, NumLayers = 2)]
public partial class Gru5x48;

[Gru(3, 144)]
public partial class Gru3x144;

[Rnn(6, 32, NumLayers = 2, Nonlinearity = Nonlinearity.Relu)]
public partial class Rnn6x32;

// Three chunks of W_hh, streamed too (Gru3x129 is bidirectional).
[Gru(5, 257)]
public partial class Gru5x257;

[Gru(1, 17, NumLayers = 3, BatchFirst = false)]
public partial class Gru1x17;

[Gru(3, 33, Bidirectional = true)]
public partial class Gru3x33;

/// <summary>DESIGN's forecaster: a two-layer LSTM, the last step, a linear head.</summary>
[Lstm(1, 32, NumLayers = 2, Dropout = 0.1f, Name = "lstm")]
[LastStep]
[Linear(32, 1, Name = "fc")]
public partial class Forecaster;

[Gru(5, 9, Bidirectional = true)]
[Linear(18, 4, Activation = Activation.Tanh)]
public partial class BiGruTanhHead;

[Linear(6, 10, Activation = Activation.Relu)]
[Rnn(10, 3)]
[LastStep]
[Linear(3, 2, Activation = Activation.Sigmoid, Bias = false)]
public partial class LinearRnnSigmoidHead;

[Lstm(4, 9, Bidirectional = true, BatchFirst = false, Name = "encoder")]
[Gru(18, 5, NumLayers = 2, BatchFirst = false)]
[Linear(5, 3, Name = "head")]
public partial class LstmGruStack;

[Linear(3, 17)]
public partial class LinearOnly;

[Rnn(2, 9, Bidirectional = true, NumLayers = 2, Nonlinearity = Nonlinearity.Relu)]
[LastStep]
[Linear(18, 7, Activation = Activation.Relu)]
[Linear(7, 3)]
public partial class BiRnnMlpHead;

/// <summary>A model nested in a partial class, in another namespace than its user.</summary>
public static partial class Outer
{
    [Gru(4, 5, Name = "gru")]
    public partial class NestedGru;
}

/// <summary>Token input: a table with a padding row, a stacked LSTM, a head to the vocabulary (a character model's shape).</summary>
[Embedding(11, 6, PaddingIdx = 0, Name = "embedding")]
[Lstm(6, 9, NumLayers = 2, Name = "lstm")]
[Linear(9, 11, Name = "head")]
public partial class TokenLstm;

/// <summary>The layers of <see cref="TokenLstm"/> after its table, taking the looked-up vectors as floats.</summary>
[Lstm(6, 9, NumLayers = 2, Name = "lstm")]
[Linear(9, 11, Name = "head")]
public partial class TokenLstmBody;

/// <summary>Token input, sequence-first, into a bidirectional GRU, the last step and a head.</summary>
[Embedding(7, 5)]
[Gru(5, 8, Bidirectional = true, BatchFirst = false)]
[LastStep]
[Linear(16, 3)]
public partial class TokenBiGru;

/// <summary>The layers of <see cref="TokenBiGru"/> after its table.</summary>
[Gru(5, 8, Bidirectional = true, BatchFirst = false)]
[LastStep]
[Linear(16, 3)]
public partial class TokenBiGruBody;

/// <summary>A table of 15 values: PyTorch's normal_ draws fewer than 16 one double-precision pair at a time.</summary>
[Embedding(3, 5)]
[Rnn(5, 2)]
public partial class TinyEmbeddingRnn;
