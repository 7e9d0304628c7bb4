using System;
using Deepbox.CompilerServices;

namespace Deepbox;

/// <summary>
/// The losses on several threads: the work in units (the squared differences run by run, fixed chunks or each sequence's
/// valid steps; cross-entropy row by row), each unit's sum from zero, and the units' sums added in order, so that any
/// number of threads gives the same bits.
/// </summary>
public static partial class Losses
{
    /// <summary>
    /// The elements (values, or logits) a thread takes at least when a loss given <c>threads</c> splits its work
    /// (<see cref="Mse(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Reduction, int)"/>, <see cref="CrossEntropy(ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, Reduction, int, int)"/>):
    /// below about this many (a few microseconds on one core), waking a worker and joining it costs more than the second
    /// core gives.
    /// </summary>
    public const int MinElementsPerThread = 32_768;

    /// <summary>
    /// The elements whose squared differences are summed on their own before the chunks' sums are added in order: the
    /// unit a thread takes, and the same on one thread, so that the loss does not depend on the threads.
    /// </summary>
    private const int SumChunk = 16_384;

    /// <summary>How a span of squared differences is cut into runs, each summed on its own.</summary>
    private enum RunKind
    {
        /// <summary>Run <c>i</c>: elements <c>[i * SumChunk, (i + 1) * SumChunk)</c>, the last one shorter.</summary>
        Chunks,

        /// <summary>Run <c>b</c> (batch-first <c>[B, T, F]</c>): sequence b's valid steps, <c>lengths[b] * F</c> values from <c>b * T * F</c>.</summary>
        Sequences,

        /// <summary>Run <c>t * B + b</c> (time-major <c>[T, B, F]</c>): the row of sequence b at step t, F values, or none past its length.</summary>
        Steps,
    }

    /// <summary>The runs of a span: their kind and the sizes the kind needs (how many runs follows from them).</summary>
    private readonly record struct Runs(RunKind Kind, int Length, int Batch, int SeqLen, int Features)
    {
        /// <summary>Fixed chunks over <paramref name="length"/> values.</summary>
        public static Runs Chunks(int length) => new(RunKind.Chunks, length, 0, 0, 0);

        /// <summary>Each sequence's valid steps (batch-first), or each step's rows of the sequences still running (time-major).</summary>
        public static Runs ByLengths(bool batchFirst, int batch, int seqLen, int features) =>
            new(batchFirst ? RunKind.Sequences : RunKind.Steps, 0, batch, seqLen, features);

        /// <summary>How many runs.</summary>
        public int Count => Kind switch
        {
            RunKind.Chunks => (int)(((long)Length + SumChunk - 1) / SumChunk),
            RunKind.Sequences => Batch,
            _ => Batch * SeqLen,
        };

        /// <summary>Run <paramref name="i"/>'s first element and its length (0 for a step past its sequence's length).</summary>
        public (int Start, int Count) Run(int i, ReadOnlySpan<int> lengths)
        {
            switch (Kind)
            {
                case RunKind.Chunks:
                    int start = i * SumChunk;
                    return (start, Math.Min(SumChunk, Length - start));
                case RunKind.Sequences:
                    return (i * SeqLen * Features, lengths[i] * Features);
                default:
                    (int t, int b) = Math.DivRem(i, Batch);
                    return (i * Features, t < lengths[b] ? Features : 0);
            }
        }
    }

    /// <summary>
    /// The sum of squared differences over <paramref name="runs"/>, each run's sum added in order; with a gradient,
    /// <c>(p - t) * gradScale</c> written over every run; on up to <paramref name="threads"/> threads
    /// (<see cref="SplitSum"/>), by the <paramref name="elements"/> the runs cover.
    /// </summary>
    private static double SquaredDifferenceRuns(
        ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, float gradScale, Runs runs, ReadOnlySpan<int> lengths, long elements, int threads) =>
        (t_split ??= new SplitSquaredDifferences()).Run(prediction, target, gradient, gradScale, runs, lengths, elements, threads);

    /// <summary>This thread's split sums of squared differences and of cross-entropy rows (a region's parts read the caller's spans through them: one each per calling thread).</summary>
    [ThreadStatic]
    private static SplitSquaredDifferences? t_split;

    [ThreadStatic]
    private static SplitCrossEntropy? t_splitCrossEntropy;

