using System;

namespace Deepbox;

/// <summary>
/// The recurrent state of one sequence being streamed through a model with <c>Step</c>: the hidden (and cell)
/// states of every recurrent layer, padded as the kernels read them. Create it with the model's
/// <c>CreateState()</c>; it starts at zero, as PyTorch's default initial states.
/// </summary>
public sealed class ModelState
{
    private readonly float[] _values;

    /// <summary>Creates a zero state of <paramref name="length"/> floats (generated models know their length).</summary>
    /// <param name="length">The number of floats.</param>
    public ModelState(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _values = new float[length];
    }

    /// <summary>The number of floats the state holds.</summary>
    public int Length => _values.Length;

    /// <summary>The state's floats, for the generated <c>Step</c>.</summary>
    public Span<float> AsSpan() => _values;

    /// <summary>Sets the state back to zero, to start a new sequence.</summary>
    public void Reset() => Array.Clear(_values);
}
