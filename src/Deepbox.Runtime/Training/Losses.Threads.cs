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

    /// <summary>The runs of a span: their kind, how many, and the sizes the kind needs.</summary>
    private readonly record struct Runs(RunKind Kind, int Count, int Length, int Batch, int SeqLen, int Features)
    {
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
    /// <c>(p - t) * gradScale</c> written over every run. The runs are split across up to <paramref name="threads"/>
    /// threads in contiguous ranges (each thread a range, in the order of the data) when the
    /// <paramref name="elements"/> they cover give each thread <see cref="MinElementsPerThread"/>.
    /// </summary>
    private static double SquaredDifferenceRuns(
        ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, float gradScale, Runs runs, ReadOnlySpan<int> lengths, long elements, int threads)
    {
        int parts = (int)Math.Min(Math.Min(threads, elements / MinElementsPerThread), runs.Count);
        if (parts <= 1)
        {
            double sum = 0;
            for (int i = 0; i < runs.Count; i++)
            {
                (int start, int count) = runs.Run(i, lengths);
                if (count > 0)
                {
                    sum += SquaredDifferences(prediction, target, gradient, gradScale, start, count);
                }
            }

            return sum;
        }

        return (t_split ??= new SplitSquaredDifferences()).Run(prediction, target, gradient, gradScale, runs, lengths, parts);
    }

    /// <summary>This thread's split sums of squared differences and of cross-entropy rows (a region's parts read the caller's spans through them: one each per calling thread).</summary>
    [ThreadStatic]
    private static SplitSquaredDifferences? t_split;

    [ThreadStatic]
    private static SplitCrossEntropy? t_splitCrossEntropy;

    /// <summary>
    /// A sum split in units (runs of squared differences, rows of cross-entropy): each part computes a range of units'
    /// sums (each from zero) into the unit sums, and the caller adds them in order, as one thread adds them.
    /// </summary>
    private abstract class SplitSum : IPartitioned
    {
        private double[] _sums = [];
        private int _units;

        /// <summary>Runs the units in <paramref name="parts"/> parts (the spans pinned by the caller meanwhile) and adds their sums in order.</summary>
        protected double RunUnits(int units, int parts)
        {
            if (_sums.Length < units)
            {
                _sums = new double[units];
            }

            _units = units;
            Workers.Run(this, parts, last: true);
            double sum = 0;
            for (int i = 0; i < units; i++)
            {
                sum += _sums[i];
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

    /// <summary>A split sum of squared differences: the caller's spans pinned for the region, each part summing a range of runs.</summary>
    private sealed unsafe class SplitSquaredDifferences : SplitSum
    {
        private float* _prediction;
        private float* _target;
        private float* _gradient;
        private int* _lengths;
        private int _length;
        private int _lengthCount;
        private bool _hasGradient;
        private float _gradScale;
        private Runs _runs;

        public double Run(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, float gradScale, Runs runs, ReadOnlySpan<int> lengths, int parts)
        {
            fixed (float* p = prediction)
            fixed (float* t = target)
            fixed (float* g = gradient)
            fixed (int* l = lengths)
            {
                _prediction = p;
                _target = t;
                _gradient = g;
                _lengths = l;
                (_length, _lengthCount, _hasGradient, _gradScale, _runs) = (prediction.Length, lengths.Length, !gradient.IsEmpty, gradScale, runs);
                try
                {
                    return RunUnits(runs.Count, parts);
                }
                finally
                {
                    _prediction = null;
                    _target = null;
                    _gradient = null;
                    _lengths = null;
                }
            }
        }

        protected override void RunRange(int first, int end, double[] sums)
        {
            var prediction = new ReadOnlySpan<float>(_prediction, _length);
            var target = new ReadOnlySpan<float>(_target, _length);
            Span<float> gradient = _hasGradient ? new Span<float>(_gradient, _length) : default;
            var lengths = new ReadOnlySpan<int>(_lengths, _lengthCount);
            for (int i = first; i < end; i++)
            {
                (int start, int count) = _runs.Run(i, lengths);
                sums[i] = count > 0 ? SquaredDifferences(prediction, target, gradient, _gradScale, start, count) : 0;
            }
        }
    }

    /// <summary>A split cross-entropy: the caller's spans pinned for the region, each part computing a range of rows.</summary>
    private sealed unsafe class SplitCrossEntropy : SplitSum
    {
        private float* _logits;
        private int* _targets;
        private float* _gradient;
        private int _rows;
        private int _classes;
        private bool _hasGradient;
        private double _scale;
        private int _ignoreIndex;

        public double Run(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> gradient, double scale, int ignoreIndex, int parts)
        {
            fixed (float* l = logits)
            fixed (int* t = targets)
            fixed (float* g = gradient)
            {
                _logits = l;
                _targets = t;
                _gradient = g;
                (_rows, _classes, _hasGradient, _scale, _ignoreIndex) = (targets.Length, logits.Length / targets.Length, !gradient.IsEmpty, scale, ignoreIndex);
                try
                {
                    return RunUnits(_rows, parts);
                }
                finally
                {
                    _logits = null;
                    _targets = null;
                    _gradient = null;
                }
            }
        }

        protected override void RunRange(int first, int end, double[] sums)
        {
            var logits = new ReadOnlySpan<float>(_logits, _rows * _classes);
            var targets = new ReadOnlySpan<int>(_targets, _rows);
            Span<float> gradient = _hasGradient ? new Span<float>(_gradient, _rows * _classes) : default;
            Span<float> scratch = stackalloc float[BlockSize];
            for (int i = first; i < end; i++)
            {
                sums[i] = CrossEntropyRow(logits, targets, gradient, i, _classes, _scale, _ignoreIndex, scratch);
            }
        }
    }
}
