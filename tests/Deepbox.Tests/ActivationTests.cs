using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.Intrinsics;
using Xunit;
using Xunit.Abstractions;

namespace Deepbox.Tests;

/// <summary>
/// Accuracy, bit-identity across the scalar / 128 / 256 / 512-bit / span paths, and special values of
/// <see cref="Activations"/>. The bounds asserted here are the ones its XML documentation states.
/// </summary>
public sealed class ActivationTests
{
    // The documented bounds (see the remarks of Activations). Measured against double math, on cores whose
    // multiply-adds are fused (every AVX2 core, every Arm64 core), and where they are not (x86-64-v2, or test.sh's run
    // with AVX2 switched off, which takes FMA with it): there each multiply-add rounds twice, and tanh's bounds are the
    // sweep's (not an exhaustive run's) maxima.
    private static readonly bool Fused = System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;
    private const double SigmoidMaxAbsError = 8.931e-8;
    private const double SigmoidMaxUlpError = 2.481;       // for x >= SigmoidUlpDomainStart
    private const float SigmoidUlpDomainStart = -88.375f;   // below it the result is clamped
    private static readonly double TanhMaxAbsError = Fused ? 3.026e-7 : 3.050e-7;
    private static readonly double TanhMaxUlpError = Fused ? 5.076 : 5.117;
    private static readonly double TanhMaxRelError = Fused ? 3.026e-7 : 3.050e-7;
    private const float TanhClamp = 8.004157f;              // tanh is exactly 1 from here up
    private const float TanhIdentityBelow = 3.5720394e-4f;  // tanh(x) returns x below this magnitude
    private static readonly int TanhMaxStepBack = Fused ? 6 : 7; // ulps tanh may decrease between neighbouring inputs
    private static readonly double GateSigmoidMaxAbsError = Fused ? 1.787e-7 : 2.073e-7;
    private const float GateSigmoidSaturation = 16.008314f; // twice TanhClamp: exactly 0 below minus it, 1 above it

    // Bit patterns stepped through by the accuracy sweeps: every SweepStride-th float of the whole 32-bit range.
    private const long SweepStride = 1024;

    // The inputs with the largest errors found by an exhaustive run over all 2^32 floats, so that the strided
    // sweep measures the true maxima too.
    private static readonly float[] KnownWorstSigmoid = { -16.635704040527344f, 7.859210968017578f };
    private static readonly float[] KnownWorstTanh = { 6.223224f, -6.223224f };
    private static readonly float[] KnownWorstGateSigmoid = { 12.874254f, 14.107941f };

    private readonly ITestOutputHelper _output;

    public ActivationTests(ITestOutputHelper output) => _output = output;

    // ------------------------------------------------------------------ reference math

    private static double RefSigmoid(float x) => 1.0 / (1.0 + Math.Exp(-(double)x));

    private static double RefTanh(float x) => Math.Tanh(x);

    /// <summary>The spacing of floats at the real value r (the binade of r; 2^-149 below 2^-126).</summary>
    private static double Ulp(double r)
    {
        r = Math.Abs(r);
        int e = r == 0 ? -126 : Math.Max(Math.ILogB(r), -126);
        return Math.ScaleB(1.0, e - 23);
    }

    private static int Bits(float x) => BitConverter.SingleToInt32Bits(x);

    private static float FromBits(long bits) => BitConverter.Int32BitsToSingle(unchecked((int)(uint)bits));

    private static string Show(float x) => x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Every SweepStride-th finite float (both signs), then the dense grid and the known worst cases.</summary>
    private static IEnumerable<float[]> SweepBatches(float[] knownWorst)
    {
        const int BatchSize = 4096;
        var batch = new List<float>(BatchSize);
        for (long b = 0; b < 0x1_0000_0000L; b += SweepStride)
        {
            float x = FromBits(b);
            if (!float.IsFinite(x))
            {
                continue;
            }

            batch.Add(x);
            if (batch.Count == BatchSize)
            {
                yield return batch.ToArray();
                batch.Clear();
            }
        }

        // Dense grid over [-20, 20], step 2^-14.
        for (int i = -20 << 14; i <= 20 << 14; i++)
        {
            batch.Add(i / 16384f);
            if (batch.Count == BatchSize)
            {
                yield return batch.ToArray();
                batch.Clear();
            }
        }

        batch.AddRange(knownWorst);
        yield return batch.ToArray();
    }

