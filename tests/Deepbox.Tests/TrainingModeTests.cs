using Deepbox.CompilerServices;
using System;
using System.Linq;
using Deepbox.Tests.Models;
using RecurrentLayers;
using Xunit;

namespace Deepbox.Tests;

/// <summary>Backward's preconditions, and dropout between stacked layers in training mode.</summary>
public class TrainingModeTests
{
    [Fact]
    public void BackwardWithoutTrainingForwardSaysWhy()
    {
        var m = new SeedLstm();
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => m.Backward(Tensor.Zeros(2, 3, 8)));
        Assert.Contains("needs a Forward in training mode first", e.Message, StringComparison.Ordinal);

        m.Forward(Tensor.Zeros(2, 3, 4));
        m.Eval();
        e = Assert.Throws<InvalidOperationException>(() => m.Backward(Tensor.Zeros(2, 3, 8)));
        Assert.Contains("needs training mode", e.Message, StringComparison.Ordinal);

        // A forward pass in eval mode leaves nothing to go back through, even after Train().
        m.Forward(Tensor.Zeros(2, 3, 4));
        m.Train();
        e = Assert.Throws<InvalidOperationException>(() => m.Backward(Tensor.Zeros(2, 3, 8)));
        Assert.Contains("needs a Forward in training mode first", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ASecondBackwardWithoutANewForwardIsRefused()
    {
        // PyTorch frees the graph on backward; adding the same gradients twice would be silently wrong.
        var m = new SeedLstm(seed: 3);
        m.Train();
        Tensor x = Tensor.Zeros(2, 3, 4);
        x.AsSpan().Fill(0.5f);
        Tensor y = m.Forward(x);
        Tensor g = Tensor.Zeros(y.Shape.ToArray());
        g.AsSpan().Fill(1f);
        m.Backward(g);
        float[] once = m.Parameters().SelectMany(p => p.Grad.AsSpan().ToArray()).ToArray();

        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => m.Backward(g));
        Assert.StartsWith("Backward already went back through this forward pass", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => m.BackwardWithState(g));
        Assert.Throws<InvalidOperationException>(() => m.Backward(g.AsSpan(), Span<float>.Empty));
        Assert.Equal(once, m.Parameters().SelectMany(p => p.Grad.AsSpan().ToArray()).ToArray()); // refused calls added nothing

        // A new Forward makes Backward possible again, and it adds the same gradients once more.
        m.Forward(x);
        m.Backward(g);
        Assert.Equal(once.Select(v => v + v), m.Parameters().SelectMany(p => p.Grad.AsSpan().ToArray()).ToArray());
    }

