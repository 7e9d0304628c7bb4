using System;
using Deepbox.CompilerServices;

namespace Deepbox;

/// <summary>The mean squared error on several threads: the sum in fixed chunks, so that any number of threads gives the same bits.</summary>
public static partial class Losses
{
    /// <summary>
    /// The elements a thread takes at least when <see cref="Mse(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Reduction, int)"/>
    /// splits its work: below about this many (a few microseconds on one core), waking a worker and joining it costs more
    /// than the second core gives.
    /// </summary>
    public const int MinElementsPerThread = 32_768;

    /// <summary>
    /// The elements whose squared differences are summed on their own before the chunks' sums are added in order: the
    /// unit a thread takes, and the same on one thread, so that the loss does not depend on the threads.
    /// </summary>
    private const int SumChunk = 16_384;

    /// <summary>
    /// The sum of squared differences over the whole span, chunk by chunk of <see cref="SumChunk"/> elements, each
    /// chunk's sum added in order; with a gradient, <c>(p - t) * gradScale</c> written into it. The chunks are split
    /// across up to <paramref name="threads"/> threads in contiguous runs (each thread a run, in the order of the data).
    /// </summary>
    private static double SquaredDifferenceChunks(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, float gradScale, int threads)
    {
        int count = prediction.Length;
        int chunks = (int)(((long)count + SumChunk - 1) / SumChunk);
        int parts = Math.Min(Math.Min(threads, count / MinElementsPerThread), chunks);
        if (parts <= 1)
        {
            double sum = 0;
            for (int c = 0; c < chunks; c++)
            {
                int start = c * SumChunk;
                sum += SquaredDifferences(prediction, target, gradient, gradScale, start, Math.Min(SumChunk, count - start));
            }

            return sum;
        }

        return (t_chunks ??= new ChunkedSquaredDifferences()).Run(prediction, target, gradient, gradScale, chunks, parts);
    }

    /// <summary>This thread's split sum (a region's parts read the caller's spans through it: one per calling thread).</summary>
    [ThreadStatic]
    private static ChunkedSquaredDifferences? t_chunks;

    /// <summary>
    /// One split sum of squared differences: the caller's spans pinned for the region, each part summing a run of whole
    /// chunks into the chunks' sums, which the caller then adds in order.
    /// </summary>
    private sealed unsafe class ChunkedSquaredDifferences : IPartitioned
    {
        private float* _prediction;
        private float* _target;
        private float* _gradient;
        private int _count;
        private bool _hasGradient;
        private float _gradScale;
        private int _chunks;
        private double[] _sums = [];

        public double Run(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, float gradScale, int chunks, int parts)
        {
            if (_sums.Length < chunks)
            {
                _sums = new double[chunks];
            }

            fixed (float* p = prediction)
            fixed (float* t = target)
            fixed (float* g = gradient)
            {
                _prediction = p;
                _target = t;
                _gradient = g;
                (_count, _hasGradient, _gradScale, _chunks) = (prediction.Length, !gradient.IsEmpty, gradScale, chunks);
                try
                {
                    Workers.Run(this, parts, last: true);
                }
                finally
                {
                    _prediction = null;
                    _target = null;
                    _gradient = null;
                }
            }

            double sum = 0;
            for (int c = 0; c < chunks; c++)
            {
                sum += _sums[c];
            }

            return sum;
        }

        public void RunPart(int part, int parts)
        {
            var prediction = new ReadOnlySpan<float>(_prediction, _count);
            var target = new ReadOnlySpan<float>(_target, _count);
            Span<float> gradient = _hasGradient ? new Span<float>(_gradient, _count) : default;
            int first = (int)((long)_chunks * part / parts);
            int end = (int)((long)_chunks * (part + 1) / parts);
            for (int c = first; c < end; c++)
            {
                int start = c * SumChunk;
                _sums[c] = SquaredDifferences(prediction, target, gradient, _gradScale, start, Math.Min(SumChunk, _count - start));
            }
        }
    }
}
