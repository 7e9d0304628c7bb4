using System;
using System.Collections.Generic;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Deepbox;

/// <summary>How a loss combines its per-element terms, as PyTorch's <c>reduction</c> argument.</summary>
public enum Reduction
{
    /// <summary>The average over the elements (over the N rows for cross-entropy); the gradient is divided by that count.</summary>
    Mean,

    /// <summary>The sum of the terms.</summary>
    Sum,
}

/// <summary>
/// Loss functions returning the loss and its gradient with respect to the prediction (logits), with PyTorch's
/// definitions and reductions.
/// </summary>
/// <remarks>
/// <para>
/// Each loss comes in two forms. The span form is the core: it writes the gradient into a caller-owned span,
/// overwriting it (it does not add), and allocates nothing; an empty gradient span computes the loss alone. The
/// <see cref="Tensor"/> form checks shapes, throws an <see cref="ArgumentException"/> naming the expected and the
/// actual shape (<c>Expected target [8, 1], got [8]</c>), and returns a new gradient tensor of the prediction's shape.
/// </para>
/// <para>
/// Losses are accumulated in double and returned in float32; gradients are computed in float32. A mean over zero
/// elements is NaN, as in PyTorch.
/// </para>
/// </remarks>
public static partial class Losses
{
    private const int BlockSize = 256;

