using System;
using System.Collections.Generic;
using System.Linq;
using RecurrentLayers;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// The training conveniences against PyTorch's formulas: the learning-rate schedulers (closed forms of
/// torch.optim.lr_scheduler, and its rules step by step), Softmax/ArgMax/Accuracy, the state-dict copy, early stopping
/// and the mini-batch iterator.
/// </summary>
public class TrainingHelpersTests
{
    private static Sgd Optimizer(float lr, float momentum = 0) => new(new SeedGru(1), lr, momentum);

    private static void AssertClose(double expected, double actual, double relative = 1e-12) =>
        Assert.True(Math.Abs(expected - actual) <= relative * Math.Abs(expected) + 1e-300, $"expected {expected:R}, got {actual:R}");

    [Fact]
    public void StepLRDecaysEveryStepSizeEpochs()
    {
        Sgd sgd = Optimizer(0.1f);
        var s = new StepLR(sgd, stepSize: 3, gamma: 0.1);
        Assert.Equal(0, s.LastEpoch);
        Assert.Equal(0.1f, sgd.LearningRate);
        for (int epoch = 1; epoch <= 10; epoch++)
        {
            s.Step();
            double expected = (double)0.1f * Math.Pow(0.1, epoch / 3); // lr = base * gamma^floor(epoch / step_size)
            AssertClose(expected, s.LearningRate);
            Assert.Equal((float)s.LearningRate, sgd.LearningRate);
            Assert.Equal(epoch, s.LastEpoch);
        }
    }

    [Fact]
    public void CosineAnnealingLRFollowsTheCosineAndGoesOnPastTMax()
    {
        Adam adam = new(new SeedGru(1), lr: 0.01f);
        var s = new CosineAnnealingLR(adam, tMax: 10, etaMin: 1e-4);
        double baseLr = 0.01f;
        for (int epoch = 1; epoch <= 35; epoch++)
        {
            s.Step();
            // PyTorch's closed form, which its recurrence follows (past T_max too: back up to the base at 2 T_max).
            double expected = 1e-4 + ((baseLr - 1e-4) * (1 + Math.Cos(Math.PI * epoch / 10)) / 2);
            AssertClose(expected, s.LearningRate, 1e-9);
            Assert.Equal((float)s.LearningRate, adam.LearningRate);
        }
    }

    [Fact]
    public void ASchedulerContinuesFromARateSetByHand()
    {
        // PyTorch's schedulers are chainable: they read the group's lr, so a change between steps carries on.
        Sgd sgd = Optimizer(1f);
        var s = new StepLR(sgd, stepSize: 1, gamma: 0.5);
        s.Step();
        Assert.Equal(0.5f, sgd.LearningRate);
        sgd.LearningRate = 0.2f;
        s.Step();
        Assert.Equal(0.1f, sgd.LearningRate);
    }

    [Fact]
    public void OneCycleLRMatchesPyTorchsPhasesAndCyclesBeta1()
    {
        Adam adam = new(new SeedGru(1), lr: 1f);
        const double MaxLr = 0.01;
        const int Total = 100;
        var s = new OneCycleLR(adam, MaxLr, Total);
        double initial = MaxLr / 25, min = initial / 1e4;
        double phase1End = (0.3 * Total) - 1; // 29: PyTorch's float(pct_start * total_steps) - 1

        static double Cos(double start, double end, double pct) => end + ((start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1));
        void Check(int step)
        {
            double lr, beta1;
            if (step <= phase1End)
            {
                lr = Cos(initial, MaxLr, step / phase1End);
                beta1 = Cos(0.95, 0.85, step / phase1End);
            }
            else
            {
                double pct = (step - phase1End) / (Total - 1 - phase1End);
                lr = Cos(MaxLr, min, pct);
                beta1 = Cos(0.85, 0.95, pct);
            }

            AssertClose(lr, s.LearningRate, 1e-12);
            Assert.Equal((float)lr, adam.LearningRate);
            Assert.Equal((float)beta1, adam.Beta1);
        }

        Check(0);
        Assert.Equal((float)initial, adam.LearningRate);
        for (int step = 1; step < Total; step++)
        {
            s.Step();
            Check(step);
        }

        AssertClose(min, s.LearningRate);
        s.Step(); // step_num == total_steps is still allowed in PyTorch
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(s.Step);
        Assert.StartsWith("Tried to step 101 times. The specified number of total steps is 100", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OneCycleLRLinearAndThreePhase()
    {
        Sgd sgd = Optimizer(1f, momentum: 0.9f);
        var s = new OneCycleLR(sgd, maxLr: 1.0, totalSteps: 20, pctStart: 0.25, annealStrategy: AnnealStrategy.Linear, threePhase: true, divFactor: 10, finalDivFactor: 100);
        // Phases end at 4, 8 and 19: 0.1 -> 1 -> 0.1 linearly, then 0.1 -> 0.001.
        var expected = new List<double>();
        for (int step = 0; step <= 19; step++)
        {
            expected.Add(step <= 4 ? 0.1 + (0.9 * step / 4) : step <= 8 ? 1 - (0.9 * (step - 4) / 4) : 0.1 + ((0.001 - 0.1) * (step - 8) / 11));
        }

        var actual = new List<double> { s.LearningRate };
        float[] momentum = [sgd.Momentum];
        for (int step = 1; step <= 19; step++)
        {
            s.Step();
            actual.Add(s.LearningRate);
        }

        for (int i = 0; i < expected.Count; i++)
        {
            AssertClose(expected[i], actual[i], 1e-12);
        }

        Assert.Equal(0.95f, momentum[0]);
        Assert.Equal(0.95f, sgd.Momentum); // the third phase holds max_momentum
    }

    [Fact]
    public void OneCycleLRSaysWhenTheOptimizerHasNoMomentumToCycle()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new OneCycleLR(Optimizer(0.1f), maxLr: 0.1, totalSteps: 10));
        Assert.Contains("this SGD was created without momentum", e.Message, StringComparison.Ordinal);
        var ok = new OneCycleLR(Optimizer(0.1f), maxLr: 0.1, totalSteps: 10, cycleMomentum: false);
        Assert.Equal(0.004, ok.LearningRate, 15);
    }

