namespace Deepbox.Generators;

/// <summary>The kind of a declared layer.</summary>
internal enum LayerKind
{
    Rnn,
    Lstm,
    Gru,
    Linear,
    LastStep,
}

/// <summary>The activation after a <c>Linear</c> layer (the runtime's <c>Deepbox.Activation</c> values).</summary>
internal enum ActivationKind
{
    None = 0,
    Tanh = 1,
    Relu = 2,
    Sigmoid = 3,
}

/// <summary>
/// One layer attribute as declared, with its arguments resolved to values (defaults filled in).
/// For <see cref="LayerKind.Linear"/>, <see cref="InputSize"/> and <see cref="HiddenSize"/> are in and out features.
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
    ActivationKind Activation,
    string? Name)
{
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

/// <summary>
/// Everything the emitter needs to write one model class, and nothing Roslyn-specific: no symbols, syntax nodes,
/// compilations or locations. The record and everything it holds compare by value, which is the caching contract of
/// the incremental pipeline: an edit that leaves this value equal regenerates nothing.
/// </summary>
internal sealed record ModelSpec(
    string? Namespace,
    string ClassName,
    EquatableArray<string> ContainingTypes,
    string Accessibility,
    bool IsSealed,
    EquatableArray<LayerSpec> Layers,
    bool BatchFirst,
    string HintName);

/// <summary>A diagnostic as plain data: its descriptor id, where it points, and its message arguments.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments);

/// <summary>A source location as plain data, turned back into a <c>Location</c> only when reported.</summary>
internal sealed record LocationInfo(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn);

/// <summary>The result of parsing one class: the spec (null when there are errors) and the diagnostics.</summary>
internal sealed record ParseResult(ModelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
