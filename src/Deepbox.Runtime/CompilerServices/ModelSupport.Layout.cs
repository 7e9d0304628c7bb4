using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Deepbox.CompilerServices;

/// <content>Row layouts: the caller's tensors to and from the kernels' time-major padded rows, workspaces, dropout masks.</content>
public static partial class ModelSupport
{
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

        // Row by row in the order the rows are written: whole vectors where the rows are (W1's input, 16 floats a row,
        // 46 to 14 µs against a copy call per row), else a copy call per row. (Through SequenceLayout.Copy, this direction
        // took 27 ns at B = 2, T = 3 against 9 ns before and 5.6 ns here, for a reason not found.) Timed on an
        // AMD EPYC family 25 model 17, Zen 4, FMA peak 117 GFLOP/s.
        if (Vector256.IsHardwareAccelerated && features % 8 == 0 && dense.Length >= batch * seqLen * features && rows.Length >= batch * seqLen * features)
        {
            ref float d0 = ref MemoryMarshal.GetReference(dense);
            ref float r0 = ref MemoryMarshal.GetReference(rows);
            for (int t = 0; t < seqLen; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    ref float from = ref Unsafe.Add(ref d0, ((b * seqLen) + t) * features);
                    ref float to = ref Unsafe.Add(ref r0, ((t * batch) + b) * features);
                    for (int i = 0; i < features; i += 8)
                    {
                        Vector256.LoadUnsafe(ref from, (nuint)i).StoreUnsafe(ref to, (nuint)i);
                    }
                }
            }