    // ------------------------------------------------------------------ accuracy

    [Fact]
    public void SigmoidErrorIsWithinTheDocumentedBounds()
    {
        double maxAbs = 0, maxUlp = 0;
        float maxAbsAt = 0, maxUlpAt = 0;
        long count = 0;
        var y = new float[4096];
        foreach (float[] xs in SweepBatches(KnownWorstSigmoid))
        {
            Activations.Sigmoid(xs, y);
            for (int i = 0; i < xs.Length; i++)
            {
                float x = xs[i];
                double reference = RefSigmoid(x);
                double abs = Math.Abs(y[i] - reference);
                if (abs > maxAbs)
                {
                    maxAbs = abs;
                    maxAbsAt = x;
                }

                if (x >= SigmoidUlpDomainStart)
                {
                    double ulp = abs / Ulp(reference);
                    if (ulp > maxUlp)
                    {
                        maxUlp = ulp;
                        maxUlpAt = x;
                    }
                }
            }

            count += xs.Length;
        }

        _output.WriteLine($"Sigmoid over {count} inputs: max abs error {maxAbs:E4} at x = {Show(maxAbsAt)}; " +
            $"max ulp error {maxUlp:F4} at x = {Show(maxUlpAt)} (x >= {Show(SigmoidUlpDomainStart)})");
        Assert.True(maxAbs <= SigmoidMaxAbsError, $"abs error {maxAbs:E4} at {Show(maxAbsAt)} exceeds {SigmoidMaxAbsError:E4}");
        Assert.True(maxUlp <= SigmoidMaxUlpError, $"ulp error {maxUlp:F4} at {Show(maxUlpAt)} exceeds {SigmoidMaxUlpError}");
    }

    [Fact]
    public void TanhErrorIsWithinTheDocumentedBounds()
    {
        double maxAbs = 0, maxUlp = 0, maxRel = 0;
        float maxAbsAt = 0, maxUlpAt = 0, maxRelAt = 0;
        long count = 0;
        var y = new float[4096];
        foreach (float[] xs in SweepBatches(KnownWorstTanh))
        {
            Activations.Tanh(xs, y);
            for (int i = 0; i < xs.Length; i++)
            {
                float x = xs[i];
                double reference = RefTanh(x);
                double abs = Math.Abs(y[i] - reference);
                double ulp = abs / Ulp(reference);
                double rel = reference == 0 ? abs : abs / Math.Abs(reference);
                if (abs > maxAbs)
                {
                    maxAbs = abs;
                    maxAbsAt = x;
                }

                if (ulp > maxUlp)
                {
                    maxUlp = ulp;
                    maxUlpAt = x;
                }

                if (rel > maxRel)
                {
                    maxRel = rel;
                    maxRelAt = x;
                }
            }

            count += xs.Length;
        }

        _output.WriteLine($"Tanh over {count} inputs: max abs error {maxAbs:E4} at x = {Show(maxAbsAt)}; " +
            $"max ulp error {maxUlp:F4} at x = {Show(maxUlpAt)}; max relative error {maxRel:E4} at x = {Show(maxRelAt)}");
        Assert.True(maxAbs <= TanhMaxAbsError, $"abs error {maxAbs:E4} at {Show(maxAbsAt)} exceeds {TanhMaxAbsError:E4}");
        Assert.True(maxUlp <= TanhMaxUlpError, $"ulp error {maxUlp:F4} at {Show(maxUlpAt)} exceeds {TanhMaxUlpError}");
        Assert.True(maxRel <= TanhMaxRelError, $"relative error {maxRel:E4} at {Show(maxRelAt)} exceeds {TanhMaxRelError:E4}");
    }

