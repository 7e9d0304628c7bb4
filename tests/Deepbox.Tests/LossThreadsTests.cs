using System;
using System.Linq;
using System.Threading;
using Deepbox.CompilerServices;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// <c>Losses.Mse</c> with <c>threads</c>: long inputs split across the workers, the loss and the gradient the same bits
/// on any number of threads (the sum goes chunk by chunk whatever the threads), NaN kept where it is, callers on several
/// threads at once each getting their own answer, and nothing allocated. In the threads' collection: it counts the
/// regions split and the workers' allocations, which are the whole process's.
/// </summary>
[Collection(nameof(ThreadsTests))]
public class LossThreadsTests
{
    /// <summary>Lengths around the chunk (16384) and the share a thread takes at least (32768), and short ones that never split.</summary>
    public static TheoryData<int> Lengths => new(1, 777, (2 * Losses.MinElementsPerThread) - 1, 2 * Losses.MinElementsPerThread, (16_384 * 5) + 7, 131_072, 200_003);

    [Theory]
    [MemberData(nameof(Lengths))]
    public void MseOnThreadsGivesTheBitsOfOneThread(int length)
    {
        var rng = new Random(length);
        float[] p = TestSupport.RandomArray(rng, length, 3);
        float[] t = TestSupport.RandomArray(rng, length, 3);
        foreach (Reduction reduction in new[] { Reduction.Mean, Reduction.Sum })
        {
            var g1 = new float[length];
            float one = Losses.Mse(p, t, g1, reduction);

            // Against PyTorch's formula in double: each difference rounded to float first, as float32 p - t is.
            double scale = reduction == Reduction.Mean ? 1.0 / length : 1.0;
            double expected = p.Zip(t, (a, b) => (double)(a - b) * (a - b)).Sum() * scale;
            Assert.Equal(expected, one, Math.Abs(expected) * 1e-6);
            Assert.Equal(p.Zip(t, (a, b) => (a - b) * (float)(2 * scale)).ToArray(), g1);

            foreach (int threads in new[] { 2, 3, 8 })
            {
                var g = new float[length];
                long regions = Workers.RegionsSplit;
                float many = Losses.Mse(p, t, g, reduction, threads);
                // Split when each thread gets MinElementsPerThread at least; short inputs run on the caller.
                Assert.Equal(length >= 2 * Losses.MinElementsPerThread, Workers.RegionsSplit > regions);
                Assert.Equal(BitConverter.SingleToInt32Bits(one), BitConverter.SingleToInt32Bits(many));
                Assert.True(g1.AsSpan().SequenceEqual(g), $"length {length}, {threads} threads: gradient");
                Assert.Equal(one, Losses.Mse(p, t, Span<float>.Empty, reduction, threads)); // the loss alone
            }
        }
    }

