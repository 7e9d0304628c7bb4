using System;
using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Benchmarks;

/// <summary>The recurrent cell of a workload.</summary>
public enum Cell
{
    /// <summary>Elman RNN with tanh.</summary>
    Rnn,

    /// <summary>LSTM (gates i, f, g, o).</summary>
    Lstm,

    /// <summary>GRU (gates r, z, n; PyTorch's form, reset applied after the hidden product).</summary>
    Gru,
}

/// <summary>What one benchmark call does.</summary>
public enum WorkloadKind
{
    /// <summary>One forward pass over a whole batch of sequences, zero initial state.</summary>
    Forward,

    /// <summary>One time step of one sequence, the state carried from the previous call.</summary>
    Streaming,

    /// <summary>Forward, MSE loss, backward through time and an Adam step.</summary>
    Training,
}

/// <summary>One workload of issue 7: float32, batch-first, one unidirectional layer with bias, zero initial state.</summary>
/// <param name="Id">The workload's id in the issue (W0, S16, ...).</param>
/// <param name="Cell">The cell.</param>
/// <param name="InputSize">I.</param>
/// <param name="HiddenSize">H.</param>
/// <param name="Batch">B.</param>
/// <param name="SeqLen">T.</param>
/// <param name="Kind">What one call does.</param>
public sealed record Workload(string Id, Cell Cell, int InputSize, int HiddenSize, int Batch, int SeqLen, WorkloadKind Kind)
{
    /// <summary>The benchmark class's name: id and cell, e.g. <c>S16_Lstm</c>.</summary>
    public string Name => $"{Id}_{Cell}";

    /// <summary>Gate blocks of the cell: 1, 4 or 3.</summary>
    public int Gates => Cell switch { Cell.Rnn => 1, Cell.Lstm => 4, _ => 3 };

    /// <summary>FLOPs per time step per sequence: 2 x gates x H x (I + H) (RNN 2H(I+H), GRU 6H(I+H), LSTM 8H(I+H)).</summary>
    public long FlopsPerStep => 2L * Gates * HiddenSize * (InputSize + HiddenSize);

    /// <summary>FLOPs of one call: B x T steps; a training step counts three forward passes.</summary>
    public long FlopsPerCall => FlopsPerStep * Batch * SeqLen * (Kind == WorkloadKind.Training ? 3 : 1);

    /// <summary>A one-line description for the report.</summary>
    public string Describe() => Kind switch
    {
        WorkloadKind.Streaming => $"{Cell.ToString().ToUpperInvariant()}({InputSize}, {HiddenSize}), one step of one sequence, state carried",
        WorkloadKind.Training => $"{Cell.ToString().ToUpperInvariant()}({InputSize}, {HiddenSize}), B={Batch}, T={SeqLen}: forward + MSE loss + backward + Adam step",
        _ => $"{Cell.ToString().ToUpperInvariant()}({InputSize}, {HiddenSize}), B={Batch}, T={SeqLen}: forward",
    };

    /// <summary>Every workload, in the report's order.</summary>
    public static IReadOnlyList<Workload> All { get; } =
    [
        new("W0", Cell.Rnn, 4, 8, 2, 3, WorkloadKind.Forward),
        new("W0", Cell.Lstm, 4, 8, 2, 3, WorkloadKind.Forward),
        new("W0", Cell.Gru, 4, 8, 2, 3, WorkloadKind.Forward),
        .. new[] { 8, 16, 32, 64 }.SelectMany(h => new Workload[]
        {
            new($"S{h}", Cell.Lstm, 8, h, 1, 1, WorkloadKind.Streaming),
            new($"S{h}", Cell.Gru, 8, h, 1, 1, WorkloadKind.Streaming),
        }),
        new("W1", Cell.Lstm, 16, 64, 32, 64, WorkloadKind.Forward),
        new("W2", Cell.Lstm, 128, 256, 64, 128, WorkloadKind.Forward),
        new("W3", Cell.Lstm, 16, 64, 32, 64, WorkloadKind.Training),
        new("W4", Cell.Gru, 32, 128, 32, 100, WorkloadKind.Forward),
    ];

    /// <summary>The workload of a benchmark class name (<c>S16_Lstm</c>).</summary>
    public static Workload ByName(string name) =>
        All.FirstOrDefault(w => w.Name == name) ?? throw new ArgumentException($"No workload named {name}", nameof(name));
}