    [Fact]
    public void GateSigmoidErrorIsWithinTheDocumentedBounds()
    {
        double maxAbs = 0;
        float maxAbsAt = 0;
        long count = 0;
        foreach (float[] xs in SweepBatches(KnownWorstGateSigmoid))
        {
            foreach (float x in xs)
            {
                float y = Activations.GateSigmoid(x);
                Assert.True(y >= 0f && y <= 1f, $"GateSigmoid({Show(x)}) = {Show(y)} is outside [0, 1]");
                double abs = Math.Abs(y - RefSigmoid(x));
                if (abs > maxAbs)
                {
                    maxAbs = abs;
                    maxAbsAt = x;
                }

                if (x >= GateSigmoidSaturation || x <= -GateSigmoidSaturation)
                {
                    Assert.Equal(x > 0 ? 1f : 0f, y);
                }

                count++;
            }
        }

        _output.WriteLine($"GateSigmoid over {count} inputs: max abs error {maxAbs:E4} at x = {Show(maxAbsAt)}");
        Assert.True(maxAbs <= GateSigmoidMaxAbsError, $"abs error {maxAbs:E4} at {Show(maxAbsAt)} exceeds {GateSigmoidMaxAbsError:E4}");
        Assert.True(maxAbs > GateSigmoidMaxAbsError * 0.95, $"the documented bound {GateSigmoidMaxAbsError:E4} is no longer attained (max {maxAbs:E4}): update it");
        Assert.Equal(0.5f, Activations.GateSigmoid(0f));
        Assert.Equal(0.5f, Activations.GateSigmoid(-0f));
        Assert.Equal(1f, Activations.GateSigmoid(float.PositiveInfinity));
        Assert.Equal(0f, Activations.GateSigmoid(float.NegativeInfinity));
        Assert.True(float.IsNaN(Activations.GateSigmoid(float.NaN)));
    }

    // ------------------------------------------------------------------ bit identity across paths

    /// <summary>Inputs for the path comparisons: a strided walk over all bit patterns plus every special value.</summary>
    private static float[] PathInputs()
    {
        var xs = new List<float>();
        for (long b = 0; b < 0x1_0000_0000L; b += 65521)
        {
            xs.Add(FromBits(b));
        }

        for (int i = -40 << 8; i <= 40 << 8; i++)
        {
            xs.Add(i / 256f);
        }

        xs.AddRange(SpecialValues());
        while (xs.Count % Vector512<float>.Count != 0)
        {
            xs.Add(0.5f);
        }

        return xs.ToArray();
    }

    private static void AssertSameBits(float expected, float actual, float x, string path)
    {
        if (float.IsNaN(x))
        {
            Assert.True(float.IsNaN(actual), $"{path}: NaN input gave {Show(actual)}");
            return;
        }

        Assert.True(Bits(expected) == Bits(actual),
            $"{path}: x = {Show(x)} (0x{Bits(x):X8}) gave {Show(actual)} (0x{Bits(actual):X8}), scalar gave {Show(expected)} (0x{Bits(expected):X8})");
    }

    [Fact]
    public void AllVectorWidthsMatchTheScalarBitForBit()
    {
        _output.WriteLine($"Hardware-accelerated: Vector512 {Vector512.IsHardwareAccelerated}, " +
            $"Vector256 {Vector256.IsHardwareAccelerated}, Vector128 {Vector128.IsHardwareAccelerated}");
        float[] xs = PathInputs();
        for (int i = 0; i < xs.Length; i += Vector512<float>.Count)
        {
            // The 512-bit version runs even where it is not accelerated (it then delegates to two 256-bit halves).
            Vector512<float> v512 = Vector512.Create(xs, i);
            Vector512<float> s512 = Activations.Sigmoid(v512);
            Vector512<float> t512 = Activations.Tanh(v512);
            Vector512<float> g512 = Activations.GateSigmoid(v512);
            Vector512<float> tg512 = Activations.TanhAndGateSigmoid(v512);
            for (int k = 0; k < Vector512<float>.Count; k++)
            {
                float x = xs[i + k];
                float s = Activations.Sigmoid(x);
                float t = Activations.Tanh(x);
                AssertSameBits(s, s512.GetElement(k), x, "Sigmoid(Vector512)");
                AssertSameBits(t, t512.GetElement(k), x, "Tanh(Vector512)");
                float g = Activations.GateSigmoid(x);
                AssertSameBits(g, g512.GetElement(k), x, "GateSigmoid(Vector512)");
                AssertSameBits(k < Vector256<float>.Count ? t : g, tg512.GetElement(k), x, "TanhAndGateSigmoid(Vector512)");

                int j = k % Vector256<float>.Count;
                Vector256<float> v256 = Vector256.Create(xs, i + k - j);
                AssertSameBits(s, Activations.Sigmoid(v256).GetElement(j), x, "Sigmoid(Vector256)");
                AssertSameBits(t, Activations.Tanh(v256).GetElement(j), x, "Tanh(Vector256)");
                AssertSameBits(g, Activations.GateSigmoid(v256).GetElement(j), x, "GateSigmoid(Vector256)");

                int m = k % Vector128<float>.Count;
                Vector128<float> v128 = Vector128.Create(xs, i + k - m);
                AssertSameBits(s, Activations.Sigmoid(v128).GetElement(m), x, "Sigmoid(Vector128)");
                AssertSameBits(t, Activations.Tanh(v128).GetElement(m), x, "Tanh(Vector128)");
                AssertSameBits(g, Activations.GateSigmoid(v128).GetElement(m), x, "GateSigmoid(Vector128)");
                var pair = new Deepbox.CompilerServices.Vector128x2<float>(v128, v128);
                AssertSameBits(g, Activations.GateSigmoid(pair).Upper.GetElement(m), x, "GateSigmoid(Vector128x2)");
            }
        }

        var ys = new float[xs.Length];
        Activations.Sigmoid(xs, ys);
        for (int i = 0; i < xs.Length; i++)
        {
            AssertSameBits(Activations.Sigmoid(xs[i]), ys[i], xs[i], "Sigmoid(span)");
        }

        Activations.Tanh(xs, ys);
        for (int i = 0; i < xs.Length; i++)
        {
            AssertSameBits(Activations.Tanh(xs[i]), ys[i], xs[i], "Tanh(span)");
        }
    }

