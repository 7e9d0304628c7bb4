namespace Deepbox.Generators;

/// <summary>
/// One layer attribute as declared, with its arguments resolved to values (defaults filled in).
/// For <see cref="LayerKind.Linear"/>, <see cref="InputSize"/> and <see cref="HiddenSize"/> are in and out features; for
/// <see cref="LayerKind.Embedding"/>, the vocabulary size and the vector width.
/// </summary>
internal sealed record LayerSpec(
    LayerKind Kind,
    int InputSize,
    int HiddenSize,
    int NumLayers,
    bool Bias,
    bool BatchFirst,
    bool Bidirectional,
    bool Relu,
    float Dropout,
    Activation Activation,
    string? Name)
{
    /// <summary>An <see cref="LayerKind.Embedding"/>'s padding row, or -1.</summary>
    public int PaddingIdx { get; init; } = -1;

    public bool IsRecurrent => Kind is LayerKind.Rnn or LayerKind.Lstm or LayerKind.Gru;

    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>Gate blocks in the weights: RNN 1, LSTM 4 (i, f, g, o), GRU 3 (r, z, n).</summary>
    public int Gates => Kind switch
    {
        LayerKind.Lstm => 4,
        LayerKind.Gru => 3,
        _ => 1,
    };

    /// <summary>The width this layer hands to the next one.</summary>
    public int OutputWidth => Kind switch
    {
        LayerKind.Linear => HiddenSize,
        LayerKind.LastStep => -1,
        _ => Directions * HiddenSize,
    };
}
