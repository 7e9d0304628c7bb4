using System;

namespace Deepbox;

/// <summary>
/// The recurrent state of one sequence being streamed through a model with <c>Step</c>: the hidden (and cell) states of
/// every recurrent layer, and the scratch a step writes. Create it with the model's <c>CreateState()</c> (zeros, as
/// PyTorch's default initial states) or <c>CreateState(values)</c> (a state saved from <see cref="Values"/>).
/// </summary>
/// <remarks>
/// Everything a step writes lives in its state, so any number of threads may step distinct states through one model at
/// once. One state is one sequence: stepping it from two threads at once is the caller's error (the steps would
/// interleave), and is not detected.
/// </remarks>
public sealed class ModelState
{
    private readonly float[] _values;
    private float[]? _export;

    /// <summary>Creates a zero state of the model that <paramref name="layout"/> describes (generated models call it).</summary>
    /// <param name="layout">The model's state layout.</param>
    public ModelState(StateLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        Layout = layout;
        _values = new float[layout.Length + layout.Scratch];
    }

    /// <summary>The layout of the model the state belongs to.</summary>
    public StateLayout Layout { get; }

    /// <summary>The number of floats the state holds as the kernels read it (padded; see <see cref="Values"/> for the values).</summary>
    public int Length => Layout.Length;

    /// <summary>
    /// The state's values in PyTorch's layout: for each recurrent layer declaration in order, its final hidden state
    /// <c>h_n</c> as <c>[num_layers, hidden_size]</c>, then for an LSTM its cell state <c>c_n</c> likewise — the floats of
    /// the <c>ForwardWithState</c> results for one unbatched sequence, one after another. A copy, taken when read and
    /// overwritten by the next read; give it to the model's <c>CreateState(values)</c> to continue the stream elsewhere.
    /// </summary>
    public ReadOnlySpan<float> Values
    {
        get
        {
            float[] export = _export ??= new float[Layout.ValuesLength];
            ReadOnlySpan<int> segments = Layout.Segments;
            int at = 0;
            for (int i = 0; i < segments.Length; i += 2)
            {
                _values.AsSpan(segments[i], segments[i + 1]).CopyTo(export.AsSpan(at));
                at += segments[i + 1];
            }

            return export;
        }
    }

    /// <summary>The state's floats as the kernels read them, for the generated <c>Step</c>.</summary>
    public Span<float> AsSpan() => _values.AsSpan(0, Layout.Length);

    /// <summary>The scratch a step writes (sums before the activations, a head's outputs), for the generated <c>Step</c>.</summary>
    public Span<float> Scratch => _values.AsSpan(Layout.Length);

    /// <summary>Sets the state back to zero, to start a new sequence.</summary>
    public void Reset() => Array.Clear(_values);

    /// <summary>Sets the state from values laid out as <see cref="Values"/> gives them.</summary>
    /// <param name="values">The values.</param>
    /// <exception cref="ArgumentException">The length is not the model's.</exception>
    public void SetValues(ReadOnlySpan<float> values)
    {
        if (values.Length != Layout.ValuesLength)
        {
            throw new ArgumentException(
                $"Expected {Layout.ValuesLength} state values for {Layout.Model} (h, and c for LSTM layers, per layer), got {values.Length}.",
                nameof(values));
        }

        Array.Clear(_values);
        ReadOnlySpan<int> segments = Layout.Segments;
        int at = 0;
        for (int i = 0; i < segments.Length; i += 2)
        {
            values.Slice(at, segments[i + 1]).CopyTo(_values.AsSpan(segments[i]));
            at += segments[i + 1];
        }
    }
}

/// <summary>
/// How a model's <see cref="ModelState"/> is laid out: the padded floats its kernels read, the scratch a step writes, and
/// where the values of <see cref="ModelState.Values"/> sit. One instance per model class, so a step can tell its own
/// states from another model's.
/// </summary>
public sealed class StateLayout
{
    private readonly int[] _segments;

    /// <summary>Describes a model's state (generated models create one, once).</summary>
    /// <param name="model">The model's name, for messages.</param>
    /// <param name="length">Floats of state, padded as the kernels read them.</param>
    /// <param name="scratch">Floats of scratch after the state.</param>
    /// <param name="segments">Pairs (offset, count): where each run of <see cref="ModelState.Values"/> sits, in order.</param>
    public StateLayout(string model, int length, int scratch, params int[] segments)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfNegative(scratch);
        if (segments.Length % 2 != 0)
        {
            throw new ArgumentException("Segments come in (offset, count) pairs.", nameof(segments));
        }

        Model = model;
        Length = length;
        Scratch = scratch;
        _segments = (int[])segments.Clone();
        for (int i = 0; i < _segments.Length; i += 2)
        {
            if (_segments[i] < 0 || _segments[i + 1] < 0 || _segments[i] + _segments[i + 1] > length)
            {
                throw new ArgumentOutOfRangeException(nameof(segments), $"Segment ({_segments[i]}, {_segments[i + 1]}) lies outside the state's {length} floats.");
            }

            ValuesLength += _segments[i + 1];
        }
    }

    /// <summary>The model's name.</summary>
    public string Model { get; }

    /// <summary>Floats of state, padded.</summary>
    public int Length { get; }

    /// <summary>Floats of scratch.</summary>
    public int Scratch { get; }

    /// <summary>The number of values in <see cref="ModelState.Values"/>.</summary>
    public int ValuesLength { get; }

    /// <summary>The (offset, count) pairs.</summary>
    internal ReadOnlySpan<int> Segments => _segments;
}
