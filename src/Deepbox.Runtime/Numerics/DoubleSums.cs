using System;
using System.Numerics.Tensors;

namespace Deepbox;

/// <summary>Reductions of float32 spans accumulated in double, widened block by block on the stack.</summary>
internal static class DoubleSums
{
    private const int BlockSize = 256;

    /// <summary>The sum of the values, in double.</summary>
    public static double Sum(ReadOnlySpan<float> x)
    {
        Span<double> wide = stackalloc double[BlockSize];
        double sum = 0;
        for (int start = 0; start < x.Length; start += BlockSize)
        {
            Span<double> w = Widen(x, start, wide);
            sum += TensorPrimitives.Sum<double>(w);
        }

        return sum;
    }

    /// <summary>The sum of the squares, in double.</summary>
    public static double SumOfSquares(ReadOnlySpan<float> x)
    {
        Span<double> wide = stackalloc double[BlockSize];
        double sum = 0;
        for (int start = 0; start < x.Length; start += BlockSize)
        {
            Span<double> w = Widen(x, start, wide);
            sum += TensorPrimitives.SumOfSquares<double>(w);
        }

        return sum;
    }

    /// <summary>The sum of the absolute values, in double.</summary>
    public static double SumOfMagnitudes(ReadOnlySpan<float> x)
    {
        Span<double> wide = stackalloc double[BlockSize];
        double sum = 0;
        for (int start = 0; start < x.Length; start += BlockSize)
        {
            Span<double> w = Widen(x, start, wide);
            sum += TensorPrimitives.SumOfMagnitudes<double>(w);
        }

        return sum;
    }

    /// <summary>Converts the block of <paramref name="x"/> at <paramref name="start"/> into the front of <paramref name="wide"/>.</summary>
    public static Span<double> Widen(ReadOnlySpan<float> x, int start, Span<double> wide)
    {
        int n = Math.Min(wide.Length, x.Length - start);
        Span<double> w = wide[..n];
        TensorPrimitives.ConvertChecked<float, double>(x.Slice(start, n), w);
        return w;
    }
}
