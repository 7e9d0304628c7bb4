using Deepbox.CompilerServices;
using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Deepbox.Tests.Models;
using Deepbox.Tests.Oracle;
using RecurrentLayers;
using Xunit;

namespace Deepbox.Tests;

/// <summary>Streaming with <c>Step</c>, and what allocates nothing once warm.</summary>
public class StreamingTests
{
    public static TheoryData<string, bool> Streamable
    {
        get
        {
            var data = new TheoryData<string, bool>();
            foreach (string name in ForwardGridTests.Cases.Keys
                .Where(k => !ForwardGridTests.Cases[k].Layers.OfType<RefRecurrent>().Any(r => r.Bidirectional))
                .OrderBy(k => k, StringComparer.Ordinal))
            {
                data.Add(name, false);
                data.Add(name, true);
            }

            return data;
        }
    }

    /// <summary>
    /// Step, one step at a time, gives what Forward gives over the whole sequence, bit for bit: with the 256-bit step
    /// kernels and (where AVX-512 is accelerated and the model has them) the 512-bit ones. Flipping the switch while
    /// other tests stream is harmless for the same reason: both give the same bits.
    /// </summary>
    [Theory]
    [MemberData(nameof(Streamable))]
    public void StepsEqualTheForwardPass(string name, bool vector512)
    {
        bool before = ModelSupport.StepVector512;
        ModelSupport.StepVector512 = vector512;
        try
        {
            StepsEqualTheForwardPassWith(name);
        }
        finally
        {
            ModelSupport.StepVector512 = before;
        }
    }

    /// <summary>
    /// Weights changed in place after streaming began (an optimizer step) reach Step through CreateState, on both the
    /// 256-bit kernels and the 512-bit ones, whose weights are packed lazily: a model that never streams never packs them.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StepSeesWeightsChangedBeforeCreateState(bool vector512)
    {
        bool before = ModelSupport.StepVector512;
        ModelSupport.StepVector512 = vector512;
        try
        {
            var model = new Lstm8x16();
            model.Eval();
            var rng = new Random(5);
            float[] x = TestSupport.RandomArray(rng, 3 * 8, 1.0);
            var y = new float[16];
            ModelState state = model.CreateState();
            model.Step(x.AsSpan(0, 8), state, y);

            // An optimizer step changes every parameter in place; Forward repacks, and a new state must see it.
            foreach (Parameter p in model.Parameters())
            {
                p.Grad.AsSpan().Fill(0.25f);
            }

            new Sgd(model, lr: 0.5f).Step();
            float[] whole = model.Forward(Tensor.FromArray(x, 3, 8)).ToArray();
            state = model.CreateState();
            for (int t = 0; t < 3; t++)
            {
                model.Step(x.AsSpan(t * 8, 8), state, y);
                Assert.Equal(whole.AsSpan(t * 16, 16).ToArray(), y);
            }

            // And without a Forward in between: CreateState alone repacks.
            new Sgd(model, lr: 0.5f).Step();
            state = model.CreateState();
            model.Step(x.AsSpan(0, 8), state, y);
            float[] first = model.Forward(Tensor.FromArray(x[..8], 1, 8)).ToArray();
            Assert.Equal(first, y);
        }
        finally
        {
            ModelSupport.StepVector512 = before;
        }
    }

    /// <summary>
    /// A state created before a load streams the loaded weights on both kernels: Step packs the 512-bit kernels' weights
    /// itself, from the values the 256-bit ones were packed from.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StateCreatedBeforeALoadStepsTheLoadedWeights(bool vector512)
    {
        bool before = ModelSupport.StepVector512;
        ModelSupport.StepVector512 = vector512;
        try
        {
            var source = new Lstm8x16();
            foreach (Parameter p in source.Parameters())
            {
                p.Value.AsSpan()[0] += 0.5f; // weights no fresh Lstm8x16 has
            }

            var model = new Lstm8x16();
            model.Eval();
            ModelState state = model.CreateState();
            model.LoadStateDict(source.StateDict());
            var rng = new Random(6);
            float[] x = TestSupport.RandomArray(rng, 3 * 8, 1.0);
            float[] whole = model.Forward(Tensor.FromArray(x, 3, 8)).ToArray();
            var y = new float[16];
            for (int t = 0; t < 3; t++)
            {
                model.Step(x.AsSpan(t * 8, 8), state, y);
                Assert.Equal(whole.AsSpan(t * 16, 16).ToArray(), y);
            }
        }
        finally
        {
            ModelSupport.StepVector512 = before;
        }
    }