    /// <summary>
    /// A loss's sum in units (runs of squared differences, rows of cross-entropy), over the caller's spans, pinned for
    /// the region and read back by its parts: each part computes a range of units' sums (each from zero), and the caller
    /// adds them in order. One thread runs every part itself, so the sum is the same on any number of threads.
    /// </summary>
    private abstract unsafe class SplitSum : IPartitioned
    {
        private double[] _sums = [];
        private int _units;
        private float* _values;
        private int _valueCount;
        private float* _targets;
        private int _targetCount;
        private int* _ints;
        private int _intCount;
        private float* _gradient;
        private int _gradientCount;

        /// <summary>The predictions or logits.</summary>
        protected ReadOnlySpan<float> Values => new(_values, _valueCount);

        /// <summary>The float targets (empty where the targets are class ids).</summary>
        protected ReadOnlySpan<float> Targets => new(_targets, _targetCount);

        /// <summary>The lengths or the class ids.</summary>
        protected ReadOnlySpan<int> Ints => new(_ints, _intCount);

        /// <summary>Where the gradient goes (empty for the loss alone).</summary>
        protected Span<float> Gradient => new(_gradient, _gradientCount);

        /// <summary>
        /// Runs <paramref name="units"/> units with the spans pinned and adds their sums in order: in contiguous ranges on up
        /// to <paramref name="threads"/> threads, each thread given <see cref="MinElementsPerThread"/> of the
        /// <paramref name="elements"/> the units cover at least, and no more parts than units.
        /// </summary>
        protected double Run(ReadOnlySpan<float> values, ReadOnlySpan<float> targets, ReadOnlySpan<int> ints, Span<float> gradient, int units, long elements, int threads)
        {
            int parts = (int)Math.Max(1, Math.Min(Math.Min(threads, elements / MinElementsPerThread), units));
            if (_sums.Length < units)
            {
                _sums = new double[units];
            }

            fixed (float* v = values)
            fixed (float* t = targets)
            fixed (int* i = ints)
            fixed (float* g = gradient)
            {
                _values = v;
                _targets = t;
                _ints = i;
                _gradient = g;
                (_valueCount, _targetCount, _intCount, _gradientCount, _units) = (values.Length, targets.Length, ints.Length, gradient.Length, units);
                try
                {
                    Workers.Run(this, parts, last: true);
                }
                finally
                {
                    _values = null;
                    _targets = null;
                    _ints = null;
                    _gradient = null;
                }
            }

            double sum = 0;
            for (int u = 0; u < units; u++)
            {
                sum += _sums[u];
            }

            return sum;
        }

        public void RunPart(int part, int parts)
        {
            int first = (int)((long)_units * part / parts);
            int end = (int)((long)_units * (part + 1) / parts);
            RunRange(first, end, _sums);
        }

        /// <summary>Units [first, end)'s sums into <paramref name="sums"/>, on the thread of the part that has them.</summary>
        protected abstract void RunRange(int first, int end, double[] sums);
    }

    /// <summary>A sum of squared differences, run by run.</summary>
    private sealed class SplitSquaredDifferences : SplitSum
    {
        private float _gradScale;
        private Runs _runs;

        public double Run(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, float gradScale, Runs runs, ReadOnlySpan<int> lengths, long elements, int threads)
        {
            (_gradScale, _runs) = (gradScale, runs);
            return Run(prediction, target, lengths, gradient, runs.Count, elements, threads);
        }

        protected override void RunRange(int first, int end, double[] sums)
        {
            for (int i = first; i < end; i++)
            {
                (int start, int count) = _runs.Run(i, Ints);
                sums[i] = count > 0 ? SquaredDifferences(Values, Targets, Gradient, _gradScale, start, count) : 0;
            }
        }
    }

    /// <summary>A cross-entropy, row by row.</summary>
    private sealed class SplitCrossEntropy : SplitSum
    {
        private double _scale;
        private int _classes;
        private int _ignoreIndex;

        public double Run(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> gradient, double scale, int ignoreIndex, int threads)
        {
            (_scale, _classes, _ignoreIndex) = (scale, logits.Length / targets.Length, ignoreIndex);
            return Run(logits, default, targets, gradient, targets.Length, logits.Length, threads);
        }

        protected override void RunRange(int first, int end, double[] sums)
        {
            Span<float> scratch = stackalloc float[BlockSize];
            for (int i = first; i < end; i++)
            {
                sums[i] = CrossEntropyRow(Values, Ints, Gradient, i, _classes, _scale, _ignoreIndex, scratch);
            }
        }
    }
}
