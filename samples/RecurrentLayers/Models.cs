using Deepbox;

namespace RecurrentLayers;

/// <summary>The tutorial's <c>new RNN(4, 8, { batchFirst: true })</c>.</summary>
[Rnn(4, 8, BatchFirst = true)]
public partial class SeedRnn;

/// <summary>The tutorial's <c>new LSTM(4, 8, { batchFirst: true })</c>.</summary>
[Lstm(4, 8, BatchFirst = true)]
public partial class SeedLstm;

/// <summary>The tutorial's <c>new GRU(4, 8, { batchFirst: true })</c>.</summary>
[Gru(4, 8, BatchFirst = true)]
public partial class SeedGru;

/// <summary>The tutorial's <c>new RNN(4, 16, { numLayers: 2, batchFirst: true })</c>.</summary>
[Rnn(4, 16, NumLayers = 2, BatchFirst = true)]
public partial class DeepRnn;
