using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Deepbox.Tests.Models;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// Generated backward passes against the oracle's (itself checked against finite differences in double): every
/// parameter's gradient, the input's, and h0/c0's, to 1e-4 relative or 1e-5 absolute (times the tensor's RMS where above 1), over the declared grid (153 rows
/// at T=17, B=9: more than one 128-row block of the weight-gradient kernels).
/// </summary>
public class BackwardGridTests
{
    public static TheoryData<string> Names => new(ForwardGridTests.Cases.Keys.Where(k => !ForwardGridTests.Cases[k].Dropout).OrderBy(k => k, StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Names))]
    public void BackwardMatchesOracle(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(31 + TestSupport.StableSeed(name));
        IModel model = c.Create();
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, weights));
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        foreach ((int t, int b, bool unbatched) in new[] { (5, 3, false), (1, 1, false), (4, 2, true), (1, 3, false), (3, 9, false), (9, 9, false), (17, 9, false) })
        {
            int batch = unbatched ? 1 : b;
            float[] x = TestSupport.RandomArray(rng, t * batch * inputSize, 2.0);
            int[] shape = unbatched ? [t, inputSize] : c.BatchFirst ? [batch, t, inputSize] : [t, batch, inputSize];
            model.ZeroGrad();
            Tensor output = model.Forward(Tensor.FromArray(x, shape));
            float[] gradOutput = TestSupport.RandomArray(rng, output.Length);
            Tensor gradInput = model.Backward(Tensor.FromArray(gradOutput, [.. output.Shape]));
            RefGradients expected = ReferenceModel.Backward(c.Layers, weights, x, shape, c.BatchFirst, gradOutput);
            string what = $"{name} T={t} B={batch}{(unbatched ? " unbatched" : string.Empty)}";
            Assert.Equal(shape, gradInput.Shape);
            AssertGradClose(expected.Input, gradInput.AsSpan(), what + " input");
            foreach ((string pname, Parameter p) in model.NamedParameters())
            {
                AssertGradClose(expected.Parameters[pname], p.Grad.AsSpan(), $"{what} {pname}");
            }

            // The span entry points give the same, and gradients accumulate across calls as in PyTorch.
            if (!unbatched)
            {
                var spanOut = new float[output.Length];
                model.Forward(x, batch, t, spanOut);
                var spanGradInput = new float[x.Length];
                model.Backward(gradOutput, spanGradInput);
                AssertGradClose(expected.Input, spanGradInput, what + " span input");
                foreach ((string pname, Parameter p) in model.NamedParameters())
                {
                    AssertGradClose(expected.Parameters[pname].Select(v => 2 * v).ToArray(), p.Grad.AsSpan(), $"{what} {pname} accumulated twice");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void BackwardWithStateMatchesOracle(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        MethodInfo? backward = c.Type.GetMethod("BackwardWithState");
        MethodInfo? forward = TestSupport.ForwardWithState(c.Type, lengths: false);
        List<RefRecurrent> recurrent = c.Layers.OfType<RefRecurrent>().ToList();
        if (recurrent.Count != 1)
        {
            Assert.Null(backward);
            return;
        }

        RefRecurrent r = recurrent[0];
        bool lstm = r.Cell == RefCell.Lstm;
        int states = r.NumLayers * (r.Bidirectional ? 2 : 1);
        var rng = new Random(77 + TestSupport.StableSeed(name));
        IModel model = c.Create();
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, weights));
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        foreach ((int t, int b, bool unbatched) in new[] { (5, 3, false), (3, 1, true), (1, 2, false) })
        {
            float[] x = TestSupport.RandomArray(rng, t * b * inputSize, 2.0);
            int[] shape = unbatched ? [t, inputSize] : c.BatchFirst ? [b, t, inputSize] : [t, b, inputSize];
            int[] stateShape = unbatched ? [states, r.HiddenSize] : [states, b, r.HiddenSize];
            float[] h0 = TestSupport.RandomArray(rng, states * b * r.HiddenSize);
            float[] c0 = TestSupport.RandomArray(rng, states * b * r.HiddenSize);
            float[] gradH = TestSupport.RandomArray(rng, states * b * r.HiddenSize);
            float[] gradC = TestSupport.RandomArray(rng, states * b * r.HiddenSize);
            model.ZeroGrad();
            object fr = forward!.Invoke(model, lstm
                ? [Tensor.FromArray(x, shape), Tensor.FromArray(h0, stateShape), Tensor.FromArray(c0, stateShape)]
                : [Tensor.FromArray(x, shape), Tensor.FromArray(h0, stateShape)])!;
            (Tensor output, _, _) = ForwardGridTests.Unpack(fr, lstm);
            float[] gradOutput = TestSupport.RandomArray(rng, output.Length);
            object br = backward!.Invoke(model, lstm
                ? [Tensor.FromArray(gradOutput, [.. output.Shape]), Tensor.FromArray(gradH, stateShape), Tensor.FromArray(gradC, stateShape)]
                : [Tensor.FromArray(gradOutput, [.. output.Shape]), Tensor.FromArray(gradH, stateShape)])!;
            (Tensor gradInput, Tensor gradH0, Tensor? gradC0) = ForwardGridTests.Unpack(br, lstm);
            RefGradients expected = ReferenceModel.Backward(c.Layers, weights, x, shape, c.BatchFirst, gradOutput, h0, lstm ? c0 : null, gradH, lstm ? gradC : null);
            string what = $"{name} T={t} B={b}{(unbatched ? " unbatched" : string.Empty)} with state";
            AssertGradClose(expected.Input, gradInput.AsSpan(), what + " input");
            Assert.Equal(stateShape, gradH0.Shape);
            AssertGradClose(expected.H0!, gradH0.AsSpan(), what + " h0");
            if (lstm)
            {
                AssertGradClose(expected.C0!, gradC0!.AsSpan(), what + " c0");
            }

            foreach ((string pname, Parameter p) in model.NamedParameters())
            {
                AssertGradClose(expected.Parameters[pname], p.Grad.AsSpan(), $"{what} {pname}");
            }
        }
    }

    /// <summary>
    /// Passes where |expected - actual| &lt;= 1e-5 s + 1e-4 |expected|, naming the worst element; s is the root mean
    /// square of the expected tensor when above 1: an element that is a sum of many large terms cancelling to near zero
    /// (a bias gradient over 153 rows) carries float error in proportion to the terms, not to the sum.
    /// </summary>
    internal static void AssertGradClose(double[] expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} values, got {actual.Length}");
        (double worst, int at) = GradExcess(expected, actual);
        Assert.True(worst <= 1, $"{what}: [{at}] expected {(at >= 0 ? expected[at] : 0):R}, got {(at >= 0 ? actual[at] : 0):R} ({worst:F1} x the tolerance)");
    }

    /// <summary>The worst element's error over <see cref="AssertGradClose"/>'s tolerance (at most 1 passes), and where it is.</summary>
    internal static (double Worst, int At) GradExcess(double[] expected, ReadOnlySpan<float> actual)
    {
        double scale = expected.Length == 0 ? 1 : Math.Max(1, Math.Sqrt(expected.Sum(e => e * e) / expected.Length));
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double excess = Math.Abs(expected[i] - actual[i]) / ((1e-5 * scale) + (1e-4 * Math.Abs(expected[i])));
            if (!(excess <= worst))
            {
                worst = excess;
                at = i;
            }
        }

        return (worst, at);
    }
}
