using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace TorchFixtures;

internal enum Cell
{
    Rnn,
    Lstm,
    Gru,
}

/// <summary>A <c>Linear</c> head, with the activation applied after it through torch (<c>torch.tanh</c> and so on).</summary>
internal sealed record Head(int InFeatures, int OutFeatures, bool Bias = true, string Activation = "None", string? Name = null);

/// <summary>
/// One fixture: a torch recurrent module (and optionally LastStep and a Linear head), paired with the Deepbox class
/// <see cref="Model"/> of tests/Deepbox.Tests/FixtureModels.cs that declares the same thing.
/// </summary>
internal sealed record Config(string Name, string Model, Cell Cell, int InputSize, int HiddenSize)
{
    public int NumLayers { get; init; } = 1;

    public bool Bias { get; init; } = true;

    public bool BatchFirst { get; init; } = true;

    public bool Bidirectional { get; init; }

    public bool Relu { get; init; }

    /// <summary>The recurrent attribute's <c>Name</c>, the prefix of its parameter names.</summary>
    public string? LayerName { get; init; }

    public bool LastStep { get; init; }

    public Head? Head { get; init; }

    /// <summary>Sequences in the batch; 0 for unbatched input <c>[T, I]</c>.</summary>
    public int Batch { get; init; } = 2;

    public int Steps { get; init; } = 4;

    /// <summary>
    /// Each sequence's length (any order, 1 and <see cref="Steps"/> among them), or null: libtorch then runs the batch as
    /// <c>pack_padded_sequence(x, lengths, enforce_sorted=False)</c>, the module, <c>pad_packed_sequence(total_length=T)</c>.
    /// </summary>
    public int[]? Lengths { get; init; }

    /// <summary>h0 (and c0) are zeros (they still require grad and get gradients); otherwise U(-1, 1).</summary>
    public bool ZeroStates { get; init; }

    public int Directions => Bidirectional ? 2 : 1;

    public int States => NumLayers * Directions;

    private int LayerCount => 1 + (LastStep ? 1 : 0) + (Head is null ? 0 : 1);

    /// <summary>Deepbox's rule, nn.Sequential's names: the layer's Name, else bare for a model of one layer, else its index.</summary>
    public string RecurrentPrefix => LayerName is not null ? LayerName + "." : LayerCount == 1 ? string.Empty : "0.";

    public string HeadPrefix => (Head?.Name ?? (LastStep ? "2" : "1")) + ".";

    public int[] InputShape => Batch == 0 ? [Steps, InputSize] : BatchFirst ? [Batch, Steps, InputSize] : [Steps, Batch, InputSize];

    public int[] StateShape => Batch == 0 ? [States, HiddenSize] : [States, Batch, HiddenSize];

    /// <summary>The Deepbox attributes this configuration stands for.</summary>
    public string Declaration
    {
        get
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"[{Cell}({InputSize}, {HiddenSize}");
            if (NumLayers != 1)
            {
                sb.Append(CultureInfo.InvariantCulture, $", NumLayers = {NumLayers}");
            }

            if (Relu)
            {
                sb.Append(", Nonlinearity = Nonlinearity.Relu");
            }

            if (!Bias)
            {
                sb.Append(", Bias = false");
            }

            if (!BatchFirst)
            {
                sb.Append(", BatchFirst = false");
            }

            if (Bidirectional)
            {
                sb.Append(", Bidirectional = true");
            }

            if (LayerName is not null)
            {
                sb.Append(CultureInfo.InvariantCulture, $", Name = \"{LayerName}\"");
            }

            sb.Append(")]");
            if (LastStep)
            {
                sb.Append(" [LastStep]");
            }

            if (Head is { } h)
            {
                sb.Append(CultureInfo.InvariantCulture, $" [Linear({h.InFeatures}, {h.OutFeatures}");
                if (h.Activation != "None")
                {
                    sb.Append(CultureInfo.InvariantCulture, $", Activation = Activation.{h.Activation}");
                }

                if (!h.Bias)
                {
                    sb.Append(", Bias = false");
                }

                if (h.Name is not null)
                {
                    sb.Append(CultureInfo.InvariantCulture, $", Name = \"{h.Name}\"");
                }

                sb.Append(")]");
            }