    private static void StepsEqualTheForwardPassWith(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        IModel model = c.Create();
        model.Eval();
        var rng = new Random(3);
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, TestSupport.RandomWeights(c.Layers, rng)));
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        const int T = 7;
        float[] x = TestSupport.RandomArray(rng, T * inputSize, 2.0);
        float[] whole = model.Forward(Tensor.FromArray(x, T, inputSize)).ToArray();
        bool lastStep = c.Layers.OfType<RefLastStep>().Any();
        int outputSize = whole.Length / (lastStep ? 1 : T);

        MethodInfo createState = c.Type.GetMethod("CreateState", Type.EmptyTypes)!;
        var state = (ModelState)createState.Invoke(model, null)!;
        StepFunction step = TestSupport.StepMethod(c.Type)!.CreateDelegate<StepFunction>(model);
        var y = new float[outputSize];
        for (int t = 0; t < T; t++)
        {
            step(x.AsSpan(t * inputSize, inputSize), state, y);
            if (!lastStep)
            {
                Assert.Equal(whole.AsSpan(t * outputSize, outputSize).ToArray(), y);
            }
        }

        if (lastStep)
        {
            Assert.Equal(whole, y);
        }

        // A reset state starts a new sequence.
        state.Reset();
        step(x.AsSpan(0, inputSize), state, y);
        float[] first = model.Forward(Tensor.FromArray(x[..inputSize], 1, inputSize)).ToArray();
        Assert.Equal(first, y);
    }

    /// <summary>
    /// A state that decays (no bias, the input gone quiet) goes to exactly zero without passing through subnormal
    /// floats, which would slow every later step; the Speed issue's benchmark times the same decay.
    /// </summary>
    [Fact]
    public void DecayingStateNeverGoesSubnormal()
    {
        var model = new Lstm8x7(5); // two layers, no bias
        ModelState state = model.CreateState();
        float[] x = [1, -2, 3, -1, 2, 0.5f, -0.5f, 1];
        var y = new float[7];
        model.Step(x, state, y);
        Array.Clear(x);
        int subnormal = 0;
        for (int step = 0; step < 20_000; step++)
        {
            model.Step(x, state, y);
            foreach (float v in state.AsSpan())
            {
                subnormal += float.IsSubnormal(v) ? 1 : 0;
            }
        }

        Assert.Equal(0, subnormal);
        Assert.All(state.AsSpan().ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void BidirectionalModelsDoNotStream()
    {
        // Step, CreateState() and CreateState(values) are there only to be compile-time errors that say why.
        Assert.Null(TestSupport.StepMethod(typeof(BiGruTanhHead)));
        ObsoleteAttribute why = (ObsoleteAttribute)Attribute.GetCustomAttribute(typeof(BiGruTanhHead).GetMethod("Step")!, typeof(ObsoleteAttribute))!;
        Assert.True(why.IsError);
        Assert.StartsWith("BiGruTanhHead cannot stream: its GRU layer", why.Message, StringComparison.Ordinal);
        Assert.NotNull(TestSupport.StepMethod(typeof(SeedLstm)));
    }

    [Fact]
    public void StepChecksItsArguments()
    {
        var m = new SeedGru();
        ModelState state = m.CreateState();
        ArgumentException e = Assert.Throws<ArgumentException>(() => m.Step(new float[3], state, new float[8]));
        Assert.StartsWith("Expected input of length 4 (one time step), got 3", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => m.Step(new float[4], new SeedLstm().CreateState(), new float[8]));
        Assert.StartsWith("Expected a state of SeedGru (from its CreateState), got a state of SeedLstm", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => m.Step(new float[4], null!, new float[8]));
    }

    /// <summary>Step, the span Forward and a whole training step (forward, loss, backward, optimizer) allocate nothing once warm.</summary>
    [Fact]
    public void WarmPathsAllocateNothing()
    {
        var lstm = new SeedLstm(1);
        ModelState state = lstm.CreateState();
        float[] x = TestSupport.RandomArray(new Random(1), 2 * 5 * 4);
        var y = new float[8];
        var outputs = new float[2 * 5 * 8];
        var gradOutput = new float[outputs.Length];
        var target = new float[outputs.Length];
        var gradInput = new float[x.Length];
        var optimizer = new Adam(lstm, 1e-3f);

        void Work()
        {
            for (int i = 0; i < 10; i++)
            {
                lstm.Step(x.AsSpan(0, 4), state, y);
            }

            lstm.Forward(x, 2, 5, outputs);
            Losses.Mse(outputs, target, gradOutput);
            optimizer.ZeroGrad();
            lstm.Backward(gradOutput, gradInput);
            optimizer.Step();
        }

        // Twice: the first change of the parameters packs into a second set of weights (the first may still be read),
        // and from then on each change repacks whichever of the two no pass holds.
        Work();
        Work();
        Assert.Equal(0, TestSupport.QuietestAllocation(Work));
    }

    private delegate void StepFunction(ReadOnlySpan<float> input, ModelState state, Span<float> output);
}