    [Fact]
    public void SpansMatchTheScalarForEveryLengthAndOffset()
    {
        const float Sentinel = 12345.5f;
        var source = new float[64 + 16];
        for (int i = 0; i < source.Length; i++)
        {
            // Deterministic values spread over [-12, 12], crossing the tanh branch threshold and both signs.
            source[i] = (float)(12 * Math.Sin(i * 1.7 + 0.3));
        }

        for (int length = 0; length <= 64; length++)
        {
            for (int srcOffset = 0; srcOffset < 16; srcOffset += 3)
            {
                for (int dstOffset = 0; dstOffset < 3; dstOffset++)
                {
                    ReadOnlySpan<float> x = source.AsSpan(srcOffset, length);
                    var destination = new float[length + dstOffset + 5];
                    foreach (bool tanh in new[] { false, true })
                    {
                        Array.Fill(destination, Sentinel);
                        Span<float> y = destination.AsSpan(dstOffset, length + 2);
                        if (tanh)
                        {
                            Activations.Tanh(x, y);
                        }
                        else
                        {
                            Activations.Sigmoid(x, y);
                        }

                        for (int i = 0; i < destination.Length; i++)
                        {
                            int at = i - dstOffset;
                            float expected = at >= 0 && at < length
                                ? (tanh ? Activations.Tanh(x[at]) : Activations.Sigmoid(x[at]))
                                : Sentinel;
                            Assert.True(Bits(expected) == Bits(destination[i]),
                                $"{(tanh ? "Tanh" : "Sigmoid")} length {length}, source offset {srcOffset}, " +
                                $"destination offset {dstOffset}: element {i} is {Show(destination[i])}, expected {Show(expected)}");
                        }
                    }
                }
            }

            // In place.
            float[] inPlace = source.AsSpan(0, length).ToArray();
            Activations.Tanh(inPlace, inPlace);
            for (int i = 0; i < length; i++)
            {
                Assert.Equal(Bits(Activations.Tanh(source[i])), Bits(inPlace[i]));
            }

            inPlace = source.AsSpan(0, length).ToArray();
            Activations.Sigmoid(inPlace, inPlace);
            for (int i = 0; i < length; i++)
            {
                Assert.Equal(Bits(Activations.Sigmoid(source[i])), Bits(inPlace[i]));
            }
        }
    }

    [Fact]
    public void SpansRejectAShortDestination()
    {
        var x = new float[17];
        var y = new float[16];
        ArgumentException e = Assert.Throws<ArgumentException>(() => Activations.Sigmoid(x, y));
        Assert.Contains("16", e.Message, StringComparison.Ordinal);
        Assert.Contains("17", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => Activations.Tanh(x, y));
        Assert.Contains("16", e.Message, StringComparison.Ordinal);
        Assert.Contains("17", e.Message, StringComparison.Ordinal);

        // Equal lengths and a longer destination are fine; an empty source is a no-op.
        Activations.Sigmoid(x, new float[17]);
        Activations.Tanh(x, new float[40]);
        Activations.Sigmoid(ReadOnlySpan<float>.Empty, Span<float>.Empty);
    }

