using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Deepbox.CompilerServices;

/// <summary>
/// Helpers that generated models call: shape checks with the error messages users see, and the packing of
/// PyTorch-layout weights into the layout the generated kernels read. Not meant to be called by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ModelSupport
{
    /// <summary>Throws the <see cref="ArgumentException"/> for a tensor of the wrong shape: <c>Expected input [*, *, 4], got [2, 3, 5]</c>.</summary>
    /// <param name="what">The argument (<c>input</c>, <c>h0</c>, ...).</param>
    /// <param name="expected">The expected shape as text; <c>*</c> for any size.</param>
    /// <param name="actual">The actual shape.</param>
    [DoesNotReturn]
    public static void ThrowShape(string what, string expected, IReadOnlyList<int> actual) =>
        throw new ArgumentException($"Expected {what} {expected}, got {Tensor.FormatShape(actual)}", what);

    /// <summary>Throws the <see cref="ArgumentException"/> for a span of the wrong length.</summary>
    /// <param name="what">The argument.</param>
    /// <param name="expected">The expected length and what it is made of.</param>
    /// <param name="actual">The actual length.</param>
    [DoesNotReturn]
    public static void ThrowLength(string what, string expected, int actual) =>
        throw new ArgumentException($"Expected {what} of length {expected}, got {actual}", what);

    /// <summary>Checks that a batch has at least one sequence of at least one step.</summary>
    /// <param name="batch">Sequences.</param>
    /// <param name="seqLen">Time steps.</param>
    public static void CheckSequenceSizes(int batch, int seqLen)
    {
        if (batch < 1 || seqLen < 1)
        {
            throw new ArgumentOutOfRangeException(
                batch < 1 ? nameof(batch) : nameof(seqLen),
                $"Expected at least one sequence of at least one step, got batch {batch} and seqLen {seqLen}");
        }
    }

    /// <summary>Checks that a span holds exactly <c>batch * seqLen * features</c> floats.</summary>
    /// <param name="what">The argument.</param>
    /// <param name="length">Its length.</param>
    /// <param name="batch">Sequences.</param>
    /// <param name="seqLen">Time steps (1 when the time dimension is gone).</param>
    /// <param name="features">Features per step.</param>
    public static void CheckLength(string what, int length, int batch, int seqLen, int features)
    {
        long expected = (long)batch * seqLen * features;
        if (length != expected)
        {
            ThrowLength(what, $"{batch} * {seqLen} * {features} = {expected}", length);
        }
    }

    /// <summary>Checks an optional state tensor against its exact shape.</summary>
    /// <param name="what">The argument (<c>h0</c>, <c>c0</c>).</param>
    /// <param name="state">The state, or null for zeros.</param>
    /// <param name="shape">The expected shape.</param>
    public static void CheckState(string what, Tensor? state, int[] shape)
    {
        if (state is not null && !state.HasShape(shape))
        {
            ThrowShape(what, Tensor.FormatShape(shape), state.Shape);
        }
    }

    /// <summary>Formats a shape of known sizes: <c>[2, 3, 8]</c>.</summary>
    /// <param name="dims">The sizes.</param>
    public static string Shape(params int[] dims) => Tensor.FormatShape(dims);

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
        destination.Clear();
        for (int g = 0; g < gates; g++)
        {
            for (int j = 0; j < hidden; j++)
            {
                ReadOnlySpan<float> src = weight.Slice(((g * hidden) + j) * cols, cols);
                int lane = Lane(g, j, gates, vectorWidth);
                int panelWidth = gates * vectorWidth;
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
    /// Brings <paramref name="snapshot"/> (every parameter's values, one after another) up to date with the parameters
    /// and says whether anything changed since the last call: the generated models repack their weights only then.
    /// Values are compared bit for bit, so any write (an optimizer step, a load, a user's edit in place) is seen.
    /// </summary>
    /// <param name="parameters">The model's parameters, in a fixed order.</param>
    /// <param name="snapshot">As many floats as the parameters hold; the copy from the last call.</param>
    /// <returns><see langword="true"/> when some value differed from the snapshot.</returns>
    public static bool SyncSnapshot(Parameter[] parameters, float[] snapshot)
    {
        bool changed = false;
        int at = 0;
        foreach (Parameter p in parameters)
        {
            ReadOnlySpan<float> value = p.Value.AsSpan();
            Span<float> copy = snapshot.AsSpan(at, value.Length);
            if (!MemoryMarshal.Cast<float, int>(value).SequenceEqual(MemoryMarshal.Cast<float, int>(copy)))
            {
                value.CopyTo(copy);
                changed = true;
            }

            at += value.Length;
        }

        return changed;
    }

    /// <summary>Grows <paramref name="buffer"/> to at least <paramref name="length"/> floats (contents not kept).</summary>
    /// <param name="buffer">The buffer, replaced when too small.</param>
    /// <param name="length">The length needed.</param>
    public static void Ensure(ref float[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new float[length];
        }
    }

    /// <summary>Grows <paramref name="buffer"/> to at least <paramref name="length"/> floats (a new, zeroed, 64-byte-aligned buffer) if it is shorter.</summary>
    /// <param name="buffer">The buffer.</param>
    /// <param name="length">The floats needed.</param>
    public static void Ensure(ref AlignedBuffer buffer, int length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (buffer.Length < length)
        {
            buffer = new AlignedBuffer(length);
        }
    }

    /// <summary>
    /// Copies <paramref name="rows"/> rows of <paramref name="width"/> floats between buffers of different row strides
    /// (padded state rows to PyTorch's dense ones and back).
    /// </summary>
    /// <param name="source">The first source row.</param>
    /// <param name="sourceStride">Floats between source rows.</param>
    /// <param name="destination">The first destination row.</param>
    /// <param name="destinationStride">Floats between destination rows.</param>
    /// <param name="width">Floats per row.</param>
    /// <param name="rows">Rows to copy.</param>
    public static void CopyRows(ReadOnlySpan<float> source, int sourceStride, Span<float> destination, int destinationStride, int width, int rows)
    {
        for (int r = 0; r < rows; r++)
        {
            source.Slice(r * sourceStride, width).CopyTo(destination.Slice(r * destinationStride, width));
        }
    }

    /// <summary>
    /// Copies a sequence from the caller's layout (<c>[B, T, F]</c> when <paramref name="batchFirst"/>, else
    /// <c>[T, B, F]</c>) into the time-major rows <c>[T, B, F]</c> the kernels read.
    /// </summary>
    /// <param name="dense">The caller's sequence.</param>
    /// <param name="features">Features per step.</param>
    /// <param name="batch">Sequences.</param>
    /// <param name="seqLen">Time steps.</param>
    /// <param name="batchFirst">The caller's layout.</param>
    /// <param name="rows">The time-major rows.</param>
    public static void ToTimeMajor(ReadOnlySpan<float> dense, int features, int batch, int seqLen, bool batchFirst, Span<float> rows)
    {
        if (!batchFirst || batch == 1 || seqLen == 1)
        {
            dense.Slice(0, batch * seqLen * features).CopyTo(rows);
            return;
        }

        var layout = new SequenceLayout(features, features, features, 1, batch, seqLen, batchFirst);
        for (int i = 0; i < layout.Runs; i++)
        {
            dense.Slice(layout.DenseOffset(i), features).CopyTo(rows.Slice(layout.RowOffset(i), features));
        }
    }

    /// <summary>
    /// Copies time-major rows (<c>[T, B]</c> rows of <paramref name="rowStride"/> floats, whose features sit in
    /// <paramref name="segments"/> runs of <paramref name="segmentWidth"/> floats every <paramref name="segmentStride"/>)
    /// into the caller's dense layout (<c>[B, T, F]</c> when <paramref name="batchFirst"/>, else <c>[T, B, F]</c>).
    /// </summary>
    /// <param name="rows">The time-major rows.</param>
    /// <param name="rowStride">Floats per row.</param>
    /// <param name="segmentWidth">Features per segment.</param>
    /// <param name="segmentStride">Floats between segment starts in a row.</param>
    /// <param name="segments">Segments per row (2 for a bidirectional layer).</param>
    /// <param name="batch">Sequences.</param>
    /// <param name="seqLen">Time steps.</param>
    /// <param name="batchFirst">The caller's layout.</param>
    /// <param name="dense">The caller's output, <c>segments * segmentWidth</c> features per step.</param>
    public static void FromTimeMajor(
        ReadOnlySpan<float> rows, int rowStride, int segmentWidth, int segmentStride, int segments,
        int batch, int seqLen, bool batchFirst, Span<float> dense)
    {
        var layout = new SequenceLayout(rowStride, segmentWidth, segmentStride, segments, batch, seqLen, batchFirst);
        for (int i = 0; i < layout.Runs; i++)
        {
            rows.Slice(layout.RowOffset(i), segmentWidth).CopyTo(dense.Slice(layout.DenseOffset(i), segmentWidth));
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
                    for (int c = 0; c < count; c++)
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
        int segmentWidth, int segmentStride, Span<float> gradient)
    {
        int blocks = (hidden + vectorWidth - 1) / vectorWidth;
        int rowLength = blocks * gates * vectorWidth;
        for (int g = 0; g < gates; g++)
        {
            for (int j = 0; j < hidden; j++)
            {
                Span<float> dst = gradient.Slice(((g * hidden) + j) * cols, cols);
                int lane = Lane(g, j, gates, vectorWidth);
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
    public static void AddColumnSums(ReadOnlySpan<float> values, int rows, int width, Span<float> sums)
    {
        Span<float> s = sums.Slice(0, width);
        for (int r = 0; r < rows; r++)
        {
            TensorPrimitives.Add(s, values.Slice(r * width, width), s);
        }
    }

    /// <summary>The inverse of <see cref="PackGateBias"/> for one bias, adding: <c>gradient[g * hidden + j] += packed[lane(g, j)]</c>.</summary>
    /// <param name="packed">A bias gradient in the gate-interleaved layout.</param>
    /// <param name="gates">Gate blocks.</param>
    /// <param name="hidden">Units per gate.</param>
    /// <param name="vectorWidth">Floats per vector block.</param>
    /// <param name="gradient">The PyTorch-layout bias gradient to add into.</param>
    public static void UnpackGateBiasAdd(ReadOnlySpan<float> packed, int gates, int hidden, int vectorWidth, Span<float> gradient)
    {
        for (int g = 0; g < gates; g++)
        {
            for (int j = 0; j < hidden; j++)
            {
                gradient[(g * hidden) + j] += packed[Lane(g, j, gates, vectorWidth)];
            }
        }
    }

    /// <summary>
    /// Turns the gradient of an activation's output into the gradient of its input, in place, from the saved output
    /// <paramref name="y"/>: tanh <c>1 - y^2</c>, sigmoid <c>y (1 - y)</c>, relu <c>y &gt; 0</c>; <see cref="Activation.None"/> leaves it.
    /// </summary>
    /// <param name="activation">The activation.</param>
    /// <param name="y">The activation's outputs.</param>
    /// <param name="gradient">The gradient, multiplied in place.</param>
    public static void ActivationBackward(Activation activation, ReadOnlySpan<float> y, Span<float> gradient)
    {
        for (int i = 0; i < gradient.Length; i++)
        {
            float v = y[i];
            gradient[i] *= activation switch
            {
                Activation.Tanh => 1 - (v * v),
                Activation.Sigmoid => v * (1 - v),
                Activation.Relu => v > 0 ? 1 : 0,
                _ => 1,
            };
        }
    }

    /// <summary>
    /// Copies a caller-layout gradient (<c>[B, T, F]</c> when <paramref name="batchFirst"/>, else <c>[T, B, F]</c>) into
    /// zeroed time-major rows whose features sit in segments (the inverse of <see cref="FromTimeMajor"/>).
    /// </summary>
    /// <param name="dense">The caller's values.</param>
    /// <param name="rowStride">Floats per time-major row.</param>
    /// <param name="segmentWidth">Features per segment.</param>
    /// <param name="segmentStride">Floats between segment starts in a row.</param>
    /// <param name="segments">Segments per row.</param>
    /// <param name="batch">Sequences.</param>
    /// <param name="seqLen">Time steps.</param>
    /// <param name="batchFirst">The caller's layout.</param>
    /// <param name="rows">The time-major rows; the padding between segments is cleared.</param>
    public static void ToTimeMajorRows(
        ReadOnlySpan<float> dense, int rowStride, int segmentWidth, int segmentStride, int segments,
        int batch, int seqLen, bool batchFirst, Span<float> rows)
    {
        rows.Slice(0, batch * seqLen * rowStride).Clear();
        var layout = new SequenceLayout(rowStride, segmentWidth, segmentStride, segments, batch, seqLen, batchFirst);
        for (int i = 0; i < layout.Runs; i++)
        {
            dense.Slice(layout.DenseOffset(i), segmentWidth).CopyTo(rows.Slice(layout.RowOffset(i), segmentWidth));
        }
    }

    /// <summary>
    /// Draws an inverted-dropout mask: each value is <c>1 / (1 - p)</c> with probability <c>1 - p</c>, else 0
    /// (PyTorch's scaling; the mask itself comes from <paramref name="generator"/>, not PyTorch's stream).
    /// </summary>
    /// <param name="generator">The model's dropout generator.</param>
    /// <param name="p">The dropout probability, in [0, 1).</param>
    /// <param name="mask">The mask to fill.</param>
    public static void DropoutMask(TorchGenerator generator, float p, Span<float> mask)
    {
        ArgumentNullException.ThrowIfNull(generator);
        float scale = 1f / (1f - p);
        double threshold = p * 4294967296.0;
        for (int i = 0; i < mask.Length; i++)
        {
            mask[i] = generator.NextUInt32() >= threshold ? scale : 0f;
        }
    }

    /// <summary>Multiplies elementwise: <c>destination[i] = x[i] * y[i]</c>.</summary>
    /// <param name="x">The first factors.</param>
    /// <param name="y">The second factors.</param>
    /// <param name="destination">The products; may be <paramref name="x"/>.</param>
    public static void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> destination) =>
        TensorPrimitives.Multiply(x, y.Slice(0, x.Length), destination);

    private static bool s_stepVector512 = Vector512.IsHardwareAccelerated;

    /// <summary>
    /// Whether a model's <c>Step</c> runs its 512-bit kernels (generated for models whose recurrent layers' padded
    /// hidden sizes are whole numbers of 16-float vectors): true where <see cref="Vector512"/> is hardware-accelerated,
    /// and it cannot be made true elsewhere. Both kernels give the same bits (each lane sums in the same order and the
    /// activations are bit-identical at every width); the switch exists so that tests and comparisons can run the
    /// 256-bit ones on a machine with AVX-512.
    /// </summary>
    public static bool StepVector512
    {
        get => s_stepVector512;
        set => s_stepVector512 = value && Vector512.IsHardwareAccelerated;
    }

    /// <summary>
    /// Checks a model's input tensor: <c>[B, T, inputSize]</c> (<c>[T, B, inputSize]</c> when not batch-first) or unbatched
    /// <c>[T, inputSize]</c>, no dimension empty; throws naming the expected and the actual shape.
    /// </summary>
    /// <param name="input">The input.</param>
    /// <param name="inputSize">The model's features per step.</param>
    /// <param name="batchFirst">The model's layout.</param>
    /// <returns>The batch size, the sequence length and whether the input is unbatched.</returns>
    public static (int Batch, int SeqLen, bool Unbatched) CheckInput(Tensor input, int inputSize, bool batchFirst)
    {
        ArgumentNullException.ThrowIfNull(input);
        IReadOnlyList<int> s = input.Shape;
        if (input.Rank == 3 && s[2] == inputSize && s[0] > 0 && s[1] > 0)
        {
            return batchFirst ? (s[0], s[1], false) : (s[1], s[0], false);
        }

        if (input.Rank == 2 && s[1] == inputSize && s[0] > 0)
        {
            return (1, s[0], true);
        }

        string three = $"[*, *, {inputSize}]";
        string two = $"[*, {inputSize}]";
        string expected = input.Rank == 3 ? three : input.Rank == 2 ? two : three + " or " + two;
        ThrowShape("input", input.Length == 0 ? expected + " with no empty dimension" : expected, s);
        return default;
    }

    /// <summary>Checks the arguments of a streaming <c>Step</c>: one time step in, one out, and a state of this model.</summary>
    /// <param name="input">The input's length.</param>
    /// <param name="inputSize">The model's input size.</param>
    /// <param name="state">The state.</param>
    /// <param name="layout">The model's state layout (a state made by another model has another).</param>
    /// <param name="output">The output's length.</param>
    /// <param name="outputSize">The model's output size.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CheckStep(int input, int inputSize, ModelState state, StateLayout layout, int output, int outputSize)
    {
        // One branch on the hot path (a step can take tens of nanoseconds); the messages are built out of line.
        if (state is null || !ReferenceEquals(state.Layout, layout) || ((input - inputSize) | (output - outputSize)) != 0)
        {
            ThrowStep(input, inputSize, state, layout, output, outputSize);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowStep(int input, int inputSize, ModelState? state, StateLayout layout, int output, int outputSize)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (input != inputSize)
        {
            ThrowLength("input", $"{inputSize} (one time step)", input);
        }

        if (output != outputSize)
        {
            ThrowLength("output", $"{outputSize} (one time step)", output);
        }

        throw new ArgumentException(
            $"Expected a state of {layout.Model} (from its CreateState), got a state of {state.Layout.Model}: a state belongs to the model class that created it", nameof(state));
    }

    /// <summary>Creates a state of <paramref name="layout"/> from saved values, checking their number.</summary>
    /// <param name="layout">The model's state layout.</param>
    /// <param name="values">Values as <see cref="ModelState.Values"/> gives them.</param>
    /// <returns>The state.</returns>
    public static ModelState CreateState(StateLayout layout, ReadOnlySpan<float> values)
    {
        var state = new ModelState(layout);
        state.SetValues(values);
        return state;
    }

    /// <summary>Throws when <c>Backward</c> comes without a training-mode forward pass to go back through.</summary>
    /// <param name="training">Whether the model is in training mode.</param>
    /// <param name="saved">Whether a training-mode forward pass was saved.</param>
    public static void CheckBackward(bool training, bool saved)
    {
        if (!training)
        {
            throw new InvalidOperationException("Backward needs training mode: call Train(), then Forward, then Backward (the model is in Eval mode).");
        }

        if (!saved)
        {
            throw new InvalidOperationException("Backward needs a Forward in training mode first: there is no forward pass to go back through.");
        }
    }

    /// <summary>Where lane (gate <paramref name="g"/>, unit <paramref name="j"/>) sits in a gate-interleaved row: blocks of units, gates side by side in each.</summary>
    private static int Lane(int g, int j, int gates, int vectorWidth) =>
        ((j / vectorWidth) * gates * vectorWidth) + (g * vectorWidth) + (j % vectorWidth);

    /// <summary>
    /// The runs of features shared by the caller's dense sequence layout and the kernels' time-major padded rows:
    /// run <c>i</c> is segment <c>i % segments</c> of the step <c>i / segments</c> in time-major order.
    /// </summary>
    private readonly record struct SequenceLayout(int RowStride, int SegmentWidth, int SegmentStride, int Segments, int Batch, int SeqLen, bool BatchFirst)
    {
        public int Runs => Batch * SeqLen * Segments;

        public int RowOffset(int run) => ((run / Segments) * RowStride) + ((run % Segments) * SegmentStride);

        public int DenseOffset(int run)
        {
            int row = run / Segments;
            int t = row / Batch;
            int b = row % Batch;
            int denseRow = BatchFirst ? (b * SeqLen) + t : row;
            return (denseRow * Segments * SegmentWidth) + ((run % Segments) * SegmentWidth);
        }
    }
}
