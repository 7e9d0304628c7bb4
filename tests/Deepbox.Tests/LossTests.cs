using System;
using System.Linq;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// MSE, cross-entropy and BCE-with-logits: values and gradients against PyTorch's formulas, evaluated naively in double
/// below, plus values worked out by hand, extreme logits, shape errors and allocation.
/// </summary>
public class LossTests
{
    [Fact]
    public void MseByHand()
    {
        float[] p = [1, 2, 3, 4];
        float[] t = [1.5f, 2, 2, 5];
        var g = new float[4];

        // Differences -0.5, 0, 1, -1: squares sum to 2.25.
        Assert.Equal(0.5625f, Losses.Mse(p, t, g));
        Assert.Equal([-0.25f, 0, 0.5f, -0.5f], g);
        Assert.Equal(2.25f, Losses.Mse(p, t, g, Reduction.Sum));
        Assert.Equal([-1f, 0, 2, -2], g);
        Assert.Equal(0.5625f, Losses.Mse(p, t, Span<float>.Empty));

        (float loss, Tensor grad) = Losses.Mse(Tensor.FromArray(p, 2, 2), Tensor.FromArray(t, 2, 2));
        Assert.Equal(0.5625f, loss);
        Assert.Equal([2, 2], grad.Shape);
        Assert.Equal([-0.25f, 0, 0.5f, -0.5f], grad.ToArray());
    }

    [Theory]
    [InlineData(Reduction.Mean)]
    [InlineData(Reduction.Sum)]
    public void MseMatchesDouble(Reduction reduction)
    {
        var rng = new Random(11);
        float[] p = TestSupport.RandomArray(rng, 777, 3);
        float[] t = TestSupport.RandomArray(rng, 777, 3);
        var g = new float[777];
        double scale = reduction == Reduction.Mean ? 1.0 / 777 : 1.0;
        double expected = p.Zip(t, (a, b) => ((double)a - b) * ((double)a - b)).Sum() * scale;
        Assert.Equal(expected, Losses.Mse(p, t, g, reduction), expected * 1e-6);
        TestSupport.AssertClose(p.Zip(t, (a, b) => 2 * ((double)a - b) * scale).ToArray(), g, 1e-6, "MSE gradient");
    }

    [Fact]
    public void CrossEntropyByHand()
    {
        float[] logits = [1, 2, 3, 1, 1, 1];
        int[] targets = [2, 0];
        var g = new float[6];

        // Row 0: log(e + e^2 + e^3) - 3 = 0.40760596; row 1: log 3 = 1.09861229.
        Assert.Equal(0.75310912f, Losses.CrossEntropy(logits, targets, g), 1e-6f);
        double[] softmax0 = [0.09003057, 0.24472847, 0.66524096];
        double third = 1.0 / 3;
        double[] expected = [softmax0[0] / 2, softmax0[1] / 2, (softmax0[2] - 1) / 2, (third - 1) / 2, third / 2, third / 2];
        TestSupport.AssertClose(expected, g, 1e-6, "CE mean gradient");

        Assert.Equal(1.50621825f, Losses.CrossEntropy(logits, targets, g, Reduction.Sum), 1e-6f);
        TestSupport.AssertClose(expected.Select(x => x * 2).ToArray(), g, 1e-6, "CE sum gradient");
        Assert.Equal(0.75310912f, Losses.CrossEntropy(logits, targets, Span<float>.Empty), 1e-6f);

        (float loss, Tensor grad) = Losses.CrossEntropy(Tensor.FromArray(logits, 2, 3), targets);
        Assert.Equal(0.75310912f, loss, 1e-6f);
        Assert.Equal([2, 3], grad.Shape);
        TestSupport.AssertClose(expected, grad.AsSpan(), 1e-6, "CE tensor gradient");
    }

