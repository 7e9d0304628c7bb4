using System;
using System.Numerics.Tensors;

namespace Deepbox;

/// <summary>
/// What a classifier's logits are read with: <see cref="Softmax(ReadOnlySpan{float}, int, Span{float})"/>,
/// <see cref="ArgMax(ReadOnlySpan{float}, int, Span{int})"/> and <see cref="Accuracy(ReadOnlySpan{float}, int, ReadOnlySpan{int})"/>,
/// over rows of <c>classes</c> floats (the last dimension, as <c>torch.softmax(x, dim=-1)</c> and
/// <c>x.argmax(dim=-1)</c>). The span forms allocate nothing.
/// </summary>
/// <remarks>A NaN logit makes its row's probabilities NaN, and its row's argmax the first NaN's class, as in PyTorch.</remarks>
public static class Classification
{
    /// <summary>Each row's softmax, <c>exp(x - max) / sum(exp(x - max))</c> (no overflow for large logits).</summary>
    /// <param name="logits">Rows of <paramref name="classes"/> logits.</param>
    /// <param name="classes">Floats per row.</param>
    /// <param name="probabilities">Receives the rows' probabilities, as long as <paramref name="logits"/>; may be the same span.</param>
    public static void Softmax(ReadOnlySpan<float> logits, int classes, Span<float> probabilities)
    {
        int rows = Rows(logits.Length, classes);
        CheckLength(nameof(probabilities), probabilities.Length, logits.Length);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = logits.Slice(r * classes, classes);
            Span<float> y = probabilities.Slice(r * classes, classes);
            float max = TensorPrimitives.Max(x);
            TensorPrimitives.Subtract(x, max, y);
            TensorPrimitives.Exp(y, y);
            TensorPrimitives.Divide(y, TensorPrimitives.Sum(y), y);
        }
    }

    /// <summary>The softmax over the last dimension, in a new tensor of the same shape.</summary>
    /// <param name="logits">Logits, the classes along the last dimension.</param>
    public static Tensor Softmax(Tensor logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        Tensor result = Tensor.Zeros([.. logits.Shape]);
        Softmax(logits.AsSpan(), Classes(logits), result.AsSpan());
        return result;
    }

    /// <summary>Each row's class of the largest logit (the first of equal ones; a NaN's if there is one).</summary>
    /// <param name="logits">Rows of <paramref name="classes"/> logits.</param>
    /// <param name="classes">Floats per row.</param>
    /// <param name="predictions">Receives one class per row.</param>
    public static void ArgMax(ReadOnlySpan<float> logits, int classes, Span<int> predictions)
    {
        int rows = Rows(logits.Length, classes);
        CheckLength(nameof(predictions), predictions.Length, rows);
        for (int r = 0; r < rows; r++)
        {
            predictions[r] = TensorPrimitives.IndexOfMax(logits.Slice(r * classes, classes));
        }
    }

    /// <summary>The class of the largest logit along the last dimension, one per row.</summary>
    /// <param name="logits">Logits, the classes along the last dimension.</param>
    public static int[] ArgMax(Tensor logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        int classes = Classes(logits);
        var predictions = new int[logits.Length / classes];
        ArgMax(logits.AsSpan(), classes, predictions);
        return predictions;
    }

    /// <summary>The share of rows whose argmax is the label, in [0, 1].</summary>
    /// <param name="logits">Rows of <paramref name="classes"/> logits.</param>
    /// <param name="classes">Floats per row.</param>
    /// <param name="labels">One label per row, each in [0, classes).</param>
    /// <exception cref="ArgumentException">A length does not match, or a label is out of range (named with its row).</exception>
    public static double Accuracy(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels)
    {
        int rows = Rows(logits.Length, classes);
        CheckLength(nameof(labels), labels.Length, rows);
        if (rows == 0)
        {
            throw new ArgumentException("Accuracy of no rows is undefined: the logits are empty.", nameof(logits));
        }

        int correct = 0;
        for (int r = 0; r < rows; r++)
        {
            int label = labels[r];
            if ((uint)label >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(labels), label, $"labels[{r}] is {label}, outside [0, {classes}).");
            }

            correct += TensorPrimitives.IndexOfMax(logits.Slice(r * classes, classes)) == label ? 1 : 0;
        }

        return correct / (double)rows;
    }

    /// <summary>The share of rows whose argmax along the last dimension is the label.</summary>
    /// <param name="logits">Logits, the classes along the last dimension.</param>
    /// <param name="labels">One label per row.</param>
    public static double Accuracy(Tensor logits, ReadOnlySpan<int> labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        return Accuracy(logits.AsSpan(), Classes(logits), labels);
    }

    private static int Classes(Tensor logits) =>
        logits.Shape.Count > 0 && logits.Shape[^1] > 0
            ? logits.Shape[^1]
            : throw new ArgumentException($"Expected logits with the classes along a last dimension, got shape {Tensor.FormatShape(logits.Shape)}.", nameof(logits));

    private static int Rows(int length, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (length % classes != 0)
        {
            throw new ArgumentException($"Expected whole rows of {classes} logits, got {length} floats.", "logits");
        }

        return length / classes;
    }

    private static void CheckLength(string name, int actual, int expected)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"Expected {name} of length {expected}, got {actual}.", name);
        }
    }
}