    /// <summary>
    /// The mean squared error, <c>torch.nn.MSELoss</c>: with <c>n</c> elements,
    /// <code>
    /// loss     = sum((p - t)^2) / n          (Sum: no division)
    /// gradient = 2 * (p - t) / n             (Sum: 2 * (p - t))
    /// </code>
    /// </summary>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets, as many as the predictions.</param>
    /// <param name="gradient">Receives dloss/dprediction, as many values as the predictions; empty for the loss alone.</param>
    /// <param name="reduction">Mean (the default) or sum over the elements.</param>
    /// <param name="threads">How many threads may share the work (the caller and the process's workers, as a model's
    /// <see cref="IModel.Threads"/>; pass the model's): a training step then reads each half of a batch's outputs on the
    /// core that wrote them. The loss and the gradient have the same bits on any number of threads. Long inputs only
    /// split (<see cref="MinElementsPerThread"/> a thread at least).</param>
    /// <returns>The loss.</returns>
    /// <exception cref="ArgumentException">A length differs from the prediction's.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is less than 1.</exception>
    public static float Mse(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, Reduction reduction = Reduction.Mean, int threads = 1)
    {
        CheckLength(nameof(target), prediction.Length, target.Length);
        CheckGradient(gradient, prediction.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        double scale = Scale(reduction, prediction.Length);
        double sum = SquaredDifferenceRuns(prediction, target, gradient, (float)(2 * scale), Runs.Chunks(prediction.Length), default, prediction.Length, threads);
        return (float)(sum * scale);
    }

    /// <summary>
    /// The mean squared error of a sequence model's outputs over the valid steps only: each sequence counts up to its
    /// length, the padded steps after it add nothing and get a zero gradient, and Mean divides by the valid elements
    /// (PyTorch's <c>((p - t)**2)[mask].mean()</c> with <c>mask[b, t] = t &lt; lengths[b]</c>: padding is left out even
    /// where it holds NaN, as boolean indexing leaves it out, where multiplying by the mask would not).
    /// </summary>
    /// <param name="prediction">The outputs, <c>[B, T, F]</c> (batch-first) or <c>[T, B, F]</c>.</param>
    /// <param name="target">The targets, laid out as the outputs.</param>
    /// <param name="gradient">Receives dloss/dprediction (zero at padded steps); empty for the loss alone.</param>
    /// <param name="lengths">Each sequence's length, in <c>[1, seqLen]</c>; B of them.</param>
    /// <param name="seqLen">T, the padded length.</param>
    /// <param name="batchFirst">Whether the layout is <c>[B, T, F]</c> (the default) or <c>[T, B, F]</c>.</param>
    /// <param name="reduction">Mean over the valid elements (the default) or sum.</param>
    /// <param name="threads">How many threads may share the work, as in the form without lengths (the same bits on any
    /// number).</param>
    /// <returns>The loss.</returns>
    /// <exception cref="ArgumentException">A length is out of range (named with its index), or a buffer's length is not
    /// <c>B * T * F</c>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is less than 1.</exception>
    public static float Mse(
        ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, ReadOnlySpan<int> lengths, int seqLen, bool batchFirst = true, Reduction reduction = Reduction.Mean, int threads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        int batch = lengths.Length;
        if (batch == 0 || seqLen <= 0 || prediction.Length == 0 || prediction.Length % (batch * seqLen) != 0)
        {
            throw new ArgumentException(
                $"Expected predictions of B * T * F values for B = {batch} lengths and T = {seqLen}, got {prediction.Length}", nameof(prediction));
        }

        CheckLength(nameof(target), prediction.Length, target.Length);
        CheckGradient(gradient, prediction.Length);
        int features = prediction.Length / (batch * seqLen);
        long valid = 0;
        for (int b = 0; b < batch; b++)
        {
            if (lengths[b] < 1 || lengths[b] > seqLen)
            {
                throw new ArgumentException($"lengths[{b}] is {lengths[b]}, outside [1, {seqLen}]", nameof(lengths));
            }

            valid += lengths[b];
        }

        double scale = Scale(reduction, checked((int)(valid * features)));
        if (!gradient.IsEmpty)
        {
            // Zeros past each length; the valid steps are written below.
            Deepbox.CompilerServices.SequenceLengths.ClearPadding(gradient, lengths, seqLen, features, batchFirst);
        }

        // Batch-first, sequence b's valid steps are one run of lengths[b] * F values; time-major, step t holds a row of F
        // values per sequence, and those of the sequences still running count. Each run is summed on its own and the runs'
        // sums added in order, on any number of threads.
        Runs runs = Runs.ByLengths(batchFirst, batch, seqLen, features);
        double sum = SquaredDifferenceRuns(prediction, target, gradient, (float)(2 * scale), runs, lengths, valid * features, threads);
        return (float)(sum * scale);
    }

    /// <summary>
    /// The sum of squared differences over <c>[start, start + count)</c>, in double, and, when there is a gradient,
    /// <c>(p - t) * gradScale</c> written into it: one pass, where TensorPrimitives would take three (the difference,
    /// its widening to double, the sum) and a fourth for the scale. Each difference is rounded to float first, as
    /// PyTorch's float32 <c>p - t</c> is; its square is exact in double.
    /// </summary>
    private static double SquaredDifferences(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, float gradScale, int start, int count)
    {
        ReadOnlySpan<float> p = prediction.Slice(start, count);
        ReadOnlySpan<float> t = target.Slice(start, count);
        Span<float> g = gradient.IsEmpty ? default : gradient.Slice(start, count);
        int i = 0;
        double sum = 0;
        if (Vector256.IsHardwareAccelerated && count >= Vector256<float>.Count)
        {
            ref float p0 = ref MemoryMarshal.GetReference(p);
            ref float t0 = ref MemoryMarshal.GetReference(t);
            ref float g0 = ref MemoryMarshal.GetReference(g);
            bool write = !g.IsEmpty;
            Vector256<float> s = Vector256.Create(gradScale);
            Vector256<double> a0 = Vector256<double>.Zero, a1 = Vector256<double>.Zero, a2 = Vector256<double>.Zero, a3 = Vector256<double>.Zero;
            for (; i <= count - 16; i += 16)
            {
                Vector256<float> d0 = Vector256.LoadUnsafe(ref p0, (nuint)i) - Vector256.LoadUnsafe(ref t0, (nuint)i);
                Vector256<float> d1 = Vector256.LoadUnsafe(ref p0, (nuint)(i + 8)) - Vector256.LoadUnsafe(ref t0, (nuint)(i + 8));
                if (write)
                {
                    (d0 * s).StoreUnsafe(ref g0, (nuint)i);
                    (d1 * s).StoreUnsafe(ref g0, (nuint)(i + 8));
                }

                (Vector256<double> l0, Vector256<double> h0) = Vector256.Widen(d0);
                (Vector256<double> l1, Vector256<double> h1) = Vector256.Widen(d1);
                a0 += l0 * l0;
                a1 += h0 * h0;
                a2 += l1 * l1;
                a3 += h1 * h1;
            }

            for (; i <= count - 8; i += 8)
            {
                Vector256<float> d0 = Vector256.LoadUnsafe(ref p0, (nuint)i) - Vector256.LoadUnsafe(ref t0, (nuint)i);
                if (write)
                {
                    (d0 * s).StoreUnsafe(ref g0, (nuint)i);
                }

                (Vector256<double> l0, Vector256<double> h0) = Vector256.Widen(d0);
                a0 += l0 * l0;
                a1 += h0 * h0;
            }

            sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        }

        for (; i < count; i++)
        {
            float d = p[i] - t[i];
            if (!g.IsEmpty)
            {
                g[i] = d * gradScale;
            }

            sum += (double)d * d;
        }

        return sum;
    }

    /// <summary>
    /// The mean squared error of two tensors of one shape, <c>torch.nn.MSELoss</c>:
    /// <c>loss = sum((p - t)^2) / n</c>, <c>gradient = 2 * (p - t) / n</c> (Sum: no division by <c>n</c>).
    /// </summary>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets, of the prediction's shape.</param>
    /// <param name="reduction">Mean (the default) or sum over the elements.</param>
    /// <param name="threads">How many threads may share the work, as in the span form (the same bits on any number).</param>
    /// <returns>The loss and a new tensor of dloss/dprediction, of the prediction's shape.</returns>
    /// <exception cref="ArgumentException">The shapes differ: <c>Expected target [8, 1], got [8]</c>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is less than 1.</exception>
    public static (float Loss, Tensor Gradient) Mse(Tensor prediction, Tensor target, Reduction reduction = Reduction.Mean, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        CheckSameShape(nameof(target), prediction.Shape, target.Shape);
        Tensor gradient = NewLike(prediction);
        float loss = Mse(prediction.AsSpan(), target.AsSpan(), gradient.AsSpan(), reduction, threads);
        return (loss, gradient);
    }

    /// <summary>
    /// The cross-entropy of logits against class ids, <c>torch.nn.CrossEntropyLoss</c>, through a numerically stable
    /// log-softmax. For row <c>i</c> of <c>N</c> with logits <c>x</c> and class <c>y</c>, <c>M = max(x)</c>:
    /// <code>
    /// loss_i   = M + log(sum_j exp(x_j - M)) - x_y
    /// loss     = sum_i loss_i / N                        (Sum: no division)
    /// gradient = (softmax(x) - onehot(y)) / N            (Sum: no division)
    /// </code>
    /// </summary>
    /// <param name="logits">The unnormalized scores, row-major <c>[N, C]</c>: <c>N * C</c> values.</param>
    /// <param name="targets">The class id of each row, each in <c>[0, C)</c>; there are <c>N</c> of them, and <c>C</c> is the number of logits over N.</param>
    /// <param name="gradient">Receives dloss/dlogits, <c>N * C</c> values; empty for the loss alone.</param>
    /// <param name="reduction">Mean over the rows (the default) or sum.</param>
    /// <param name="ignoreIndex">A class id that marks a row to leave out (padding, PyTorch's <c>ignore_index</c>, default
    /// -100): it adds nothing to the loss, gets a zero gradient, and Mean divides by the rows not left out (NaN when all
    /// are, as PyTorch gives).</param>
    /// <param name="threads">How many threads may share the work, as in <see cref="Mse(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Reduction, int)"/>:
    /// rows split across the workers when the logits give each thread <see cref="MinElementsPerThread"/>; each row's loss
    /// is its own and the rows' losses are added in order, so the same bits on any number of threads.</param>
    /// <returns>The loss.</returns>
    /// <exception cref="ArgumentException">The logits are not a whole, non-empty number of rows per class id, or the gradient's length differs.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A class id is neither in <c>[0, C)</c> nor <paramref name="ignoreIndex"/>, or <paramref name="threads"/> is less than 1.</exception>
    public static float CrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> gradient, Reduction reduction = Reduction.Mean, int ignoreIndex = -100, int threads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        int rows = targets.Length;
        if (rows == 0 ? logits.Length != 0 : logits.Length == 0 || logits.Length % rows != 0)
        {
            throw new ArgumentException(
                $"Expected logits of length N * C for N = {rows} class ids and C >= 1 classes, got {logits.Length}", nameof(logits));
        }

        CheckGradient(gradient, logits.Length);
        if (rows == 0)
        {
            return (float)(0 * Scale(reduction, rows));
        }

        int classes = logits.Length / rows;
        int counted = 0;
        for (int i = 0; i < rows; i++)
        {
            if (targets[i] == ignoreIndex)
            {
                continue;
            }

            if ((uint)targets[i] >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(targets), targets[i], $"Expected class ids in [0, {classes}) or the ignored {ignoreIndex}, got {targets[i]} for row {i}");
            }

            counted++;
        }

