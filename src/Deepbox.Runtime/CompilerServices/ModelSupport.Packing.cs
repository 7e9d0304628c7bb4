using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Deepbox.CompilerServices;

/// <content>Weight packing: PyTorch's layout into the kernels' panels (and back, for gradients).</content>
public static partial class ModelSupport
{
    /// <summary>
    /// Packs a PyTorch weight <c>[gates * hidden, cols]</c> (gate blocks stacked by rows) into the gate-interleaved,
    /// vector-panel layout of the generated kernels. Logically it is an input-major matrix <c>[rows][lanes]</c> whose
    /// row <c>r</c> holds, for each block of <paramref name="vectorWidth"/> hidden units, the block's weights of every
    /// gate side by side (lane <c>(block * gates + gate) * vectorWidth + unit</c>); hidden units past
    /// <paramref name="hidden"/> are zero. Column <c>c</c> of the weight lands in row
    /// <c>(c / segmentWidth) * segmentStride + c % segmentWidth</c>, so the halves of a bidirectional input can sit at
    /// padded offsets. It is stored panel by panel (see <see cref="PanelIndex"/>), a panel being one block's
    /// <c>gates * vectorWidth</c> lanes for every row: a kernel computing a block walks one sequential stream instead of
    /// one cache line per row at the stride of a whole row, which on wide layers maps every row to the same cache set.
    /// </summary>
    /// <param name="weight">The PyTorch weight, row-major.</param>
    /// <param name="gates">Gate blocks in the weight (1, 3 or 4).</param>
    /// <param name="hidden">Rows per gate block.</param>
    /// <param name="cols">Columns of the weight.</param>
    /// <param name="vectorWidth">Floats per vector block.</param>
    /// <param name="segmentWidth">Columns per input segment.</param>
    /// <param name="segmentStride">Rows of the result per input segment.</param>
    /// <param name="destination">The packed weights; fully overwritten.</param>
    public static void PackGateInterleaved(
        ReadOnlySpan<float> weight, int gates, int hidden, int cols, int vectorWidth,
        int segmentWidth, int segmentStride, Span<float> destination)
    {
        int blocks = (hidden + vectorWidth - 1) / vectorWidth;
        int rowLength = blocks * gates * vectorWidth;
        int rows = destination.Length / rowLength;
        CheckSegments(weight.Length, gates, hidden, cols, segmentWidth, segmentStride, rows, nameof(destination));
        destination.Clear();
        int panelWidth = gates * vectorWidth;
        for (int g = 0; g < gates; g++)
        {
            int j = 0;
            if (Avx.IsSupported && vectorWidth % 8 == 0)
            {
                // Eight units at a time: their lanes sit side by side in one panel, so eight columns of their eight PyTorch
                // rows are one 8 x 8 transpose into eight packed rows.
                for (; j + 8 <= hidden; j += 8)
                {
                    ref float src = ref Unsafe.Add(ref MemoryMarshal.GetReference(weight), ((g * hidden) + j) * cols);
                    ref float column = ref Unsafe.Add(ref MemoryMarshal.GetReference(destination), PanelIndex(0, Lane(g, j, gates, vectorWidth), rows, panelWidth));
                    for (int first = 0, row = 0; first < cols; first += segmentWidth, row += segmentStride)
                    {
                        int count = Math.Min(segmentWidth, cols - first);
                        int c = 0;
                        for (; c + 8 <= count; c += 8)
                        {
                            Transpose8x8(ref Unsafe.Add(ref src, first + c), cols, ref Unsafe.Add(ref column, (row + c) * panelWidth), panelWidth, add: false);
                        }

                        for (; c < count; c++)
                        {
                            for (int k = 0; k < 8; k++)
                            {
                                Unsafe.Add(ref column, ((row + c) * panelWidth) + k) = Unsafe.Add(ref src, (k * cols) + first + c);
                            }
                        }
                    }
                }
            }

            for (; j < hidden; j++)
            {
                ReadOnlySpan<float> src = weight.Slice(((g * hidden) + j) * cols, cols);
                int lane = Lane(g, j, gates, vectorWidth);
                Span<float> column = destination.Slice(PanelIndex(0, lane, rows, panelWidth)); // row r at r * panelWidth
                for (int first = 0, row = 0; first < cols; first += segmentWidth, row += segmentStride)
                {
                    int count = Math.Min(segmentWidth, cols - first);
                    for (int c = 0; c < count; c++)
                    {
                        column[(row + c) * panelWidth] = src[first + c];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Checks that a PyTorch weight <c>[gates * hidden, cols]</c> holds that many floats and that its columns' packed
    /// rows (<c>(c / segmentWidth) * segmentStride + c % segmentWidth</c>) fall below <paramref name="rows"/>, before the
    /// packing loops read and write without bounds checks.
    /// </summary>
    private static void CheckSegments(int weightLength, int gates, int hidden, int cols, int segmentWidth, int segmentStride, int rows, string name)
    {
        if (gates <= 0 || hidden <= 0 || cols <= 0 || segmentWidth <= 0 || segmentStride < Math.Min(segmentWidth, cols))
        {
            throw new ArgumentOutOfRangeException(name, $"Expected positive gates, units, columns and segment width and a stride of a segment at least, got {gates}, {hidden}, {cols}, {segmentWidth} and {segmentStride}.");
        }

        long lastRow = ((long)((cols - 1) / segmentWidth) * segmentStride) + ((cols - 1) % segmentWidth);
        if ((long)gates * hidden * cols > weightLength || lastRow >= rows)
        {
            throw new ArgumentException($"Expected a weight of {(long)gates * hidden * cols} floats and {lastRow + 1} packed rows, got {weightLength} floats and {rows} rows.", name);
        }
    }

    /// <summary>
    /// Transposes the 8 x 8 floats at <paramref name="source"/> (8 rows <paramref name="sourceStride"/> floats apart) into
    /// the 8 rows at <paramref name="destination"/> (<paramref name="destinationStride"/> apart), or adds the transpose
    /// into them (<paramref name="add"/>: one addition an element, as the scalar loops do, so the same bits). AVX only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(ref float source, int sourceStride, ref float destination, int destinationStride, bool add)
    {
        Vector256<float> r0 = Vector256.LoadUnsafe(ref source);
        Vector256<float> r1 = Vector256.LoadUnsafe(ref source, (nuint)sourceStride);
        Vector256<float> r2 = Vector256.LoadUnsafe(ref source, (nuint)(2 * sourceStride));
        Vector256<float> r3 = Vector256.LoadUnsafe(ref source, (nuint)(3 * sourceStride));
        Vector256<float> r4 = Vector256.LoadUnsafe(ref source, (nuint)(4 * sourceStride));
        Vector256<float> r5 = Vector256.LoadUnsafe(ref source, (nuint)(5 * sourceStride));
        Vector256<float> r6 = Vector256.LoadUnsafe(ref source, (nuint)(6 * sourceStride));
        Vector256<float> r7 = Vector256.LoadUnsafe(ref source, (nuint)(7 * sourceStride));
        // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves swapped across.
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Store(Avx.Permute2x128(u0, u4, 0x20), ref destination, 0, add);
        Store(Avx.Permute2x128(u1, u5, 0x20), ref destination, destinationStride, add);
        Store(Avx.Permute2x128(u2, u6, 0x20), ref destination, 2 * destinationStride, add);
        Store(Avx.Permute2x128(u3, u7, 0x20), ref destination, 3 * destinationStride, add);
        Store(Avx.Permute2x128(u0, u4, 0x31), ref destination, 4 * destinationStride, add);
        Store(Avx.Permute2x128(u1, u5, 0x31), ref destination, 5 * destinationStride, add);
        Store(Avx.Permute2x128(u2, u6, 0x31), ref destination, 6 * destinationStride, add);
        Store(Avx.Permute2x128(u3, u7, 0x31), ref destination, 7 * destinationStride, add);

        static void Store(Vector256<float> value, ref float destination, int offset, bool add)
        {
            if (add)
            {
                value = Vector256.LoadUnsafe(ref destination, (nuint)offset) + value; // the gradient first, as in the scalar loops
            }

            value.StoreUnsafe(ref destination, (nuint)offset);
        }
    }

    /// <summary>
    /// Where element <c>(row, column)</c> of a logical <c>[rows][columns]</c> matrix sits in the panel layout the
    /// generated kernels read weights in: panel <c>column / panelWidth</c> holds those <paramref name="panelWidth"/>
    /// columns of every row, one row after another (<c>[columns / panelWidth][rows][panelWidth]</c>).
    /// </summary>
    /// <param name="row">The row (the reduction index of the product).</param>
    /// <param name="column">The column (the output).</param>
    /// <param name="rows">Rows of the matrix.</param>
    /// <param name="panelWidth">Columns per panel (a whole number of vectors dividing the columns).</param>
    /// <returns>The offset in the packed buffer.</returns>
    public static int PanelIndex(int row, int column, int rows, int panelWidth) =>
        ((((column / panelWidth) * rows) + row) * panelWidth) + (column % panelWidth);

    /// <summary>
    /// Packs biases into the gate-interleaved layout (<c>[hiddenBlocks][gates][vectorWidth]</c>): the sum
    /// <c>b_ih + b_hh</c> for the first <paramref name="foldedGates"/> gates, <c>b_ih</c> alone for the rest (GRU's n,
    /// whose <c>b_hn</c> sits inside <c>r * (W_hn h + b_hn)</c> and cannot be folded). Empty spans mean no bias.
    /// </summary>
    /// <param name="biasIh">PyTorch's <c>b_ih</c> <c>[gates * hidden]</c>, or empty.</param>
    /// <param name="biasHh">PyTorch's <c>b_hh</c> <c>[gates * hidden]</c>, or empty.</param>
    /// <param name="gates">Gate blocks.</param>
    /// <param name="hidden">Units per gate.</param>
    /// <param name="vectorWidth">Floats per vector block.</param>
    /// <param name="foldedGates">How many leading gates take <c>b_hh</c> too.</param>
    /// <param name="destination">The packed biases; fully overwritten.</param>
    public static void PackGateBias(
        ReadOnlySpan<float> biasIh, ReadOnlySpan<float> biasHh, int gates, int hidden, int vectorWidth,
        int foldedGates, Span<float> destination)
    {
        destination.Clear();
        for (int g = 0; g < gates; g++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int i = (g * hidden) + j;
                float v = biasIh.IsEmpty ? 0f : biasIh[i];
                if (g < foldedGates && !biasHh.IsEmpty)
                {
                    v += biasHh[i];
                }

                destination[Lane(g, j, gates, vectorWidth)] = v;
            }
        }
    }

    /// <summary>
    /// Packs a PyTorch weight <c>[gates * hidden, cols]</c> output-major for the backward pass: row
    /// <c>r</c> is the gate-interleaved output lane of <see cref="PackGateInterleaved"/> (<c>[hiddenBlocks][gates][vectorWidth]</c>),
    /// and column <c>c</c> lands at <c>(c / segmentWidth) * segmentStride + c % segmentWidth</c> of a row of
    /// <paramref name="rowLength"/> floats; everything else is zero. A product of a gate gradient row with this matrix gives
    /// the gradient of the input, in the input's padded layout. Stored in the vector-panel layout of
    /// <see cref="PanelIndex"/>.
    /// </summary>
    /// <param name="weight">The PyTorch weight, row-major.</param>
    /// <param name="gates">Gate blocks in the weight.</param>
    /// <param name="hidden">Rows per gate block.</param>
    /// <param name="cols">Columns of the weight.</param>
    /// <param name="vectorWidth">Floats per vector block.</param>
    /// <param name="segmentWidth">Columns per input segment.</param>
    /// <param name="segmentStride">Floats between segment starts in the input layout.</param>
    /// <param name="rowLength">Floats per packed row (the padded input width).</param>
    /// <param name="destination">The packed weights; fully overwritten.</param>
    public static void PackTransposed(
        ReadOnlySpan<float> weight, int gates, int hidden, int cols, int vectorWidth,
        int segmentWidth, int segmentStride, int rowLength, Span<float> destination)
    {
        int lanes = destination.Length / rowLength;
        destination.Clear();
        for (int g = 0; g < gates; g++)
        {
            for (int j = 0; j < hidden; j++)
            {
                ReadOnlySpan<float> src = weight.Slice(((g * hidden) + j) * cols, cols);
                int lane = Lane(g, j, gates, vectorWidth);
                for (int first = 0, at = 0; first < cols; first += segmentWidth, at += segmentStride)
                {
                    int count = Math.Min(segmentWidth, cols - first);
                    int panel = at / vectorWidth, within = at % vectorWidth; // of column at + c, stepped without dividing
                    int c = 0;
                    if (vectorWidth % 8 == 0)
                    {
                        // A lane's columns are a run of its PyTorch row: once a panel's 8-float boundary is reached, 8 at a time.
                        for (; c < count && within % 8 != 0; c++)
                        {
                            destination[(((panel * lanes) + lane) * vectorWidth) + within] = src[first + c];
                            if (++within == vectorWidth)
                            {
                                within = 0;
                                panel++;
                            }
                        }

                        for (; c + 8 <= count; c += 8)
                        {
                            Vector256.Create(src.Slice(first + c, 8)).CopyTo(destination.Slice((((panel * lanes) + lane) * vectorWidth) + within, 8));
                            within += 8;
                            if (within == vectorWidth)
                            {
                                within = 0;
                                panel++;
                            }
                        }
                    }

                    for (; c < count; c++)
                    {
                        destination[(((panel * lanes) + lane) * vectorWidth) + within] = src[first + c];
                        if (++within == vectorWidth)
                        {
                            within = 0;
                            panel++;
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Adds a weight gradient in the weight-gradient kernels' layout into PyTorch's: <c>gradient[g * hidden + j, c] +=
    /// packed[row(c)][lane(g, j)]</c>, where <c>packed</c> is the row-major <c>[rows][lanes]</c> matrix of
    /// <see cref="PackGateInterleaved"/>'s rows and gate-interleaved lanes (not panel by panel).
    /// </summary>
    /// <param name="packed">A weight gradient, row-major, input-major and gate-interleaved.</param>
    /// <param name="gates">Gate blocks.</param>
    /// <param name="hidden">Rows per gate block.</param>
    /// <param name="cols">Columns of the PyTorch weight.</param>
    /// <param name="vectorWidth">Floats per vector block.</param>
    /// <param name="segmentWidth">Columns per input segment.</param>
    /// <param name="segmentStride">Rows of the packed layout per input segment.</param>
    /// <param name="gradient">The PyTorch-layout gradient to add into.</param>
    public static void UnpackGateInterleavedAdd(
        ReadOnlySpan<float> packed, int gates, int hidden, int cols, int vectorWidth,
        int segmentWidth, int segmentStride, Span<float> gradient) =>
        UnpackGateInterleavedAdd(packed, gates, hidden, cols, vectorWidth, segmentWidth, segmentStride, gradient, 0, int.MaxValue);

    /// <summary>
    /// <see cref="UnpackGateInterleavedAdd(ReadOnlySpan{float}, int, int, int, int, int, int, Span{float})"/> for the
    /// lanes in [<paramref name="laneFirst"/>, <paramref name="laneEnd"/>) only: the columns of the packed gradient a
    /// thread computed, whose PyTorch rows no other thread's lanes touch.
    /// </summary>
    /// <param name="packed">A weight gradient, row-major, input-major and gate-interleaved.</param>
    /// <param name="gates">Gate blocks.</param>
    /// <param name="hidden">Rows per gate block.</param>
    /// <param name="cols">Columns of the PyTorch weight.</param>
    /// <param name="vectorWidth">Floats per vector block.</param>
    /// <param name="segmentWidth">Columns per input segment.</param>
    /// <param name="segmentStride">Rows of the packed layout per input segment.</param>
    /// <param name="gradient">The PyTorch-layout gradient to add into.</param>
    /// <param name="laneFirst">The first lane (column of the packed gradient).</param>
    /// <param name="laneEnd">One past the last lane.</param>
    public static void UnpackGateInterleavedAdd(
        ReadOnlySpan<float> packed, int gates, int hidden, int cols, int vectorWidth,
        int segmentWidth, int segmentStride, Span<float> gradient, int laneFirst, int laneEnd)
    {
        int blocks = (hidden + vectorWidth - 1) / vectorWidth;
        int rowLength = blocks * gates * vectorWidth;
        CheckSegments(gradient.Length, gates, hidden, cols, segmentWidth, segmentStride, packed.Length / rowLength, nameof(packed));
        for (int g = 0; g < gates; g++)
        {
            int j = 0;
            if (Avx.IsSupported && vectorWidth % 8 == 0)
            {
                // Eight units whose lanes are all in the range at a time: their lanes sit side by side in each packed row, so
                // eight packed rows are one 8 x 8 transpose into eight columns of their eight PyTorch rows.
                for (; j + 8 <= hidden; j += 8)
                {
                    int lane0 = Lane(g, j, gates, vectorWidth);
                    if (lane0 < laneFirst || lane0 + 8 > laneEnd)
                    {
                        if (lane0 + 8 <= laneFirst || lane0 >= laneEnd)
                        {
                            continue;
                        }

                        break; // partly in the range: the scalar loop below takes these units
                    }

                    ref float src = ref Unsafe.Add(ref MemoryMarshal.GetReference(packed), lane0);
                    ref float dst = ref Unsafe.Add(ref MemoryMarshal.GetReference(gradient), ((g * hidden) + j) * cols);
                    for (int first = 0, row = 0; first < cols; first += segmentWidth, row += segmentStride)
                    {
                        int count = Math.Min(segmentWidth, cols - first);
                        int c = 0;
                        for (; c + 8 <= count; c += 8)
                        {
                            Transpose8x8(ref Unsafe.Add(ref src, (row + c) * rowLength), rowLength, ref Unsafe.Add(ref dst, first + c), cols, add: true);
                        }

                        for (; c < count; c++)
                        {
                            for (int k = 0; k < 8; k++)
                            {
                                Unsafe.Add(ref dst, (k * cols) + first + c) += Unsafe.Add(ref src, ((row + c) * rowLength) + k);
                            }
                        }
                    }
                }
            }

            for (; j < hidden; j++)
            {
                int lane = Lane(g, j, gates, vectorWidth);
                if (lane < laneFirst || lane >= laneEnd)
                {
                    continue;
                }

                Span<float> dst = gradient.Slice(((g * hidden) + j) * cols, cols);
                for (int first = 0, row = 0; first < cols; first += segmentWidth, row += segmentStride)
                {
                    int count = Math.Min(segmentWidth, cols - first);
                    for (int c = 0; c < count; c++)
                    {
                        dst[first + c] += packed[((row + c) * rowLength) + lane];
                    }
                }
            }
        }
    }

    /// <summary>Adds the column sums of <paramref name="rows"/> rows of <paramref name="width"/> floats into <paramref name="sums"/> (a bias gradient).</summary>
    /// <param name="values">The rows.</param>
    /// <param name="rows">How many rows.</param>
    /// <param name="width">Floats per row.</param>
    /// <param name="sums">Receives the sums (added to).</param>
    public static void AddColumnSums(ReadOnlySpan<float> values, int rows, int width, Span<float> sums) =>
        AddColumnSums(values, rows, width, sums, 0, width);

    /// <summary>
    /// Adds the sums of columns [<paramref name="first"/>, <paramref name="end"/>) of <paramref name="rows"/> rows of
    /// <paramref name="width"/> floats into <paramref name="sums"/>: a thread's share of a bias gradient. Each column
    /// is summed row after row onto what <paramref name="sums"/> holds, so a column's result is the same whichever
    /// share computes it; four vectors of columns stay in registers over all the rows.
    /// </summary>
    /// <param name="values">The rows.</param>
    /// <param name="rows">How many rows.</param>
    /// <param name="width">Floats per row.</param>
    /// <param name="sums">Receives the sums (added to), <paramref name="width"/> of them.</param>
    /// <param name="first">The first column.</param>
    /// <param name="end">One past the last column.</param>
    public static void AddColumnSums(ReadOnlySpan<float> values, int rows, int width, Span<float> sums, int first, int end) =>
        AddColumnSums(values, 1, rows, 0, width, sums, first, end);

    /// <summary>
    /// <see cref="AddColumnSums(ReadOnlySpan{float}, int, int, Span{float}, int, int)"/> over rows in groups: row
    /// <c>t * stepStride + j</c> for each step <c>t</c> below <paramref name="steps"/>, then each <c>j</c> below
    /// <paramref name="groupRows"/> (a group of sequences of time-major rows, step by step). Each column is summed in
    /// that order onto what <paramref name="sums"/> holds.
    /// </summary>
    /// <param name="values">The rows.</param>
    /// <param name="steps">Steps of the group.</param>
    /// <param name="groupRows">Rows a step.</param>
    /// <param name="stepStride">Rows from one step's first row to the next's.</param>
    /// <param name="width">Floats per row.</param>
    /// <param name="sums">Receives the sums (added to), <paramref name="width"/> of them.</param>
    /// <param name="first">The first column.</param>
    /// <param name="end">One past the last column.</param>
    public static void AddColumnSums(ReadOnlySpan<float> values, int steps, int groupRows, int stepStride, int width, Span<float> sums, int first, int end)
    {
        long lastRow = steps <= 0 || groupRows <= 0 ? -1 : ((long)(steps - 1) * stepStride) + groupRows - 1;
        if ((uint)first > (uint)end || end > width || sums.Length < width || steps < 0 || groupRows < 0 || stepStride < 0 || values.Length < (lastRow + 1) * width)
        {
            throw new ArgumentOutOfRangeException(nameof(end), $"Expected columns within [0, {width}) of {steps} steps of {groupRows} rows {stepStride} apart, got [{first}, {end}) over {values.Length} floats.");
        }

        int c = first;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float v0 = ref MemoryMarshal.GetReference(values);
            ref float s0 = ref MemoryMarshal.GetReference(sums);
            const int Block = 4 * 8;
            for (; c + Block <= end; c += Block)
            {
                Vector256<float> a0 = Vector256.LoadUnsafe(ref s0, (nuint)c);
                Vector256<float> a1 = Vector256.LoadUnsafe(ref s0, (nuint)(c + 8));
                Vector256<float> a2 = Vector256.LoadUnsafe(ref s0, (nuint)(c + 16));
                Vector256<float> a3 = Vector256.LoadUnsafe(ref s0, (nuint)(c + 24));
                for (int t = 0; t < steps; t++)
                {
                    for (int r = t * stepStride, rEnd = r + groupRows; r < rEnd; r++)
                    {
                        ref float row = ref Unsafe.Add(ref v0, (r * width) + c);
                        a0 += Vector256.LoadUnsafe(ref row);
                        a1 += Vector256.LoadUnsafe(ref row, 8);
                        a2 += Vector256.LoadUnsafe(ref row, 16);
                        a3 += Vector256.LoadUnsafe(ref row, 24);
                    }
                }

                a0.StoreUnsafe(ref s0, (nuint)c);
                a1.StoreUnsafe(ref s0, (nuint)(c + 8));
                a2.StoreUnsafe(ref s0, (nuint)(c + 16));
                a3.StoreUnsafe(ref s0, (nuint)(c + 24));
            }
        }

        if (c < end)
        {
            Span<float> s = sums[c..end];
            for (int t = 0; t < steps; t++)
            {
                for (int r = t * stepStride, rEnd = r + groupRows; r < rEnd; r++)
                {
                    TensorPrimitives.Add(s, values.Slice((r * width) + c, end - c), s);
                }
            }
        }
    }

    /// <summary>The inverse of <see cref="PackGateBias"/> for one bias, adding: <c>gradient[g * hidden + j] += packed[lane(g, j)]</c>.</summary>
    /// <param name="packed">A bias gradient in the gate-interleaved layout.</param>
    /// <param name="gates">Gate blocks.</param>
    /// <param name="hidden">Units per gate.</param>
    /// <param name="vectorWidth">Floats per vector block.</param>
    /// <param name="gradient">The PyTorch-layout bias gradient to add into.</param>
    public static void UnpackGateBiasAdd(ReadOnlySpan<float> packed, int gates, int hidden, int vectorWidth, Span<float> gradient) =>
        UnpackGateBiasAdd(packed, gates, hidden, vectorWidth, gradient, 0, int.MaxValue);

    /// <summary>
    /// <see cref="UnpackGateBiasAdd(ReadOnlySpan{float}, int, int, int, Span{float})"/> for the lanes in
    /// [<paramref name="laneFirst"/>, <paramref name="laneEnd"/>) only (a thread's share).
    /// </summary>
    /// <param name="packed">A bias gradient in the gate-interleaved layout.</param>
    /// <param name="gates">Gate blocks.</param>
    /// <param name="hidden">Units per gate.</param>
    /// <param name="vectorWidth">Floats per vector block.</param>
    /// <param name="gradient">The PyTorch-layout bias gradient to add into.</param>
    /// <param name="laneFirst">The first lane.</param>
    /// <param name="laneEnd">One past the last lane.</param>
    public static void UnpackGateBiasAdd(ReadOnlySpan<float> packed, int gates, int hidden, int vectorWidth, Span<float> gradient, int laneFirst, int laneEnd)
    {
        // Block by block of units and gate by gate: a gate's units of a block are a run of lanes, skipped whole outside
        // the range (a thread's share is one block of columns: no division a unit).
        for (int j0 = 0, lane0 = 0; j0 < hidden; j0 += vectorWidth)
        {
            int units = Math.Min(vectorWidth, hidden - j0);
            for (int g = 0; g < gates; g++, lane0 += vectorWidth)
            {
                if (lane0 >= laneEnd || lane0 + units <= laneFirst)
                {
                    continue;
                }

                for (int u = Math.Max(0, laneFirst - lane0); u < units && lane0 + u < laneEnd; u++)
                {
                    gradient[(g * hidden) + j0 + u] += packed[lane0 + u];
                }
            }
        }
    }

    /// <summary>Where lane (gate <paramref name="g"/>, unit <paramref name="j"/>) sits in a gate-interleaved row: blocks of units, gates side by side in each.</summary>
    private static int Lane(int g, int j, int gates, int vectorWidth) =>
        ((j / vectorWidth) * gates * vectorWidth) + (g * vectorWidth) + (j % vectorWidth);
}
