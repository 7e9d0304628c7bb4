using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;

namespace Deepbox;

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
    /// Packs a PyTorch weight <c>[gates * hidden, cols]</c> (gate blocks stacked by rows) into the input-major,
    /// gate-interleaved layout of the generated kernels: row <c>r</c> of the result holds, for each block of
    /// <paramref name="vectorWidth"/> hidden units, the block's weights of every gate side by side
    /// (<c>[rows][hiddenBlocks][gates][vectorWidth]</c>); hidden units past <paramref name="hidden"/> are zero.
    /// Column <c>c</c> lands in row <c>(c / segmentWidth) * segmentStride + c % segmentWidth</c>, so the halves of a
    /// bidirectional input can sit at padded offsets.
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
        destination.Clear();
        for (int g = 0; g < gates; g++)
        {
            for (int j = 0; j < hidden; j++)
            {
                ReadOnlySpan<float> src = weight.Slice(((g * hidden) + j) * cols, cols);
                int lane = ((j / vectorWidth) * gates * vectorWidth) + (g * vectorWidth) + (j % vectorWidth);
                for (int c = 0; c < cols; c++)
                {
                    int row = ((c / segmentWidth) * segmentStride) + (c % segmentWidth);
                    destination[(row * rowLength) + lane] = src[c];
                }
            }
        }
    }

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

                destination[((j / vectorWidth) * gates * vectorWidth) + (g * vectorWidth) + (j % vectorWidth)] = v;
            }
        }
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

        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < seqLen; t++)
            {
                dense.Slice(((b * seqLen) + t) * features, features).CopyTo(rows.Slice(((t * batch) + b) * features, features));
            }
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
        int features = segments * segmentWidth;
        for (int t = 0; t < seqLen; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                int row = (t * batch) + b;
                int denseRow = batchFirst ? (b * seqLen) + t : row;
                for (int s = 0; s < segments; s++)
                {
                    rows.Slice((row * rowStride) + (s * segmentStride), segmentWidth)
                        .CopyTo(dense.Slice((denseRow * features) + (s * segmentWidth), segmentWidth));
                }
            }
        }
    }
}