        double scale = Scale(reduction, counted); // Mean over the rows that count: 1 / 0 = infinity, and 0 * infinity = NaN when none does

        // Each row's loss from the row alone, the rows' losses added in order: on one thread as on several.
        double sum = (t_splitCrossEntropy ??= new SplitCrossEntropy()).Run(logits, targets, gradient, scale, ignoreIndex, threads);
        return (float)(sum * scale);
    }

    /// <summary>
    /// Row <paramref name="i"/>'s cross-entropy, <c>M + log(sum_j exp(x_j - M)) - x_y</c>, and, with a gradient, its row
    /// <c>softmax(x) * scale</c> less <c>scale</c> at the class; a row left out (<paramref name="ignoreIndex"/>) adds 0 and
    /// gets zeros. <paramref name="scratch"/> holds a block of exponentials when there is no gradient to hold them.
    /// </summary>
    private static double CrossEntropyRow(
        ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> gradient, int i, int classes, double scale, int ignoreIndex, Span<float> scratch)
    {
        if (targets[i] == ignoreIndex)
        {
            if (!gradient.IsEmpty)
            {
                gradient.Slice(i * classes, classes).Clear();
            }

            return 0;
        }

        ReadOnlySpan<float> row = logits.Slice(i * classes, classes);
        float max = TensorPrimitives.Max(row);
        double sumExp = 0;
        if (gradient.IsEmpty)
        {
            for (int start = 0; start < classes; start += BlockSize)
            {
                int n = Math.Min(BlockSize, classes - start);
                Span<float> e = scratch[..n];
                TensorPrimitives.Subtract(row.Slice(start, n), max, e);
                TensorPrimitives.Exp(e, e);
                sumExp += DoubleSums.Sum(e);
            }
        }
        else
        {
            Span<float> g = gradient.Slice(i * classes, classes);
            TensorPrimitives.Subtract(row, max, g);
            TensorPrimitives.Exp(g, g);
            sumExp = DoubleSums.Sum(g);
            TensorPrimitives.Multiply(g, (float)(scale / sumExp), g);
            g[targets[i]] -= (float)scale;
        }

        return (double)max + Math.Log(sumExp) - row[targets[i]];
    }

    /// <summary>
    /// The cross-entropy of logits against class ids, <c>torch.nn.CrossEntropyLoss</c>, with the classes along the last
    /// dimension: <c>[N, C]</c>, or a sequence model's <c>[B, T, C]</c> against <c>B * T</c> ids (PyTorch's
    /// <c>loss(logits.reshape(-1, C), targets.reshape(-1))</c>); see
    /// <see cref="CrossEntropy(ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, Reduction, int, int)"/>:
    /// <c>loss_i = logsumexp(x) - x_y</c>, <c>gradient = (softmax(x) - onehot(y)) / N</c> (Sum: no division), rows whose
    /// id is <paramref name="ignoreIndex"/> left out.
    /// </summary>
    /// <param name="logits">The unnormalized scores, the classes (at least 1) along the last dimension.</param>
    /// <param name="targets">The class id of each row, each in <c>[0, C)</c> or <paramref name="ignoreIndex"/>.</param>
    /// <param name="reduction">Mean over the rows that count (the default) or sum.</param>
    /// <param name="ignoreIndex">The id of rows to leave out (padding; PyTorch's default -100).</param>
    /// <param name="threads">How many threads may share the work, as in the span form (the same bits on any number).</param>
    /// <returns>The loss and a new tensor of dloss/dlogits, shaped as the logits.</returns>
    /// <exception cref="ArgumentException">The logits have no class dimension or the number of class ids is not the number of rows: <c>Expected targets [8], got [5]</c>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A class id is neither in <c>[0, C)</c> nor <paramref name="ignoreIndex"/>, or <paramref name="threads"/> is less than 1.</exception>
    public static (float Loss, Tensor Gradient) CrossEntropy(Tensor logits, ReadOnlySpan<int> targets, Reduction reduction = Reduction.Mean, int ignoreIndex = -100, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (logits.Rank < 2 || logits.Shape[^1] < 1)
        {
            throw new ArgumentException($"Expected logits [N, C] or [B, T, C] with C >= 1, got {Tensor.FormatShape(logits.Shape)}", nameof(logits));
        }

        int rows = logits.Length / logits.Shape[^1];
        if (targets.Length != rows)
        {
            throw new ArgumentException(
                $"Expected targets [{rows}], got [{targets.Length}] (one class id per row of logits {Tensor.FormatShape(logits.Shape)})",
                nameof(targets));
        }

        Tensor gradient = NewLike(logits);
        float loss = CrossEntropy(logits.AsSpan(), targets, gradient.AsSpan(), reduction, ignoreIndex, threads);
        return (loss, gradient);
    }

    /// <summary>
    /// The binary cross-entropy of logits against targets, <c>torch.nn.BCEWithLogitsLoss</c>, in the stable form that
    /// never takes the exponential of a positive number. For logit <c>x</c> and target <c>t</c> (a probability in
    /// [0, 1], not checked), <c>n</c> elements:
    /// <code>
    /// loss_i   = max(x, 0) - x * t + log(1 + exp(-|x|))
    /// loss     = sum_i loss_i / n                         (Sum: no division)
    /// gradient = (sigmoid(x) - t) / n                     (Sum: no division)
    /// </code>
    /// </summary>
    /// <param name="logits">The logits.</param>
    /// <param name="targets">The targets, as many as the logits.</param>
    /// <param name="gradient">Receives dloss/dlogits, as many values as the logits; empty for the loss alone.</param>
    /// <param name="reduction">Mean (the default) or sum over the elements.</param>
    /// <returns>The loss.</returns>
    /// <exception cref="ArgumentException">A length differs from the logits'.</exception>
    public static float BceWithLogits(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, Span<float> gradient, Reduction reduction = Reduction.Mean)
    {
        CheckLength(nameof(targets), logits.Length, targets.Length);
        CheckGradient(gradient, logits.Length);
        double scale = Scale(reduction, logits.Length);
        Span<double> x = stackalloc double[BlockSize];
        Span<double> t = stackalloc double[BlockSize];
        Span<double> work = stackalloc double[BlockSize];
        double sum = 0;
        for (int start = 0; start < logits.Length; start += BlockSize)
        {
            Span<double> xs = DoubleSums.Widen(logits, start, x);
            Span<double> ts = DoubleSums.Widen(targets, start, t);
            Span<double> w = work[..xs.Length];

            // log(1 + exp(-|x|)) + max(x, 0) - x * t, in double.
            TensorPrimitives.Abs<double>(xs, w);
            TensorPrimitives.Negate<double>(w, w);
            TensorPrimitives.Exp<double>(w, w);
            TensorPrimitives.Add<double>(w, 1.0, w);
            TensorPrimitives.Log<double>(w, w);
            sum += TensorPrimitives.Sum<double>(w);
            TensorPrimitives.Max<double>(xs, 0.0, w);
            sum += TensorPrimitives.Sum<double>(w) - TensorPrimitives.Dot<double>(xs, ts);
        }

        if (!gradient.IsEmpty)
        {
            TensorPrimitives.Sigmoid(logits, gradient);
            TensorPrimitives.Subtract(gradient, targets, gradient);
            if (reduction == Reduction.Mean)
            {
                TensorPrimitives.Multiply(gradient, (float)scale, gradient);
            }
        }

        return (float)(sum * scale);
    }

    /// <summary>
    /// The binary cross-entropy of logits against targets of one shape, <c>torch.nn.BCEWithLogitsLoss</c>; see
    /// <see cref="BceWithLogits(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Reduction)"/>:
    /// <c>loss_i = max(x, 0) - x * t + log(1 + exp(-|x|))</c>, <c>gradient = (sigmoid(x) - t) / n</c> (Sum: no division).
    /// </summary>
    /// <param name="logits">The logits.</param>
    /// <param name="targets">The targets in [0, 1], of the logits' shape.</param>
    /// <param name="reduction">Mean (the default) or sum over the elements.</param>
    /// <returns>The loss and a new tensor of dloss/dlogits, of the logits' shape.</returns>
    /// <exception cref="ArgumentException">The shapes differ: <c>Expected targets [8, 1], got [8]</c>.</exception>
    public static (float Loss, Tensor Gradient) BceWithLogits(Tensor logits, Tensor targets, Reduction reduction = Reduction.Mean)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        CheckSameShape(nameof(targets), logits.Shape, targets.Shape);
        Tensor gradient = NewLike(logits);
        float loss = BceWithLogits(logits.AsSpan(), targets.AsSpan(), gradient.AsSpan(), reduction);
        return (loss, gradient);
    }

    /// <summary>1/count for <see cref="Reduction.Mean"/> (infinity for no elements, so the mean is NaN), 1 for <see cref="Reduction.Sum"/>.</summary>
    private static double Scale(Reduction reduction, int count) => reduction switch
    {
        Reduction.Mean => 1.0 / count,
        Reduction.Sum => 1.0,
        _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Expected Reduction.Mean or Reduction.Sum."),
    };

    private static void CheckLength(string what, int expected, int actual)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"Expected {what} of length {expected}, got {actual}", what);
        }
    }

    private static void CheckGradient(Span<float> gradient, int expected)
    {
        if (!gradient.IsEmpty && gradient.Length != expected)
        {
            throw new ArgumentException($"Expected gradient of length {expected} (or empty), got {gradient.Length}", nameof(gradient));
        }
    }

    private static void CheckSameShape(string what, IReadOnlyList<int> expected, IReadOnlyList<int> actual)
    {
        bool same = expected.Count == actual.Count;
        for (int i = 0; same && i < expected.Count; i++)
        {
            same = expected[i] == actual[i];
        }

        if (!same)
        {
            throw new ArgumentException($"Expected {what} {Tensor.FormatShape(expected)}, got {Tensor.FormatShape(actual)}", what);
        }
    }

    private static Tensor NewLike(Tensor tensor)
    {
        var shape = new int[tensor.Rank];
        for (int i = 0; i < shape.Length; i++)
        {
            shape[i] = tensor.Shape[i];
        }

        return Tensor.Zeros(shape);
    }
}
