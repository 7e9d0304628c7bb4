using System;
using System.ComponentModel;
using System.Threading;

namespace Deepbox.CompilerServices;

/// <summary>
/// The order of a region whose parts all add into the same columns, block by block, and must add in part order (the
/// weight gradients of a training pass in sub-batches: part <c>p</c> adds sub-batch <c>p</c>'s rows, which only its core
/// has in cache, and the sums must be one thread's, sub-batch after sub-batch). Part <c>p</c> adds into a block of
/// columns once part <c>p - 1</c> has finished it, so the parts run side by side one block apart, like a pipeline.
/// Progress is one count that only grows: the columns a part has finished, counted over several matrices one after
/// another when a region sums several (every layer's weight gradients, each layer's columns after the layer before's).
/// For generated code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class Pipeline
{
    /// <summary>Ints between two parts' progress: each on a cache line of its own, so that a part's writes do not slow the others' reads.</summary>
    private const int Stride = 16;

    /// <summary>Spins before a waiting part starts yielding its core (some tens of microseconds: a block takes about as long).</summary>
    private const int SpinIterations = 2_000;

    private int[] _progress = [];

    /// <summary>Starts a region of <paramref name="parts"/> parts: none has finished any column.</summary>
    /// <param name="parts">How many parts.</param>
    public void Begin(int parts)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parts);
        if (_progress.Length < parts * Stride)
        {
            _progress = new int[parts * Stride];
        }

        for (int p = 0; p < parts; p++)
        {
            Volatile.Write(ref _progress[p * Stride], 0);
        }
    }

    /// <summary>Waits until the part before <paramref name="part"/> has finished every column below <paramref name="end"/> (part 0 waits for none).</summary>
    /// <param name="part">The waiting part.</param>
    /// <param name="end">The end of the block of columns it is about to add into.</param>
    public void WaitFor(int part, int end)
    {
        if (part == 0)
        {
            return;
        }

        ref int before = ref _progress[(part - 1) * Stride];
        for (int i = 0; i < SpinIterations && Volatile.Read(ref before) < end; i++)
        {
            Thread.SpinWait(8);
        }

        // Longer: the part before is waiting for its core (preempted, or its thread not yet started). Yield to it.
        var spinner = default(SpinWait);
        while (Volatile.Read(ref before) < end)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Says that <paramref name="part"/> has finished every column below <paramref name="end"/>.</summary>
    /// <param name="part">The part.</param>
    /// <param name="end">The end of the block it finished.</param>
    public void Done(int part, int end) => Volatile.Write(ref _progress[part * Stride], end);

    /// <summary>Says that <paramref name="part"/> will add no more (called in a <c>finally</c>, so a part that failed holds no other up).</summary>
    /// <param name="part">The part.</param>
    public void Finish(int part) => Volatile.Write(ref _progress[part * Stride], int.MaxValue);
}
