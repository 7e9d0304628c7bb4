using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Deepbox.Benchmarks;

/// <summary>
/// The single-core float32 FMA throughput of this machine: a loop of independent fused multiply-adds (12 accumulators,
/// enough to cover the FMA latency on two pipes), in <c>Vector512</c> and <c>Vector256</c> lanes. The best of several
/// timed runs (other processes only slow a run down). One FMA of 16 lanes counts 32 FLOPs.
/// </summary>
/// <param name="Vector512GFlops">GFLOP/s with 16-float FMAs, or 0 where Vector512 is not hardware-accelerated.</param>
/// <param name="Vector256GFlops">GFLOP/s with 8-float FMAs.</param>
public sealed record FmaPeak(double Vector512GFlops, double Vector256GFlops)
{
    /// <summary>The machine's single-core peak: the wider of the two.</summary>
    public double PeakGFlops => Math.Max(Vector512GFlops, Vector256GFlops);

    /// <summary>Measures both (about two seconds).</summary>
    public static FmaPeak Measure()
    {
        const long Iterations = 20_000_000;
        double v512 = 0, v256 = 0;
        Loop512(1000);
        Loop256(1000);
        for (int run = 0; run < 7; run++)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                long t0 = Stopwatch.GetTimestamp();
                float sink = Loop512(Iterations);
                double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                v512 = Math.Max(v512, Iterations * 12.0 * 16 * 2 / s / 1e9 + (sink == 12345 ? 1 : 0));
            }

            long t1 = Stopwatch.GetTimestamp();
            float sink2 = Loop256(Iterations);
            double s2 = Stopwatch.GetElapsedTime(t1).TotalSeconds;
            v256 = Math.Max(v256, Iterations * 12.0 * 8 * 2 / s2 / 1e9 + (sink2 == 12345 ? 1 : 0));
        }

        return new FmaPeak(Math.Round(v512, 1), Math.Round(v256, 1));
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"single-core FMA peak {Vector512GFlops:F1} GFLOP/s with Vector512, {Vector256GFlops:F1} GFLOP/s with Vector256";

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop512(long n)
    {
        Vector512<float> b = Vector512.Create(0.999999f), c = Vector512.Create(1e-6f);
        Vector512<float> a0 = Vector512.Create(0.1f), a1 = Vector512.Create(0.2f), a2 = Vector512.Create(0.3f), a3 = Vector512.Create(0.4f);
        Vector512<float> a4 = Vector512.Create(0.5f), a5 = Vector512.Create(0.6f), a6 = Vector512.Create(0.7f), a7 = Vector512.Create(0.8f);
        Vector512<float> a8 = Vector512.Create(0.9f), a9 = Vector512.Create(1.0f), a10 = Vector512.Create(1.1f), a11 = Vector512.Create(1.2f);
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, b, c);
            a1 = Vector512.FusedMultiplyAdd(a1, b, c);
            a2 = Vector512.FusedMultiplyAdd(a2, b, c);
            a3 = Vector512.FusedMultiplyAdd(a3, b, c);
            a4 = Vector512.FusedMultiplyAdd(a4, b, c);
            a5 = Vector512.FusedMultiplyAdd(a5, b, c);
            a6 = Vector512.FusedMultiplyAdd(a6, b, c);
            a7 = Vector512.FusedMultiplyAdd(a7, b, c);
            a8 = Vector512.FusedMultiplyAdd(a8, b, c);
            a9 = Vector512.FusedMultiplyAdd(a9, b, c);
            a10 = Vector512.FusedMultiplyAdd(a10, b, c);
            a11 = Vector512.FusedMultiplyAdd(a11, b, c);
        }

        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop256(long n)
    {
        Vector256<float> b = Vector256.Create(0.999999f), c = Vector256.Create(1e-6f);
        Vector256<float> a0 = Vector256.Create(0.1f), a1 = Vector256.Create(0.2f), a2 = Vector256.Create(0.3f), a3 = Vector256.Create(0.4f);
        Vector256<float> a4 = Vector256.Create(0.5f), a5 = Vector256.Create(0.6f), a6 = Vector256.Create(0.7f), a7 = Vector256.Create(0.8f);
        Vector256<float> a8 = Vector256.Create(0.9f), a9 = Vector256.Create(1.0f), a10 = Vector256.Create(1.1f), a11 = Vector256.Create(1.2f);
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, b, c);
            a1 = Vector256.FusedMultiplyAdd(a1, b, c);
            a2 = Vector256.FusedMultiplyAdd(a2, b, c);
            a3 = Vector256.FusedMultiplyAdd(a3, b, c);
            a4 = Vector256.FusedMultiplyAdd(a4, b, c);
            a5 = Vector256.FusedMultiplyAdd(a5, b, c);
            a6 = Vector256.FusedMultiplyAdd(a6, b, c);
            a7 = Vector256.FusedMultiplyAdd(a7, b, c);
            a8 = Vector256.FusedMultiplyAdd(a8, b, c);
            a9 = Vector256.FusedMultiplyAdd(a9, b, c);
            a10 = Vector256.FusedMultiplyAdd(a10, b, c);
            a11 = Vector256.FusedMultiplyAdd(a11, b, c);
        }

        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
