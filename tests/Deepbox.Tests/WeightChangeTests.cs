using System;
using System.Collections.Generic;
using System.Linq;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// The models keep packed copies of their weights and repack them only when a parameter's value changed: every way of
/// changing a value (a write in place, an optimizer step, a load) must reach the next Forward and Backward.
/// </summary>
public class WeightChangeTests
{
    public static TheoryData<string> Names => new("Lstm9x8", "Gru3x33", "Rnn3x7", "BiGruTanhHead", "LinearRnnSigmoidHead");

    [Theory]
    [MemberData(nameof(Names))]
    public void WritesInPlaceReachTheNextForwardAndBackward(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(5);
        IModel model = c.Create();
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, weights));
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        const int T = 4, B = 3;
        float[] x = TestSupport.RandomArray(rng, T * B * inputSize, 2.0);
        int[] shape = c.BatchFirst ? [B, T, inputSize] : [T, B, inputSize];
        Tensor first = model.Forward(Tensor.FromArray(x, shape));
        float[] gradOutput = TestSupport.RandomArray(rng, first.Length);
        model.Backward(Tensor.FromArray(gradOutput, [.. first.Shape]));

        // Change one value of every parameter in place, through the span the optimizers write through.
        foreach ((string pname, Parameter p) in model.NamedParameters())
        {
            int at = rng.Next(p.Value.Length);
            float changed = p.Value.AsSpan()[at] + 0.25f;
            p.Value.AsSpan()[at] = changed;
            weights[pname][at] = changed;
        }

        RefResult expected = ReferenceModel.Run(c.Layers, weights, x, shape, c.BatchFirst);
        Tensor second = model.Forward(Tensor.FromArray(x, shape));
        TestSupport.AssertClose(expected.Output, second.AsSpan(), 1e-5, $"{name} output after writes in place");
        Assert.NotEqual(first.AsSpan().ToArray(), second.AsSpan().ToArray());

        model.ZeroGrad();
        Tensor gradInput = model.Backward(Tensor.FromArray(gradOutput, [.. second.Shape]));
        RefGradients grads = ReferenceModel.Backward(c.Layers, weights, x, shape, c.BatchFirst, gradOutput);
        BackwardGridTests.AssertGradClose(grads.Input, gradInput.AsSpan(), $"{name} input gradient after writes in place");
    }

    [Fact]
    public void AnOptimizerStepReachesTheNextForward()
    {
        var model = new Models.Lstm9x8();
        var rng = new Random(9);
        float[] x = TestSupport.RandomArray(rng, 2 * 3 * 9);
        var before = new float[2 * 3 * 8];
        model.Forward(x, 2, 3, before);
        float[] gradOutput = TestSupport.RandomArray(rng, before.Length);
        model.Backward(gradOutput, default);
        new Sgd(model, lr: 0.5f).Step();

        var after = new float[before.Length];
        model.Forward(x, 2, 3, after);
        var fresh = new Models.Lstm9x8();
        fresh.LoadStateDict(model.StateDict());
        var expected = new float[before.Length];
        fresh.Forward(x, 2, 3, expected);
        Assert.Equal(expected, after);
        Assert.NotEqual(before, after);
    }
}
