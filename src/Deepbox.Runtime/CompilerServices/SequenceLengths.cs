using System;
using System.ComponentModel;

namespace Deepbox.CompilerServices;

/// <summary>
/// The row layout of one pass over a batch of sequences, for the generated kernels. With equal lengths, step <c>t</c>
/// of sequence <c>b</c> is row <c>t * batch + b</c> (time-major). With lengths (<see cref="IsRagged"/>), the rows are
/// packed as PyTorch's <c>PackedSequence</c> packs them: the sequences sorted by length, longest first (stable), and
/// step <c>t</c> holds only the sequences longer than <c>t</c>, as rows <c>Row(t)</c> to <c>Row(t + 1)</c>. Every
/// product over rows then runs over the valid steps only, and a recurrence at step <c>t</c> advances the first
/// <c>Row(t + 1) - Row(t)</c> sorted sequences. One instance per workspace, set at the start of each pass.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class SequenceLengths
{
    private int[] _order = []; // sorted position r -> the caller's sequence
    private int[] _lengths = []; // sorted position r -> its length
    private int[] _byCaller = []; // the caller's sequence b -> its length
    private int[] _steps = []; // t -> the first row of step t; [seqLen] = rows
    private int[] _counts = []; // counting-sort scratch
    private long[] _prefix = []; // sorted position r -> the steps of the sequences before it

    /// <summary>Whether the pass has lengths (not every sequence is <see cref="SeqLen"/> steps long).</summary>
    public bool IsRagged { get; private set; }

    /// <summary>Sequences in the batch.</summary>
    public int Batch { get; private set; }

    /// <summary>Steps of the longest sequence the caller's layout has room for.</summary>
    public int SeqLen { get; private set; }

    /// <summary>The rows of the pass: <c>batch * seqLen</c>, or the sum of the lengths.</summary>
    public int Rows { get; private set; }

    /// <summary>The first row of each step and, last, <see cref="Rows"/>; empty unless <see cref="IsRagged"/> (the kernels then use <c>t * batch</c>).</summary>
    public ReadOnlySpan<int> Steps => IsRagged ? _steps.AsSpan(0, SeqLen + 1) : default;

    /// <summary>The caller's sequence at sorted position <paramref name="r"/>.</summary>
    /// <param name="r">The sorted position.</param>
    public int Order(int r) => IsRagged ? _order[r] : r;

    /// <summary>The length of the sequence at sorted position <paramref name="r"/>.</summary>
    /// <param name="r">The sorted position.</param>
    public int Length(int r) => IsRagged ? _lengths[r] : SeqLen;

    /// <summary>The first row of step <paramref name="t"/>.</summary>
    /// <param name="t">The step, in [0, seqLen].</param>
    public int Row(int t) => IsRagged ? _steps[t] : t * Batch;

    /// <summary>The end of the sequences of [<paramref name="first"/>, <paramref name="end"/>) that have step <paramref name="t"/>.</summary>
    /// <param name="t">The step.</param>
    /// <param name="first">The first sorted position of a thread's share.</param>
    /// <param name="end">The end of the share.</param>
    public int End(int t, int first, int end) => IsRagged ? Math.Clamp(_steps[t + 1] - _steps[t], first, end) : end;

    /// <summary>
    /// The state each packed row of sorted positions [<paramref name="first"/>, <paramref name="end"/>) started its step
    /// from, copied beside the row: row <c>Row(t) + b</c> of <paramref name="rows"/> (stride <paramref name="rowStride"/>)
    /// receives h at the sequence's step before t (forward) or after t (reverse), or its initial state where it starts at t.
    /// The hidden-weight gradient is then one product over every row (sum over rows of d(gates) ⊗ h before), in the rows'
    /// order: the same sums, in the same order, as a product per step over each step's rows.
    /// </summary>
    /// <param name="seq">The layer's outputs, one row per packed row (stride <paramref name="seqStride"/>, the direction's offset applied).</param>
    /// <param name="seqStride">Floats per output row.</param>
    /// <param name="h0">The initial states in sorted order, <paramref name="width"/> floats each.</param>
    /// <param name="width">Floats of a state.</param>
    /// <param name="reverse">Whether the direction runs from each sequence's last step to its first.</param>
    /// <param name="first">The first sorted position of the share.</param>
    /// <param name="end">The end of the share.</param>
    /// <param name="rows">The destination rows.</param>
    /// <param name="rowStride">Floats per destination row.</param>
    public void PreviousStates(ReadOnlySpan<float> seq, int seqStride, ReadOnlySpan<float> h0, int width, bool reverse, int first, int end, Span<float> rows, int rowStride)
    {
        for (int t = 0; t < SeqLen; t++)
        {
            int row = Row(t);
            int stop = End(t, first, end);
            // The sequences of the share that have the step the state comes from (those after it start at t from h0).
            int carried = reverse ? (t + 1 < SeqLen ? Math.Clamp(Row(t + 2) - Row(t + 1), first, stop) : first) : (t > 0 ? stop : first);
            for (int b = first; b < stop; b++)
            {
                ReadOnlySpan<float> state = b < carried
                    ? seq.Slice(((reverse ? Row(t + 1) : Row(t - 1)) + b) * seqStride, width)
                    : h0.Slice(b * width, width);
                state.CopyTo(rows.Slice((row + b) * rowStride, width));
            }
        }
    }

    /// <summary>
    /// Checks lengths against a batch: one per sequence, each in [1, <paramref name="seqLen"/>]; else an
    /// <see cref="ArgumentException"/> that names the index and value (or the count, when it is not the batch's).
    /// </summary>
    /// <param name="lengths">The lengths, in the caller's order.</param>
    /// <param name="batch">Sequences.</param>
    /// <param name="seqLen">Steps of the layout.</param>
    public static void Check(ReadOnlySpan<int> lengths, int batch, int seqLen)
    {
        if (lengths.Length != batch)
        {
            throw new ArgumentException($"Expected one length per sequence ({batch}), got {lengths.Length}", nameof(lengths));
        }

        for (int b = 0; b < lengths.Length; b++)
        {
            if (lengths[b] < 1 || lengths[b] > seqLen)
            {
                throw new ArgumentException($"Expected every length in [1, {seqLen}], got lengths[{b}] = {lengths[b]}", nameof(lengths));
            }
        }
    }

    /// <summary>Sets the layout of a pass: no lengths (empty), or one per sequence (checked by <see cref="Check"/>).</summary>
    /// <param name="lengths">The lengths in the caller's order, or empty.</param>
    /// <param name="batch">Sequences.</param>
    /// <param name="seqLen">Steps.</param>
    public void Set(ReadOnlySpan<int> lengths, int batch, int seqLen)
    {
        Batch = batch;
        SeqLen = seqLen;
        Rows = batch * seqLen;
        IsRagged = false;
        if (lengths.IsEmpty || !lengths.ContainsAnyExcept(seqLen))
        {
            return;
        }

        Grow(ref _order, batch);
        Grow(ref _lengths, batch);
        Grow(ref _byCaller, batch);
        lengths.CopyTo(_byCaller);
        Grow(ref _steps, seqLen + 1);
        Grow(ref _counts, seqLen + 2);

        // A counting sort by length, longest first, stable (ties keep the caller's order, as PyTorch's sort is here).
        Span<int> counts = _counts.AsSpan(0, seqLen + 2);
        counts.Clear();
        foreach (int length in lengths)
        {
            counts[length]++;
        }

        int at = 0;
        for (int length = seqLen; length >= 1; length--)
        {
            int n = counts[length];
            counts[length] = at;
            at += n;
        }

        for (int b = 0; b < batch; b++)
        {
            int r = counts[lengths[b]]++;
            _order[r] = b;
            _lengths[r] = lengths[b];
        }

        // Step t holds the sorted sequences longer than t, a prefix of them.
        int row = 0;
        int active = batch;
        for (int t = 0; t < seqLen; t++)
        {
            while (active > 0 && _lengths[active - 1] <= t)
            {
                active--;
            }

            _steps[t] = row;
            row += active;
        }

        _steps[seqLen] = row;
        if (_prefix.Length < batch + 1)
        {
            _prefix = new long[batch + 1];
        }

        for (int r = 0; r < batch; r++)
        {
            _prefix[r + 1] = _prefix[r] + _lengths[r];
        }

        Rows = row;
        IsRagged = true;
    }

    /// <summary>
    /// The first sorted position of part <paramref name="part"/> of <paramref name="parts"/>, which
    /// <paramref name="threads"/> threads take one after another. Without lengths, equal shares of the batch
    /// (<see cref="Workers.Split"/>). With lengths, the batch sorted longest first:
    /// <list type="bullet">
    /// <item>Two parts a thread or more, and the first of equal shares (the longest sequences) no more than a thread's
    /// share of the steps: equal shares of the rows, at multiples of 4 (whole register tiles). The threads take the parts
    /// longest first, each the next when it is done, which evens out their steps; every part keeps whole tiles of rows
    /// at each step until its sequences end.</item>
    /// <item>Else parts of equal steps (of equal work), cut at any row.</item>
    /// </list>
    /// Parts of equal steps give the longest sequences' part few rows (5 of W1's 32 in a part of four), which the recurrence
    /// runs at every step as a tile and a row left over, at a cost per row well above a full tile's; equal rows keep two
    /// tiles a part (docs/benchmarks.md, issue 19, "Parts of equal rows").
    /// </summary>
    /// <param name="part">The part.</param>
    /// <param name="parts">The parts.</param>
    /// <param name="threads">The threads that take them.</param>
    public int Split(int part, int parts, int threads)
    {
        if (!IsRagged || part == 0 || part >= parts || EqualRows(parts, threads))
        {
            return Workers.Split(Batch, part, parts);
        }

        long target = (long)Rows * part / parts;
        int r = 0;
        while (r < Batch && _prefix[r + 1] <= target)
        {
            r++;
        }

        return r;
    }

    /// <summary>Whether a split batch with lengths is cut into equal shares of its rows (see <see cref="Split"/>).</summary>
    private bool EqualRows(int parts, int threads) =>
        parts >= 2 * threads && _prefix[Workers.Split(Batch, 1, parts)] * threads <= Rows;

    /// <summary>The caller's sequences (<c>[B, T, F]</c> when <paramref name="batchFirst"/>, else <c>[T, B, F]</c>) into the pass's rows of <paramref name="features"/> floats; padded steps are not read.</summary>
    /// <param name="dense">The caller's values.</param>
    /// <param name="features">Features per step.</param>
    /// <param name="batchFirst">The caller's layout.</param>
    /// <param name="rows">The rows.</param>
    public void ToRows(ReadOnlySpan<float> dense, int features, bool batchFirst, Span<float> rows) =>
        Copy(dense, rows, features, features, features, 1, batchFirst, toRows: true);

    /// <summary>
    /// The caller's values into rows whose features sit in <paramref name="segments"/> runs (a bidirectional layer's two
    /// directions), the padding of each row cleared; padded steps are not read. <paramref name="collapsed"/>: one row per sequence.
    /// </summary>
    /// <param name="dense">The caller's values.</param>
    /// <param name="rowStride">Floats per row.</param>
    /// <param name="segmentWidth">Features per run.</param>
    /// <param name="segmentStride">Floats between run starts in a row.</param>
    /// <param name="segments">Runs per row.</param>
    /// <param name="batchFirst">The caller's layout.</param>
    /// <param name="rows">The rows.</param>
    /// <param name="collapsed">Whether the values have no time dimension (after <c>LastStep</c>).</param>
    public void ToRows(ReadOnlySpan<float> dense, int rowStride, int segmentWidth, int segmentStride, int segments, bool batchFirst, Span<float> rows, bool collapsed)
    {
        if (segmentStride != segmentWidth || segments * segmentWidth != rowStride)
        {
            rows.Slice(0, (collapsed ? Batch : Rows) * rowStride).Clear(); // the floats between the runs
        }

        if (collapsed)
        {
            CopyCollapsed(dense, rows, rowStride, segmentWidth, segmentStride, segments, toRows: true);
            return;
        }

        Copy(dense, rows, rowStride, segmentWidth, segmentStride, segments, batchFirst, toRows: true);
    }

    /// <summary>
    /// The rows into the caller's layout, zeros at every step past a sequence's length (as <c>pad_packed_sequence</c>
    /// gives). <paramref name="collapsed"/>: one row per sequence, in sorted order.
    /// </summary>
    /// <param name="rows">The rows.</param>
    /// <param name="rowStride">Floats per row.</param>
    /// <param name="segmentWidth">Features per run.</param>
    /// <param name="segmentStride">Floats between run starts in a row.</param>
    /// <param name="segments">Runs per row.</param>
    /// <param name="batchFirst">The caller's layout.</param>
    /// <param name="dense">The caller's values.</param>
    /// <param name="collapsed">Whether the values have no time dimension (after <c>LastStep</c>).</param>
    public void FromRows(ReadOnlySpan<float> rows, int rowStride, int segmentWidth, int segmentStride, int segments, bool batchFirst, Span<float> dense, bool collapsed)
    {
        if (collapsed)
        {
            CopyCollapsed(rows, dense, rowStride, segmentWidth, segmentStride, segments, toRows: false);
            return;
        }

        int width = segments * segmentWidth;
        ClearPadding(dense, width, batchFirst);
        Copy(rows, dense, rowStride, segmentWidth, segmentStride, segments, batchFirst, toRows: false);
    }

    /// <summary>Zeros at every step past a sequence's length of <paramref name="dense"/> (the valid steps are left as they are).</summary>
    /// <param name="dense">Values in the caller's layout, <paramref name="width"/> floats a step.</param>
    /// <param name="width">Floats per step.</param>
    /// <param name="batchFirst">The caller's layout: <c>[B, T, width]</c>, else <c>[T, B, width]</c>.</param>
    public void ClearPadding(Span<float> dense, int width, bool batchFirst)
    {
        if (IsRagged)
        {
            ClearPadding(dense, _byCaller.AsSpan(0, Batch), SeqLen, width, batchFirst);
        }
    }

    /// <summary>Zeros at every step past each sequence's length of <paramref name="dense"/> (the valid steps are left as they are).</summary>
    /// <param name="dense">Values in the caller's layout, <paramref name="width"/> floats a step.</param>
    /// <param name="lengths">Each sequence's length, in the caller's order, each in [1, <paramref name="seqLen"/>] (checked by the caller).</param>
    /// <param name="seqLen">Steps.</param>
    /// <param name="width">Floats per step.</param>
    /// <param name="batchFirst">The caller's layout: <c>[B, T, width]</c>, else <c>[T, B, width]</c>.</param>
    public static void ClearPadding(Span<float> dense, ReadOnlySpan<int> lengths, int seqLen, int width, bool batchFirst)
    {
        int batch = lengths.Length;
        for (int b = 0; b < batch; b++)
        {
            if (batchFirst)
            {
                dense.Slice(((b * seqLen) + lengths[b]) * width, (seqLen - lengths[b]) * width).Clear();
                continue;
            }

            for (int t = lengths[b]; t < seqLen; t++)
            {
                dense.Slice(((t * batch) + b) * width, width).Clear();
            }
        }
    }

    /// <summary>
    /// Looks up each valid step's token in <paramref name="table"/> (<c>[vocabulary, dim]</c>) into the pass's rows,
    /// and records each row's id for the table's gradient. The ids have been checked.
    /// </summary>
    /// <param name="tokens">The caller's ids, <c>[B, T]</c> when <paramref name="batchFirst"/>, else <c>[T, B]</c>.</param>
    /// <param name="batchFirst">The caller's layout.</param>
    /// <param name="table">The vectors.</param>
    /// <param name="dim">Floats per vector (and per row).</param>
    /// <param name="rows">The rows.</param>
    /// <param name="rowTokens">Receives each row's id.</param>
    public void Embed(ReadOnlySpan<int> tokens, bool batchFirst, ReadOnlySpan<float> table, int dim, Span<float> rows, Span<int> rowTokens)
    {
        for (int r = 0; r < Batch; r++)
        {
            int b = Order(r);
            int length = Length(r);
            for (int t = 0; t < length; t++)
            {
                int row = Row(t) + r;
                int token = tokens[batchFirst ? (b * SeqLen) + t : (t * Batch) + b];
                rowTokens[row] = token;
                table.Slice(token * dim, dim).CopyTo(rows.Slice(row * dim, dim));
            }
        }
    }

    /// <summary>Each sequence's row at its last step (<c>LastStep</c>), in sorted order: rows of <paramref name="stride"/> floats.</summary>
    /// <param name="rows">The rows of every step.</param>
    /// <param name="stride">Floats per row.</param>
    /// <param name="last">Receives one row per sequence.</param>
    public void GatherLast(ReadOnlySpan<float> rows, int stride, Span<float> last)
    {
        for (int r = 0; r < Batch; r++)
        {
            rows.Slice((Row(Length(r) - 1) + r) * stride, stride).CopyTo(last.Slice(r * stride, stride));
        }
    }

    /// <summary>The inverse of <see cref="GatherLast"/>: each sequence's row back to its last step (the other rows are left).</summary>
    /// <param name="last">One row per sequence.</param>
    /// <param name="stride">Floats per row.</param>
    /// <param name="rows">The rows of every step.</param>
    public void ScatterLast(ReadOnlySpan<float> last, int stride, Span<float> rows)
    {
        for (int r = 0; r < Batch; r++)
        {
            last.Slice(r * stride, stride).CopyTo(rows.Slice((Row(Length(r) - 1) + r) * stride, stride));
        }
    }

    /// <summary>
    /// States in the caller's layout (<paramref name="blocks"/> blocks of <c>[B, width]</c>) into padded rows in sorted
    /// order (<paramref name="stride"/> floats a row; the padding is left).
    /// </summary>
    /// <param name="states">The caller's states.</param>
    /// <param name="width">Floats per state.</param>
    /// <param name="rows">The rows.</param>
    /// <param name="stride">Floats per row.</param>
    /// <param name="blocks">Blocks (layers times directions).</param>
    public void StatesIn(ReadOnlySpan<float> states, int width, Span<float> rows, int stride, int blocks)
    {
        for (int i = 0; i < blocks; i++)
        {
            for (int r = 0; r < Batch; r++)
            {
                states.Slice(((i * Batch) + Order(r)) * width, width).CopyTo(rows.Slice(((i * Batch) + r) * stride, width));
            }
        }
    }

    /// <summary>Padded rows in sorted order (one block) into the caller's layout <c>[B, width]</c>.</summary>
    /// <param name="rows">The rows.</param>
    /// <param name="stride">Floats per row.</param>
    /// <param name="states">The caller's states.</param>
    /// <param name="width">Floats per state.</param>
    public void StatesOut(ReadOnlySpan<float> rows, int stride, Span<float> states, int width)
    {
        for (int r = 0; r < Batch; r++)
        {
            rows.Slice(r * stride, width).CopyTo(states.Slice(Order(r) * width, width));
        }
    }

    /// <summary>
    /// Final states into the caller's layout <c>[B, width]</c>: each sequence's row at its last step
    /// (<paramref name="atLast"/>: a forward direction), else at step 0 (a reverse direction ends there).
    /// </summary>
    /// <param name="rows">The rows of every step.</param>
    /// <param name="stride">Floats per row.</param>
    /// <param name="atLast">Whether the state is at each sequence's last step, rather than its first.</param>
    /// <param name="states">The caller's states.</param>
    /// <param name="width">Floats per state.</param>
    public void FinalStates(ReadOnlySpan<float> rows, int stride, bool atLast, Span<float> states, int width)
    {
        for (int r = 0; r < Batch; r++)
        {
            int row = atLast ? Row(Length(r) - 1) + r : r;
            rows.Slice(row * stride, width).CopyTo(states.Slice(Order(r) * width, width));
        }
    }

    private void Copy(ReadOnlySpan<float> source, Span<float> destination, int rowStride, int segmentWidth, int segmentStride, int segments, bool batchFirst, bool toRows)
    {
        int width = segments * segmentWidth;
        for (int r = 0; r < Batch; r++)
        {
            int b = Order(r);
            int length = Length(r);
            for (int t = 0; t < length; t++)
            {
                int row = Row(t) + r;
                int denseRow = batchFirst ? (b * SeqLen) + t : (t * Batch) + b;
                for (int g = 0; g < segments; g++)
                {
                    int rowAt = (row * rowStride) + (g * segmentStride);
                    int denseAt = (denseRow * width) + (g * segmentWidth);
                    if (toRows)
                    {
                        source.Slice(denseAt, segmentWidth).CopyTo(destination.Slice(rowAt, segmentWidth));
                    }
                    else
                    {
                        source.Slice(rowAt, segmentWidth).CopyTo(destination.Slice(denseAt, segmentWidth));
                    }
                }
            }
        }
    }

    private void CopyCollapsed(ReadOnlySpan<float> source, Span<float> destination, int rowStride, int segmentWidth, int segmentStride, int segments, bool toRows)
    {
        int width = segments * segmentWidth;
        for (int r = 0; r < Batch; r++)
        {
            for (int g = 0; g < segments; g++)
            {
                int rowAt = (r * rowStride) + (g * segmentStride);
                int denseAt = (Order(r) * width) + (g * segmentWidth);
                if (toRows)
                {
                    source.Slice(denseAt, segmentWidth).CopyTo(destination.Slice(rowAt, segmentWidth));
                }
                else
                {
                    source.Slice(rowAt, segmentWidth).CopyTo(destination.Slice(denseAt, segmentWidth));
                }
            }
        }
    }

    private static void Grow(ref int[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new int[length];
        }
    }
}