    // ------------------------------------------------------------------ special values and shape

    private static float[] SpecialValues()
    {
        var values = new List<float>
        {
            0f, float.Epsilon, 2 * float.Epsilon, 1e-40f, 1.1754942e-38f /* largest subnormal */, 5e-39f,
            1.17549435e-38f /* smallest normal */, 1e-30f, 1e-10f, 1e-7f, 1e-4f, 0.01f, 0.1f, 0.3f, 0.5f, 0.6f,
            TanhClamp, MathF.BitDecrement(TanhClamp), MathF.BitIncrement(TanhClamp),
            TanhIdentityBelow, MathF.BitDecrement(TanhIdentityBelow), 2.44140625e-4f /* 2^-12 */,
            0.7f, 1f, 2f, 3f, 5f, 8f, 9f, 9.5f, 10f, 15f, 16.5f, 17f, 17.5f, 20f, 30f, 44f, 45f, 50f,
            86.9f, 87f, 87.5f, 88f, 88.375f, 88.5f, 88.7f, 89f, 100f, 104f, 1000f, 1e10f, 1e20f, 1e38f, float.MaxValue,
        };
        int n = values.Count;
        for (int i = 0; i < n; i++)
        {
            values.Add(-values[i]);
        }

        return values.ToArray();
    }

    [Fact]
    public void SpecialValuesAreFiniteInRangeAndKeepTheirSymmetry()
    {
        foreach (float x in SpecialValues())
        {
            float s = Activations.Sigmoid(x);
            float t = Activations.Tanh(x);
            Assert.True(float.IsFinite(s) && s >= 0f && s <= 1f, $"Sigmoid({Show(x)}) = {Show(s)}");
            Assert.True(float.IsFinite(t) && t >= -1f && t <= 1f, $"Tanh({Show(x)}) = {Show(t)}");

            // Exactly odd, sign of zero included.
            Assert.True(Bits(Activations.Tanh(-x)) == (Bits(t) ^ int.MinValue), $"Tanh(-{Show(x)}) != -Tanh({Show(x)})");
            Assert.True(float.IsNegative(t) == float.IsNegative(x), $"Tanh({Show(x)}) = {Show(t)} lost the sign");

            // sigmoid(-x) = 1 - sigmoid(x), to within the two absolute errors.
            double mirror = Activations.Sigmoid(-x) - (1.0 - s);
            Assert.True(Math.Abs(mirror) <= 2 * SigmoidMaxAbsError, $"Sigmoid(-{Show(x)}) + Sigmoid({Show(x)}) - 1 = {mirror:E3}");

            // Both stay within the documented absolute errors at every special value too.
            Assert.True(Math.Abs(s - RefSigmoid(x)) <= SigmoidMaxAbsError, $"Sigmoid({Show(x)}) = {Show(s)}");
            Assert.True(Math.Abs(t - RefTanh(x)) <= TanhMaxAbsError, $"Tanh({Show(x)}) = {Show(t)}");
        }
    }

