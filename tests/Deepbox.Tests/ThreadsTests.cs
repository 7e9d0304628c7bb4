using Deepbox.CompilerServices;
using System;
using System.Collections.Generic;
using System.Linq;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// <see cref="IModel.Threads"/> splits forward and backward passes across workers: the outputs and the gradients must
/// be the same bit for bit as on one thread, for every kind of stack, and nothing may be allocated.
/// Alone in its collection: the allocation count is the whole process's (the workers' threads included).
/// </summary>
[Collection(nameof(ThreadsTests))]
[CollectionDefinition(nameof(ThreadsTests), DisableParallelization = true)]
public class ThreadsTests
{
    public static TheoryData<string> Names => new("Lstm9x8", "Lstm17x9", "Gru3x129", "Rnn3x7", "LstmGruStack", "Forecaster", "BiGruTanhHead");

    [Theory]
    [MemberData(nameof(Names))]
    public void SplittingTheBatchChangesNoBit(string name)
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(23);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        foreach (bool training in c.Modes)
        {
            // T = 45, B = 33 takes Gru3x129's input products in twelve chunks of steps, the last one step (4 steps of 408
            // gate floats fill its 256 KB chunk): each thread computes its own sequences' products of a chunk, then runs
            // their recurrence.
            foreach ((int t, int b) in new[] { (3, 9), (5, 17), (2, 33), (4, 8), (3, 7), (45, 33) })
            {
                float[] x = TestSupport.RandomArray(rng, t * b * inputSize, 2.0);
                if (b == 17)
                {
                    x[x.Length / 2] = float.NaN; // dirty data: one sequence's outputs and gradients turn NaN, on any thread
                }

                (float[] Output, float[][] Grads) one = Run(c, weights, x, b, t, training, threads: 1);
                foreach (int threads in new[] { 2, 3 })
                {
                    long regions = Workers.RegionsSplit;
                    (float[] Output, float[][] Grads) many = Run(c, weights, x, b, t, training, threads);
                    string what = $"{name} {(training ? "train" : "eval")} T={t} B={b} threads={threads}";
                    // Batches of 8 or more are split (4 sequences a thread at least); smaller ones run on the caller.
                    Assert.True((Workers.RegionsSplit > regions) == (b >= 8), $"{what}: {Workers.RegionsSplit - regions} regions split");
                    AssertSameBits(one, many, what);
                }
            }
        }
    }

    /// <summary>
    /// An evaluation pass on several threads runs in sub-batches of whole sequences, each in a workspace of its own: the
    /// sub-batches take their slices of the caller's input (here sequence-first), initial states and final states, and
    /// give the bits of one thread, for batches that do not cut into equal sub-batches; NaN in one sequence stays there.
    /// </summary>
    [Theory]
    [InlineData(13)]
    [InlineData(32)]
    public void SubBatchesTakeAndGiveBackTheirSlicesOfTheStates(int batch)
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases["Lstm1x33"]; // 2 layers, both directions, [T, B, I]
        var rng = new Random(41);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        const int T = 6;
        Tensor x = Tensor.FromArray(TestSupport.RandomArray(rng, T * batch, 2.0), T, batch, 1);
        Tensor h0 = Tensor.FromArray(TestSupport.RandomArray(rng, 4 * batch * 33), 4, batch, 33);
        Tensor c0 = Tensor.FromArray(TestSupport.RandomArray(rng, 4 * batch * 33), 4, batch, 33);
        const int Dirty = 5;
        x.AsSpan()[(2 * batch) + Dirty] = float.NaN; // sequence 5, step 2
        var one = (Models.Lstm1x33)Create(c, weights, training: false, threads: 1);
        (Tensor y1, (Tensor h1, Tensor cN1)) = one.ForwardWithState(x, h0, c0);
        foreach (int threads in new[] { 2, 3 })
        {
            var many = (Models.Lstm1x33)Create(c, weights, training: false, threads);
            long regions = Workers.RegionsSplit;
            (Tensor y, (Tensor h, Tensor cN)) = many.ForwardWithState(x, h0, c0);
            Assert.Equal(regions + 1, Workers.RegionsSplit); // one region: the sub-batches
            Assert.True(y1.AsSpan().SequenceEqual(y.AsSpan()), $"B={batch} threads={threads} output");
            Assert.True(h1.AsSpan().SequenceEqual(h.AsSpan()), $"B={batch} threads={threads} h_n");
            Assert.True(cN1.AsSpan().SequenceEqual(cN.AsSpan()), $"B={batch} threads={threads} c_n");
        }

        // The second layer reads both directions of the first at every step, so the NaN reaches every output of its own
        // sequence, and no other sequence's.
        for (int t = 0; t < T; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                foreach (float v in y1.AsSpan().Slice(((t * batch) + b) * 66, 66))
                {
                    Assert.True(b == Dirty ? float.IsNaN(v) : float.IsFinite(v), $"t={t} b={b}: {v}");
                }
            }
        }
    }

    /// <summary>
    /// A training pass on several threads runs in sub-batches too, forward and back, each sub-batch's Backward on the
    /// thread that ran its forward pass: the output, the final states, the input's and initial states' gradients and
    /// every parameter's gradient are one thread's bits (the weight gradients sum the sub-batches' rows in one thread's
    /// order), with h0, c0, gradH and gradC given; a NaN in one sequence's input reaches only that sequence's outputs and
    /// input gradients, and every weight gradient (which sums over all sequences). One region forward, one back: the
    /// sub-batches' backward passes go on into every layer and direction's weight gradients (the pipeline).
    /// </summary>
    [Theory]
    [InlineData(13)]
    [InlineData(32)]
    public void TrainingInSubBatchesGivesOneThreadsGradients(int batch)
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases["Lstm1x33"]; // 2 layers, both directions, [T, B, I]
        var rng = new Random(47);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        const int T = 6;
        Tensor x = Tensor.FromArray(TestSupport.RandomArray(rng, T * batch, 2.0), T, batch, 1);
        Tensor h0 = Tensor.FromArray(TestSupport.RandomArray(rng, 4 * batch * 33), 4, batch, 33);
        Tensor c0 = Tensor.FromArray(TestSupport.RandomArray(rng, 4 * batch * 33), 4, batch, 33);
        Tensor gradOutput = Tensor.FromArray(TestSupport.RandomArray(rng, T * batch * 66), T, batch, 66);
        Tensor gradH = Tensor.FromArray(TestSupport.RandomArray(rng, 4 * batch * 33), 4, batch, 33);
        Tensor gradC = Tensor.FromArray(TestSupport.RandomArray(rng, 4 * batch * 33), 4, batch, 33);
        const int Dirty = 5;
        float[] clean = x.AsSpan().ToArray();
        x.AsSpan()[(2 * batch) + Dirty] = float.NaN; // sequence 5, step 2
        foreach (Tensor input in new[] { Tensor.FromArray(clean, T, batch, 1), x })
        {
            bool dirty = input == x;
            (Tensor[] Results, float[][] Grads) Train(int threads)
            {
                var model = (Models.Lstm1x33)Create(c, weights, training: true, threads);
                long regions = Workers.RegionsSplit;
                (Tensor y, (Tensor h, Tensor cN)) = model.ForwardWithState(input, h0, c0);
                model.ZeroGrad();
                (Tensor gradInput, (Tensor gradH0, Tensor gradC0)) = model.BackwardWithState(gradOutput, gradH, gradC);
                // Forward: the sub-batches; backward: the sub-batches, going on into the weight gradients of all 4 layers and directions.
                Assert.Equal(threads == 1 ? regions : regions + 2, Workers.RegionsSplit);
                return ([y, h, cN, gradInput, gradH0, gradC0], model.Parameters().Select(p => p.Grad.AsSpan().ToArray()).ToArray());
            }

            (Tensor[] one, float[][] oneGrads) = Train(1);
            foreach (int threads in new[] { 2, 3 })
            {
                (Tensor[] many, float[][] manyGrads) = Train(threads);
                string what = $"B={batch} threads={threads} {(dirty ? "NaN in sequence 5" : "clean")}";
                string[] names = ["output", "h_n", "c_n", "input gradient", "h0 gradient", "c0 gradient"];
                for (int i = 0; i < one.Length; i++)
                {
                    Assert.True(one[i].AsSpan().SequenceEqual(many[i].AsSpan()), $"{what}: {names[i]}");
                }

                for (int i = 0; i < oneGrads.Length; i++)
                {
                    Assert.True(oneGrads[i].AsSpan().SequenceEqual(manyGrads[i]), $"{what}: parameter gradient {i}");
                }
            }

            // Where the NaN went: the dirty sequence's outputs and input gradients only; every weight gradient.
            for (int t = 0; t < T; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    foreach (float v in one[0].AsSpan().Slice(((t * batch) + b) * 66, 66))
                    {
                        Assert.True(dirty && b == Dirty ? float.IsNaN(v) : float.IsFinite(v), $"{(dirty ? "dirty" : "clean")} output t={t} b={b}: {v}");
                    }

                    float g = one[3].AsSpan()[(t * batch) + b];
                    Assert.True(dirty && b == Dirty ? float.IsNaN(g) : float.IsFinite(g), $"{(dirty ? "dirty" : "clean")} input gradient t={t} b={b}: {g}");
                }
            }

            Assert.Equal(dirty, oneGrads.All(g => g.Any(float.IsNaN)));
        }
    }

    /// <summary>
    /// The threads of a pass in sub-batches copy their own rows of the caller's input in and output out: when the
    /// caller's output overlaps its input (one buffer for both), or the input's gradient the output's, the caller copies
    /// every row in before the sub-batches run and every row out after, so each thread still reads the input the caller
    /// gave. Forward (evaluation and training) and Backward, on 1 to 3 threads, against separate buffers; NaN included.
    /// </summary>
    [Theory]
    [InlineData(13)]
    [InlineData(32)]
    public void SubBatchesReadTheCallersInputWhenTheOutputOverlapsIt(int batch)
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases["Lstm9x8"]; // [B, T, 9] in, [B, T, 8] out
        var rng = new Random(53);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        const int T = 5;
        float[] x = TestSupport.RandomArray(rng, batch * T * 9, 2.0);
        x[(((3 * T) + 1) * 9) + 4] = float.NaN; // sequence 3, step 1
        float[] gradOutput = TestSupport.RandomArray(rng, batch * T * 8);
        foreach (bool training in new[] { false, true })
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                IModel apart = Create(c, weights, training, threads);
                float[] y = new float[batch * T * 8];
                apart.Forward(x, batch, T, y);
                IModel shared = Create(c, weights, training, threads);
                long regions = Workers.RegionsSplit;
                // One buffer: the input at its start, the output over the input's first rows (offset by a row and a half).
                float[] one = new float[x.Length + 12];
                x.CopyTo(one, 0);
                shared.Forward(one.AsSpan(0, x.Length), batch, T, one.AsSpan(12, y.Length));
                string what = $"B={batch} threads={threads} {(training ? "train" : "eval")}";
                Assert.Equal(threads == 1 ? regions : regions + 1, Workers.RegionsSplit);
                Assert.True(y.AsSpan().SequenceEqual(one.AsSpan(12, y.Length)), $"{what}: output");
                Assert.True(!float.IsNaN(y[3 * T * 8]) && float.IsNaN(y[((3 * T) + 1) * 8]) && !float.IsNaN(y[4 * T * 8]), $"{what}: NaN in sequence 3 from step 1 on, and only there");
                if (!training)
                {
                    continue;
                }

                float[] gradInput = new float[x.Length];
                apart.Backward(gradOutput, gradInput);
                // The input's gradient over the output's: one buffer again, the gradients overlapping by all but 8 floats.
                float[] grads = new float[x.Length + 8];
                gradOutput.CopyTo(grads, 8);
                shared.Backward(grads.AsSpan(8, gradOutput.Length), grads.AsSpan(0, x.Length));
                Assert.True(gradInput.AsSpan().SequenceEqual(grads.AsSpan(0, x.Length)), $"{what}: input gradient");
                for (int i = 0; i < apart.Parameters().Count(); i++)
                {
                    Assert.True(apart.Parameters().ElementAt(i).Grad.AsSpan().SequenceEqual(shared.Parameters().ElementAt(i).Grad.AsSpan()), $"{what}: parameter gradient {i}");
                }
            }
        }
    }

    /// <summary>
    /// As <see cref="SubBatchesTakeAndGiveBackTheirSlicesOfTheStates"/> for a GRU (no cell state): three layers,
    /// sequence-first, h0 given and h_n returned, with and without h0.
    /// </summary>
    [Fact]
    public void SubBatchesOfAGruTakeAndGiveBackTheirHiddenStates()
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases["Gru1x17"]; // [Gru(1, 17, NumLayers = 3, BatchFirst = false)]
        var rng = new Random(43);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        const int T = 5;
        const int B = 18;
        Tensor x = Tensor.FromArray(TestSupport.RandomArray(rng, T * B, 2.0), T, B, 1);
        Tensor h0 = Tensor.FromArray(TestSupport.RandomArray(rng, 3 * B * 17), 3, B, 17);
        var one = (Models.Gru1x17)Create(c, weights, training: false, threads: 1);
        var many = (Models.Gru1x17)Create(c, weights, training: false, threads: 2);
        foreach (Tensor? initial in new[] { h0, null })
        {
            (Tensor y1, Tensor h1) = one.ForwardWithState(x, initial);
            long regions = Workers.RegionsSplit;
            (Tensor y2, Tensor h2) = many.ForwardWithState(x, initial);
            Assert.Equal(regions + 1, Workers.RegionsSplit);
            Assert.True(y1.AsSpan().SequenceEqual(y2.AsSpan()), $"h0 {(initial is null ? "zeros" : "given")}: output");
            Assert.True(h1.AsSpan().SequenceEqual(h2.AsSpan()), $"h0 {(initial is null ? "zeros" : "given")}: h_n");
        }
    }

    /// <summary>
    /// With lengths a split batch is cut into parts of equal steps of the sorted sequences (not equal counts), the input
    /// products and input gradients go step by step for a part, and each part puts its rows' previous states beside their
    /// gate gradients for the hidden-weight gradient: none of it may change a bit of the outputs or gradients, with NaN in
    /// the padding.
    /// </summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void SplittingABatchWithLengthsChangesNoBit(string name)
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(29);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        foreach (bool training in c.Modes)
        {
            // The last batch is skewed (a quarter of the sequences hold most of the steps), so that its parts are of equal
            // steps where the others' are of equal rows (two a thread: ABatchWithLengthsSplitsIntoEqualRowsOrEqualSteps).
            foreach ((int t, int b) in new[] { (5, 9), (7, 17), (9, 33), (12, 32) })
            {
                bool skewed = b == 32;
                int[] lengths = Enumerable.Range(0, b).Select(i => skewed ? (i % 4 == 0 ? t : 1 + (i % 2)) : i == 0 ? t : i == 1 ? 1 : rng.Next(1, t + 1)).ToArray();
                float[] x = LengthsTests.Padded(rng, c.BatchFirst, b, t, inputSize, lengths);

                (float[] Output, float[][] Grads) one = Run(c, weights, x, b, t, training, threads: 1, lengths);
                Assert.All(one.Output, v => Assert.False(float.IsNaN(v), $"{name}: NaN in the padding reached the output"));
                foreach (int threads in new[] { 2, 3 })
                {
                    long regions = Workers.RegionsSplit;
                    (float[] Output, float[][] Grads) many = Run(c, weights, x, b, t, training, threads, lengths);
                    string what = $"{name} {(training ? "train" : "eval")} T={t} B={b} threads={threads} lengths=[{string.Join(",", lengths)}]";
                    Assert.True(Workers.RegionsSplit > regions, $"{what}: no region split");
                    AssertSameBits(one, many, what);
                }
            }
        }
    }

    /// <summary>
    /// With lengths, two parts a thread are equal shares of the rows in whole tiles when the longest sequences' share
    /// holds no more than a thread's share of the steps; else, and with one part a thread, parts of equal steps.
    /// </summary>
    [Fact]
    public void ABatchWithLengthsSplitsIntoEqualRowsOrEqualSteps()
    {
        var lengths = new SequenceLengths();
        int[] Cuts(int parts, int threads) => Enumerable.Range(0, parts + 1).Select(p => lengths.Split(p, parts, threads)).ToArray();

        // W1-like: 32 sequences of 16 to 64 steps (the 8 longest, 60 to 64 steps, are 24% of the 1,296 steps).
        int[] spread = Enumerable.Range(0, 32).Select(i => 16 + ((i * 37) % 49)).ToArray();
        lengths.Set(spread, 32, 64);
        Assert.Equal([0, 8, 16, 24, 32], Cuts(parts: 4, threads: 2));
        int[] steps = Cuts(parts: 2, threads: 2); // one part a thread: equal steps, the longest sequences' part the fewer rows
        Assert.InRange(steps[1], 9, 15);
        long Steps(int from, int to) => Enumerable.Range(from, to - from).Sum(r => spread.OrderByDescending(l => l).ElementAt(r));
        Assert.InRange(Steps(0, steps[1]), (spread.Sum() / 2) - 64, spread.Sum() / 2);

        // Skewed: 8 sequences of 64 steps and 24 of 4 hold 84% of the steps in the first quarter of the rows: equal steps.
        int[] skewed = Enumerable.Range(0, 32).Select(i => i % 4 == 0 ? 64 : 4).ToArray();
        lengths.Set(skewed, 32, 64);
        Assert.Equal([0, 2, 4, 7, 32], Cuts(parts: 4, threads: 2)); // about 152 of the 608 steps a part

        // Without lengths (all of one length): equal shares of the batch, in whole tiles.
        lengths.Set(Enumerable.Repeat(64, 32).ToArray(), 32, 64);
        Assert.Equal([0, 8, 16, 24, 32], Cuts(parts: 4, threads: 2));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void BackwardSplitsAndGivesTheSameGradientsWithOrWithoutTheInputsGradient(string name)
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(31);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        const int T = 6, B = 13;
        float[] x = TestSupport.RandomArray(rng, T * B * inputSize, 2.0);
        float[][]? reference = null;
        foreach (int threads in new[] { 1, 2 })
        {
            foreach (bool inputGradient in new[] { true, false })
            {
                IModel model = c.Create();
                model.LoadStateDict(TestSupport.ToTensors(c.Layers, weights));
                model.Threads = threads;
                model.Train();
                int outputSize = model.Forward(Tensor.Zeros(c.BatchFirst ? [B, T, inputSize] : [T, B, inputSize])).Length;
                var output = new float[outputSize];
                model.Forward(x, B, T, output);
                model.ZeroGrad();
                float[] gradOutput = TestSupport.RandomArray(new Random(7), output.Length);
                long regions = Workers.RegionsSplit;
                model.Backward(gradOutput, inputGradient ? new float[x.Length] : default);
                string what = $"{name} threads={threads} input gradient {(inputGradient ? "wanted" : "not wanted")}";
                // Two regions per layer and direction (back through time, then the weight gradients), each split in two.
                Assert.True((Workers.RegionsSplit > regions) == (threads > 1), $"{what}: {Workers.RegionsSplit - regions} regions split");
                float[][] grads = model.Parameters().Select(p => p.Grad.AsSpan().ToArray()).ToArray();
                reference ??= grads;
                for (int i = 0; i < grads.Length; i++)
                {
                    Assert.True(reference[i].AsSpan().SequenceEqual(grads[i]), $"{what}: gradient {i}");
                }
            }
        }
    }

    [Fact]
    public void ModelsTrainingAtTheSameTimeStillAgree()
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        // Four callers train their own model with Threads = 2 at once: one of them holds the workers at a time, the
        // others run their regions' parts themselves. Every caller's outputs and gradients are the single thread's.
        (ForwardGridTests.ModelCase c, Random rng, Dictionary<string, float[]> weights, int inputSize) = Stack(seed: 12);
        const int T = 7, B = 16;
        float[] x = TestSupport.RandomArray(rng, T * B * inputSize, 2.0);
        (float[] Output, float[][] Grads) expected = Run(c, weights, x, B, T, training: true, threads: 1);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        System.Threading.Tasks.Parallel.For(0, 4, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            for (int n = 0; n < 20; n++)
            {
                (float[] Output, float[][] Grads) got = Run(c, weights, x, B, T, training: true, threads: 2);
                if (!got.Output.AsSpan().SequenceEqual(expected.Output) || got.Grads.Where((g, k) => !g.AsSpan().SequenceEqual(expected.Grads[k])).Any())
                {
                    failures.Add($"caller {i}, step {n}");
                    return;
                }
            }
        });
        Assert.Empty(failures);
    }

    /// <summary>
    /// The caller returns from a region only when every part is done. The last worker of a region counts itself done and
    /// then sets the done event; preempted between the two, its Set used to land after the next region had reset the
    /// event, and that region's caller returned while a worker still ran a part (wrong outputs, once in about 10^5
    /// regions on two cores; a worker reading the region after it was cleared). The test widens that window.
    /// </summary>
    [Fact]
    public void ARegionEndsOnlyWhenEveryPartIsDoneEvenWhenTheLastWorkerSignalsLate()
    {
        int before = Workers.LateSignalSpins;
        Workers.LateSignalSpins = 2_000;
        try
        {
            var probe = new CountingParts();
            for (int region = 0; region < 4_000; region++)
            {
                int parts = 2 + (region % 3);
                probe.Done = 0;
                Workers.Run(probe, parts, threads: 2, last: region % 2 == 0);
                Assert.True(System.Threading.Volatile.Read(ref probe.Done) == parts, $"region {region}: {probe.Done} of {parts} parts done when Run returned");
            }
        }
        finally
        {
            Workers.LateSignalSpins = before;
        }
    }

    /// <summary>A region started from inside a part (on the caller or a worker) runs all its parts on that thread.</summary>
    [Fact]
    public void ARegionStartedInsideAPartRunsOnItsThread()
    {
        for (int round = 0; round < 200; round++)
        {
            var inner = new CountingParts();
            var outer = new NestingParts(inner);
            Workers.Run(outer, parts: 4, threads: 2, last: true);
            Assert.Equal(4, outer.Done);
            Assert.Equal(4 * 3, inner.Done);
            Assert.Equal(0, outer.Overlapped);
        }
    }

    /// <summary>
    /// A wake-up ahead of a region (a pass in sub-batches wakes the workers before it copies their inputs) is only a
    /// wake-up: woken workers, with or without a region after it, from another thread, for more threads than there
    /// are workers, still run every part of every region once.
    /// </summary>
    [Fact]
    public void AWakeUpAheadOfARegionIsOnlyAWakeUp()
    {
        var waker = new System.Threading.Thread(() =>
        {
            for (int i = 0; i < 2000; i++)
            {
                Workers.Wake(8);
            }
        });
        waker.Start();
        for (int round = 0; round < 200; round++)
        {
            Workers.Wake(round % 3);
            var parts = new CountingParts();
            if (round % 2 == 0)
            {
                System.Threading.Thread.Sleep(0);
            }

            Workers.Run(parts, parts: 4, threads: 2, last: round % 4 == 0);
            Assert.Equal(4, parts.Done);
        }

        waker.Join();
    }

    /// <summary>
    /// A placed region (a training pass's sub-batches) runs each part exactly once, records the processor each part ran
    /// on, and takes a part back to the processor it last ran on when that processor's thread comes for it; a region
    /// started inside a part, which cannot take the workers, runs all its parts on its own thread; a bad placement is
    /// refused before anything runs.
    /// </summary>
    [Fact]
    public void APlacedRegionRunsEachPartOnceAndRemembersWhere()
    {
        int[] placement = [-1, -1];
        for (int round = 0; round < 200; round++)
        {
            var parts = new PlacedParts(2);
            Workers.RunPlaced(parts, 2, last: round % 10 == 9, placement);
            Assert.Equal([1, 1], parts.Runs);
            foreach (int processor in placement)
            {
                Assert.InRange(processor, 0, Environment.ProcessorCount - 1); // where each part ran, for the next region
            }
        }

        // Inside a part of another region the workers are taken: the inner region runs on its caller alone.
        var inner = new PlacedParts(3);
        int[] innerPlacement = [-1, -1, -1];
        var outer = new OuterParts(() => Workers.RunPlaced(inner, 3, last: false, innerPlacement));
        Workers.Run(outer, parts: 2, last: true);
        Assert.Equal([1, 1, 1], inner.Runs);
        Assert.Single(inner.Threads.Distinct());

        var refused = new PlacedParts(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => Workers.RunPlaced(refused, 3, last: true, [-1, -1]));
        Assert.Equal([0, 0, 0], refused.Runs);
    }

    /// <summary>
    /// A pipelined region (the weight gradients after a pass in sub-batches): every part adds into every block, in part
    /// order block by block, the parts running side by side on their threads; a part that fails holds no other up (its
    /// exception is rethrown), and a region the workers cannot take runs its parts one after another on the caller.
    /// </summary>
    [Fact]
    public void APipelinedRegionAddsInPartOrderBlockByBlock()
    {
        foreach (int count in new[] { 2, 3 })
        {
            int[] placement = Enumerable.Repeat(-1, count).ToArray();
            bool sideBySide = false;
            for (int round = 0; round < 50; round++)
            {
                var parts = new PipelinedParts(count, blocks: 6, failAt: -1);
                parts.Pipeline.Begin(count);
                Workers.RunPlaced(parts, count, last: round % 10 == 9, placement);
                for (int b = 0; b < 6; b++)
                {
                    Assert.Equal(Enumerable.Range(0, count), parts.Order[b]); // block b: part 0's rows, then part 1's, ...
                }

                sideBySide |= parts.Threads.Distinct().Count() > 1;
            }

            Assert.True(sideBySide, "the parts always ran on one thread"); // a late worker leaves its part to the others, not every time

            var failing = new PipelinedParts(count, blocks: 6, failAt: 0);
            failing.Pipeline.Begin(count);
            InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => Workers.RunPlaced(failing, count, last: true, placement));
            Assert.Equal("part 0 failed at block 2", e.Message);
            Assert.Equal(Enumerable.Range(1, count - 1), failing.Order[5]); // the parts after it went on to the end
        }

        // Inside a part of another region: the inner pipeline runs on its caller alone, part after part.
        var inner = new PipelinedParts(3, blocks: 4, failAt: -1);
        var outer = new OuterParts(() =>
        {
            inner.Pipeline.Begin(3);
            Workers.RunPlaced(inner, 3, last: false, [-1, -1, -1]);
        });
        Workers.Run(outer, parts: 2, last: true);
        Assert.Equal([0, 1, 2], inner.Order[3]);
        Assert.Single(inner.Threads.Distinct());
    }

    /// <summary>
    /// The caller's spans, pinned for a region: every part reads the span read and writes its own slice of the span
    /// written, on its own thread; overlapping spans are refused before anything runs, and so is a second region on the
    /// same instance from another thread while the first holds them (it would swap the spans under the first's parts).
    /// </summary>
    [Fact]
    public void CallerSpansHoldTheCallersSpansForOneRegionAtATime()
    {
        var spans = new CallerSpans();
        float[] input = Enumerable.Range(0, 64).Select(i => (float)i).ToArray();
        input[17] = float.NaN;
        float[] output = new float[64];
        var copy = new SpanCopy(spans, 4);
        spans.Run(input, output, copy, 4, last: true, placement: null);
        Assert.True(input.AsSpan().SequenceEqual(output), "each part copied its quarter"); // NaN included (SequenceEqual compares bits)
        Assert.True(spans.Read.IsEmpty && spans.Write.IsEmpty, "the spans are let go after the region");

        float[] shared = new float[80];
        Assert.Throws<ArgumentException>(() => spans.Run(shared.AsSpan(0, 64), shared.AsSpan(16, 64), copy, 4, last: true, placement: null));

        // A second thread's region on the same instance while the first's parts run.
        using var started = new System.Threading.ManualResetEventSlim();
        using var release = new System.Threading.ManualResetEventSlim();
        var holding = new HoldingPart(started, release);
        Exception? second = null;
        var other = new System.Threading.Thread(() =>
        {
            started.Wait();
            try
            {
                spans.Run(input, new float[64], copy, 4, last: true, placement: null);
            }
            catch (InvalidOperationException e)
            {
                second = e;
            }
            finally
            {
                release.Set();
            }
        });
        other.Start();
        spans.Run(input, output, holding, 1, last: true, placement: null);
        other.Join();
        Assert.IsType<InvalidOperationException>(second);
        Array.Clear(output);
        spans.Run(input, output, copy, 4, last: true, placement: null); // free again once the first region is over
        Assert.True(input.AsSpan().SequenceEqual(output));
    }

    private sealed class SpanCopy(CallerSpans spans, int parts) : IPartitioned
    {
        public void RunPart(int part, int count)
        {
            int n = spans.Read.Length / parts;
            spans.Read.Slice(part * n, n).CopyTo(spans.Write.Slice(part * n, n));
        }
    }

    private sealed class HoldingPart(System.Threading.ManualResetEventSlim started, System.Threading.ManualResetEventSlim release) : IPartitioned
    {
        public void RunPart(int part, int count)
        {
            started.Set();
            release.Wait();
        }
    }

    private sealed class PipelinedParts : IPartitioned
    {
        private readonly int _blocks;
        private readonly int _failAt;

        public PipelinedParts(int parts, int blocks, int failAt)
        {
            _blocks = blocks;
            _failAt = failAt;
            Threads = new int[parts];
            Order = Enumerable.Range(0, blocks).Select(_ => new List<int>()).ToArray();
        }

        public Pipeline Pipeline { get; } = new();

        public List<int>[] Order { get; }

        public int[] Threads { get; }

        public void RunPart(int part, int count)
        {
            Threads[part] = Environment.CurrentManagedThreadId;
            try
            {
                for (int b = 0; b < _blocks; b++)
                {
                    Pipeline.WaitFor(part, b + 1);
                    if (part == _failAt && b == 2)
                    {
                        throw new InvalidOperationException($"part {part} failed at block {b}");
                    }

                    lock (Order[b])
                    {
                        Order[b].Add(part);
                    }

                    System.Threading.Thread.SpinWait(200 * (count - part)); // the earlier parts slower: the later ones wait
                    Pipeline.Done(part, b + 1);
                }
            }
            finally
            {
                Pipeline.Finish(part);
            }
        }
    }

    private sealed class PlacedParts(int parts) : IPartitioned
    {
        public int[] Runs { get; } = new int[parts];

        public int[] Threads { get; } = new int[parts];

        public void RunPart(int part, int count)
        {
            System.Threading.Interlocked.Increment(ref Runs[part]);
            Threads[part] = Environment.CurrentManagedThreadId;
            System.Threading.Thread.SpinWait(500);
        }
    }

    /// <summary>Part 0 runs <paramref name="inside"/>, part 1 waits a little: a region of two parts that holds the workers.</summary>
    private sealed class OuterParts(Action inside) : IPartitioned
    {
        public void RunPart(int part, int parts)
        {
            if (part == 0)
            {
                inside();
            }
            else
            {
                System.Threading.Thread.SpinWait(500);
            }
        }
    }

    private sealed class NestingParts(CountingParts inner) : IPartitioned
    {
        public int Done;
        public int Overlapped;

        public void RunPart(int part, int parts)
        {
            int before = System.Threading.Volatile.Read(ref inner.Done);
            Workers.Run(inner, parts: 3, threads: 2, last: false);
            // Another thread's part may add its 3 at the same time, but this part's 3 are all done when Run returns.
            if (System.Threading.Volatile.Read(ref inner.Done) < before + 3)
            {
                System.Threading.Interlocked.Increment(ref Overlapped);
            }

            System.Threading.Interlocked.Increment(ref Done);
        }
    }

    private sealed class CountingParts : IPartitioned
    {
        public int Done;

        public void RunPart(int part, int parts)
        {
            System.Threading.Thread.SpinWait(200); // long enough for the worker to take a part
            System.Threading.Interlocked.Increment(ref Done);
        }
    }

    /// <summary>
    /// As <see cref="ModelsTrainingAtTheSameTimeStillAgree"/>, with lengths: four callers each run their own batch of
    /// different lengths (NaN in the padding) with Threads = 2 at once, in training and evaluation, on parts of equal rows
    /// and of equal steps; every output and gradient is the single thread's.
    /// </summary>
    [Fact]
    public void CallersWithTheirOwnLengthsOnSplitPassesStillAgree()
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        (ForwardGridTests.ModelCase c, Random rng, Dictionary<string, float[]> weights, int inputSize) = Stack(seed: 15);
        const int T = 11;
        int[][] lengths =
        [
            Enumerable.Range(0, 33).Select(i => 1 + ((i * 7) % T)).ToArray(), // spread: equal rows
            Enumerable.Range(0, 32).Select(i => i % 4 == 0 ? T : 1).ToArray(), // skewed: equal steps
            Enumerable.Range(0, 17).Select(i => T - (i % 5)).ToArray(),
            Enumerable.Range(0, 9).Select(i => 1 + (i % T)).ToArray(), // one part a thread
        ];
        float[][] inputs = lengths.Select(l => LengthsTests.Padded(rng, c.BatchFirst, l.Length, T, inputSize, l)).ToArray();
        var expected = lengths.Select((l, i) => (Train: Run(c, weights, inputs[i], l.Length, T, training: true, threads: 1, l), Eval: Run(c, weights, inputs[i], l.Length, T, training: false, threads: 1, l))).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        System.Threading.Tasks.Parallel.For(0, lengths.Length, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = lengths.Length }, i =>
        {
            for (int n = 0; n < 10; n++)
            {
                bool training = n % 2 == 0;
                (float[] Output, float[][] Grads) got = Run(c, weights, inputs[i], lengths[i].Length, T, training, threads: 2, lengths[i]);
                (float[] Output, float[][] Grads) want = training ? expected[i].Train : expected[i].Eval;
                if (!got.Output.AsSpan().SequenceEqual(want.Output) || got.Grads.Where((g, k) => !g.AsSpan().SequenceEqual(want.Grads[k])).Any())
                {
                    failures.Add($"caller {i} ({lengths[i].Length} sequences), call {n} ({(training ? "train" : "eval")})");
                }
            }
        });
        Assert.Empty(failures);
    }

    [Fact]
    public void ASplitTrainingStepAllocatesNothing()
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        var model = new Models.Lstm17x9 { Threads = 2 };
        model.Train();
        var rng = new Random(4);
        const int T = 6, B = 16;
        float[] x = TestSupport.RandomArray(rng, T * B * 17);
        var y = new float[T * B * 18];
        float[] gy = TestSupport.RandomArray(rng, y.Length);
        long regions = Workers.RegionsSplit;
        Assert.Equal(0, QuietestAllocation(() =>
        {
            model.Forward(x, B, T, y);
            model.ZeroGrad();
            model.Backward(gy, default);
        }));
        // Two regions a step: the sub-batches' forward passes, then their backward passes going on into every layer's
        // weight gradients (6 layers and directions here, each in a slice of the scratch of its own).
        Assert.True(Workers.RegionsSplit >= regions + (2 * 25), "the forward pass and the backward passes with the weight gradients each ran on the workers");
    }

    [Fact]
    public void SmallWorkRunsOnTheCallerAndLargeWorkSplits()
    {
        long min = Workers.DefaultMinWorkPerThread;
        Assert.Equal(min, Workers.MinWorkPerThread);
        Assert.Equal(1, Workers.Parts(threads: 2, batch: 64, work: (2 * min) - 1)); // not two threads' worth
        Assert.Equal(2, Workers.Parts(threads: 2, batch: 64, work: 2 * min));
        Assert.Equal(2, Workers.Parts(threads: 4, batch: 8, work: 100 * min)); // 4 sequences a part at least
        Assert.Equal(3, Workers.Parts(threads: 4, batch: 64, work: 3 * min));
        Assert.Equal(1, Workers.Parts(threads: 1, batch: 64, work: 100 * min));

        // A pass of a small model at batch 16 (about 0.1 MFLOP) runs on the caller with Threads = 2; a large one splits.
        var small = new Models.Lstm9x8 { Threads = 2 };
        small.Eval();
        var rng = new Random(5);
        float[] x = TestSupport.RandomArray(rng, 16 * 5 * 9);
        var y = new float[16 * 5 * 8];
        long regions = Workers.RegionsSplit;
        small.Forward(x, 16, 5, y);
        Assert.Equal(regions, Workers.RegionsSplit);
        var large = new Models.Gru3x129 { Threads = 2 };
        large.Eval();
        float[] xl = TestSupport.RandomArray(rng, 64 * 40 * 3);
        var yl = new float[64 * 40 * 258]; // both directions
        large.Forward(xl, 64, 40, yl); // per direction 64 * 40 * 2 * 408 * (3 + 136) = 290 MFLOP
        Assert.True(Workers.RegionsSplit > regions, "the large pass ran on the workers");
    }

    [Fact]
    public void WorkersSleepAfterAPasssLastRegion()
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        var rng = new Random(6);
        var one = new Models.Lstm9x8 { Threads = 2 }; // one recurrent layer: one region, the last
        one.Eval();
        float[] x = TestSupport.RandomArray(rng, 16 * 5 * 9);
        var y = new float[16 * 5 * 8];
        one.Forward(x, 16, 5, y);
        long spins = Workers.Spins;
        long regions = Workers.RegionsSplit;
        for (int i = 0; i < 10; i++)
        {
            one.Forward(x, 16, 5, y);
        }

        Assert.Equal(regions + 10, Workers.RegionsSplit);
        Assert.Equal(spins, Workers.Spins); // no long spin while the caller goes on (50 µs awake at most, then asleep)

        // Several regions, the workers waiting for the next one: a pass with lengths splits each layer (an evaluation pass
        // without is one region, its sub-batches).
        var stack = new Models.LstmGruStack { Threads = 2 };
        stack.Eval();
        int inputSize = ForwardGridTests.InputSize(ForwardGridTests.Cases["LstmGruStack"].Layers);
        int outputSize = stack.Forward(Tensor.Zeros(1, inputSize)).Length;
        float[] xs = TestSupport.RandomArray(rng, 16 * 5 * inputSize);
        int[] lengths = [.. Enumerable.Range(0, 16).Select(b => 1 + (b % 5))];
        stack.Forward(xs, 16, 5, lengths, new float[16 * 5 * outputSize]);
        Assert.True(Workers.Spins > spins, "between the regions of one pass the workers spin");
    }

    [Fact]
    public void ThreadsMustBePositive()
    {
        var model = new Models.Lstm9x8();
        Assert.Equal(1, model.Threads);
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Threads = 0);
        Assert.Contains("at least 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ASplitForwardAllocatesNothing()
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        var model = new Models.Lstm17x9 { Threads = 2 };
        model.Eval();
        var rng = new Random(3);
        const int T = 6, B = 16;
        float[] x = TestSupport.RandomArray(rng, T * B * 17);
        var y = new float[T * B * 18];
        long regions = Workers.RegionsSplit;
        Assert.Equal(0, QuietestAllocation(() => model.Forward(x, B, T, y)));
        Assert.True(Workers.RegionsSplit > regions, "the passes ran on the workers");
    }

    /// <summary>
    /// The bytes 20 calls of <paramref name="call"/> allocate (after 5 to warm up), in the quietest of up to 8 windows,
    /// on the pass's own threads only: the caller's count and what the workers allocated running their parts (the
    /// process's total also counts the test host's threads, which allocate while a loaded machine runs the windows). An
    /// allocation by the pass itself would show in every window.
    /// </summary>
    internal static long QuietestAllocation(Action call)
    {
        for (int i = 0; i < 5; i++)
        {
            call();
        }

        long quietest = long.MaxValue;
        for (int window = 0; window < 8 && quietest != 0; window++)
        {
            long caller = GC.GetAllocatedBytesForCurrentThread();
            long workers = Workers.WorkerAllocatedBytes;
            for (int i = 0; i < 20; i++)
            {
                call();
            }

            quietest = Math.Min(quietest, GC.GetAllocatedBytesForCurrentThread() - caller + (Workers.WorkerAllocatedBytes - workers));
        }

        return quietest;
    }

    [Fact]
    public void ModelsSplittingAtTheSameTimeStillAgree()
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        // Only one region runs on the workers at a time: a second caller runs its parts itself. Either way the same bits.
        var rng = new Random(11);
        const int T = 5, B = 12;
        float[] x = TestSupport.RandomArray(rng, T * B * 9);
        var expected = new float[T * B * 8];
        var reference = new Models.Lstm9x8();
        reference.Eval();
        reference.Forward(x, B, T, expected);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        System.Threading.Tasks.Parallel.For(0, 4, i =>
        {
            var model = new Models.Lstm9x8 { Threads = 2 };
            model.Eval();
            var y = new float[expected.Length];
            for (int n = 0; n < 100; n++)
            {
                model.Forward(x, B, T, y);
                if (!y.AsSpan().SequenceEqual(expected))
                {
                    failures.Add($"caller {i}, call {n}");
                    return;
                }
            }
        });
        Assert.Empty(failures);
    }

    [Fact]
    public void AFailingPartIsRethrownAndTheWorkersCarryOn()
    {
        var failing = new Parts(failAt: 1);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => Workers.Run(failing, 2, last: true));
        Assert.Equal("part 1 failed", e.Message);
        var fine = new Parts(failAt: -1);
        Workers.Run(fine, 2, last: true);
        Assert.Equal([1, 1], fine.Runs);
        Assert.NotEqual(fine.Threads[0], fine.Threads[1]); // the parts ran on two threads (each waited for the other)
        Assert.Contains(Environment.CurrentManagedThreadId, fine.Threads);
    }

    [Fact]
    public void ALateThreadLeavesItsPartsToTheOthers()
    {
        // Eight parts on two threads, one of them held up: the other takes every part that is left, each exactly once.
        var late = new LateParts(parts: 8);
        Workers.Run(late, parts: 8, threads: 2, last: true);
        Assert.All(late.Runs, r => Assert.Equal(1, r));
        Assert.True(late.ByOthers >= 6, $"{late.ByOthers} of 8 parts ran on the thread that was not held up");
        Assert.Equal(1, Workers.Chunks(threads: 1, batch: 64));
        Assert.Equal(4, Workers.Chunks(threads: 2, batch: 64)); // two parts a thread
        Assert.Equal(3, Workers.Chunks(threads: 2, batch: 12)); // 4 sequences a part at least
        Assert.Equal(2, Workers.Chunks(threads: 2, batch: 8));
    }

    private sealed class Parts(int failAt) : IPartitioned
    {
        private int _started;

        public int[] Runs { get; } = new int[2];

        public int[] Threads { get; } = new int[2];

        public void RunPart(int part, int parts)
        {
            System.Threading.Interlocked.Increment(ref Runs[part]);
            Threads[part] = Environment.CurrentManagedThreadId;
            // Each part waits (briefly) for the other to start, so that one thread cannot take both.
            System.Threading.Interlocked.Increment(ref _started);
            System.Threading.SpinWait.SpinUntil(() => System.Threading.Volatile.Read(ref _started) == 2, TimeSpan.FromSeconds(5));
            if (part == failAt)
            {
                throw new InvalidOperationException($"part {part} failed");
            }
        }
    }

    private sealed class LateParts(int parts) : IPartitioned
    {
        private int _first = -1;
        private int _byOthers;

        public int[] Runs { get; } = new int[parts];

        public int ByOthers => _byOthers;

        public void RunPart(int part, int parts)
        {
            System.Threading.Interlocked.Increment(ref Runs[part]);
            int thread = Environment.CurrentManagedThreadId;
            if (System.Threading.Interlocked.CompareExchange(ref _first, thread, -1) == -1)
            {
                System.Threading.Thread.Sleep(200); // the first thread to take a part is held up
            }
            else if (thread != _first)
            {
                System.Threading.Interlocked.Increment(ref _byOthers);
            }
        }
    }

    /// <summary>A grid model with <paramref name="weights"/>, in the mode asked (models start in training mode, as PyTorch's do) and on <paramref name="threads"/> threads.</summary>
    internal static IModel Create(ForwardGridTests.ModelCase c, Dictionary<string, float[]> weights, bool training, int threads)
    {
        IModel model = c.Create();
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, weights));
        model.Threads = threads;
        if (training)
        {
            model.Train();
        }
        else
        {
            model.Eval();
        }

        return model;
    }

    /// <summary>The outputs and every gradient of two runs, bit for bit.</summary>
    private static void AssertSameBits((float[] Output, float[][] Grads) one, (float[] Output, float[][] Grads) many, string what)
    {
        Assert.True(one.Output.AsSpan().SequenceEqual(many.Output), what + " output");
        Assert.Equal(one.Grads.Length, many.Grads.Length);
        for (int i = 0; i < one.Grads.Length; i++)
        {
            Assert.True(one.Grads[i].AsSpan().SequenceEqual(many.Grads[i]), $"{what} gradient {i}");
        }
    }

    /// <summary>The LSTM-then-GRU stack of the grid, random weights from <paramref name="seed"/> and the generator that drew them.</summary>
    private static (ForwardGridTests.ModelCase Case, Random Rng, Dictionary<string, float[]> Weights, int InputSize) Stack(int seed)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases["LstmGruStack"];
        var rng = new Random(seed);
        return (c, rng, TestSupport.RandomWeights(c.Layers, rng), ForwardGridTests.InputSize(c.Layers));
    }

    internal static (float[] Output, float[][] Grads) Run(ForwardGridTests.ModelCase c, Dictionary<string, float[]> weights, float[] x, int batch, int seqLen, bool training, int threads, int[]? lengths = null)
    {
        IModel model = Create(c, weights, training, threads);
        int[] shape = c.BatchFirst ? [batch, seqLen, x.Length / batch / seqLen] : [seqLen, batch, x.Length / batch / seqLen];
        int outputSize = model.Forward(Tensor.Zeros(shape)).Length;
        var output = new float[outputSize];
        if (lengths is null)
        {
            model.Forward(x, batch, seqLen, output);
        }
        else
        {
            model.Forward(x, batch, seqLen, lengths, output);
        }

        if (!training)
        {
            return (output, []);
        }

        float[] gradOutput = TestSupport.RandomArray(new Random(7), output.Length);
        var gradInput = new float[x.Length];
        model.Backward(gradOutput, gradInput);
        return (output, [gradInput, .. model.Parameters().Select(p => p.Grad.AsSpan().ToArray())]);
    }
}
