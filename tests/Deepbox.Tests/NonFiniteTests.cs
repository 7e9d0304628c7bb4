using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// Non-finite input stays visible, as in PyTorch: a NaN (or an infinity) in one sequence at step t reaches exactly the
/// outputs and final states the oracle's IEEE arithmetic says it reaches (that sequence from step t on; a reverse
/// direction at every step up to t), and leaves every other sequence of the batch bit for bit as it is without it. The
/// same through Step.
/// </summary>
public class NonFiniteTests
{
    private const int B = 3;
    private const int T = 6;
    private const int Bad = 1; // the sequence with the bad value
    private const int At = 2;  // its step

    public static TheoryData<string, float> Cases
    {
        get
        {
            var data = new TheoryData<string, float>();
            foreach (string name in ForwardGridTests.Cases.Keys.OrderBy(k => k, StringComparer.Ordinal))
            {
                data.Add(name, float.NaN);
                data.Add(name, float.PositiveInfinity);
                data.Add(name, float.NegativeInfinity);
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ANonFiniteInputReachesWhatTheOracleSaysAndNothingElse(string name, float bad)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        IModel model = c.Create();
        var rng = new Random(21);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, weights));
        model.Eval();
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        int[] shape = c.BatchFirst ? [B, T, inputSize] : [T, B, inputSize];
        float[] clean = TestSupport.RandomArray(rng, B * T * inputSize, 2.0);
        float[] dirty = (float[])clean.Clone();
        dirty[Index(c.BatchFirst, Bad, At, inputSize) + (inputSize / 2)] = bad;

        float[] cleanOut = model.Forward(Tensor.FromArray(clean, shape)).ToArray();
        float[] dirtyOut = model.Forward(Tensor.FromArray(dirty, shape)).ToArray();
        RefResult expected = ReferenceModel.Run(c.Layers, weights, dirty, shape, c.BatchFirst);
        AssertSameValues(expected.Output, dirtyOut, $"{name} with {bad}");
        // It reached something: NaN stays NaN; an infinity may saturate a gate to a finite value, but changes the output.
        Assert.Contains(dirtyOut, v => float.IsNaN(bad) ? float.IsNaN(v) : !cleanOut.Contains(v));

        // The other sequences are untouched, bit for bit.
        bool lastStep = c.Layers.OfType<RefLastStep>().Any();
        int perStep = cleanOut.Length / (B * (lastStep ? 1 : T));
        for (int i = 0; i < cleanOut.Length; i++)
        {
            int sequence = lastStep ? i / perStep : c.BatchFirst ? i / (T * perStep) : (i / perStep) % B;
            if (sequence != Bad)
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(cleanOut[i]), BitConverter.SingleToInt32Bits(dirtyOut[i]));
            }
        }

        // Final states, where the model gives them.
        MethodInfo? withState = c.Type.GetMethods().FirstOrDefault(m => m.Name == "ForwardWithState" && m.GetParameters()[1].ParameterType == typeof(Tensor));
        if (withState is not null)
        {
            object?[] args = withState.GetParameters().Select((p, i) => i == 0 ? (object)Tensor.FromArray(dirty, shape) : null).ToArray();
            var result = (ITuple)withState.Invoke(model, args)!;
            ITuple? states = result[1] as ITuple;
            Tensor h = states is null ? (Tensor)result[1]! : (Tensor)states[0]!;
            AssertSameValues(expected.H!, h.ToArray(), $"{name} hN with {bad}");
            if (states is not null)
            {
                AssertSameValues(expected.C!, ((Tensor)states[1]!).ToArray(), $"{name} cN with {bad}");
            }
        }
    }

    /// <summary>Step carries a non-finite input forward exactly as Forward does (NaN as NaN, infinities as themselves).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void StepCarriesItAsForwardDoes(string name, float bad)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        MethodInfo? stepMethod = TestSupport.StepMethod(c.Type);
        if (stepMethod is null)
        {
            return; // bidirectional: no streaming
        }

        IModel model = c.Create();
        var rng = new Random(22);
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, TestSupport.RandomWeights(c.Layers, rng)));
        model.Eval();
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        float[] x = TestSupport.RandomArray(rng, T * inputSize, 2.0);
        x[(At * inputSize) + (inputSize / 2)] = bad;
        float[] whole = model.Forward(Tensor.FromArray(x, T, inputSize)).ToArray();
        bool lastStep = c.Layers.OfType<RefLastStep>().Any();
        int outputSize = whole.Length / (lastStep ? 1 : T);
        var state = (ModelState)c.Type.GetMethod("CreateState", Type.EmptyTypes)!.Invoke(model, null)!;
        var y = new float[outputSize];
        var stepped = new List<float>();
        for (int t = 0; t < T; t++)
        {
            stepMethod.CreateDelegate<StepFunction>(model)(x.AsSpan(t * inputSize, inputSize), state, y);
            if (!lastStep || t == T - 1)
            {
                stepped.AddRange(y);
            }
        }

        AssertSameValues(whole.Select(v => (double)v).ToArray(), stepped.ToArray(), $"{name} stepped with {bad}", tolerance: 0);
        if (float.IsNaN(bad))
        {
            Assert.Contains(stepped, float.IsNaN);
        }
    }

    /// <summary>Finite values within the tolerance, and NaN, +∞ and −∞ exactly where expected.</summary>
    private static void AssertSameValues(double[] expected, IReadOnlyList<float> actual, string what, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i];
            float a = actual[i];
            if (double.IsNaN(e) || double.IsInfinity(e) || !float.IsFinite(a))
            {
                Assert.True(double.IsNaN(e) ? float.IsNaN(a) : e == a, $"{what} [{i}]: expected {e}, got {a}");
            }
            else
            {
                Assert.True(Math.Abs(e - a) <= tolerance * Math.Max(1, Math.Abs(e)), $"{what} [{i}]: expected {e}, got {a}");
            }
        }
    }

    private static int Index(bool batchFirst, int b, int t, int inputSize) =>
        (batchFirst ? (b * T) + t : (t * B) + b) * inputSize;

    private delegate void StepFunction(ReadOnlySpan<float> input, ModelState state, Span<float> output);
}
