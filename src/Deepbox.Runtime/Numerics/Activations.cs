using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Deepbox;

/// <summary>
/// Logistic sigmoid and hyperbolic tangent for <see cref="float"/> scalars, <see cref="Vector128{T}"/>,
/// <see cref="Vector256{T}"/>, <see cref="Vector512{T}"/> and spans: the nonlinearities of the generated RNN cells and
/// heads. The cells' gates take <see cref="GateSigmoid(float)"/>, a sigmoid made of this tanh (shorter to compute,
/// with an absolute rather than relative error); a head's sigmoid is <see cref="Sigmoid(float)"/>.
/// </summary>
/// <remarks>
/// <para>
/// <b>Bit-identical on every path.</b> The scalar, 128-, 256- and 512-bit versions run the very same sequence
/// of IEEE-754 single-precision operations (multiply-adds through <see cref="float.MultiplyAddEstimate"/> and the
/// <c>MultiplyAddEstimate</c> of each vector type, plus additions, multiplications, one division, clamps and integer
/// bit manipulation), with the same constants, so for every finite input they return the same bits. A model
/// therefore computes the same numbers whatever vector width the machine offers. A vector width that is not
/// hardware-accelerated is computed as two halves of the next narrower width (<see cref="Vector128{T}"/> as four
/// scalars), which gives the same bits. The multiply-adds are fused (one rounding) on every core with FMA: every
/// x86 core with AVX2 and every Arm64 core. On an x86 core without FMA (x86-64-v2 and older, or the JIT told not to
/// use it) they multiply, then add: every path there still gives the scalar's bits, but these are not the FMA cores'
/// bits (a few ulp apart at most), and a correctly rounded FMA in software would cost a library call per operation.
/// Without FMA, the range reduction of <c>e^v</c> splits ln 2 into parts whose products with n are exact by themselves,
/// and tanh saturates explicitly at the clamp, so the special values below hold there too; the accuracy figures below
/// are the FMA cores', and the same sweep without FMA measures the same for the sigmoid and, for tanh, 3.0495e−7
/// absolute and relative error, 5.1162 ulp and steps back of up to 7 ulp.
/// </para>
/// <para>
/// <b>Method.</b> <c>e^v</c> uses Cody–Waite range reduction: <c>n = round(v·log2 e)</c> (to nearest even, by adding
/// and subtracting 1.5·2^23), <c>r = v − n·ln2_hi − n·ln2_lo</c> (|r| ≤ ln2/2), a degree-6 minimax polynomial
/// <c>e^r ≈ 1 + (r + r²·q(r))</c> (evaluated in that order, which keeps the result monotonic), and <c>2^n</c> built by
/// an integer add into the exponent bits; <c>1 + e^r·2^n</c> is one fused multiply-add.
/// <c>Sigmoid(x) = 1 / (1 + e^−x)</c> with <c>−x</c> clamped to [−87, 88.375] (x to [−88.375, 87]).
/// <c>Tanh</c> is one rational function, no branches: with <c>a = min(|x|, 8.004157)</c> and <c>z = a²</c>,
/// <c>tanh(a) ≈ (a + a³·P(z)) / Q(z)</c>, P of degree 3 and Q of degree 4 (a [9/8] Remez fit for relative error),
/// Horner's scheme for both, one division, then the sign of x. It replaced a two-branch version (a polynomial below
/// 0.625, <c>1 − 2 / (e^(2a) + 1)</c> above, both computed and blended) that took twice the instructions and was
/// the longest chain of a streaming step; it is less accurate (below) but within what a float recurrence rounds
/// away anyway, and it is the kind of approximation Eigen and ONNX Runtime's MLAS use for tanh.
/// </para>
/// <para>
/// <b>Accuracy</b>, measured by <c>ActivationTests</c> against <see cref="double"/> math
/// (<c>1 / (1 + Math.Exp(−x))</c> and <c>Math.Tanh</c>) over every 1024th float bit pattern of the finite range, a
/// grid of step 2^−14 over [−20, 20] and the worst inputs of an exhaustive run over all 2^32 floats (which found
/// the same maxima). An ulp is the float spacing at the exact result (2^−149 below 2^−126).
/// </para>
/// <list type="bullet">
/// <item><description><see cref="Sigmoid(float)"/>: absolute error at most 8.931e−8 (measured 8.9307e−8, at
/// x ≈ 7.859) over all finite inputs; at most 2.481 ulp (measured 2.4807, at x ≈ −16.64, where 1 + e^−x has just
/// passed 2^24) for x ≥ −88.375. Below −88.375 the result stays at sigmoid(−88.375) ≈ 4.16e−39 while the exact value
/// keeps shrinking, so there only the absolute bound holds.</description></item>
/// <item><description><see cref="Tanh(float)"/>: absolute error at most 3.026e−7 (measured 3.0254e−7), at most
/// 5.076 ulp (measured 5.0758) and relative error at most 3.026e−7 (measured 3.0255e−7) over all finite inputs,
/// all three at x ≈ 6.2232; at most 2.53 ulp for |x| &lt; 0.5. Not monotonic: float rounding in the numerator and
/// the denominator makes the result step back by up to 6 ulp between some neighbouring inputs (found exhaustively;
/// no float coefficients avoid it).</description></item>
/// </list>
/// <para>
/// <b>Special values.</b> No finite input overflows or gives NaN or infinity. <c>Sigmoid</c> stays in [0, 1], is
/// exactly 1 from x = 16.635532 up (and for +∞) and exactly sigmoid(−88.375) ≈ 4.16e−39 (a subnormal, not 0) for
/// every x ≤ −88.375 (and −∞); <c>Sigmoid(±0)</c> and <c>Sigmoid</c> of any subnormal are exactly 0.5. <c>Tanh</c>
/// stays in [−1, 1], is exactly ±1 from |x| = 8.004157 up (and for ±∞), keeps the sign of zero
/// (<c>Tanh(−0) = −0</c>), returns every input below 3.57e−4 in magnitude unchanged (subnormals included) and is
/// exactly odd: <c>Tanh(−x)</c> has the bits of <c>−Tanh(x)</c>. <c>Sigmoid</c> is monotonic non-decreasing over all
/// floats (checked exhaustively). A NaN input gives a NaN output (not necessarily with the same payload).
/// </para>
/// </remarks>
public static partial class Activations
{
    // The constants below are shared by every path: changing one changes all results identically.
    private const float Log2E = 1.44269504088896341f;       // log2(e), rounded to float.
    private const float RoundMagic = 12582912f;             // 1.5 * 2^23: x + RoundMagic - RoundMagic rounds x to an integer.
    private const float Ln2Hi = 0.693147182464599609375f;   // ln 2 rounded to float (0x3F317218).
    private const float Ln2Lo = -1.9046542e-9f;             // ln 2 - Ln2Hi, rounded to float.