    [Fact]
    public void ZerosAndSubnormalsAreHandledExactly()
    {
        Assert.Equal(Bits(0f), Bits(Activations.Tanh(0f)));
        Assert.Equal(Bits(-0f), Bits(Activations.Tanh(-0f)));
        Assert.Equal(0.5f, Activations.Sigmoid(0f));
        Assert.Equal(0.5f, Activations.Sigmoid(-0f));

        // Every 2^12-th subnormal bit pattern, both signs, and the extremes: tanh(x) = x, sigmoid(x) = 1/2.
        for (int b = 1; b < 0x00800000; b += b < 64 ? 1 : 4096)
        {
            foreach (float x in new[] { FromBits(b), -FromBits(b) })
            {
                Assert.True(float.IsSubnormal(x));
                Assert.Equal(Bits(x), Bits(Activations.Tanh(x)));
                Assert.Equal(0.5f, Activations.Sigmoid(x));
            }
        }

        Assert.Equal(Bits(float.Epsilon), Bits(Activations.Tanh(float.Epsilon)));
        Assert.Equal(Bits(-float.Epsilon), Bits(Activations.Tanh(-float.Epsilon)));
        Assert.Equal(Bits(FromBits(0x007FFFFF)), Bits(Activations.Tanh(FromBits(0x007FFFFF))));

        // Small normals: tanh(x) = x to the last bit below 3.57e-4 (x^3/3 is below half an ulp of x up to 2^-12).
        foreach (float x in new[] { 1.17549435e-38f, 1e-20f, 1e-5f, 2e-4f, 2.44140625e-4f, MathF.BitDecrement(TanhIdentityBelow) })
        {
            Assert.Equal(Bits(x), Bits(Activations.Tanh(x)));
            Assert.Equal(Bits(-x), Bits(Activations.Tanh(-x)));
        }
    }

    [Fact]
    public void LargeInputsSaturateExactly()
    {
        foreach (float x in new[] { 17.5f, 20f, 50f, 86.9f, 88f, 88.375f, 89f, 100f, 1e10f, 1e30f, float.MaxValue, float.PositiveInfinity })
        {
            Assert.Equal(1f, Activations.Sigmoid(x));
            Assert.Equal(1f, Activations.Tanh(x));
            Assert.Equal(-1f, Activations.Tanh(-x));
            float low = Activations.Sigmoid(-x);
            Assert.True(low >= 0f && low <= 1e-7f, $"Sigmoid(-{Show(x)}) = {Show(low)}");
        }

        // Tanh saturates from 8.004157 up; sigmoid from 16.64 up.
        Assert.Equal(1f, Activations.Tanh(TanhClamp));
        Assert.True(Activations.Tanh(MathF.BitDecrement(TanhClamp)) < 1f);
        for (float x = TanhClamp; x < 200f; x += 0.37f)
        {
            Assert.Equal(1f, Activations.Tanh(x));
            Assert.Equal(-1f, Activations.Tanh(-x));
        }

        for (float x = 17f; x < 200f; x += 0.37f)
        {
            Assert.Equal(1f, Activations.Sigmoid(x));
        }

        // Far below the clamp sigmoid stays at its clamp value: tiny, non-negative, not NaN.
        float floor = Activations.Sigmoid(-88.375f);
        Assert.True(floor > 0f && floor < 1e-38f, $"Sigmoid(-88.375) = {Show(floor)}");
        foreach (float x in new[] { -89f, -100f, -1e10f, float.MinValue, float.NegativeInfinity })
        {
            Assert.Equal(Bits(floor), Bits(Activations.Sigmoid(x)));
        }

        // Below 1: the largest sigmoid and tanh values short of saturation really are below 1.
        Assert.True(Activations.Sigmoid(15f) < 1f);
        Assert.True(Activations.Tanh(8f) < 1f);
    }

    [Fact]
    public void NaNGivesNaNOnEveryPath()
    {
        foreach (float nan in new[] { float.NaN, -float.NaN, FromBits(0x7F800001), FromBits(0x7FC00123), FromBits(0xFFFFFFFF) })
        {
            Assert.True(float.IsNaN(Activations.Sigmoid(nan)));
            Assert.True(float.IsNaN(Activations.Tanh(nan)));
            Assert.True(float.IsNaN(Activations.Sigmoid(Vector128.Create(nan)).GetElement(3)));
            Assert.True(float.IsNaN(Activations.Tanh(Vector128.Create(nan)).GetElement(3)));
            Assert.True(float.IsNaN(Activations.Sigmoid(Vector256.Create(nan)).GetElement(7)));
            Assert.True(float.IsNaN(Activations.Tanh(Vector256.Create(nan)).GetElement(7)));
            Assert.True(float.IsNaN(Activations.Sigmoid(Vector512.Create(nan)).GetElement(15)));
            Assert.True(float.IsNaN(Activations.Tanh(Vector512.Create(nan)).GetElement(15)));
            Assert.True(float.IsNaN(Activations.GateSigmoid(nan)));
            Assert.True(float.IsNaN(Activations.GateSigmoid(Vector128.Create(nan)).GetElement(3)));
            Assert.True(float.IsNaN(Activations.GateSigmoid(Vector256.Create(nan)).GetElement(7)));
            Assert.True(float.IsNaN(Activations.GateSigmoid(Vector512.Create(nan)).GetElement(15)));
            Assert.True(float.IsNaN(Activations.TanhAndGateSigmoid(Vector512.Create(nan)).GetElement(0)));
            Assert.True(float.IsNaN(Activations.TanhAndGateSigmoid(Vector512.Create(nan)).GetElement(15)));
        }
    }

