using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Threading;
using Deepbox.Tests.Models;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// One model called from many real threads: evaluation-mode Forward (every overload, several models, Threads 1 and 2)
/// gives each caller bit for bit what it gets alone; distinct streams step concurrently as they do one at a time; and
/// overlapping training-mode passes are refused instead of mixing their saved activations. In the workers' collection
/// (run alone, after the parallel tests), as ThreadsTests: both split passes across the process's workers.
/// </summary>
[Collection(nameof(ThreadsTests))]
public class ConcurrencyTests
{
    private const int Callers = 4;

    /// <summary>Models of the grid: stacked, bidirectional, heads, LastStep, sizes off the vector width, wide layers.</summary>
    public static TheoryData<string, int> Models => new()
    {
        { "Forecaster", 1 },
        { "Lstm17x9", 1 },
        { "Gru3x129", 2 },
        { "LstmGruStack", 1 },
        { "BiRnnMlpHead", 2 },
        { "Rnn4x129", 1 },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void ConcurrentForwardGivesEachCallerWhatItGetsAlone(string name, int threads)
    {
        using IDisposable split = TestSupport.SplitSmallWork(); // these batches are small: split them anyway
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        (IModel model, List<Call> calls) = Prepare(c, threads, seed: 11);
        var other = Prepare(ForwardGridTests.Cases["Gru5x48"], 1, seed: 12); // a second model, used at the same time

        int wrong = 0;
        Hammer(Callers, (caller, i) =>
        {
            // Each caller walks the inputs and the overloads in its own order, alternating between the two models.
            int k = (caller * 7) + i;
            (IModel m, List<Call> set) = k % 5 == 4 ? other : (model, calls);
            Call call = set[k % set.Count];
            if (!call.Run(m, k % 3).SequenceEqual(call.Expected))
            {
                Interlocked.Increment(ref wrong);
            }
        }, iterations: 24);
        Assert.Equal(0, wrong);
    }

    /// <summary>Streams stepped through one model from several threads at once give what they give one at a time.</summary>
    [Theory]
    [InlineData("Forecaster")]
    [InlineData("Lstm8x16")]
    [InlineData("Gru5x48")]
    [InlineData("Lstm5x130")]
    [InlineData("Gru5x257")]
    [InlineData("Rnn4x129")]
    public void DistinctStatesStepConcurrently(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        IModel model = c.Create();
        var rng = new Random(5);
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, TestSupport.RandomWeights(c.Layers, rng)));
        model.Eval();
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        int outputSize = model.Forward(Tensor.Zeros(1, inputSize)).Length;
        const int Steps = 2000;
        Func<ModelState> create = c.Type.GetMethod("CreateState", Type.EmptyTypes)!.CreateDelegate<Func<ModelState>>(model);
        StepFunction step = c.Type.GetMethod("Step")!.CreateDelegate<StepFunction>(model);
        float[][] inputs = Enumerable.Range(0, Callers).Select(_ => TestSupport.RandomArray(rng, Steps * inputSize, 2.0)).ToArray();

        float[][] expected = inputs.Select(x => Stream(x)).ToArray();
        var actual = new float[Callers][];
        Hammer(Callers, (caller, _) => actual[caller] = Stream(inputs[caller]), iterations: 1);
        for (int s = 0; s < Callers; s++)
        {
            Assert.Equal(expected[s], actual[s]);
        }