    // Without FMA, n * ln2_hi must be exact by itself (n has up to 8 bits): ln 2 split as Cephes splits it, 9 significant
    // bits in the high part, for the cores whose multiply-adds round twice (see Fused).
    private const float Ln2HiShort = 0.693359375f;          // 0x3F318000
    private const float Ln2LoShort = -2.12194440e-4f;       // ln 2 - Ln2HiShort, rounded to float.
    private const int OneBits = 0x3F800000;                 // Bits of 1.0f: 2^n has bits OneBits + (n << 23).

    // e^r ≈ 1 + (r + r^2 (C2 + C3 r + ... + C6 r^4)) on |r| <= ln2/2: minimax for relative error (3.1e-9 before the
    // coefficients were rounded to float). Evaluating r + r^2 q first and adding 1 last keeps e^r monotonic in r;
    // a plain Horner scheme ending in fma(p, r, 1) is not (sigmoid then decreases by an ulp here and there).
    private const float ExpC2 = 0.49999994f;
    private const float ExpC3 = 0.16666521f;
    private const float ExpC4 = 0.04166839f;
    private const float ExpC5 = 0.008368717f;
    private const float ExpC6 = 0.0013814599f;

    // Exponent arguments are clamped to [MinExpArg, MaxExpArg] so that n = round(v log2 e) lies in [-126, 127]:
    // 2^n is then a normal float and 1 + e^v is finite (e^88.375 ≈ 2.5e38 < float.MaxValue).
    private const float MinExpArg = -87f;
    private const float MaxExpArg = 88.375f;

