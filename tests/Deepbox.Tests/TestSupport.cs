using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests;

/// <summary>Random data and comparisons shared by the numeric tests.</summary>
internal static class TestSupport
{
    /// <summary>
    /// A seed from a name that is the same in every process (FNV-1a of its characters), where <c>string.GetHashCode</c>
    /// is randomized per process: a failing case of a seeded grid then fails again on the next run.
    /// </summary>
    public static int StableSeed(string name)
    {
        uint hash = 2166136261;
        foreach (char ch in name)
        {
            hash = (hash ^ ch) * 16777619;
        }

        return (int)(hash & 0xffff);
    }

    /// <summary>
    /// Until disposed, every region is split as far as Threads and the batch allow, whatever its work
    /// (<c>Workers.MinWorkPerThread</c> 0): for the tests of the split itself, whose batches are small. Only for tests
    /// in the threads collection, which runs alone.
    /// </summary>
    public static IDisposable SplitSmallWork()
    {
        long before = Deepbox.CompilerServices.Workers.MinWorkPerThread;
        Deepbox.CompilerServices.Workers.MinWorkPerThread = 0;
        return new Restore(() => Deepbox.CompilerServices.Workers.MinWorkPerThread = before);
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }

    /// <summary>The model's <c>Step</c>, or null when it cannot stream (then its streaming members are compile-time errors).</summary>
    public static System.Reflection.MethodInfo? StepMethod(Type model) =>
        model.GetMethod("Step") is { } step && !Attribute.IsDefined(step, typeof(ObsoleteAttribute)) ? step : null;

    /// <summary>A model's <c>ForwardWithState</c>, the overload with lengths or the one without, or null if it has none.</summary>
    public static System.Reflection.MethodInfo? ForwardWithState(Type model, bool lengths) =>
        model.GetMethods().SingleOrDefault(m => m.Name == "ForwardWithState" && (m.GetParameters()[1].ParameterType == typeof(int[])) == lengths);

    /// <summary>
    /// The fewest bytes the calling thread allocated in one of a few runs of <paramref name="work"/>: the runtime itself
    /// allocates now and then on a thread (tier-up of a method, a type's initialization, more so on a busy machine), while a
    /// real allocation per call shows in every run.
    /// </summary>
    public static long QuietestAllocation(Action work, int attempts = 5)
    {
        long quietest = long.MaxValue;
        for (int a = 0; a < attempts && quietest != 0; a++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            work();
            quietest = Math.Min(quietest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return quietest;
    }

    public static float[] RandomArray(Random rng, int length, double scale = 1.0) =>
        Enumerable.Range(0, length).Select(_ => (float)(((rng.NextDouble() * 2) - 1) * scale)).ToArray();

    /// <summary>
    /// Random weights for every parameter the oracle names: matrices U(-2/sqrt(fanIn), 2/sqrt(fanIn)) (twice PyTorch's
    /// init, so gates saturate and relu layers grow a little), biases U(-0.5, 0.5). Scaling by fan-in keeps the
    /// pre-activations of deep and wide models of order 1, where float32 sums are good to 1e-5 against double.
    /// </summary>
    public static Dictionary<string, float[]> RandomWeights(IReadOnlyList<RefLayer> layers, Random rng) =>
        ReferenceModel.ParameterNames(layers).ToDictionary(
            p => p.Name,
            p => RandomArray(rng, p.Shape.Aggregate(1, (a, b) => a * b), p.Shape.Length == 2 ? 2 / Math.Sqrt(p.Shape[1]) : 0.5));

    public static Dictionary<string, Tensor> ToTensors(IReadOnlyList<RefLayer> layers, Dictionary<string, float[]> weights) =>
        ReferenceModel.ParameterNames(layers).ToDictionary(p => p.Name, p => Tensor.FromArray(weights[p.Name], p.Shape));

    /// <summary>Asserts |expected - actual| &lt;= tol * max(1, |expected|) everywhere, naming the worst element.</summary>
    public static void AssertClose(float[] expected, ReadOnlySpan<float> actual, double tol, string what) =>
        AssertClose(Array.ConvertAll(expected, v => (double)v), actual, tol, what);

    /// <summary>Asserts |expected - actual| &lt;= tol * max(1, |expected|) everywhere, naming the worst element.</summary>
    public static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tol, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} values, got {actual.Length}");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(expected[i] - actual[i]) / Math.Max(1.0, Math.Abs(expected[i]));
            if (!(err <= worst))
            {
                worst = err;
                at = i;
            }
        }

        Assert.True(worst <= tol, $"{what}: error {worst:E3} at [{at}] (expected {(at >= 0 ? expected[at] : 0):R}, got {(at >= 0 ? actual[at] : 0):R}), tolerance {tol:E1}");
    }

    /// <summary>
    /// Runs <paramref name="action"/> under a culture whose minus sign is U+2212 and whose decimal separator is a comma
    /// (as the .NET Regex generator's tests do), so culture-sensitive formatting shows up as a difference.
    /// </summary>
    public static T UnderOddCulture<T>(Func<T> action)
    {
        CultureInfo saved = Thread.CurrentThread.CurrentCulture;
        try
        {
            var odd = (CultureInfo)CultureInfo.InvariantCulture.Clone();
            odd.NumberFormat.NegativeSign = "\u2212";
            odd.NumberFormat.NumberDecimalSeparator = ",";
            Thread.CurrentThread.CurrentCulture = odd;
            return action();
        }
        finally
        {
            Thread.CurrentThread.CurrentCulture = saved;
        }
    }
}