    [Fact]
    public void TheChunksAddInTheOrderOfTheData()
    {
        // Squared differences whose sum rounds one way added in order and another way in any other: chunk 0 sums to
        // 2^53 + 2^29 (two differences of 2^26 and two of 2^14), chunks 2 and 3 to 1 each. In order, each 1 falls on a tie in
        // double and rounds back to 2^53 + 2^29, a tie in float that rounds to 2^53; last chunk first, the two 1s make
        // 2 first, and 2^53 + 2^29 + 2 rounds up to 2^53 + 2^30. The second thread's chunks are 2 and 3.
        const int Length = 4 * 16_384;
        var p = new float[Length];
        var t = new float[Length];
        p[0] = p[1] = 1 << 26;
        p[2] = p[3] = 1 << 14;
        p[2 * 16_384] = 1;
        p[3 * 16_384] = 1;
        float one = Losses.Mse(p, t, Span<float>.Empty, Reduction.Sum);
        Assert.Equal(MathF.Pow(2, 53), one);
        Assert.Equal(one, Losses.Mse(p, t, Span<float>.Empty, Reduction.Sum, threads: 2));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MseByLengthsOnThreadsGivesTheBitsOfOneThread(bool batchFirst)
    {
        // B = 32 sequences of lengths 1 to 64, F = 96: about 100,000 valid values, which split; NaN in the padding of one
        // sequence (left out, as boolean indexing leaves it out) and, in a second round, in a valid step of another.
        const int B = 32, T = 64, F = 96;
        var rng = new Random(batchFirst ? 1 : 2);
        int[] lengths = Enumerable.Range(0, B).Select(b => b == 0 ? T : rng.Next(1, T + 1)).ToArray();
        lengths[3] = 10;
        float[] p = TestSupport.RandomArray(rng, B * T * F, 2);
        float[] t = TestSupport.RandomArray(rng, B * T * F);
        int At(int b, int step) => (batchFirst ? (b * T) + step : (step * B) + b) * F;
        p[At(3, 20) + 5] = float.NaN; // past sequence 3's length
        foreach (bool dirtyValid in new[] { false, true })
        {
            if (dirtyValid)
            {
                p[At(0, 63) + 1] = float.NaN; // sequence 0's last step, in the second thread's half time-major, the first's batch-first
            }

            var g1 = new float[p.Length];
            float one = Losses.Mse(p, t, g1, lengths, T, batchFirst);
            Assert.Equal(dirtyValid, float.IsNaN(one));
            Assert.Equal(0, g1[At(3, 20) + 5]);
            foreach (int threads in new[] { 2, 3 })
            {
                var g = new float[p.Length];
                long regions = Workers.RegionsSplit;
                float many = Losses.Mse(p, t, g, lengths, T, batchFirst, threads: threads);
                Assert.True(Workers.RegionsSplit > regions, "split");
                Assert.Equal(BitConverter.SingleToInt32Bits(one), BitConverter.SingleToInt32Bits(many));
                Assert.True(g1.AsSpan().SequenceEqual(g), $"batchFirst {batchFirst}, {threads} threads: gradient");
            }
        }

        // Short inputs run on the caller, with the same answer.
        long before = Workers.RegionsSplit;
        Assert.Equal(
            Losses.Mse(p.AsSpan(0, 2 * T * F), t.AsSpan(0, 2 * T * F), Span<float>.Empty, lengths.AsSpan(0, 2), T, batchFirst: true),
            Losses.Mse(p.AsSpan(0, 2 * T * F), t.AsSpan(0, 2 * T * F), Span<float>.Empty, lengths.AsSpan(0, 2), T, batchFirst: true, threads: 2));
        Assert.Equal(before, Workers.RegionsSplit);
    }

    [Fact]
    public void CrossEntropyOnThreadsGivesTheBitsOfOneThread()
    {
        // 2,000 rows of 65 classes (130,000 logits, which split), every 7th row left out (ignore index), and in a second round
        // a NaN logit in one row of the second half: the loss turns NaN, the gradient only in that row.
        const int Rows = 2_000, Classes = 65;
        var rng = new Random(17);
        float[] logits = TestSupport.RandomArray(rng, Rows * Classes, 4);
        int[] targets = Enumerable.Range(0, Rows).Select(i => i % 7 == 3 ? -100 : rng.Next(Classes)).ToArray();
        foreach (bool dirty in new[] { false, true })
        {
            if (dirty)
            {
                logits[(1_500 * Classes) + 11] = float.NaN;
            }

            foreach (Reduction reduction in new[] { Reduction.Mean, Reduction.Sum })
            {
                var g1 = new float[logits.Length];
                float one = Losses.CrossEntropy(logits, targets, g1, reduction);
                Assert.Equal(dirty, float.IsNaN(one));
                foreach (int threads in new[] { 2, 3 })
                {
                    var g = new float[logits.Length];
                    long regions = Workers.RegionsSplit;
                    float many = Losses.CrossEntropy(logits, targets, g, reduction, threads: threads);
                    Assert.True(Workers.RegionsSplit > regions, "split");
                    Assert.Equal(BitConverter.SingleToInt32Bits(one), BitConverter.SingleToInt32Bits(many));
                    Assert.True(g1.AsSpan().SequenceEqual(g), $"{reduction}, {threads} threads: gradient");
                    Assert.Equal(BitConverter.SingleToInt32Bits(one), BitConverter.SingleToInt32Bits(Losses.CrossEntropy(logits, targets, Span<float>.Empty, reduction, threads: threads)));
                }

                for (int i = 0; i < g1.Length; i++)
                {
                    Assert.True(dirty && i / Classes == 1_500 ? float.IsNaN(g1[i]) : float.IsFinite(g1[i]), $"gradient {i}: {g1[i]}");
                }
            }
        }

        // The rows' losses add in the order of the rows on any number of threads. Two classes, the second the target: a row of
        // logits [0, -L] with L >= 110 loses exactly L. Rows of 2^60 and 2^36 first, two of 128 last, zeros between: in order,
        // each 128 is a tie in double that rounds back, and 2^60 + 2^36 a tie in float that rounds to 2^60; the last rows
        // first would make 2^60 + 2^36 + 256, which rounds up to 2^60 + 2^37.
        const int Many = 40_000;
        var x = new float[Many * 2];
        var y = new int[Many];
        for (int i = 0; i < Many; i++)
        {
            (x[2 * i], x[(2 * i) + 1], y[i]) = (0, -1000, 0); // loss 0: exp(-1000) is 0 in float
        }

        (x[1], y[0]) = (-MathF.Pow(2, 60), 1);
        (x[3], y[1]) = (-MathF.Pow(2, 36), 1);
        (x[(2 * Many) - 3], y[Many - 2]) = (-128, 1);
        (x[(2 * Many) - 1], y[Many - 1]) = (-128, 1);
        float ordered = Losses.CrossEntropy(x, y, Span<float>.Empty, Reduction.Sum);
        Assert.Equal(MathF.Pow(2, 60), ordered);
        Assert.Equal(ordered, Losses.CrossEntropy(x, y, Span<float>.Empty, Reduction.Sum, threads: 2));
    }

    [Fact]
    public void NaNStaysWhereItIsOnEveryThread()
    {
        const int Length = 131_072;
        var rng = new Random(5);
        float[] p = TestSupport.RandomArray(rng, Length);
        float[] t = TestSupport.RandomArray(rng, Length);
        int[] dirty = [3, Length - 5]; // one in each thread's half
        foreach (int at in dirty)
        {
            float[] q = (float[])p.Clone();
            q[at] = float.NaN;
            var g = new float[Length];
            Assert.True(float.IsNaN(Losses.Mse(q, t, g, threads: 2)));
            for (int i = 0; i < Length; i++)
            {
                Assert.True(i == at ? float.IsNaN(g[i]) : float.IsFinite(g[i]), $"NaN at {at}: gradient {i} is {g[i]}");
            }
        }
    }

    [Fact]
    public void CallersOnSeveralThreadsEachGetTheirOwn()
    {
        // Four threads at once, each with its own data of a length that splits, in turn plain, with lengths (time-major,
        // 50 sequences of 125 steps and 16 values, one of length 1 and the others 90 to 125: over 65,536 valid values, which
        // split) and as cross-entropy logits: one region at a time takes the workers, the others run their parts themselves;
        // every answer is the one-thread answer.
        const int Length = 100_000;
        const int Callers = 4;
        const int B = 50, T = 125;
        float[][] p = new float[Callers][];
        float[][] t = new float[Callers][];
        int[][] lengths = new int[Callers][];
        float[] expected = new float[Callers];
        float[][] expectedGrad = new float[Callers][];
        float[] expectedByLengths = new float[Callers];
        float[][] expectedGradByLengths = new float[Callers][];
        int[][] classes = new int[Callers][]; // the values also as logits of 6,250 rows of 16 classes
        float[] expectedCrossEntropy = new float[Callers];
        float[][] expectedGradCrossEntropy = new float[Callers][];
        for (int c = 0; c < Callers; c++)
        {
            var rng = new Random(100 + c);
            p[c] = TestSupport.RandomArray(rng, Length, c + 1);
            t[c] = TestSupport.RandomArray(rng, Length);
            lengths[c] = Enumerable.Range(0, B).Select(_ => rng.Next(90, T + 1)).ToArray();
            lengths[c][c] = 1;
            expectedGrad[c] = new float[Length];
            expected[c] = Losses.Mse(p[c], t[c], expectedGrad[c]);
            expectedGradByLengths[c] = new float[Length];
            expectedByLengths[c] = Losses.Mse(p[c], t[c], expectedGradByLengths[c], lengths[c], T, batchFirst: false);
            classes[c] = Enumerable.Range(0, Length / 16).Select(_ => rng.Next(16)).ToArray();
            expectedGradCrossEntropy[c] = new float[Length];
            expectedCrossEntropy[c] = Losses.CrossEntropy(p[c], classes[c], expectedGradCrossEntropy[c]);
        }

        string?[] failures = new string?[Callers];
        using var start = new Barrier(Callers);
        Thread[] threads = Enumerable.Range(0, Callers).Select(c => new Thread(() =>
        {
            var g = new float[Length];
            start.SignalAndWait();
            for (int i = 0; i < 50 && failures[c] is null; i++)
            {
                int form = i % 3; // Mse, Mse with lengths, cross-entropy
                float loss = form switch
                {
                    0 => Losses.Mse(p[c], t[c], g, threads: 2),
                    1 => Losses.Mse(p[c], t[c], g, lengths[c], T, batchFirst: false, threads: 2),
                    _ => Losses.CrossEntropy(p[c], classes[c], g, threads: 2),
                };
                float want = form switch { 0 => expected[c], 1 => expectedByLengths[c], _ => expectedCrossEntropy[c] };
                float[] wantGrad = form switch { 0 => expectedGrad[c], 1 => expectedGradByLengths[c], _ => expectedGradCrossEntropy[c] };
                if (BitConverter.SingleToInt32Bits(loss) != BitConverter.SingleToInt32Bits(want) || !g.AsSpan().SequenceEqual(wantGrad))
                {
                    failures[c] = $"caller {c}, call {i}, form {form}: loss {loss} against {want}";
                }
            }
        })).ToArray();
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        Assert.All(failures, f => Assert.Null(f));
    }

    [Fact]
    public void ATrainingStepWithTheLossOnThreadsGivesTheBitsOfOneThread()
    {
        // The step as a training loop on Threads = 2 runs it: the split forward pass, the loss on the model's threads (B = 64,
        // T = 64, 18 outputs a step: 73,728 values, which split), the split backward pass; against the same step on one
        // thread. A NaN target in one sequence's last step turns the loss NaN, and the gradients it reaches (the top layer's
        // reverse direction reads that step first), the same on both.
        const int B = 64, T = 64;
        var rng = new Random(8);
        float[] x = TestSupport.RandomArray(rng, B * T * 17);
        float[] target = TestSupport.RandomArray(rng, B * T * 18);
        foreach (bool dirty in new[] { false, true })
        {
            if (dirty)
            {
                target[target.Length - 3] = float.NaN;
            }

            (float Loss, float[][] Grads) one = Step(threads: 1);
            long regions = Workers.RegionsSplit;
            (float Loss, float[][] Grads) two = Step(threads: 2);
            Assert.True(Workers.RegionsSplit >= regions + 3, "the forward pass, the loss and the backward pass each split");
            Assert.Equal(dirty, float.IsNaN(one.Loss));
            Assert.Equal(BitConverter.SingleToInt32Bits(one.Loss), BitConverter.SingleToInt32Bits(two.Loss));
            for (int i = 0; i < one.Grads.Length; i++)
            {
                Assert.True(one.Grads[i].AsSpan().SequenceEqual(two.Grads[i]), $"dirty {dirty}: parameter gradient {i}");
            }

            Assert.Equal(dirty, one.Grads.Any(g => g.Any(float.IsNaN)));
        }

        (float, float[][]) Step(int threads)
        {
            var model = new Models.Lstm17x9 { Threads = threads };
            model.Train();
            var y = new float[B * T * 18];
            var gy = new float[y.Length];
            model.Forward(x, B, T, y);
            float loss = Losses.Mse(y, target, gy, threads: model.Threads);
            model.ZeroGrad();
            model.Backward(gy, default);
            return (loss, model.Parameters().Select(p => p.Grad.AsSpan().ToArray()).ToArray());
        }
    }

    [Fact]
    public void MseOnThreadsAllocatesNothing()
    {
        var rng = new Random(9);
        float[] p = TestSupport.RandomArray(rng, 131_072);
        float[] t = TestSupport.RandomArray(rng, 131_072);
        var g = new float[131_072];
        long regions = Workers.RegionsSplit;
        Assert.Equal(0, ThreadsTests.QuietestAllocation(() => Losses.Mse(p, t, g, threads: 2)));
        Assert.True(Workers.RegionsSplit > regions); // it did split
    }

    [Fact]
    public void ThreadsBelowOneAreRefused()
    {
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.Mse(new float[3], new float[3], Span<float>.Empty, threads: 0));
        Assert.Equal("threads", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.Mse(Tensor.Zeros(3), Tensor.Zeros(3), threads: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.Mse(new float[3], new float[3], Span<float>.Empty, [3], 3, threads: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.CrossEntropy(new float[3], [1], Span<float>.Empty, threads: 0));
    }
}
