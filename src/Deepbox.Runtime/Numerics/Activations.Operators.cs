using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Deepbox;

/// <content>
/// The activations as operators in the style of <c>System.Numerics.Tensors.TensorPrimitives</c>: one struct per function
/// with the same sequence of operations at every width (scalar, 128, 256 and 512 bits), driven by the width dispatch
/// and the one span loop in <c>Activations.cs</c>. The operations and constants are those the remarks of
/// <see cref="Activations"/> describe; every width gives the scalar's bits.
/// </content>
public static partial class Activations
{
    /// <summary>An elementwise function at every width, with the same bits at each.</summary>
    private interface IActivationOperator
    {
        static abstract float Invoke(float x);

        static abstract Vector128<float> Invoke(Vector128<float> x);

        static abstract Vector256<float> Invoke(Vector256<float> x);

        static abstract Vector512<float> Invoke(Vector512<float> x);
    }

    /// <summary><c>1 / (1 + e^-x)</c>, with <c>-x</c> clamped to [MinExpArg, MaxExpArg].</summary>
    private readonly struct SigmoidOperator : IActivationOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float x)
        {
            float v = MathF.Min(MathF.Max(-x, MinExpArg), MaxExpArg);
            return 1f / OnePlusExp(v);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> x)
        {
            Vector128<float> v = Vector128.Min(Vector128.Max(-x, Vector128.Create(MinExpArg)), Vector128.Create(MaxExpArg));
            return Vector128<float>.One / OnePlusExp(v);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x)
        {
            Vector256<float> v = Vector256.Min(Vector256.Max(-x, Vector256.Create(MinExpArg)), Vector256.Create(MaxExpArg));
            return Vector256<float>.One / OnePlusExp(v);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> x)
        {
            Vector512<float> v = Vector512.Min(Vector512.Max(-x, Vector512.Create(MinExpArg)), Vector512.Create(MaxExpArg));
            return Vector512<float>.One / OnePlusExp(v);
        }
    }

    /// <summary>The [9/8] rational tanh on <c>min(|x|, TanhClamp)</c>, then the sign of x.</summary>
    private readonly struct TanhOperator : IActivationOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float x)
        {
            // NaN passes MathF.Min and fails the comparison: the numerator is NaN.
            float a = MathF.Min(MathF.Abs(x), TanhClamp);
            float b = a >= TanhTiny ? a : 0f;
            float z = b * b;
            float p = float.MultiplyAddEstimate(float.MultiplyAddEstimate(float.MultiplyAddEstimate(TanhP4, z, TanhP3), z, TanhP2), z, TanhP1);
            float q = float.MultiplyAddEstimate(float.MultiplyAddEstimate(float.MultiplyAddEstimate(float.MultiplyAddEstimate(TanhQ4, z, TanhQ3), z, TanhQ2), z, TanhQ1), z, 1f);
            float y = float.MultiplyAddEstimate(b * z, p, a) / q;

            y = !Fused && a >= TanhClamp ? 1f : y; // unfused, the rational stops short of 1 at the clamp: saturate as fused (NaN stays NaN)

            // y is +0 or positive: copy the sign bit of x onto it.
            return BitConverter.Int32BitsToSingle(
                BitConverter.SingleToInt32Bits(y) | (BitConverter.SingleToInt32Bits(x) & int.MinValue));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> x)
        {
            Vector128<float> a = Vector128.Min(Vector128.Abs(x), Vector128.Create(TanhClamp));
            Vector128<float> b = a & Vector128.GreaterThanOrEqual(a, Vector128.Create(TanhTiny));
            Vector128<float> z = b * b;
            Vector128<float> p = Vector128.MultiplyAddEstimate(Vector128.Create(TanhP4), z, Vector128.Create(TanhP3));
            p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(TanhP2));
            p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(TanhP1));
            Vector128<float> q = Vector128.MultiplyAddEstimate(Vector128.Create(TanhQ4), z, Vector128.Create(TanhQ3));
            q = Vector128.MultiplyAddEstimate(q, z, Vector128.Create(TanhQ2));
            q = Vector128.MultiplyAddEstimate(q, z, Vector128.Create(TanhQ1));
            q = Vector128.MultiplyAddEstimate(q, z, Vector128<float>.One);
            Vector128<float> y = Vector128.MultiplyAddEstimate(b * z, p, a) / q;
            if (!Fused)
            {
                // Unfused, the rational stops short of 1 at the clamp: saturate there as the fused path does.
                y = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(a, Vector128.Create(TanhClamp)), Vector128<float>.One, y);
            }

            return y | (x & Vector128.Create(-0f));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x)
        {
            Vector256<float> a = Vector256.Min(Vector256.Abs(x), Vector256.Create(TanhClamp));
            Vector256<float> b = a & Vector256.GreaterThanOrEqual(a, Vector256.Create(TanhTiny));
            Vector256<float> z = b * b;
            Vector256<float> p = Vector256.MultiplyAddEstimate(Vector256.Create(TanhP4), z, Vector256.Create(TanhP3));
            p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(TanhP2));
            p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(TanhP1));
            Vector256<float> q = Vector256.MultiplyAddEstimate(Vector256.Create(TanhQ4), z, Vector256.Create(TanhQ3));
            q = Vector256.MultiplyAddEstimate(q, z, Vector256.Create(TanhQ2));
            q = Vector256.MultiplyAddEstimate(q, z, Vector256.Create(TanhQ1));
            q = Vector256.MultiplyAddEstimate(q, z, Vector256<float>.One);
            Vector256<float> y = Vector256.MultiplyAddEstimate(b * z, p, a) / q;
            if (!Fused)
            {
                // Unfused, the rational stops short of 1 at the clamp: saturate there as the fused path does.
                y = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, Vector256.Create(TanhClamp)), Vector256<float>.One, y);
            }

            return y | (x & Vector256.Create(-0f));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> x)
        {
            Vector512<float> a = Vector512.Min(Vector512.Abs(x), Vector512.Create(TanhClamp));
            Vector512<float> b = a & Vector512.GreaterThanOrEqual(a, Vector512.Create(TanhTiny));
            Vector512<float> z = b * b;
            Vector512<float> p = Vector512.MultiplyAddEstimate(Vector512.Create(TanhP4), z, Vector512.Create(TanhP3));
            p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(TanhP2));
            p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(TanhP1));
            Vector512<float> q = Vector512.MultiplyAddEstimate(Vector512.Create(TanhQ4), z, Vector512.Create(TanhQ3));
            q = Vector512.MultiplyAddEstimate(q, z, Vector512.Create(TanhQ2));
            q = Vector512.MultiplyAddEstimate(q, z, Vector512.Create(TanhQ1));
            q = Vector512.MultiplyAddEstimate(q, z, Vector512<float>.One);
            Vector512<float> y = Vector512.MultiplyAddEstimate(b * z, p, a) / q;
            if (!Fused)
            {
                // Unfused, the rational stops short of 1 at the clamp: saturate there as the fused path does.
                y = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(a, Vector512.Create(TanhClamp)), Vector512<float>.One, y);
            }

            return y | (x & Vector512.Create(-0f));
        }
    }

    /// <summary>
    /// The recurrent cells' gate sigmoid, <c>0.5 + 0.5 tanh(x / 2)</c>: the tanh above on half of x (exact), then one
    /// multiply-add. Its chain of dependent operations takes about four fifths of <see cref="SigmoidOperator"/>'s time, which is
    /// what bounds a cell update on a core that holds only so many waiting operations.
    /// </summary>
    private readonly struct GateSigmoidOperator : IActivationOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float x) => float.MultiplyAddEstimate(TanhOperator.Invoke(x * 0.5f), 0.5f, 0.5f);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Invoke(Vector128<float> x)
        {
            Vector128<float> half = Vector128.Create(0.5f);
            return Vector128.MultiplyAddEstimate(TanhOperator.Invoke(x * half), half, half);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x)
        {
            Vector256<float> half = Vector256.Create(0.5f);
            return Vector256.MultiplyAddEstimate(TanhOperator.Invoke(x * half), half, half);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> x)
        {
            Vector512<float> half = Vector512.Create(0.5f);
            return Vector512.MultiplyAddEstimate(TanhOperator.Invoke(x * half), half, half);
        }
    }

    /// <summary>
    /// <see cref="TanhOperator"/> on the lower eight lanes and <see cref="GateSigmoidOperator"/> on the upper eight, in one
    /// 512-bit pass: the lower lanes are scaled by 1 and finished by <c>t * 1 + (-0)</c>, both exact for every t (−0
    /// included), so each half has the bits of its own function.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> TanhAndGateSigmoid512(Vector512<float> x)
    {
        // Constants lane by lane (the JIT loads them from data once; built from two halves, they were rebuilt in every
        // iteration of a loop that calls this).
        Vector512<float> scale = Vector512.Create(1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f);
        Vector512<float> offset = Vector512.Create(-0f, -0f, -0f, -0f, -0f, -0f, -0f, -0f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f);
        return Vector512.MultiplyAddEstimate(TanhOperator.Invoke(x * scale), scale, offset);
    }

    /// <summary>1 + e^v for v in [MinExpArg, MaxExpArg] (or NaN, which gives NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float OnePlusExp(float v)
    {
        float t = float.MultiplyAddEstimate(v, Log2E, RoundMagic);
        float n = t - RoundMagic;
        float u = MathF.Abs(v) < ExpTiny ? 0f : v; // NaN stays NaN; see OnePlusExp(Vector128) on why v, not r
        float r = float.MultiplyAddEstimate(n, -ReductionHi, u);
        r = float.MultiplyAddEstimate(n, -ReductionLo, r);
        float q = float.MultiplyAddEstimate(ExpC6, r, ExpC5);
        q = float.MultiplyAddEstimate(q, r, ExpC4);
        q = float.MultiplyAddEstimate(q, r, ExpC3);
        q = float.MultiplyAddEstimate(q, r, ExpC2);
        float p = 1f + float.MultiplyAddEstimate(r * r, q, r);  // e^r = 1 + (r + r^2 q): monotonic in r.

        // The low bits of t hold n; shifting them into the exponent field gives 2^n.
        float scale = BitConverter.Int32BitsToSingle((BitConverter.SingleToInt32Bits(t) << 23) + OneBits);
        return float.MultiplyAddEstimate(p, scale, 1f);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> OnePlusExp(Vector128<float> v)
    {
        Vector128<float> t = Vector128.MultiplyAddEstimate(v, Vector128.Create(Log2E), Vector128.Create(RoundMagic));
        Vector128<float> n = t - Vector128.Create(RoundMagic);
        // Tiny arguments are zeroed before the reduction, beside the computation of n rather than after it: |v| below
        // 2^-30 gives n = 0 and r = v, which is zeroed either way; with n != 0, r is 0 or at least 2^-52 in magnitude
        // (v - n ln2_hi and n ln2_lo are multiples of 2^-52 there), so r^2 stays normal, and 1 + e^r rounds to 2
        // whether an r below 2^-30 is zeroed or not. The same bits as zeroing r, off the chain of dependent operations.
        Vector128<float> u = Vector128.AndNot(v, Vector128.LessThan(Vector128.Abs(v), Vector128.Create(ExpTiny))); // NaN stays NaN
        Vector128<float> r = Vector128.MultiplyAddEstimate(n, Vector128.Create(-ReductionHi), u);
        r = Vector128.MultiplyAddEstimate(n, Vector128.Create(-ReductionLo), r);
        Vector128<float> q = Vector128.MultiplyAddEstimate(Vector128.Create(ExpC6), r, Vector128.Create(ExpC5));
        q = Vector128.MultiplyAddEstimate(q, r, Vector128.Create(ExpC4));
        q = Vector128.MultiplyAddEstimate(q, r, Vector128.Create(ExpC3));
        q = Vector128.MultiplyAddEstimate(q, r, Vector128.Create(ExpC2));
        Vector128<float> p = Vector128<float>.One + Vector128.MultiplyAddEstimate(r * r, q, r);
        Vector128<float> scale = (Vector128.ShiftLeft(t.AsInt32(), 23) + Vector128.Create(OneBits)).AsSingle();
        return Vector128.MultiplyAddEstimate(p, scale, Vector128<float>.One);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> OnePlusExp(Vector256<float> v)
    {
        Vector256<float> t = Vector256.MultiplyAddEstimate(v, Vector256.Create(Log2E), Vector256.Create(RoundMagic));
        Vector256<float> n = t - Vector256.Create(RoundMagic);
        Vector256<float> u = Vector256.AndNot(v, Vector256.LessThan(Vector256.Abs(v), Vector256.Create(ExpTiny))); // NaN stays NaN
        Vector256<float> r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-ReductionHi), u);
        r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-ReductionLo), r);
        Vector256<float> q = Vector256.MultiplyAddEstimate(Vector256.Create(ExpC6), r, Vector256.Create(ExpC5));
        q = Vector256.MultiplyAddEstimate(q, r, Vector256.Create(ExpC4));
        q = Vector256.MultiplyAddEstimate(q, r, Vector256.Create(ExpC3));
        q = Vector256.MultiplyAddEstimate(q, r, Vector256.Create(ExpC2));
        Vector256<float> p = Vector256<float>.One + Vector256.MultiplyAddEstimate(r * r, q, r);
        Vector256<float> scale = (Vector256.ShiftLeft(t.AsInt32(), 23) + Vector256.Create(OneBits)).AsSingle();
        return Vector256.MultiplyAddEstimate(p, scale, Vector256<float>.One);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> OnePlusExp(Vector512<float> v)
    {
        Vector512<float> t = Vector512.MultiplyAddEstimate(v, Vector512.Create(Log2E), Vector512.Create(RoundMagic));
        Vector512<float> n = t - Vector512.Create(RoundMagic);
        Vector512<float> u = Vector512.AndNot(v, Vector512.LessThan(Vector512.Abs(v), Vector512.Create(ExpTiny))); // NaN stays NaN
        Vector512<float> r = Vector512.MultiplyAddEstimate(n, Vector512.Create(-ReductionHi), u);
        r = Vector512.MultiplyAddEstimate(n, Vector512.Create(-ReductionLo), r);
        Vector512<float> q = Vector512.MultiplyAddEstimate(Vector512.Create(ExpC6), r, Vector512.Create(ExpC5));
        q = Vector512.MultiplyAddEstimate(q, r, Vector512.Create(ExpC4));
        q = Vector512.MultiplyAddEstimate(q, r, Vector512.Create(ExpC3));
        q = Vector512.MultiplyAddEstimate(q, r, Vector512.Create(ExpC2));
        Vector512<float> p = Vector512<float>.One + Vector512.MultiplyAddEstimate(r * r, q, r);
        Vector512<float> scale = (Vector512.ShiftLeft(t.AsInt32(), 23) + Vector512.Create(OneBits)).AsSingle();
        return Vector512.MultiplyAddEstimate(p, scale, Vector512<float>.One);
    }
}
