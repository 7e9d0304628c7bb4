using System;
using System.Collections.Generic;
using System.Linq;
using Deepbox.CompilerServices;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// The generated kernels' 128-bit ladder (Kernels128, what a core without AVX2, an Arm64 core or an x86-64-v2 NativeAOT
/// binary runs) against the 256-bit kernels, model by model, bit for bit: forward, backward and streaming. Where the
/// core has no AVX2, both runs take the ladder; where it has, <see cref="KernelPaths.Vector128Only"/> sends the second
/// run there. In the threads collection: nothing else runs while the switch is on.
/// </summary>
[Collection(nameof(ThreadsTests))]
public class LadderTests
{
    [Theory]
    [MemberData(nameof(ForwardGridTests.Names), MemberType = typeof(ForwardGridTests))]
    public void TheLadderGivesTheSameBits(string name)
    {
        using IDisposable split = TestSupport.SplitSmallWork(); // the ladder's run splits its passes too
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(31);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        foreach (bool training in c.Modes)
        {
            foreach ((int t, int b) in new[] { (3, 9), (7, 5), (2, 1) })
            {
                float[] x = TestSupport.RandomArray(rng, t * b * inputSize, 2.0);
                x[x.Length / 2] = float.NaN; // a bad value travels the ladder as it travels the 256-bit kernels
                (float[] Output, float[][] Grads) wide = ThreadsTests.Run(c, weights, x, b, t, training, threads: 1);
                (float[] Output, float[][] Grads) ladder = OnTheLadder(() => ThreadsTests.Run(c, weights, x, b, t, training, threads: 2));
                string what = $"{name} {(training ? "train" : "eval")} T={t} B={b}";
                Assert.True(wide.Output.AsSpan().SequenceEqual(ladder.Output), what + " output");
                for (int i = 0; i < wide.Grads.Length; i++)
                {
                    Assert.True(wide.Grads[i].AsSpan().SequenceEqual(ladder.Grads[i]), $"{what} gradient {i}");
                }
            }
        }

        if (TestSupport.StepMethod(c.Type) is not null)
        {
            float[] x = TestSupport.RandomArray(rng, 6 * inputSize, 2.0);
            Assert.Equal(Stream(c, weights, x, inputSize), OnTheLadder(() => Stream(c, weights, x, inputSize)));
        }
    }

    [Fact]
    public void TheSwitchIsOffByDefault() => Assert.False(KernelPaths.Vector128Only);

    /// <summary>Runs <paramref name="run"/> with every kernel on the ladder, Step's 512-bit ones included (they hand over to the 256-bit ones, which hand over to the ladder).</summary>
    private static T OnTheLadder<T>(Func<T> run)
    {
        bool wideStep = ModelSupport.StepVector512;
        KernelPaths.Vector128Only = true;
        ModelSupport.StepVector512 = false;
        try
        {
            return run();
        }
        finally
        {
            KernelPaths.Vector128Only = false;
            ModelSupport.StepVector512 = wideStep;
        }
    }

    /// <summary>Six steps of one stream; every output, in order.</summary>
    private static float[] Stream(ForwardGridTests.ModelCase c, Dictionary<string, float[]> weights, float[] x, int inputSize)
    {
        IModel model = c.Create();
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, weights));
        model.Eval();
        int outputSize = model.Forward(Tensor.Zeros(1, inputSize)).Length;
        var state = (ModelState)c.Type.GetMethod("CreateState", Type.EmptyTypes)!.Invoke(model, null)!;
        StreamStep step = TestSupport.StepMethod(c.Type)!.CreateDelegate<StreamStep>(model);
        var y = new float[outputSize];
        var all = new List<float>();
        for (int t = 0; t < x.Length / inputSize; t++)
        {
            step(x.AsSpan(t * inputSize, inputSize), state, y);
            all.AddRange(y);
        }

        return [.. all];
    }

    private delegate void StreamStep(ReadOnlySpan<float> input, ModelState state, Span<float> output);
}