            return;
        }

        for (int t = 0; t < seqLen; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                dense.Slice(((b * seqLen) + t) * features, features).CopyTo(rows.Slice(((t * batch) + b) * features, features));
            }
        }
    }

    /// <summary>
    /// <see cref="ToTimeMajor(ReadOnlySpan{float}, int, int, int, bool, Span{float})"/> for a sub-batch: sequences
    /// <paramref name="first"/> to <paramref name="first"/> + <paramref name="batch"/> of the caller's
    /// <paramref name="callerBatch"/>, into time-major rows <c>[T, batch, F]</c> of their own.
    /// </summary>
    /// <param name="dense">The caller's whole sequence batch.</param>
    /// <param name="features">Features per step.</param>
    /// <param name="batch">Sequences of the sub-batch.</param>
    /// <param name="seqLen">Time steps.</param>
    /// <param name="batchFirst">The caller's layout.</param>
    /// <param name="rows">The sub-batch's time-major rows.</param>
    /// <param name="callerBatch">Sequences of the caller's batch.</param>
    /// <param name="first">The sub-batch's first sequence in the caller's batch.</param>
    public static void ToTimeMajor(ReadOnlySpan<float> dense, int features, int batch, int seqLen, bool batchFirst, Span<float> rows, int callerBatch, int first)
    {
        if (batchFirst)
        {
            // The sub-batch's sequences are contiguous in [B, T, F].
            ToTimeMajor(dense.Slice(first * seqLen * features), features, batch, seqLen, batchFirst: true, rows);
            return;
        }

        // [T, B, F]: each step's run of the sub-batch's sequences.
        CopyRows(dense.Slice(first * features), callerBatch * features, rows, batch * features, batch * features, seqLen);
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
        new SequenceLayout(rowStride, segmentWidth, segmentStride, segments, batch, seqLen, batchFirst, batch, 0).Copy(rows, dense, toRows: false);
    }

    /// <summary>
    /// <see cref="FromTimeMajor(ReadOnlySpan{float}, int, int, int, int, int, int, bool, Span{float})"/> for a
    /// sub-batch: its rows <c>[T, batch]</c> into sequences <paramref name="first"/> to <paramref name="first"/> +
    /// <paramref name="batch"/> of the caller's output of <paramref name="callerBatch"/> sequences.
    /// </summary>
    /// <param name="rows">The sub-batch's time-major rows.</param>
    /// <param name="rowStride">Floats per row.</param>
    /// <param name="segmentWidth">Features per segment.</param>
    /// <param name="segmentStride">Floats between segment starts in a row.</param>
    /// <param name="segments">Segments per row.</param>
    /// <param name="batch">Sequences of the sub-batch.</param>
    /// <param name="seqLen">Time steps.</param>
    /// <param name="batchFirst">The caller's layout.</param>
    /// <param name="dense">The caller's whole output.</param>
    /// <param name="callerBatch">Sequences of the caller's batch.</param>
    /// <param name="first">The sub-batch's first sequence in the caller's batch.</param>
    public static void FromTimeMajor(
        ReadOnlySpan<float> rows, int rowStride, int segmentWidth, int segmentStride, int segments,
        int batch, int seqLen, bool batchFirst, Span<float> dense, int callerBatch, int first)
    {
        new SequenceLayout(rowStride, segmentWidth, segmentStride, segments, batch, seqLen, batchFirst, callerBatch, first).Copy(rows, dense, toRows: false);
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
    /// zeroed time-major rows whose features sit in segments (the inverse of <see cref="FromTimeMajor(ReadOnlySpan{float}, int, int, int, int, int, int, bool, Span{float})"/>).
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
        if (segments * segmentWidth != rowStride || (segments > 1 && segmentStride != segmentWidth))
        {
            rows.Slice(0, batch * seqLen * rowStride).Clear(); // the padding between and after the runs
        }

        new SequenceLayout(rowStride, segmentWidth, segmentStride, segments, batch, seqLen, batchFirst, batch, 0).Copy(dense, rows, toRows: true);
    }

    /// <summary>
    /// <see cref="ToTimeMajorRows(ReadOnlySpan{float}, int, int, int, int, int, int, bool, Span{float})"/> for a
    /// sub-batch: sequences <paramref name="first"/> to <paramref name="first"/> + <paramref name="batch"/> of the
    /// caller's gradient of <paramref name="callerBatch"/> sequences, into the sub-batch's rows <c>[T, batch]</c>.
    /// </summary>
    /// <param name="dense">The caller's values.</param>
    /// <param name="rowStride">Floats per time-major row.</param>
    /// <param name="segmentWidth">Features per segment.</param>
    /// <param name="segmentStride">Floats between segment starts in a row.</param>
    /// <param name="segments">Segments per row.</param>
    /// <param name="batch">Sequences of the sub-batch.</param>
    /// <param name="seqLen">Time steps.</param>
    /// <param name="batchFirst">The caller's layout.</param>
    /// <param name="rows">The sub-batch's time-major rows; the padding between segments is cleared.</param>
    /// <param name="callerBatch">Sequences of the caller's batch.</param>
    /// <param name="first">The sub-batch's first sequence in the caller's batch.</param>
    public static void ToTimeMajorRows(
        ReadOnlySpan<float> dense, int rowStride, int segmentWidth, int segmentStride, int segments,
        int batch, int seqLen, bool batchFirst, Span<float> rows, int callerBatch, int first)
    {
        if (segments * segmentWidth != rowStride || (segments > 1 && segmentStride != segmentWidth))
        {
            rows.Slice(0, batch * seqLen * rowStride).Clear();
        }

        new SequenceLayout(rowStride, segmentWidth, segmentStride, segments, batch, seqLen, batchFirst, callerBatch, first).Copy(dense, rows, toRows: true);
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

    /// <summary>
    /// The runs of features shared by the caller's dense sequence layout and the kernels' time-major padded rows: step
    /// <c>t</c> of sequence <c>b</c> is row <c>t * Batch + b</c>, and each of its <c>Segments</c> runs of
    /// <c>SegmentWidth</c> features sits at <c>SegmentStride</c> floats from the last in the row and right after it in
    /// the dense layout.
    /// </summary>
    private readonly record struct SequenceLayout(int RowStride, int SegmentWidth, int SegmentStride, int Segments, int Batch, int SeqLen, bool BatchFirst, int DenseBatch, int First)
    {
        /// <summary>The error of a span too short for the layout: a method of its own, so that the copy's frame stays small.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void ThrowTooShort(int needed, int room, int source, int destination) =>
            throw new ArgumentException($"Expected {needed} source and {room} destination floats, got {source} and {destination}.");

        /// <summary>
        /// Copies every run from <paramref name="source"/> to <paramref name="destination"/>: dense to rows when
        /// <paramref name="toRows"/>, else rows to dense. Both lengths are checked once; the loop then walks the
        /// rows in order without a division or a bounds check per run (a call per run cost 30 ns, as much as the
        /// copy of a 64-float run).
        /// </summary>
        public void Copy(ReadOnlySpan<float> source, Span<float> destination, bool toRows)
        {
            int count = Batch * SeqLen;
            if (count == 0)
            {
                return;
            }

            int rowsLength = ((count - 1) * RowStride) + ((Segments - 1) * SegmentStride) + SegmentWidth;
            // The dense side: sequences First to First + Batch of DenseBatch (all of them, from 0, but for a sub-batch).
            int denseRows = BatchFirst ? (First + Batch) * SeqLen : ((SeqLen - 1) * DenseBatch) + First + Batch;
            int denseLength = denseRows * Segments * SegmentWidth;
            int needed = toRows ? denseLength : rowsLength;
            int room = toRows ? rowsLength : denseLength;
            if (source.Length < needed || destination.Length < room)
            {
                ThrowTooShort(needed, room, source.Length, destination.Length);
            }

            ref float src = ref MemoryMarshal.GetReference(source);
            ref float dst = ref MemoryMarshal.GetReference(destination);
            int width = SegmentWidth;
            bool vectors = Vector256.IsHardwareAccelerated && width % 8 == 0;
            for (int b = 0; b < Batch; b++)
            {
                for (int t = 0; t < SeqLen; t++)
                {
                    int row = (t * Batch) + b;
                    int denseRow = BatchFirst ? ((First + b) * SeqLen) + t : (t * DenseBatch) + First + b;
                    for (int g = 0; g < Segments; g++)
                    {
                        int rowAt = (row * RowStride) + (g * SegmentStride);
                        int denseAt = (denseRow * Segments * width) + (g * width);
                        ref float from = ref Unsafe.Add(ref src, toRows ? denseAt : rowAt);
                        ref float to = ref Unsafe.Add(ref dst, toRows ? rowAt : denseAt);
                        if (vectors)
                        {
                            for (int i = 0; i < width; i += 8)
                            {
                                Vector256.LoadUnsafe(ref from, (nuint)i).StoreUnsafe(ref to, (nuint)i);
                            }
                        }
                        else
                        {
                            MemoryMarshal.CreateReadOnlySpan(ref from, width).CopyTo(MemoryMarshal.CreateSpan(ref to, width));
                        }
                    }
                }
            }
        }
    }
}