    // tanh(a) ≈ (a + a^3 P(a^2)) / Q(a^2) for 0 <= a <= TanhClamp, with P(z) = P1 + P2 z + P3 z^2 + P4 z^3 and
    // Q(z) = 1 + Q1 z + ... + Q4 z^4: a [9/8] rational, fitted by Remez for relative error on (0, 9.05] (2.34e-8 for the
    // exact rational with these float coefficients; evaluated in float it reaches 5.08 ulp). One branch, one division.
    private const float TanhP1 = 0.13380747f;
    private const float TanhP2 = 0.0034951486f;
    private const float TanhP3 = 2.0597638E-05f;
    private const float TanhP4 = 1.333087E-08f;
    private const float TanhQ1 = 0.46714067f;
    private const float TanhQ2 = 0.025875587f;
    private const float TanhQ3 = 0.00032847337f;
    private const float TanhQ4 = 7.7685036E-07f;
    private const float TanhClamp = 8.004157f;      // the smallest float at which the rational gives exactly 1

    // Below these, the intermediate powers (a^3, r^2) would underflow into subnormal floats, which cost x86 cores a
    // microcode assist per operation (a decaying state slowed every step). They are computed on 0 instead, which
    // gives the same bits: tanh(a) rounds to a below 2^-12 (a^3 / 3 is under half an ulp of a; the rational gives
    // exactly a below 3.57e-4 anyway), and 1 + e^r rounds to 2 below 2^-30.
    private const float TanhTiny = 2.44140625e-4f;  // 2^-12
    private const float ExpTiny = 9.3132257e-10f;   // 2^-30