    [Fact]
    public void WrongGradientShapesNameExpectedAndActual()
    {
        var m = new SeedLstm();
        m.Forward(Tensor.Zeros(2, 3, 4));
        ArgumentException e = Assert.Throws<ArgumentException>(() => m.Backward(Tensor.Zeros(2, 3, 7)));
        Assert.StartsWith("Expected gradOutput [2, 3, 8], got [2, 3, 7]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => m.BackwardWithState(Tensor.Zeros(2, 3, 8), Tensor.Zeros(1, 3, 8)));
        Assert.StartsWith("Expected gradH [1, 2, 8], got [1, 3, 8]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => m.Backward(new float[5], new float[24]));
        Assert.StartsWith("Expected gradOutput of length 2 * 3 * 8 = 48, got 5", e.Message, StringComparison.Ordinal);

        // Nothing was added to any gradient by the failed calls.
        Assert.All(m.Parameters(), p => Assert.All(p.Grad.ToArray(), g => Assert.Equal(0f, g)));
    }

    /// <summary>
    /// The mask every dropout layer multiplies by: kept values scaled by 1 / (1 - p), as PyTorch scales them, and
    /// dropped with probability p (100,000 draws: the binomial's standard deviation is 0.0014, the bounds 7 of them).
    /// The end-to-end tests below cannot see the scale: a forward and its backward share the mask, whatever its values.
    /// </summary>
    [Fact]
    public void DropoutMaskScalesKeptValuesByOneOverOneMinusP()
    {
        var mask = new float[100_000];
        ModelSupport.DropoutMask(new TorchGenerator(7), 0.25f, mask);
        Assert.All(mask, v => Assert.True(v == 0f || v == 1f / 0.75f, $"mask value {v}"));
        double dropped = mask.Count(v => v == 0f) / (double)mask.Length;
        Assert.InRange(dropped, 0.24, 0.26);
    }

    [Fact]
    public void DropoutAppliesInTrainingOnly()
    {
        var x = Tensor.FromArray(TestSupport.RandomArray(new Random(5), 4 * 6, 1.0), 4, 6, 1);
        var m = new Forecaster(11);
        m.Eval();
        float[] eval1 = m.Forward(x).ToArray();
        float[] eval2 = m.Forward(x).ToArray();
        Assert.Equal(eval1, eval2);

        m.Train();
        float[] train1 = m.Forward(x).ToArray();
        float[] train2 = m.Forward(x).ToArray();
        Assert.NotEqual(eval1, train1);
        Assert.NotEqual(train1, train2); // a new mask each pass

        // Two models of the same seed draw the same masks.
        var twin = new Forecaster(11);
        Assert.Equal(train1, twin.Forward(x).ToArray());
    }

    /// <summary>
    /// Training-mode gradients with dropout on: against central differences of the same model's forward pass, each
    /// evaluated by a fresh twin (same seed, so the same first mask).
    /// </summary>
    [Fact]
    public void DropoutGradientsMatchFiniteDifferencesWithTheSameMask()
    {
        const int Seed = 3;
        var rng = new Random(9);
        Tensor x = Tensor.FromArray(TestSupport.RandomArray(rng, 3 * 5, 1.0), 3, 5, 1);
        float[] gradOutput = TestSupport.RandomArray(rng, 3);
        var model = new Forecaster(Seed);
        model.Forward(x);
        Tensor gradInput = model.Backward(Tensor.FromArray(gradOutput, 3, 1));

        double Loss(Action<Forecaster> perturb, Tensor input)
        {
            var twin = new Forecaster(Seed);
            perturb(twin);
            float[] y = twin.Forward(input).ToArray();
            return y.Select((v, i) => (double)v * gradOutput[i]).Sum();
        }

        // Layer 0's parameters and the input reach the output only through layer 1's dropped-out input, so they
        // check the mask on the way back. Compared as vectors (relative L2 error): their entries are small.
        const float H = 2e-2f;
        foreach (string name in new[] { "lstm.bias_ih_l0", "lstm.weight_ih_l0", "lstm.weight_hh_l1", "fc.weight" })
        {
            float[] grad = model.NamedParameters().Single(p => p.Name == name).Parameter.Grad.ToArray();
            int[] sampled = Enumerable.Range(0, grad.Length).Where(i => grad.Length <= 200 || i % 37 == 0).ToArray();
            double[] fd = sampled.Select(at =>
                (Loss(t => t.NamedParameters().Single(p => p.Name == name).Parameter.Value.AsSpan()[at] += H, x)
                 - Loss(t => t.NamedParameters().Single(p => p.Name == name).Parameter.Value.AsSpan()[at] -= H, x)) / (2 * H)).ToArray();
            AssertCloseVectors(fd, sampled.Select(i => grad[i]).ToArray(), name);
        }

        var fdInput = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            float[] up = x.ToArray();
            float[] down = x.ToArray();
            up[i] += H;
            down[i] -= H;
            fdInput[i] = (Loss(_ => { }, Tensor.FromArray(up, 3, 5, 1)) - Loss(_ => { }, Tensor.FromArray(down, 3, 5, 1))) / (2 * H);
        }

        AssertCloseVectors(fdInput, gradInput.ToArray(), "input");
    }

    private static void AssertCloseVectors(double[] expected, float[] actual, string what)
    {
        double diff = Math.Sqrt(expected.Select((e, i) => (e - actual[i]) * (e - actual[i])).Sum());
        double norm = Math.Sqrt(expected.Select(e => e * e).Sum());
        Assert.True(norm > 0, $"{what}: no gradient");
        Assert.True(diff <= 0.02 * norm, $"{what}: relative L2 error {diff / norm:P2} between finite differences and backward");
    }

    [Fact]
    public void ATrainingStepLowersTheLoss()
    {
        var rng = new Random(4);
        var model = new BiGruTanhHead(2);
        Tensor x = Tensor.FromArray(TestSupport.RandomArray(rng, 3 * 6 * 5, 1.0), 3, 6, 5);
        Tensor target = Tensor.FromArray(TestSupport.RandomArray(rng, 3 * 6 * 4, 0.8), 3, 6, 4);
        var optimizer = new Adam(model, 0.01f);
        float first = 0;
        float last = 0;
        for (int step = 0; step < 30; step++)
        {
            Tensor y = model.Forward(x);
            (float loss, Tensor grad) = Losses.Mse(y, target);
            optimizer.ZeroGrad();
            model.Backward(grad);
            optimizer.Step();
            first = step == 0 ? loss : first;
            last = loss;
        }

        Assert.True(last < first * 0.5f, $"loss went from {first} to {last}");
    }
}