    [Fact]
    public void ReduceLROnPlateauCutsAfterPatienceAndCoolsDown()
    {
        Sgd sgd = Optimizer(1f);
        var s = new ReduceLROnPlateau(sgd, factor: 0.5, patience: 2, cooldown: 1, minLr: 0.2);
        // PyTorch's rule: a cut when num_bad_epochs > patience; then cooldown epochs that count no bad epochs.
        double[] metrics = [1.0, 0.9, 0.95, 0.9, 0.9, 0.9, 0.95, 0.95, double.NaN, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9];
        float[] expected = [1, 1, 1, 1, 0.5f, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.25f, 0.25f, 0.2f, 0.2f, 0.2f];
        var rates = new List<float>();
        foreach (double m in metrics)
        {
            s.Step(m);
            rates.Add(sgd.LearningRate);
        }

        Assert.Equal(expected, rates);
        Assert.Equal(0.9, s.Best);
    }

    [Fact]
    public void ReduceLROnPlateauInMaxModeWithAnAbsoluteThreshold()
    {
        Sgd sgd = Optimizer(1f);
        var s = new ReduceLROnPlateau(sgd, MetricMode.Max, factor: 0.1, patience: 0, threshold: 0.05, thresholdMode: ThresholdMode.Abs);
        s.Step(0.5);   // better than -inf
        s.Step(0.54);  // not by 0.05: a bad epoch > patience 0, cut
        Assert.Equal(0.1f, sgd.LearningRate);
        s.Step(0.56);  // by 0.06: better
        Assert.Equal(0.1f, sgd.LearningRate);
        Assert.Equal(0.56, s.Best);
    }