        float[] Stream(float[] x)
        {
            ModelState state = create();
            var y = new float[Steps * outputSize];
            for (int t = 0; t < Steps; t++)
            {
                step(x.AsSpan(t * inputSize, inputSize), state, y.AsSpan(t * outputSize, outputSize));
            }

            return y;
        }
    }

    /// <summary>
    /// A training-mode Forward or Backward while another runs on the same model is refused with the rule: the saved
    /// activations belong to one Forward/Backward pair. Two threads run training passes until an overlap is refused
    /// (passes of milliseconds on two threads overlap at once; the test gives up after 20 seconds). A Backward whose
    /// Forward another caller's Forward replaced is refused too ("needs a Forward"), which does not end the test.
    /// </summary>
    [Fact]
    public void OverlappingTrainingPassesAreRefused()
    {
        var model = new Gru3x129(3);
        Tensor x = Tensor.FromArray(TestSupport.RandomArray(new Random(2), 16 * 120 * 3), 16, 120, 3);
        Tensor gradOutput = Tensor.FromArray(TestSupport.RandomArray(new Random(3), 16 * 120 * 258), 16, 120, 258);
        var refused = new List<string>();
        var unexpected = new List<Exception>();
        var stop = Stopwatch.StartNew();
        Hammer(2, (caller, _) =>
        {
            while (stop.Elapsed < TimeSpan.FromSeconds(20))
            {
                lock (refused)
                {
                    if (refused.Exists(m => m.StartsWith("A training-mode Forward/Backward pair belongs to one caller", StringComparison.Ordinal)))
                    {
                        return;
                    }
                }

                try
                {
                    model.Forward(x);
                    model.Backward(gradOutput);
                }
                catch (InvalidOperationException e) when (e.Message.Contains("belongs to one caller", StringComparison.Ordinal))
                {
                    lock (refused)
                    {
                        refused.Add(e.Message);
                    }
                }
                catch (InvalidOperationException e) when (e.Message.StartsWith("Backward needs a Forward", StringComparison.Ordinal)
                    || e.Message.StartsWith("Backward already went back", StringComparison.Ordinal))
                {
                    // The other caller's Forward started after ours and dropped the saved pass (or its Backward spent
                    // the pass ours then found): refused too.
                    lock (refused)
                    {
                        refused.Add(e.Message);
                    }
                }
                catch (Exception e)
                {
                    lock (unexpected)
                    {
                        unexpected.Add(e);
                    }

                    return;
                }
            }
        }, iterations: 1);

        Assert.Empty(unexpected);
        Assert.NotEmpty(refused);
        Assert.Contains(refused, m => m.StartsWith("A training-mode Forward/Backward pair belongs to one caller", StringComparison.Ordinal));
    }

    /// <summary>Eval() and a load during a training pass are refused (a pass of ~100 ms on another thread).</summary>
    [Fact]
    public void EvalAndLoadDuringATrainingPassAreRefused()
    {
        var model = new Gru3x129(3);
        IReadOnlyDictionary<string, Tensor> weights = new Gru3x129(4).StateDict();
        Tensor x = Tensor.FromArray(TestSupport.RandomArray(new Random(2), 8 * 1500 * 3), 8, 1500, 3);
        using var started = new ManualResetEventSlim();
        var pass = new Thread(() =>
        {
            started.Set();
            for (int i = 0; i < 20; i++)
            {
                model.Forward(x);
            }
        });
        pass.Start();
        started.Wait();
        string? evalRefused = null;
        string? loadRefused = null;
        var stop = Stopwatch.StartNew();
        while ((evalRefused is null || loadRefused is null) && pass.IsAlive && stop.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                if (evalRefused is null)
                {
                    model.Eval();
                    model.Train(); // it got in between two passes: undo and try again
                }
                else
                {
                    model.LoadStateDict(weights);
                    weights = new Gru3x129(3).StateDict(); // loaded between passes: a changed model is fine here
                }
            }
            catch (InvalidOperationException e)
            {
                if (evalRefused is null)
                {
                    evalRefused = e.Message;
                }
                else
                {
                    loadRefused = e.Message;
                }
            }
        }

        pass.Join();
        Assert.StartsWith("Eval() while a training-mode pass is running: A training-mode Forward/Backward pair belongs to one caller", evalRefused, StringComparison.Ordinal);
        Assert.StartsWith("Loading weights while a training-mode pass is running", loadRefused, StringComparison.Ordinal);
    }

    /// <summary>
    /// Weights loaded while evaluation passes run reach every later pass, and no pass sees a mix: each output is the
    /// old model's or the new model's, bit for bit.
    /// </summary>
    [Fact]
    public void LoadingWhileServingGivesOldOrNewNeverAMix()
    {
        var model = new Gru3x129(1);
        model.Eval();
        IReadOnlyDictionary<string, Tensor> a = new Gru3x129(1).StateDict();
        IReadOnlyDictionary<string, Tensor> b = new Gru3x129(2).StateDict();
        Tensor x = Tensor.FromArray(TestSupport.RandomArray(new Random(9), 4 * 20 * 3), 4, 20, 3);
        float[] outA = model.Forward(x).ToArray();
        model.LoadStateDict(b);
        float[] outB = model.Forward(x).ToArray();
        Assert.NotEqual(outA, outB);

        int mixed = 0;
        Hammer(3, (caller, i) =>
        {
            if (caller == 0)
            {
                model.LoadStateDict(i % 2 == 0 ? a : b);
                return;
            }

            float[] y = model.Forward(x).ToArray();
            if (!y.SequenceEqual(outA) && !y.SequenceEqual(outB))
            {
                Interlocked.Increment(ref mixed);
            }
        }, iterations: 60);
        Assert.Equal(0, mixed);

        // The last load (iteration 59 loaded b) is what every later pass runs on.
        Assert.Equal(outB, model.Forward(x).ToArray());
    }

    /// <summary>Runs <paramref name="work"/>(caller, iteration) on <paramref name="callers"/> real threads released together.</summary>
    internal static void Hammer(int callers, Action<int, int> work, int iterations)
    {
        using var start = new Barrier(callers);
        var failures = new List<Exception>();
        Thread[] threads = Enumerable.Range(0, callers).Select(caller => new Thread(() =>
        {
            start.SignalAndWait();
            try
            {
                for (int i = 0; i < iterations; i++)
                {
                    work(caller, i);
                }
            }
            catch (Exception e)
            {
                lock (failures)
                {
                    failures.Add(e);
                }
            }
        })).ToArray();
        foreach (Thread t in threads)
        {
            t.Start();
        }

        foreach (Thread t in threads)
        {
            t.Join();
        }

        if (failures.Count > 0)
        {
            throw new AggregateException(failures);
        }
    }

    /// <summary>A model in evaluation mode with random weights and its calls: inputs of several shapes and their outputs alone.</summary>
    private static (IModel Model, List<Call> Calls) Prepare(ForwardGridTests.ModelCase c, int threads, int seed)
    {
        IModel model = c.Create();
        var rng = new Random(seed);
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, TestSupport.RandomWeights(c.Layers, rng)));
        model.Eval();
        model.Threads = threads;
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        MethodInfo? withState = c.Type.GetMethods().FirstOrDefault(m => m.Name == "ForwardWithState" && m.GetParameters()[1].ParameterType == typeof(Tensor));
        var calls = new List<Call>();
        foreach ((int b, int t) in new[] { (8, 30), (1, 7), (13, 12), (4, 50), (9, 3), (16, 21) })
        {
            float[] x = TestSupport.RandomArray(rng, b * t * inputSize, 2.0);
            int[] shape = c.BatchFirst ? [b, t, inputSize] : [t, b, inputSize];
            var call = new Call(x, shape, b, t, withState);
            call.Expected = model.Forward(Tensor.FromArray(x, shape)).ToArray();
            calls.Add(call);
        }

        return (model, calls);
    }

    private delegate void StepFunction(ReadOnlySpan<float> input, ModelState state, Span<float> output);

    /// <summary>One input and what the model gives for it alone; <see cref="Run"/> calls one of the overloads.</summary>
    private sealed class Call(float[] x, int[] shape, int batch, int seqLen, MethodInfo? withState)
    {
        public float[] Expected { get; set; } = [];

        public float[] Run(IModel model, int overload)
        {
            switch (overload)
            {
                case 0:
                    return model.Forward(Tensor.FromArray(x, shape)).ToArray();
                case 1:
                    var y = new float[Expected.Length];
                    model.Forward(x, batch, seqLen, y);
                    return y;
                default:
                    if (withState is null)
                    {
                        goto case 0;
                    }

                    object?[] args = withState.GetParameters().Select((p, i) => i == 0 ? (object)Tensor.FromArray(x, shape) : null).ToArray();
                    var result = (ITuple)withState.Invoke(model, args)!;
                    return ((Tensor)result[0]!).ToArray();
            }
        }
    }
}