    [Theory]
    [InlineData(true, Reduction.Mean)]
    [InlineData(false, Reduction.Mean)]
    [InlineData(true, Reduction.Sum)]
    [InlineData(false, Reduction.Sum)]
    public void MseByLengthsCountsOnlyTheValidSteps(bool batchFirst, Reduction reduction)
    {
        // PyTorch: mask[b, t] = t < lengths[b]; loss = ((p - y)**2 * mask).sum() / mask.sum() (Sum: no division).
        const int B = 4, T = 6, F = 3;
        int[] lengths = [6, 1, 4, 2];
        var rng = new Random(9);
        float[] p = TestSupport.RandomArray(rng, B * T * F, 2.0);
        float[] y = TestSupport.RandomArray(rng, B * T * F, 2.0);
        int At(int b, int t, int f) => batchFirst ? (((b * T) + t) * F) + f : (((t * B) + b) * F) + f;
        double sum = 0;
        int valid = 0;
        var expectedGrad = new double[p.Length];
        for (int b = 0; b < B; b++)
        {
            for (int t = 0; t < lengths[b]; t++)
            {
                for (int f = 0; f < F; f++)
                {
                    double d = (double)p[At(b, t, f)] - y[At(b, t, f)];
                    sum += d * d;
                    expectedGrad[At(b, t, f)] = 2 * d;
                    valid++;
                }
            }
        }

        double scale = reduction == Reduction.Mean ? 1.0 / valid : 1.0;
        var g = new float[p.Length];
        g.AsSpan().Fill(float.NaN); // a reused buffer: zeros past each length too
        float loss = Losses.Mse(p, y, g, lengths, T, batchFirst, reduction);
        Assert.Equal(sum * scale, loss, 5);
        TestSupport.AssertClose(expectedGrad.Select(v => v * scale).ToArray(), g, 1e-6, "masked MSE gradient");
        Assert.Equal(loss, Losses.Mse(p, y, Span<float>.Empty, lengths, T, batchFirst, reduction));

        // Padding is left out, whatever it holds: NaN there changes nothing.
        float[] dirty = (float[])p.Clone();
        dirty[At(1, 3, 0)] = float.NaN; // sequence 1 has length 1: step 3 is padding
        Assert.Equal(loss, Losses.Mse(dirty, y, Span<float>.Empty, lengths, T, batchFirst, reduction));
        dirty[At(1, 0, 0)] = float.NaN; // a valid step: NaN shows
        Assert.True(float.IsNaN(Losses.Mse(dirty, y, Span<float>.Empty, lengths, T, batchFirst, reduction)));

        // Every sequence whole: the plain MSE.
        Assert.Equal(Losses.Mse(p, y, Span<float>.Empty, reduction), Losses.Mse(p, y, Span<float>.Empty, [T, T, T, T], T, batchFirst, reduction), 6);

        ArgumentException e = Assert.Throws<ArgumentException>(() => Losses.Mse(p, y, g, [6, 0, 4, 2], T, batchFirst));
        Assert.StartsWith("lengths[1] is 0, outside [1, 6]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => Losses.Mse(p, y, g, [6, 1, 4, 2, 3], T, batchFirst));
        Assert.StartsWith("Expected predictions of B * T * F values for B = 5 lengths and T = 6, got 72", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CrossEntropyLeavesOutTheIgnoredRows()
    {
        // The same two rows as above with a padding row between them (PyTorch's ignore_index, -100 by default): the loss
        // and the counted rows' gradients are those of the two rows alone, the mean is over 2, the padding row's gradient 0.
        float[] logits = [1, 2, 3, 5, -4, 7, 1, 1, 1];
        int[] targets = [2, -100, 0];
        var g = new float[9];
        Assert.Equal(0.75310912f, Losses.CrossEntropy(logits, targets, g), 1e-6f);
        double[] softmax0 = [0.09003057, 0.24472847, 0.66524096];
        double third = 1.0 / 3;
        double[] expected = [softmax0[0] / 2, softmax0[1] / 2, (softmax0[2] - 1) / 2, 0, 0, 0, (third - 1) / 2, third / 2, third / 2];
        TestSupport.AssertClose(expected, g, 1e-6, "CE gradient with an ignored row");
        Assert.Equal(1.50621825f, Losses.CrossEntropy(logits, targets, g, Reduction.Sum), 1e-6f);

        // An ignored row is left out whatever it holds (PyTorch skips it): NaN there changes nothing; in a counted row it shows.
        float[] dirty = (float[])logits.Clone();
        dirty[4] = float.NaN;
        Assert.Equal(0.75310912f, Losses.CrossEntropy(dirty, targets, g), 1e-6f);
        Assert.All(g.AsSpan(3, 3).ToArray(), v => Assert.Equal(0f, v));
        dirty[0] = float.NaN;
        Assert.True(float.IsNaN(Losses.CrossEntropy(dirty, targets, g)));

        // Another ignore index; a sequence model's [B, T, C] logits against B * T ids.
        Assert.Equal(0.75310912f, Losses.CrossEntropy(logits, [2, 7, 0], g, ignoreIndex: 7), 1e-6f);
        (float loss, Tensor grad) = Losses.CrossEntropy(Tensor.FromArray([.. logits, 0, 0, 0], 2, 2, 3), [2, -100, 0, -100]);
        Assert.Equal(0.75310912f, loss, 1e-6f);
        Assert.Equal([2, 2, 3], grad.Shape);

        // Every row ignored: Mean is 0 / 0, NaN as in PyTorch; Sum is 0. A wrong id still throws, naming the ignored one.
        Assert.True(float.IsNaN(Losses.CrossEntropy(logits, [-100, -100, -100], g)));
        Assert.All(g, v => Assert.Equal(0f, v));
        Assert.Equal(0f, Losses.CrossEntropy(logits, [-100, -100, -100], g, Reduction.Sum));
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.CrossEntropy(logits, [2, -1, 0], g));
        Assert.Contains("Expected class ids in [0, 3) or the ignored -100, got -1 for row 1", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(5, 7, Reduction.Mean)]
    [InlineData(5, 7, Reduction.Sum)]
    [InlineData(3, 700, Reduction.Mean)]
    public void CrossEntropyIsSoftmaxMinusOneHot(int rows, int classes, Reduction reduction)
    {
        var rng = new Random(rows * classes);
        float[] logits = TestSupport.RandomArray(rng, rows * classes, 4);
        int[] targets = Enumerable.Range(0, rows).Select(_ => rng.Next(classes)).ToArray();
        var g = new float[rows * classes];
        double scale = reduction == Reduction.Mean ? 1.0 / rows : 1.0;
        double loss = 0;
        var expectedGrad = new double[rows * classes];
        for (int i = 0; i < rows; i++)
        {
            double[] e = Enumerable.Range(0, classes).Select(j => Math.Exp(logits[(i * classes) + j])).ToArray();
            double s = e.Sum();
            loss += Math.Log(s) - logits[(i * classes) + targets[i]];
            for (int j = 0; j < classes; j++)
            {
                expectedGrad[(i * classes) + j] = ((e[j] / s) - (j == targets[i] ? 1 : 0)) * scale;
            }
        }

        float actual = Losses.CrossEntropy(logits, targets, g, reduction);
        Assert.Equal(loss * scale, actual, Math.Abs(loss * scale) * 1e-6);
        TestSupport.AssertClose(expectedGrad, g, 1e-6, "CE gradient");
        Assert.Equal(actual, Losses.CrossEntropy(logits, targets, Span<float>.Empty, reduction), Math.Abs(actual) * 1e-6);
    }

    [Fact]
    public void CrossEntropyOfExtremeLogitsIsFinite()
    {
        float[] logits = [100, -100, -100, 100, 100, 100];
        int[] targets = [0, 0, 1];
        var g = new float[6];

        // Losses 0 (log(1 + e^-200)), 200 and log 2.
        float loss = Losses.CrossEntropy(logits, targets, g);
        Assert.Equal((200 + Math.Log(2)) / 3, loss, 1e-4);
        Assert.All(g, x => Assert.True(float.IsFinite(x)));
        TestSupport.AssertClose([0, 0, -1.0 / 3, 1.0 / 3, 1.0 / 6, -1.0 / 6], g, 1e-7, "extreme CE gradient");
        Assert.Equal(200 + Math.Log(2), Losses.CrossEntropy(logits, targets, g, Reduction.Sum), 1e-4);
    }

    [Fact]
    public void CrossEntropyErrorsSayWhat()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(Tensor.Zeros(8, 3), new int[5]));
        Assert.StartsWith("Expected targets [8], got [5]", e.Message, StringComparison.Ordinal);
        Assert.Equal("targets", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(Tensor.Zeros(8), new int[8]));
        Assert.StartsWith("Expected logits [N, C] or [B, T, C] with C >= 1, got [8]", e.Message, StringComparison.Ordinal);
        ArgumentOutOfRangeException o = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.CrossEntropy(Tensor.Zeros(2, 3), [0, 3]));
        Assert.StartsWith("Expected class ids in [0, 3) or the ignored -100, got 3 for row 1", o.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.CrossEntropy(Tensor.Zeros(2, 3), [-1, 0]));
        e = Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(new float[7], [0, 1], Span<float>.Empty));
        Assert.StartsWith("Expected logits of length N * C for N = 2 class ids", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(new float[6], [0, 1], new float[5]));
        Assert.StartsWith("Expected gradient of length 6 (or empty), got 5", e.Message, StringComparison.Ordinal);
        Assert.True(float.IsNaN(Losses.CrossEntropy([], [], Span<float>.Empty)));
        Assert.Equal(0f, Losses.CrossEntropy([], [], Span<float>.Empty, Reduction.Sum));
    }

    [Fact]
    public void BceWithLogitsByHand()
    {
        float[] x = [0, 2, -1];
        float[] t = [0.5f, 1, 0];
        var g = new float[3];

        // log 2, log(1 + e^-2), log(1 + e^-1).
        double[] terms = [Math.Log(2), 0.12692801, 0.31326169];
        Assert.Equal(terms.Sum() / 3, Losses.BceWithLogits(x, t, g), 1e-6);

        // sigmoid(x) - t: 0, 0.88079708 - 1, 0.26894142.
        TestSupport.AssertClose([0, -0.11920292 / 3, 0.26894142 / 3], g, 1e-6, "BCE mean gradient");
        Assert.Equal(terms.Sum(), Losses.BceWithLogits(x, t, g, Reduction.Sum), 1e-6);
        TestSupport.AssertClose([0, -0.11920292, 0.26894142], g, 1e-6, "BCE sum gradient");
    }

    [Theory]
    [InlineData(Reduction.Mean)]
    [InlineData(Reduction.Sum)]
    public void BceWithLogitsMatchesDouble(Reduction reduction)
    {
        var rng = new Random(5);
        float[] x = TestSupport.RandomArray(rng, 600, 30);
        float[] t = Enumerable.Range(0, 600).Select(i => i % 3 == 0 ? (float)rng.NextDouble() : i % 3 - 1).ToArray();
        var g = new float[600];
        double scale = reduction == Reduction.Mean ? 1.0 / 600 : 1.0;

        // The naive form t log(1 + e^-x) + (1 - t) log(1 + e^x) is exact enough in double for |x| <= 30.
        double loss = x.Zip(t, (a, b) => (b * Math.Log(1 + Math.Exp(-a))) + ((1 - b) * Math.Log(1 + Math.Exp(a)))).Sum() * scale;
        float actual = Losses.BceWithLogits(x, t, g, reduction);
        Assert.Equal(loss, actual, loss * 1e-6);
        TestSupport.AssertClose(x.Zip(t, (a, b) => ((1 / (1 + Math.Exp(-a))) - b) * scale).ToArray(), g, 1e-6, "BCE gradient");
        Assert.Equal(actual, Losses.BceWithLogits(x, t, Span<float>.Empty, reduction));

        (float tensorLoss, Tensor grad) = Losses.BceWithLogits(Tensor.FromArray(x, 20, 30), Tensor.FromArray(t, 20, 30), reduction);
        Assert.Equal(actual, tensorLoss);
        Assert.Equal(g, grad.ToArray());
    }

    [Fact]
    public void BceWithLogitsOfExtremeLogitsIsFinite()
    {
        float[] x = [100, -100, 100, -100];
        float[] t = [1, 0, 0, 1];
        var g = new float[4];

        // Losses e^-100 (about 0), about 0, 100 and 100.
        Assert.Equal(50f, Losses.BceWithLogits(x, t, g));
        Assert.Equal([0f, 0f, 0.25f, -0.25f], g);
        Assert.Equal(200f, Losses.BceWithLogits(x, t, g, Reduction.Sum));
        Assert.Equal([0f, 0f, 1f, -1f], g);

        // A correct confident prediction has a tiny but positive loss.
        Assert.Equal(Math.Log(1 + Math.Exp(-20.0)), Losses.BceWithLogits([20f], [1f], Span<float>.Empty), 1e-15);
    }

    [Fact]
    public void ShapeErrorsNameExpectedAndActual()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => Losses.Mse(Tensor.Zeros(8, 1), Tensor.Zeros(8)));
        Assert.StartsWith("Expected target [8, 1], got [8]", e.Message, StringComparison.Ordinal);
        Assert.Equal("target", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Losses.BceWithLogits(Tensor.Zeros(4, 2), Tensor.Zeros(2, 4)));
        Assert.StartsWith("Expected targets [4, 2], got [2, 4]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => Losses.Mse(new float[3], new float[4], Span<float>.Empty));
        Assert.StartsWith("Expected target of length 3, got 4", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => Losses.BceWithLogits(new float[3], new float[3], new float[2]));
        Assert.StartsWith("Expected gradient of length 3 (or empty), got 2", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.Mse(new float[3], new float[3], Span<float>.Empty, (Reduction)7));
        Assert.True(float.IsNaN(Losses.Mse([], [], Span<float>.Empty)));
    }

    [Fact]
    public void SpanLossesAllocateNothing()
    {
        var rng = new Random(3);
        float[] x = TestSupport.RandomArray(rng, 600, 5);
        float[] t = TestSupport.RandomArray(rng, 600, 1);
        int[] classes = Enumerable.Range(0, 60).Select(i => i % 10).ToArray();
        var g = new float[600];
        Run();
        Assert.Equal(0, TestSupport.QuietestAllocation(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                Run();
            }
        }));

        void Run()
        {
            Losses.Mse(x, t, g);
            Losses.Mse(x, t, Span<float>.Empty, Reduction.Sum);
            Losses.CrossEntropy(x, classes, g);
            Losses.CrossEntropy(x, classes, Span<float>.Empty);
            Losses.BceWithLogits(x, t, g);
        }
    }
}