    [Fact]
    public void SchedulersRejectBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepLR(Optimizer(0.1f), stepSize: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnnealingLR(Optimizer(0.1f), tMax: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLROnPlateau(Optimizer(0.1f), factor: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OneCycleLR(Optimizer(0.1f, 0.9f), maxLr: 0.1, totalSteps: 10, pctStart: 1.5));
        Assert.Throws<ArgumentNullException>(() => new StepLR(null!, 1));
    }

    [Fact]
    public void SoftmaxArgMaxAndAccuracyFollowPyTorch()
    {
        float[] logits = [1, 2, 3, 1000, 1001, 999, 5, 5, 0, float.NaN, 1, 2];
        var p = new float[logits.Length];
        Classification.Softmax(logits, 3, p);
        for (int r = 0; r < 3; r++)
        {
            double max = logits.Skip(r * 3).Take(3).Max();
            double sum = logits.Skip(r * 3).Take(3).Sum(v => Math.Exp(v - max));
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(Math.Exp(logits[(r * 3) + c] - max) / sum, p[(r * 3) + c], 6); // no overflow at 1000
            }
        }

        Assert.All(p.Skip(9), v => Assert.True(float.IsNaN(v))); // a NaN logit: the row is NaN, as torch.softmax gives

        var classes = new int[4];
        Classification.ArgMax(logits, 3, classes);
        Assert.Equal([2, 1, 0, 0], classes); // ties: the first; NaN: its index (torch.argmax treats NaN as the max)
        Assert.Equal(0.5, Classification.Accuracy(logits, 3, [2, 1, 1, 2]));

        Tensor t = Tensor.FromArray(logits[..6], 2, 3);
        Assert.Equal([2, 1], Classification.ArgMax(t));
        Assert.Equal(p[..6], Classification.Softmax(t).ToArray());
        Assert.Equal(1.0, Classification.Accuracy(t, [2, 1]));

        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => Classification.Accuracy(logits, 3, [2, 1, 3, 0]));
        Assert.Contains("labels[2] is 3, outside [0, 3)", e.Message, StringComparison.Ordinal);
        ArgumentException wrong = Assert.Throws<ArgumentException>(() => Classification.Accuracy(logits, 3, [2, 1]));
        Assert.Contains("Expected labels of length 4, got 2", wrong.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Classification.ArgMax(logits, 5, new int[2]));
    }

    [Fact]
    public void ACloneOfTheStateDictKeepsTheBestWeightsThroughTraining()
    {
        var model = new SeedGru(1);
        Dictionary<string, Tensor> best = StateDicts.Clone(model.StateDict());
        float[][] before = model.Parameters().Select(p => p.Value.ToArray()).ToArray();
        foreach (Parameter p in model.Parameters())
        {
            p.Value.AsSpan().Fill(7);
        }

        Assert.Equal(before, best.Values.Select(t => t.ToArray()).ToArray()); // untouched by the change
        Assert.Equal(model.StateDict().Keys, best.Keys);
        model.LoadStateDict(best);
        Assert.Equal(before, model.Parameters().Select(p => p.Value.ToArray()).ToArray());
    }

    [Fact]
    public void EarlyStoppingStopsAfterPatienceAndRestoresTheBestWeights()
    {
        var model = new SeedGru(1);
        var stop = new EarlyStopping(model, patience: 2);
        Assert.Throws<InvalidOperationException>(stop.RestoreBest);
        float[][]? bestWeights = null;
        double[] losses = [1.0, 0.5, 0.6, 0.4, 0.45, 0.41];
        bool[] expected = [false, false, false, false, false, true];
        for (int epoch = 0; epoch < losses.Length; epoch++)
        {
            foreach (Parameter p in model.Parameters())
            {
                p.Value.AsSpan().Fill(epoch); // "training" changes the weights every epoch
            }

            if (losses[epoch] == 0.4)
            {
                bestWeights = model.Parameters().Select(p => p.Value.ToArray()).ToArray();
            }

            Assert.Equal(expected[epoch], stop.Update(losses[epoch]));
        }

        Assert.Equal(0.4, stop.Best);
        Assert.Equal(4, stop.BestEpoch);
        stop.RestoreBest();
        Assert.Equal(bestWeights, model.Parameters().Select(p => p.Value.ToArray()).ToArray());

        // The model runs on the restored weights (its packed weights follow the parameters).
        model.Eval();
        var fresh = new SeedGru(2);
        fresh.LoadStateDict(StateDicts.Clone(model.StateDict()));
        fresh.Eval();
        Tensor x = Tensor.FromArray(TestSupport.RandomArray(new Random(3), 2 * 3 * 4, 1.0), 2, 3, 4);
        Assert.Equal(fresh.Forward(x).ToArray(), model.Forward(x).ToArray());
    }

    [Fact]
    public void EarlyStoppingStopsOnANonFiniteMetricAndInMaxMode()
    {
        var stop = new EarlyStopping(new SeedGru(1), patience: 10);
        Assert.False(stop.Update(0.3));
        Assert.True(stop.Update(double.NaN));
        Assert.True(stop.StoppedOnNonFinite);
        Assert.Equal(1, stop.BestEpoch);

        var max = new EarlyStopping(new SeedGru(1), patience: 1, minDelta: 0.01, mode: MetricMode.Max);
        Assert.False(max.Update(0.80));
        Assert.True(max.Update(0.805)); // not better by minDelta
        Assert.Equal(0.80, max.Best);
    }

    [Fact]
    public void MiniBatchesVisitEverySampleOncePerEpochInASeededOrder()
    {
        const int N = 23, Len = 3;
        float[] inputs = Enumerable.Range(0, N * Len).Select(i => (float)i).ToArray();
        int[] labels = Enumerable.Range(0, N).Select(i => i * 10).ToArray();
        var batches = MiniBatches.Create(inputs, Len, labels, 1, batchSize: 5, seed: 7);
        Assert.Equal(5, batches.BatchesPerEpoch);

        List<int[]> Epoch(MiniBatches<float, int> b)
        {
            var order = new List<int[]>();
            foreach (MiniBatch<float, int> batch in b)
            {
                for (int k = 0; k < batch.Size; k++)
                {
                    int i = batch.Indices[k];
                    Assert.Equal(inputs.AsSpan(i * Len, Len).ToArray(), batch.Inputs.Slice(k * Len, Len).ToArray());
                    Assert.Equal(i * 10, batch.Targets[k]);
                }

                order.Add(batch.Indices.ToArray());
            }

            return order;
        }

        List<int[]> first = Epoch(batches);
        List<int[]> second = Epoch(batches);
        Assert.Equal([5, 5, 5, 5, 3], first.Select(b => b.Length));
        Assert.Equal(Enumerable.Range(0, N), first.SelectMany(b => b).Order());
        Assert.Equal(Enumerable.Range(0, N), second.SelectMany(b => b).Order());
        Assert.NotEqual(first.SelectMany(b => b), second.SelectMany(b => b)); // a new order each epoch
        Assert.NotEqual(Enumerable.Range(0, N), first.SelectMany(b => b));

        var again = MiniBatches.Create(inputs, Len, labels, 1, batchSize: 5, seed: 7);
        Assert.Equal(first.SelectMany(b => b), Epoch(again).SelectMany(b => b)); // the same seed, the same epochs
        Assert.Equal(second.SelectMany(b => b), Epoch(again).SelectMany(b => b));

        var inOrder = MiniBatches.Create(inputs, Len, labels, 1, batchSize: 5, shuffle: false, dropLast: true);
        Assert.Equal(Enumerable.Range(0, 20), Epoch(inOrder).SelectMany(b => b));
    }

    [Fact]
    public void AnEpochOfMiniBatchesAllocatesNothing()
    {
        float[] inputs = new float[1000 * 8];
        float[] targets = new float[1000];
        var batches = MiniBatches.Create(inputs, 8, targets, 1, batchSize: 32, seed: 1);
        static float Sum(MiniBatches<float, float> b)
        {
            float s = 0;
            foreach (MiniBatch<float, float> batch in b)
            {
                s += batch.Targets[0] + batch.Inputs[0];
            }

            return s;
        }

        Sum(batches);
        Assert.Equal(0, TestSupport.QuietestAllocation(() => Sum(batches)));
    }

    [Fact]
    public void AnEpochStartedInsideAnotherStopsTheOlderOne()
    {
        var batches = MiniBatches.Create(new float[40], 2, new int[20], 1, batchSize: 4, seed: 3);
        var outer = batches.GetEnumerator();
        Assert.True(outer.MoveNext());
        int inner = 0;
        foreach (MiniBatch<float, int> batch in batches)
        {
            inner += batch.Size; // the newer epoch runs whole
        }

        Assert.Equal(20, inner);
        string? refused = null;
        try
        {
            outer.MoveNext();
        }
        catch (InvalidOperationException e)
        {
            refused = e.Message;
        }

        Assert.NotNull(refused);
        Assert.StartsWith("Epoch 1 of these mini-batches was still running when epoch 2 started", refused, StringComparison.Ordinal);

        // From a second thread at once: one of the two loops is refused, never silently fed a reshuffled order.
        var failures = 0;
        var barrier = new System.Threading.Barrier(2);
        void Loop()
        {
            try
            {
                var it = batches.GetEnumerator();
                barrier.SignalAndWait();
                while (it.MoveNext())
                {
                    System.Threading.Thread.Sleep(1);
                }
            }
            catch (InvalidOperationException)
            {
                System.Threading.Interlocked.Increment(ref failures);
            }
        }

        var other = new System.Threading.Thread(Loop);
        other.Start();
        Loop();
        other.Join();
        Assert.True(failures >= 1, "two epochs ran at once and neither was refused");
    }

    [Fact]
    public void MiniBatchesCheckTheirData()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => MiniBatches.Create(new float[12], 4, new int[4], 1, 2));
        Assert.Contains("3 samples of 4 inputs, but 4 of 1 targets", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => MiniBatches.Create(new float[10], 4, new int[2], 1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => MiniBatches.Create(new float[8], 4, new int[2], 1, 0));
    }
}
