using Deepbox;

namespace Deepbox.Benchmarks;

// The models the suite measures, one class per workload: every size is a compile-time constant of the generated code.
// Batch-first, one unidirectional layer with bias, as every workload of issue 7 is.

/// <summary>W0: the seed tutorial's <c>RNN(4, 8)</c>.</summary>
[Rnn(4, 8, BatchFirst = true)]
public sealed partial class W0Rnn;

/// <summary>W0: the seed tutorial's <c>LSTM(4, 8)</c>.</summary>
[Lstm(4, 8, BatchFirst = true)]
public sealed partial class W0Lstm;

/// <summary>W0: the seed tutorial's <c>GRU(4, 8)</c>.</summary>
[Gru(4, 8, BatchFirst = true)]
public sealed partial class W0Gru;

/// <summary>S8: streaming LSTM, 8 features, 8 hidden units.</summary>
[Lstm(8, 8, BatchFirst = true)]
public sealed partial class S8Lstm;

/// <summary>S16: streaming LSTM.</summary>
[Lstm(8, 16, BatchFirst = true)]
public sealed partial class S16Lstm;

/// <summary>S32: streaming LSTM.</summary>
[Lstm(8, 32, BatchFirst = true)]
public sealed partial class S32Lstm;

/// <summary>S64: streaming LSTM.</summary>
[Lstm(8, 64, BatchFirst = true)]
public sealed partial class S64Lstm;

/// <summary>S8: streaming GRU.</summary>
[Gru(8, 8, BatchFirst = true)]
public sealed partial class S8Gru;

/// <summary>S16: streaming GRU.</summary>
[Gru(8, 16, BatchFirst = true)]
public sealed partial class S16Gru;

/// <summary>S32: streaming GRU.</summary>
[Gru(8, 32, BatchFirst = true)]
public sealed partial class S32Gru;

/// <summary>S64: streaming GRU.</summary>
[Gru(8, 64, BatchFirst = true)]
public sealed partial class S64Gru;

/// <summary>W1: small LSTM inference.</summary>
[Lstm(16, 64, BatchFirst = true)]
public sealed partial class W1Lstm;

/// <summary>W2: mid-sized LSTM inference.</summary>
[Lstm(128, 256, BatchFirst = true)]
public sealed partial class W2Lstm;

/// <summary>W3: a training step of the W1 model.</summary>
[Lstm(16, 64, BatchFirst = true)]
public sealed partial class W3Lstm;

/// <summary>W4: GRU inference.</summary>
[Gru(32, 128, BatchFirst = true)]
public sealed partial class W4Gru;