            return sb.ToString();
        }
    }

    /// <summary>
    /// The fixtures: all three cells, tanh and relu RNNs, 1 to 3 layers, both directions, with and without bias,
    /// batch-first and not, unbatched input, zero and random initial states, sizes 1, 3, 7, 9, 17, 33, LastStep and
    /// Linear heads with each activation.
    /// </summary>
    public static IReadOnlyList<Config> All { get; } =
    [
        new("rnn_tanh_1x3", "FxRnnTanh1x3", Cell.Rnn, 1, 3) { Batch = 3, Steps = 5 },
        new("rnn_relu_7x9_nobias_seqfirst", "FxRnnRelu7x9NoBiasSeqFirst", Cell.Rnn, 7, 9) { Relu = true, Bias = false, BatchFirst = false },
        new("rnn_tanh_3x17_l2_bi", "FxRnnTanh3x17L2Bi", Cell.Rnn, 3, 17) { NumLayers = 2, Bidirectional = true, Steps = 3 },
        new("rnn_relu_9x7_l3_zero_state", "FxRnnRelu9x7L3", Cell.Rnn, 9, 7) { NumLayers = 3, Relu = true, Batch = 3, ZeroStates = true },
        new("rnn_tanh_17x33_unbatched", "FxRnnTanh17x33", Cell.Rnn, 17, 33) { Batch = 0, Steps = 5 },
        new("lstm_3x1", "FxLstm3x1", Cell.Lstm, 3, 1) { Batch = 3, Steps = 6 },
        new("lstm_9x7_bi_seqfirst", "FxLstm9x7BiSeqFirst", Cell.Lstm, 9, 7) { Bidirectional = true, BatchFirst = false, Steps = 5 },
        new("lstm_17x9_l3_nobias_zero_state", "FxLstm17x9L3NoBias", Cell.Lstm, 17, 9) { NumLayers = 3, Bias = false, Steps = 3, ZeroStates = true },
        new("lstm_1x33_l2_bi", "FxLstm1x33L2Bi", Cell.Lstm, 1, 33) { NumLayers = 2, Bidirectional = true },
        new("lstm_7x17_unbatched_seqfirst", "FxLstm7x17SeqFirst", Cell.Lstm, 7, 17) { BatchFirst = false, Batch = 0, Steps = 5 },
        new("lstm_33x3_l2_bi_nobias_seqfirst", "FxLstm33x3L2BiNoBiasSeqFirst", Cell.Lstm, 33, 3) { NumLayers = 2, Bidirectional = true, Bias = false, BatchFirst = false, Batch = 3, Steps = 3 },
        new("gru_1x7", "FxGru1x7", Cell.Gru, 1, 7) { Batch = 3, Steps = 5 },
        new("gru_9x3_bi_nobias", "FxGru9x3BiNoBias", Cell.Gru, 9, 3) { Bidirectional = true, Bias = false },
        new("gru_3x33_l2_seqfirst", "FxGru3x33L2SeqFirst", Cell.Gru, 3, 33) { NumLayers = 2, BatchFirst = false, Steps = 3 },
        new("gru_17x9_l3_bi_zero_state", "FxGru17x9L3Bi", Cell.Gru, 17, 9) { NumLayers = 3, Bidirectional = true, Steps = 3, ZeroStates = true },
        new("gru_7x1_bi_unbatched", "FxGru7x1Bi", Cell.Gru, 7, 1) { Bidirectional = true, Batch = 0 },
        new("lstm_forecaster", "FxForecaster", Cell.Lstm, 1, 32) { NumLayers = 2, LayerName = "lstm", LastStep = true, Head = new(32, 1, Name: "fc"), Batch = 3, Steps = 6 },
        new("gru_bi_linear_tanh", "FxBiGruTanhHead", Cell.Gru, 5, 9) { Bidirectional = true, Head = new(18, 4, Activation: "Tanh") },
        new("rnn_relu_l2_laststep_sigmoid_seqfirst", "FxReluRnnLastStepSigmoid", Cell.Rnn, 9, 17) { NumLayers = 2, Relu = true, BatchFirst = false, LayerName = "rnn", LastStep = true, Head = new(17, 3, Bias: false, Activation: "Sigmoid"), Batch = 3 },
        new("lstm_bi_laststep_relu_unbatched", "FxBiLstmLastStepRelu", Cell.Lstm, 7, 3) { Bidirectional = true, LastStep = true, Head = new(6, 9, Activation: "Relu", Name: "head"), Batch = 0, Steps = 5 },

        // Sequences of different lengths (issue 19), through libtorch's packed path: every cell, 1 to 3 layers, both
        // directions, with and without bias, both layouts, LastStep and heads.
        new("rnn_relu_7x9_nobias_seqfirst_lengths", "FxRnnRelu7x9NoBiasSeqFirst", Cell.Rnn, 7, 9) { Relu = true, Bias = false, BatchFirst = false, Batch = 5, Steps = 6, Lengths = [4, 6, 1, 2, 6] },
        new("rnn_tanh_3x17_l2_bi_lengths", "FxRnnTanh3x17L2Bi", Cell.Rnn, 3, 17) { NumLayers = 2, Bidirectional = true, Batch = 4, Steps = 5, Lengths = [2, 5, 3, 1] },
        new("lstm_9x7_bi_seqfirst_lengths", "FxLstm9x7BiSeqFirst", Cell.Lstm, 9, 7) { Bidirectional = true, BatchFirst = false, Batch = 6, Steps = 5, Lengths = [3, 5, 1, 4, 5, 2] },
        new("lstm_17x9_l3_nobias_lengths", "FxLstm17x9L3NoBias", Cell.Lstm, 17, 9) { NumLayers = 3, Bias = false, Batch = 5, Steps = 4, Lengths = [1, 4, 2, 4, 3] },
        new("gru_17x9_l3_bi_lengths", "FxGru17x9L3Bi", Cell.Gru, 17, 9) { NumLayers = 3, Bidirectional = true, Batch = 5, Steps = 4, Lengths = [4, 1, 3, 2, 4] },
        new("gru_1x7_lengths", "FxGru1x7", Cell.Gru, 1, 7) { Batch = 9, Steps = 7, Lengths = [7, 3, 1, 6, 2, 7, 5, 4, 1] },
        new("lstm_forecaster_lengths", "FxForecaster", Cell.Lstm, 1, 32) { NumLayers = 2, LayerName = "lstm", LastStep = true, Head = new(32, 1, Name: "fc"), Batch = 5, Steps = 6, Lengths = [6, 2, 5, 1, 3] },
        new("gru_bi_linear_tanh_lengths", "FxBiGruTanhHead", Cell.Gru, 5, 9) { Bidirectional = true, Head = new(18, 4, Activation: "Tanh"), Batch = 4, Steps = 5, Lengths = [5, 2, 4, 1] },
        new("rnn_relu_l2_laststep_sigmoid_seqfirst_lengths", "FxReluRnnLastStepSigmoid", Cell.Rnn, 9, 17) { NumLayers = 2, Relu = true, BatchFirst = false, LayerName = "rnn", LastStep = true, Head = new(17, 3, Bias: false, Activation: "Sigmoid"), Batch = 4, Lengths = [4, 1, 3, 2] },
    ];
}
