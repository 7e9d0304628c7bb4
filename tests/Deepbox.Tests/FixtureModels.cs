// Models paired with the fixtures that PyTorch computed (tests/Deepbox.Tests/Fixtures, written by tools/TorchFixtures).
// Each declaration mirrors one torch configuration of that tool: the same sizes and options, and parameter names
// as an nn.Sequential of those modules would give them (bare for one layer, else `{Name ?? index}.`).
// This file is also compiled into tools/TorchFixtures, which saves a RoundTripStack with Deepbox's Save for libtorch to load.
using Deepbox;

namespace Deepbox.Tests.Fixtures;

[Rnn(1, 3)]
public partial class FxRnnTanh1x3;

[Rnn(7, 9, Nonlinearity = Nonlinearity.Relu, Bias = false, BatchFirst = false)]
public partial class FxRnnRelu7x9NoBiasSeqFirst;

[Rnn(3, 17, NumLayers = 2, Bidirectional = true)]
public partial class FxRnnTanh3x17L2Bi;

[Rnn(9, 7, NumLayers = 3, Nonlinearity = Nonlinearity.Relu)]
public partial class FxRnnRelu9x7L3;

[Rnn(17, 33)]
public partial class FxRnnTanh17x33;

[Lstm(3, 1)]
public partial class FxLstm3x1;

[Lstm(9, 7, Bidirectional = true, BatchFirst = false)]
public partial class FxLstm9x7BiSeqFirst;

[Lstm(17, 9, NumLayers = 3, Bias = false)]
public partial class FxLstm17x9L3NoBias;

[Lstm(1, 33, NumLayers = 2, Bidirectional = true)]
public partial class FxLstm1x33L2Bi;

[Lstm(7, 17, BatchFirst = false)]
public partial class FxLstm7x17SeqFirst;

[Lstm(33, 3, NumLayers = 2, Bidirectional = true, Bias = false, BatchFirst = false)]
public partial class FxLstm33x3L2BiNoBiasSeqFirst;

[Gru(1, 7)]
public partial class FxGru1x7;

[Gru(9, 3, Bidirectional = true, Bias = false)]
public partial class FxGru9x3BiNoBias;

[Gru(3, 33, NumLayers = 2, BatchFirst = false)]
public partial class FxGru3x33L2SeqFirst;

[Gru(17, 9, NumLayers = 3, Bidirectional = true)]
public partial class FxGru17x9L3Bi;

[Gru(7, 1, Bidirectional = true)]
public partial class FxGru7x1Bi;

/// <summary>DESIGN's forecaster without dropout (the fixtures run in training mode).</summary>
[Lstm(1, 32, NumLayers = 2, Name = "lstm")]
[LastStep]
[Linear(32, 1, Name = "fc")]
public partial class FxForecaster;

[Gru(5, 9, Bidirectional = true)]
[Linear(18, 4, Activation = Activation.Tanh)]
public partial class FxBiGruTanhHead;

[Rnn(9, 17, NumLayers = 2, Nonlinearity = Nonlinearity.Relu, BatchFirst = false, Name = "rnn")]
[LastStep]
[Linear(17, 3, Activation = Activation.Sigmoid, Bias = false)]
public partial class FxReluRnnLastStepSigmoid;

[Lstm(7, 3, Bidirectional = true)]
[LastStep]
[Linear(6, 9, Activation = Activation.Relu, Name = "head")]
public partial class FxBiLstmLastStepRelu;

/// <summary>Seeded initialization only: <c>torch.manual_seed(0); nn.RNN(3, 5, 2, nonlinearity='relu', bias=False)</c>.</summary>
[Rnn(3, 5, NumLayers = 2, Nonlinearity = Nonlinearity.Relu, Bias = false)]
public partial class FxInitReluRnn;

/// <summary>
/// The model Deepbox saves for libtorch to load (names <c>0.*</c>, <c>gru.*</c> and <c>3.*</c>; the parameterless
/// <c>LastStep</c> is index 2): two recurrent kinds, reverse directions, an index and a name prefix, a head.
/// </summary>
[Lstm(4, 6, Bidirectional = true, BatchFirst = false)]
[Gru(12, 5, NumLayers = 2, BatchFirst = false, Name = "gru")]
[LastStep]
[Linear(5, 3, Activation = Activation.Sigmoid)]
public partial class RoundTripStack;
