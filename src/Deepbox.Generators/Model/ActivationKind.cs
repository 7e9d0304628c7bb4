namespace Deepbox.Generators;

/// <summary>The activation after a <c>Linear</c> layer (the runtime's <c>Deepbox.Activation</c> values).</summary>
internal enum ActivationKind
{
    None = 0,
    Tanh = 1,
    Relu = 2,
    Sigmoid = 3,
}
