using System;
using System.ComponentModel;

namespace Deepbox.CompilerServices;

/// <summary>
/// A workspace's place in an evaluation pass cut into sub-batches (generated <c>ForwardSubBatches</c>): which of the
/// caller's sequences it runs, and its own copies of their initial and final states, which the caller's spans cannot
/// reach from the thread that runs it. For generated code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class SubBatch
{
    private AlignedBuffer _h0 = AlignedBuffer.Empty;
    private AlignedBuffer _c0 = AlignedBuffer.Empty;
    private AlignedBuffer _hN = AlignedBuffer.Empty;
    private AlignedBuffer _cN = AlignedBuffer.Empty;
    private bool _h0Given;
    private bool _c0Given;
    private bool _hNWanted;
    private bool _cNWanted;
    private int _blocks;
    private int _width;

    /// <summary>Gets the sequences of the caller's batch.</summary>
    public int CallerBatch { get; private set; }

    /// <summary>Gets this sub-batch's first sequence in the caller's batch.</summary>
    public int First { get; private set; }

    /// <summary>Gets this sub-batch's sequences.</summary>
    public int Batch { get; private set; }

    /// <summary>Gets the time steps.</summary>
    public int SeqLen { get; private set; }

    /// <summary>Gets the initial hidden states <c>[blocks, Batch, width]</c>, or empty for zeros.</summary>
    public ReadOnlySpan<float> H0 => _h0Given ? _h0.AsSpan(0, StateLength) : default;

    /// <summary>Gets the initial cell states, or empty for zeros.</summary>
    public ReadOnlySpan<float> C0 => _c0Given ? _c0.AsSpan(0, StateLength) : default;

    /// <summary>Gets where the final hidden states go, or empty when the caller wants none.</summary>
    public Span<float> HN => _hNWanted ? _hN.AsSpan(0, StateLength) : default;

    /// <summary>Gets where the final cell states go, or empty when the caller wants none.</summary>
    public Span<float> CN => _cNWanted ? _cN.AsSpan(0, StateLength) : default;

    private int StateLength => _blocks * Batch * _width;

    /// <summary>
    /// Makes <paramref name="subBatches"/> hold <paramref name="count"/> workspaces at least, creating the missing ones
    /// with <paramref name="create"/>(<paramref name="state"/>) (a static lambda: nothing allocated once they exist).
    /// </summary>
    /// <typeparam name="T">The workspace.</typeparam>
    /// <typeparam name="TState">What <paramref name="create"/> needs.</typeparam>
    /// <param name="subBatches">The workspaces.</param>
    /// <param name="count">How many the pass needs.</param>
    /// <param name="state">The argument of <paramref name="create"/>.</param>
    /// <param name="create">Creates a workspace.</param>
    public static void Ensure<T, TState>(ref T[] subBatches, int count, TState state, Func<TState, T> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        if (subBatches.Length >= count)
        {
            return;
        }

        var grown = new T[count];
        subBatches.CopyTo(grown, 0);
        for (int i = subBatches.Length; i < count; i++)
        {
            grown[i] = create(state);
        }

        subBatches = grown;
    }

    /// <summary>
    /// Makes <paramref name="placement"/> hold the processor of <paramref name="count"/> sub-batches at least
    /// (<see cref="Workers.RunPlaced"/>), -1 (none yet) for the new ones.
    /// </summary>
    /// <param name="placement">The processor each sub-batch last ran on.</param>
    /// <param name="count">How many sub-batches the pass runs in.</param>
    public static void EnsurePlacement(ref int[] placement, int count)
    {
        if (placement.Length >= count)
        {
            return;
        }

        var grown = new int[count];
        grown.AsSpan().Fill(-1);
        placement.CopyTo(grown, 0);
        placement = grown;
    }

    /// <summary>
    /// Takes sequences <paramref name="first"/> to <paramref name="first"/> + <paramref name="batch"/> of the caller's
    /// <paramref name="callerBatch"/>: copies their initial states out of the caller's <c>[blocks, callerBatch, width]</c>.
    /// </summary>
    /// <param name="callerBatch">Sequences of the caller's batch.</param>
    /// <param name="first">The first sequence.</param>
    /// <param name="batch">Sequences of this sub-batch.</param>
    /// <param name="seqLen">Time steps.</param>
    /// <param name="blocks">Layers times directions of the states.</param>
    /// <param name="width">Floats per state (the hidden size).</param>
    /// <param name="h0">The caller's initial hidden states, or empty.</param>
    /// <param name="c0">The caller's initial cell states, or empty.</param>
    /// <param name="wantHN">Whether the caller wants the final hidden states.</param>
    /// <param name="wantCN">Whether the caller wants the final cell states.</param>
    public void Begin(int callerBatch, int first, int batch, int seqLen, int blocks, int width, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, bool wantHN, bool wantCN)
    {
        CallerBatch = callerBatch;
        First = first;
        Batch = batch;
        SeqLen = seqLen;
        _blocks = blocks;
        _width = width;
        _h0Given = In(h0, ref _h0);
        _c0Given = In(c0, ref _c0);
        _hNWanted = wantHN;
        _cNWanted = wantCN;
        if (wantHN)
        {
            ModelSupport.Ensure(ref _hN, StateLength);
        }

        if (wantCN)
        {
            ModelSupport.Ensure(ref _cN, StateLength);
        }
    }

    /// <summary>Copies the final states this sub-batch computed into the caller's <c>[blocks, callerBatch, width]</c>.</summary>
    /// <param name="hN">The caller's final hidden states, or empty.</param>
    /// <param name="cN">The caller's final cell states, or empty.</param>
    public void End(Span<float> hN, Span<float> cN)
    {
        Out(_hN, _hNWanted, hN);
        Out(_cN, _cNWanted, cN);
    }

    private bool In(ReadOnlySpan<float> states, ref AlignedBuffer mine)
    {
        if (states.IsEmpty)
        {
            return false;
        }

        // Each block's run of this sub-batch's sequences: rows of Batch * width floats, CallerBatch * width apart there.
        ModelSupport.Ensure(ref mine, StateLength);
        ModelSupport.CopyRows(states.Slice(First * _width), CallerBatch * _width, mine.Span, Batch * _width, Batch * _width, _blocks);
        return true;
    }

    private void Out(AlignedBuffer mine, bool wanted, Span<float> states)
    {
        if (!wanted || states.IsEmpty)
        {
            return;
        }

        ModelSupport.CopyRows(mine.Span, Batch * _width, states.Slice(First * _width), CallerBatch * _width, Batch * _width, _blocks);
    }
}
