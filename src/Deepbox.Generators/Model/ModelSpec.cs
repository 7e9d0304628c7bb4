namespace Deepbox.Generators;

/// <summary>
/// Everything the emitter needs to write one model class, and nothing Roslyn-specific: no symbols, syntax nodes,
/// compilations or locations. The record and everything it holds compare by value, which is the caching contract of
/// the incremental pipeline: an edit that leaves this value equal regenerates nothing.
/// </summary>
internal sealed record ModelSpec(
    string? Namespace,
    string ClassName,
    EquatableArray<string> ContainingTypes,
    EquatableArray<LayerSpec> Layers,
    bool BatchFirst,
    string HintName);