    [Fact]
    public void SigmoidIsMonotonicAndTanhStepsBackAtMostSixUlps()
    {
        // Sorted sweeps: every 4096th float of the whole finite range (ascending); every float in [0.21, 0.25] and
        // [-0.25, -0.21] (where a plain Horner evaluation of e^r is not monotonic); every float within 256 ulps of each
        // point where the exp range reduction switches n (x = (k + 1/2) ln 2); and every float in [4.09, 4.1], where
        // the rational tanh steps back the most (6 ulp at 4.096522, found by an exhaustive run).
        var sweeps = new List<float[]>();
        var all = new List<float>();
        for (long b = 0xFF7FFFFFL; b > 0x80000000L; b -= 4096)
        {
            all.Add(FromBits(b));
        }

        for (long b = 0; b <= 0x7F7FFFFFL; b += 4096)
        {
            all.Add(FromBits(b));
        }

        sweeps.Add(all.ToArray());
        sweeps.Add(EveryFloat(-0.25f, -0.21f));
        sweeps.Add(EveryFloat(0.21f, 0.25f));
        sweeps.Add(EveryFloat(4.09f, 4.1f));
        sweeps.Add(EveryFloat(-4.1f, -4.09f));
        for (int k = -128; k <= 128; k++)
        {
            float center = (float)((k + 0.5) * Math.Log(2));
            sweeps.Add(EveryFloat(Step(center, -256), Step(center, 256)));
            sweeps.Add(EveryFloat(Step(center / 2, -256), Step(center / 2, 256)));
        }

        long checkedCount = 0;
        int maxStepBack = 0;
        foreach (float[] xs in sweeps)
        {
            var s = new float[xs.Length];
            var t = new float[xs.Length];
            Activations.Sigmoid(xs, s);
            Activations.Tanh(xs, t);
            for (int i = 1; i < xs.Length; i++)
            {
                Assert.True(xs[i - 1] < xs[i], "sweep not sorted");
                if (s[i - 1] > s[i])
                {
                    Assert.Fail($"Sigmoid({Show(xs[i - 1])}) = {Show(s[i - 1])} > Sigmoid({Show(xs[i])}) = {Show(s[i])}");
                }

                // A decrease within one sign: the distance of the bit patterns counts the ulps.
                int back = t[i - 1] > t[i] ? (float.IsNegative(t[i - 1]) == float.IsNegative(t[i]) ? Math.Abs(Bits(t[i - 1]) - Bits(t[i])) : int.MaxValue) : 0;
                maxStepBack = Math.Max(maxStepBack, back);
                if (back > TanhMaxStepBack)
                {
                    Assert.Fail($"Tanh({Show(xs[i - 1])}) = {Show(t[i - 1])} > Tanh({Show(xs[i])}) = {Show(t[i])} by {back} ulp");
                }
            }

            checkedCount += xs.Length;
        }

        _output.WriteLine($"Over {checkedCount} sorted inputs in {sweeps.Count} sweeps: sigmoid monotonic, tanh steps back at most {maxStepBack} ulp.");
        Assert.True(maxStepBack > 0, "the sweep around 4.0965 should find tanh's known step back");

        // The ascending floats from 'from' to 'to' (same sign, from < to).
        static float[] EveryFloat(float from, float to)
        {
            int a = Bits(from), b = Bits(to);
            bool negative = from < 0;
            var xs = new float[Math.Abs(b - a) + 1];
            for (int i = 0; i < xs.Length; i++)
            {
                xs[i] = BitConverter.Int32BitsToSingle(negative ? a - i : a + i);
            }

            return xs;
        }

        // The float 'ulps' steps from x, toward +infinity for positive ulps.
        static float Step(float x, int ulps) => BitConverter.Int32BitsToSingle(Bits(x) + (x < 0 ? -ulps : ulps));
    }
}
