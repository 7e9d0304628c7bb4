using Deepbox;

namespace ForecasterSample;

/// <summary>
/// DESIGN's forecaster: a two-layer LSTM of 32 units (dropout 0.1 between the layers in training mode), the last time
/// step, and a linear head to one value. The generator writes its forward and backward passes at build time.
/// </summary>
[Lstm(1, 32, NumLayers = 2, Dropout = 0.1f, Name = "lstm")]
[LastStep]
[Linear(32, 1, Name = "fc")]
public partial class Forecaster;