    /// <summary>
    /// Whether the multiply-adds are fused here (x86 with FMA, every Arm64 core): a constant the JIT folds. Every path
    /// uses <c>MultiplyAddEstimate</c>, which fuses exactly where this is true; where it is not, the few steps whose
    /// accuracy rests on one rounding take another form (the range reduction's constants, tanh's saturation).
    /// </summary>
    private static bool Fused
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;
    }

    /// <summary>The high part of ln 2 in the range reduction: <see cref="Ln2Hi"/> where fused, <see cref="Ln2HiShort"/> otherwise.</summary>
    private static float ReductionHi
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Fused ? Ln2Hi : Ln2HiShort;
    }

    /// <summary>The low part of ln 2 in the range reduction, to go with <see cref="ReductionHi"/>.</summary>
    private static float ReductionLo
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Fused ? Ln2Lo : Ln2LoShort;
    }

    // ------------------------------------------------------------------ scalar

    /// <summary>
    /// The logistic sigmoid <c>1 / (1 + e^−x)</c> of one value. Bit-identical to every lane of the vector versions.
    /// </summary>
    /// <remarks>
    /// Measured against <c>1 / (1 + Math.Exp(−x))</c> in <see cref="double"/>: at most 8.931e−8 absolute error over all
    /// finite inputs and at most 2.481 ulp for x ≥ −88.375. Exactly 1 from x = 16.635532 up; sigmoid(−88.375) ≈ 4.16e−39
    /// for every x ≤ −88.375; never negative, never above 1; monotonic. NaN gives NaN.
    /// </remarks>
    /// <param name="x">The input.</param>
    /// <returns>sigmoid(x), in [0, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x) => SigmoidOperator.Invoke(x);

    /// <summary>
    /// The hyperbolic tangent of one value. Bit-identical to every lane of the vector versions.
    /// </summary>
    /// <remarks>
    /// Measured against <c>Math.Tanh</c>: at most 3.026e−7 absolute error and at most 5.076 ulp (relative error
    /// at most 3.026e−7) over all finite inputs. Exactly ±1 from |x| = 8.004157 up; keeps the sign of zero; returns
    /// inputs below 3.57e−4 in magnitude unchanged; <c>Tanh(−x) == −Tanh(x)</c> bit for bit. NaN gives NaN.
    /// </remarks>
    /// <param name="x">The input.</param>
    /// <returns>tanh(x), in [−1, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float x) => TanhOperator.Invoke(x);

    // ------------------------------------------------------------------ Vector128

    /// <summary>
    /// The logistic sigmoid of each lane. Bit-identical to <see cref="Sigmoid(float)"/> lane by lane; the same
    /// error bounds apply.
    /// </summary>
    /// <remarks>
    /// Measured: at most 8.931e−8 absolute error over all finite inputs and at most 2.481 ulp for
    /// x ≥ −88.375. Computed per lane with <see cref="Sigmoid(float)"/> where <see cref="Vector128{T}"/> is not
    /// hardware-accelerated.
    /// </remarks>
    /// <param name="x">The inputs.</param>
    /// <returns>sigmoid of each lane, in [0, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sigmoid(Vector128<float> x) => Invoke128<SigmoidOperator>(x);

    /// <summary>
    /// The hyperbolic tangent of each lane. Bit-identical to <see cref="Tanh(float)"/> lane by lane; the same
    /// error bounds apply.
    /// </summary>
    /// <remarks>
    /// Measured: at most 3.026e−7 absolute error and at most 5.076 ulp over all finite inputs. Computed per lane with <see cref="Tanh(float)"/> where <see cref="Vector128{T}"/> is
    /// not hardware-accelerated.
    /// </remarks>
    /// <param name="x">The inputs.</param>
    /// <returns>tanh of each lane, in [−1, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Tanh(Vector128<float> x) => Invoke128<TanhOperator>(x);

    // ------------------------------------------------------------------ Vector256

    /// <summary>
    /// The logistic sigmoid of each lane. Bit-identical to <see cref="Sigmoid(float)"/> lane by lane; the same
    /// error bounds apply.
    /// </summary>
    /// <remarks>
    /// Measured: at most 8.931e−8 absolute error over all finite inputs and at most 2.481 ulp for
    /// x ≥ −88.375. Computed as two <see cref="Vector128{T}"/> halves where <see cref="Vector256{T}"/> is not
    /// hardware-accelerated.
    /// </remarks>
    /// <param name="x">The inputs.</param>
    /// <returns>sigmoid of each lane, in [0, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x) => Invoke256<SigmoidOperator>(x);

    /// <summary>
    /// The hyperbolic tangent of each lane. Bit-identical to <see cref="Tanh(float)"/> lane by lane; the same
    /// error bounds apply.
    /// </summary>
    /// <remarks>
    /// Measured: at most 3.026e−7 absolute error and at most 5.076 ulp over all finite inputs. Computed as two <see cref="Vector128{T}"/> halves where <see cref="Vector256{T}"/> is
    /// not hardware-accelerated.
    /// </remarks>
    /// <param name="x">The inputs.</param>
    /// <returns>tanh of each lane, in [−1, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x) => Invoke256<TanhOperator>(x);

    // ------------------------------------------------------------------ Vector512

    /// <summary>
    /// The logistic sigmoid of each lane. Bit-identical to <see cref="Sigmoid(float)"/> lane by lane; the same
    /// error bounds apply.
    /// </summary>
    /// <remarks>
    /// Measured: at most 8.931e−8 absolute error over all finite inputs and at most 2.481 ulp for
    /// x ≥ −88.375. Computed as two <see cref="Vector256{T}"/> halves where <see cref="Vector512{T}"/> is not
    /// hardware-accelerated.
    /// </remarks>
    /// <param name="x">The inputs.</param>
    /// <returns>sigmoid of each lane, in [0, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x) => Invoke512<SigmoidOperator>(x);

    /// <summary>
    /// The hyperbolic tangent of each lane. Bit-identical to <see cref="Tanh(float)"/> lane by lane; the same
    /// error bounds apply.
    /// </summary>
    /// <remarks>
    /// Measured: at most 3.026e−7 absolute error and at most 5.076 ulp over all finite inputs. Computed as two <see cref="Vector256{T}"/> halves where <see cref="Vector512{T}"/> is
    /// not hardware-accelerated.
    /// </remarks>
    /// <param name="x">The inputs.</param>
    /// <returns>tanh of each lane, in [−1, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x) => Invoke512<TanhOperator>(x);

    /// <summary>The sigmoid of eight floats in two 128-bit halves (the generated kernels' 128-bit ladder); the same bits as every other path.</summary>
    /// <param name="x">The inputs.</param>
    /// <returns>sigmoid(x), elementwise.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Deepbox.CompilerServices.Vector128x2<float> Sigmoid(Deepbox.CompilerServices.Vector128x2<float> x) =>
        new(Invoke128<SigmoidOperator>(x.Lower), Invoke128<SigmoidOperator>(x.Upper));

    /// <summary>The tanh of eight floats in two 128-bit halves (the generated kernels' 128-bit ladder); the same bits as every other path.</summary>
    /// <param name="x">The inputs.</param>
    /// <returns>tanh(x), elementwise.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Deepbox.CompilerServices.Vector128x2<float> Tanh(Deepbox.CompilerServices.Vector128x2<float> x) =>
        new(Invoke128<TanhOperator>(x.Lower), Invoke128<TanhOperator>(x.Upper));

    // ------------------------------------------------------------------ the gates' sigmoid

    /// <summary>
    /// The sigmoid of the recurrent cells' gates, <c>0.5 + 0.5 tanh(x / 2)</c> with <see cref="Tanh(float)"/>. Every
    /// width below gives these bits, lane by lane.
    /// </summary>
    /// <remarks>
    /// The generated LSTM and GRU kernels take their gates (i, f, o; r, z) through this rather than
    /// <see cref="Sigmoid(float)"/>: one rational and one division instead of a range reduction, a degree-6 polynomial
    /// and a division, it takes about four fifths of the sigmoid's time one after the other and two thirds over
    /// independent vectors (the benchmarks' <c>Activation_Chains</c>), and a cell update is bound by how many waiting
    /// operations the core holds. Its error is absolute, not relative: at most 1.787e−7 over all finite
    /// inputs (measured 1.7862e−7 at x ≈ 12.874 by an exhaustive run; 2.073e−7 at x ≈ 14.108 where multiply-adds are not
    /// fused), and it is exactly 0 from x = −16.008314 down and exactly 1 from 16.008314 up (twice tanh's clamp; it may
    /// reach 0 and 1 a little before), where <see cref="Sigmoid(float)"/> keeps resolving values down to 4.2e−39. Like the tanh
    /// it is made of, it is not monotonic: it steps back by up to 2.4e−7 between some neighbouring inputs (3.0e−7
    /// unfused). For a gate, which multiplies a state of order 1, that is a float rounding of the product; for
    /// probabilities use <see cref="Sigmoid(float)"/>. <c>GateSigmoid(±0)</c> is exactly 0.5; NaN gives NaN; ±∞ give 1
    /// and 0.
    /// </remarks>
    /// <param name="x">The input.</param>
    /// <returns>sigmoid(x), in [0, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GateSigmoid(float x) => GateSigmoidOperator.Invoke(x);

    /// <summary>The gates' sigmoid (<see cref="GateSigmoid(float)"/>) of each lane, with its bits.</summary>
    /// <param name="x">The inputs.</param>
    /// <returns>sigmoid of each lane, in [0, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GateSigmoid(Vector128<float> x) => Invoke128<GateSigmoidOperator>(x);

    /// <summary>The gates' sigmoid (<see cref="GateSigmoid(float)"/>) of each lane, with its bits.</summary>
    /// <param name="x">The inputs.</param>
    /// <returns>sigmoid of each lane, in [0, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GateSigmoid(Vector256<float> x) => Invoke256<GateSigmoidOperator>(x);

    /// <summary>The gates' sigmoid (<see cref="GateSigmoid(float)"/>) of each lane, with its bits.</summary>
    /// <param name="x">The inputs.</param>
    /// <returns>sigmoid of each lane, in [0, 1].</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GateSigmoid(Vector512<float> x) => Invoke512<GateSigmoidOperator>(x);

    /// <summary>The gates' sigmoid of eight floats in two 128-bit halves (the generated kernels' 128-bit ladder); the same bits as every other path.</summary>
    /// <param name="x">The inputs.</param>
    /// <returns>sigmoid(x), elementwise.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Deepbox.CompilerServices.Vector128x2<float> GateSigmoid(Deepbox.CompilerServices.Vector128x2<float> x) =>
        new(Invoke128<GateSigmoidOperator>(x.Lower), Invoke128<GateSigmoidOperator>(x.Upper));

    /// <summary>
    /// <see cref="Tanh(Vector256{float})"/> of the lower eight lanes and <see cref="GateSigmoid(Vector256{float})"/> of
    /// the upper eight, with their bits: an LSTM's g and o, which sit side by side, in one 16-float pass where
    /// <see cref="Vector512{T}"/> is accelerated (two 8-float ones otherwise).
    /// </summary>
    /// <param name="x">g in the lower lanes, o in the upper.</param>
    /// <returns>tanh(g) in the lower lanes, sigmoid(o) in the upper.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> TanhAndGateSigmoid(Vector512<float> x) =>
        Vector512.IsHardwareAccelerated
            ? TanhAndGateSigmoid512(x)
            : Vector512.Create(Invoke256<TanhOperator>(x.GetLower()), Invoke256<GateSigmoidOperator>(x.GetUpper()));

    // ------------------------------------------------------------------ spans

    /// <summary>
    /// Writes the logistic sigmoid of each element of <paramref name="x"/> to the same index of
    /// <paramref name="y"/>: the widest hardware-accelerated vector first, the remainder through
    /// <see cref="Sigmoid(float)"/>. Results are bit-identical to <see cref="Sigmoid(float)"/> element by element.
    /// </summary>
    /// <remarks>
    /// Measured: at most 8.931e−8 absolute error over all finite inputs and at most 2.481 ulp for x ≥ −88.375.
    /// <paramref name="y"/> may be the very same memory as <paramref name="x"/> (in place) but must not otherwise
    /// overlap it. Elements of <paramref name="y"/> past the length of <paramref name="x"/> are left untouched.
    /// </remarks>
    /// <param name="x">The inputs.</param>
    /// <param name="y">The destination, at least as long as <paramref name="x"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="y"/> is shorter than <paramref name="x"/>.</exception>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y) => Apply<SigmoidOperator>(x, y);

    /// <summary>
    /// Writes the hyperbolic tangent of each element of <paramref name="x"/> to the same index of
    /// <paramref name="y"/>: the widest hardware-accelerated vector first, the remainder through
    /// <see cref="Tanh(float)"/>. Results are bit-identical to <see cref="Tanh(float)"/> element by element.
    /// </summary>
    /// <remarks>
    /// Measured: at most 3.026e−7 absolute error and at most 5.076 ulp over all finite inputs.
    /// <paramref name="y"/> may be the very same memory as <paramref name="x"/> (in place) but must not otherwise
    /// overlap it. Elements of <paramref name="y"/> past the length of <paramref name="x"/> are left untouched.
    /// </remarks>
    /// <param name="x">The inputs.</param>
    /// <param name="y">The destination, at least as long as <paramref name="x"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="y"/> is shorter than <paramref name="x"/>.</exception>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y) => Apply<TanhOperator>(x, y);

    /// <summary>The operator on 128 bits where they are accelerated, else lane by lane through the scalar (the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Invoke128<TOperator>(Vector128<float> x)
        where TOperator : IActivationOperator =>
        Vector128.IsHardwareAccelerated
            ? TOperator.Invoke(x)
            : Vector128.Create(TOperator.Invoke(x.GetElement(0)), TOperator.Invoke(x.GetElement(1)), TOperator.Invoke(x.GetElement(2)), TOperator.Invoke(x.GetElement(3)));

    /// <summary>The operator on 256 bits where they are accelerated, else as two 128-bit halves (the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Invoke256<TOperator>(Vector256<float> x)
        where TOperator : IActivationOperator =>
        Vector256.IsHardwareAccelerated
            ? TOperator.Invoke(x)
            : Vector256.Create(Invoke128<TOperator>(x.GetLower()), Invoke128<TOperator>(x.GetUpper()));

    /// <summary>The operator on 512 bits where they are accelerated, else as two 256-bit halves (the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Invoke512<TOperator>(Vector512<float> x)
        where TOperator : IActivationOperator =>
        Vector512.IsHardwareAccelerated
            ? TOperator.Invoke(x)
            : Vector512.Create(Invoke256<TOperator>(x.GetLower()), Invoke256<TOperator>(x.GetUpper()));

    /// <summary>The one span loop: the widest accelerated vector first, the remainder through the scalar.</summary>
    private static void Apply<TOperator>(ReadOnlySpan<float> x, Span<float> y)
        where TOperator : IActivationOperator
    {
        CheckLengths(x.Length, y.Length);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                TOperator.Invoke(Vector512.Create(x.Slice(i))).CopyTo(y.Slice(i));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                TOperator.Invoke(Vector256.Create(x.Slice(i))).CopyTo(y.Slice(i));
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= x.Length - Vector128<float>.Count; i += Vector128<float>.Count)
            {
                TOperator.Invoke(Vector128.Create(x.Slice(i))).CopyTo(y.Slice(i));
            }
        }

        for (; i < x.Length; i++)
        {
            y[i] = TOperator.Invoke(x[i]);
        }
    }

    private static void CheckLengths(int sourceLength, int destinationLength)
    {
        if (destinationLength < sourceLength)
        {
            throw new ArgumentException(
                $"The destination holds {destinationLength} elements but the source has {sourceLength}.", "y");
        }
    }
}
