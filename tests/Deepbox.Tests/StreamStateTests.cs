using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using Deepbox.Tests.Models;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// A stream's state leaves the process and comes back: <c>state.Values</c> in PyTorch's layout, restored with
/// <c>CreateState(values)</c> in a fresh model with the same weights, continues bit for bit.
/// </summary>
public class StreamStateTests
{
    private const int T = 9;

    public static TheoryData<string> Streamable => new(ForwardGridTests.Cases.Keys
        .Where(k => TestSupport.StepMethod(ForwardGridTests.Cases[k].Type) is not null)
        .OrderBy(k => k, StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Streamable))]
    public void ARestoredStreamContinuesBitForBit(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(name.Length * 31);
        IModel model = c.Create();
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, TestSupport.RandomWeights(c.Layers, rng)));
        model.Eval();
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        float[] x = TestSupport.RandomArray(rng, T * inputSize, 2.0);
        int stop = rng.Next(1, T); // the stream leaves after this many steps
        float[][] alone = Run(model, x, inputSize, null, 0);

        ModelState state = CreateState(model, null);
        var y = new float[alone[0].Length];
        for (int t = 0; t < stop; t++)
        {
            Step(model, x.AsSpan(t * inputSize, inputSize), state, y);
        }

        float[] saved = state.Values.ToArray();
        IModel elsewhere = c.Create(); // another process: a fresh model given the same weights
        elsewhere.LoadStateDict(model.StateDict());
        elsewhere.Eval();
        float[][] resumed = Run(elsewhere, x, inputSize, saved, stop);
        for (int t = stop; t < T; t++)
        {
            Assert.Equal(alone[t], resumed[t]);
        }
    }

    /// <summary>
    /// Values are the final states <c>ForwardWithState</c> gives for the same steps of one unbatched sequence: h as
    /// [num_layers, hidden], then c (to 1e-6: the two passes' products sum in the same order, so in practice exactly).
    /// </summary>
    [Theory]
    [MemberData(nameof(Streamable))]
    public void ValuesAreThePyTorchFinalStates(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        MethodInfo? withState = c.Type.GetMethods().FirstOrDefault(m => m.Name == "ForwardWithState" && m.GetParameters()[1].ParameterType == typeof(Tensor));
        if (withState is null)
        {
            return; // several recurrent declarations: no single pair of final states to compare with
        }

        var rng = new Random(4);
        IModel model = c.Create();
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, TestSupport.RandomWeights(c.Layers, rng)));
        model.Eval();
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        float[] x = TestSupport.RandomArray(rng, 5 * inputSize, 2.0);
        ModelState state = CreateState(model, null);
        var y = new float[model.Forward(Tensor.Zeros(1, inputSize)).Length];
        for (int t = 0; t < 5; t++)
        {
            Step(model, x.AsSpan(t * inputSize, inputSize), state, y);
        }

        object?[] args = withState.GetParameters().Select((p, i) => i == 0 ? (object)Tensor.FromArray(x, 5, inputSize) : null).ToArray();
        var result = (ITuple)withState.Invoke(model, args)!;
        float[] expected = result[1] is ITuple hc
            ? ((Tensor)hc[0]!).ToArray().Concat(((Tensor)hc[1]!).ToArray()).ToArray()
            : ((Tensor)result[1]!).ToArray();
        float[] values = state.Values.ToArray();
        Assert.Equal(expected.Length, values.Length);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - values[i]) <= 1e-6, $"{name} value {i}: expected {expected[i]}, got {values[i]}");
        }
    }

    [Fact]
    public void RestoringTheWrongNumberOfValuesNamesBoth()
    {
        var model = new Forecaster(); // LSTM(1, 32, num_layers=2): h [2, 32] and c [2, 32]
        Assert.Equal(128, model.CreateState().Values.Length);
        ArgumentException e = Assert.Throws<ArgumentException>(() => model.CreateState(new float[127]));
        Assert.StartsWith("Expected 128 state values for Forecaster (h, and c for LSTM layers, per layer), got 127", e.Message, StringComparison.Ordinal);
        Assert.Equal("values", e.ParamName);
    }

    /// <summary>Steps the sequence from step <paramref name="from"/> on, from <paramref name="values"/> (null: zeros).</summary>
    private static float[][] Run(IModel model, float[] x, int inputSize, float[]? values, int from)
    {
        ModelState state = CreateState(model, values);
        int outputSize = model.Forward(Tensor.Zeros(1, inputSize)).Length;
        var outputs = new float[T][];
        for (int t = from; t < T; t++)
        {
            outputs[t] = new float[outputSize];
            Step(model, x.AsSpan(t * inputSize, inputSize), state, outputs[t]);
        }

        return outputs;
    }

    private static ModelState CreateState(IModel model, float[]? values) => values is null
        ? (ModelState)model.GetType().GetMethod("CreateState", Type.EmptyTypes)!.Invoke(model, null)!
        : model.GetType().GetMethod("CreateState", [typeof(ReadOnlySpan<float>)])!.CreateDelegate<Restore>(model)(values);

    private static void Step(IModel model, ReadOnlySpan<float> x, ModelState state, Span<float> y) =>
        model.GetType().GetMethod("Step")!.CreateDelegate<StepFunction>(model)(x, state, y);

    private delegate ModelState Restore(ReadOnlySpan<float> values);

    private delegate void StepFunction(ReadOnlySpan<float> input, ModelState state, Span<float> output);
}
