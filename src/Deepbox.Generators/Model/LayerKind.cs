namespace Deepbox.Generators;

/// <summary>The kind of a declared layer.</summary>
internal enum LayerKind
{
    Rnn,
    Lstm,
    Gru,
    Linear,
    LastStep,
    Embedding,
}
