using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Deepbox.CompilerServices;

/// <summary>
/// Eight floats as two <see cref="Vector128{T}"/> halves: the vector type of the generated kernels' 128-bit ladder, the
/// code they run where <see cref="Vector256"/> is not hardware-accelerated (an x86 core without AVX2, an Arm64 core, a
/// NativeAOT binary compiled for x86-64-v2). The ladder is the same kernel text as the 256-bit one over this type
/// instead of <see cref="Vector256{T}"/>, so every lane goes through the same operations: where the core has FMA, the
/// same bits. Without it, <see cref="Vector128x2.FusedMultiplyAdd"/> multiplies and then adds (see there).
/// </summary>
/// <typeparam name="T">The element type (the kernels use <see cref="float"/>).</typeparam>
/// <remarks>
/// Fields, not properties, and every member inlined: a kernel makes hundreds of these operations, and RyuJIT stops
/// inlining into a method past a number of locals; each property read or helper call spent that budget (the
/// measured Step of an LSTM(1, 32) on x86-64-v2 made 44 calls before this).
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Vector128x2<T>
    where T : struct
{
    /// <summary>The lower half: elements 0 to 3 (for float).</summary>
    public readonly Vector128<T> Lower;

    /// <summary>The upper half: elements 4 to 7.</summary>
    public readonly Vector128<T> Upper;

    /// <summary>Eight elements from two halves.</summary>
    /// <param name="lower">Elements 0 to 3.</param>
    /// <param name="upper">Elements 4 to 7.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128x2(Vector128<T> lower, Vector128<T> upper)
    {
        Lower = lower;
        Upper = upper;
    }

    /// <summary>All zeros.</summary>
    public static Vector128x2<T> Zero => default;

    /// <summary>All ones.</summary>
    public static Vector128x2<T> One
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(Vector128<T>.One, Vector128<T>.One);
    }

    /// <summary>Adds elementwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<T> operator +(Vector128x2<T> a, Vector128x2<T> b) => new(a.Lower + b.Lower, a.Upper + b.Upper);

    /// <summary>Subtracts elementwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<T> operator -(Vector128x2<T> a, Vector128x2<T> b) => new(a.Lower - b.Lower, a.Upper - b.Upper);

    /// <summary>Multiplies elementwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<T> operator *(Vector128x2<T> a, Vector128x2<T> b) => new(a.Lower * b.Lower, a.Upper * b.Upper);

    /// <summary>Divides elementwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<T> operator /(Vector128x2<T> a, Vector128x2<T> b) => new(a.Lower / b.Lower, a.Upper / b.Upper);

    /// <summary>Negates elementwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<T> operator -(Vector128x2<T> a) => new(-a.Lower, -a.Upper);

    /// <summary>Bitwise and.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<T> operator &(Vector128x2<T> a, Vector128x2<T> b) => new(a.Lower & b.Lower, a.Upper & b.Upper);

    /// <summary>Bitwise or.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<T> operator |(Vector128x2<T> a, Vector128x2<T> b) => new(a.Lower | b.Lower, a.Upper | b.Upper);
}

/// <summary>
/// The operations of the generated kernels on <see cref="Vector128x2{T}"/>, named as <see cref="Vector256"/>'s so that
/// the 128-bit ladder is the same text as the 256-bit kernels under another alias.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Vector128x2
{
    /// <summary>Whether the ladder runs on hardware vectors (else on .NET's emulated Vector128, still correct).</summary>
    public static bool IsHardwareAccelerated => Vector128.IsHardwareAccelerated;

    /// <summary>Eight floats from <paramref name="source"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<float> LoadUnsafe(ref readonly float source) =>
        new(Vector128.LoadUnsafe(in source), Vector128.LoadUnsafe(in source, 4));

    /// <summary>Eight floats from <paramref name="source"/> + <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<float> LoadUnsafe(ref readonly float source, nuint offset) =>
        new(Vector128.LoadUnsafe(in source, offset), Vector128.LoadUnsafe(in source, offset + 4));

    /// <summary>Stores eight floats at <paramref name="destination"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreUnsafe(Vector128x2<float> value, ref float destination)
    {
        value.Lower.StoreUnsafe(ref destination);
        value.Upper.StoreUnsafe(ref destination, 4);
    }

    /// <summary>Stores eight floats at <paramref name="destination"/> + <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreUnsafe(Vector128x2<float> value, ref float destination, nuint offset)
    {
        value.Lower.StoreUnsafe(ref destination, offset);
        value.Upper.StoreUnsafe(ref destination, offset + 4);
    }

    /// <summary><paramref name="value"/> in all eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<float> Create(float value)
    {
        Vector128<float> v = Vector128.Create(value);
        return new(v, v);
    }

    /// <summary>
    /// <c>a * b + c</c>, fused (one rounding) where the core has FMA, which gives Vector256.FusedMultiplyAdd's
    /// bits; on an x86 core without FMA (x86-64-v2), a multiply then an add (two roundings): a correctly rounded FMA
    /// in software would cost a library call per lane, tens of times the kernel's time (<see cref="Vector128.MultiplyAddEstimate(Vector128{float}, Vector128{float}, Vector128{float})"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<float> FusedMultiplyAdd(Vector128x2<float> a, Vector128x2<float> b, Vector128x2<float> c) =>
        new(Vector128.MultiplyAddEstimate(a.Lower, b.Lower, c.Lower), Vector128.MultiplyAddEstimate(a.Upper, b.Upper, c.Upper));

    /// <summary>The larger of each pair of lanes, as <see cref="Vector256.Max{T}(Vector256{T}, Vector256{T})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<float> Max(Vector128x2<float> a, Vector128x2<float> b) =>
        new(Vector128.Max(a.Lower, b.Lower), Vector128.Max(a.Upper, b.Upper));

    /// <summary>All-ones lanes where <c>a &lt; b</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<float> LessThan(Vector128x2<float> a, Vector128x2<float> b) =>
        new(Vector128.LessThan(a.Lower, b.Lower), Vector128.LessThan(a.Upper, b.Upper));

    /// <summary>All-ones lanes where <c>a &gt; b</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<float> GreaterThan(Vector128x2<float> a, Vector128x2<float> b) =>
        new(Vector128.GreaterThan(a.Lower, b.Lower), Vector128.GreaterThan(a.Upper, b.Upper));

    /// <summary>Bits of <paramref name="left"/> where <paramref name="condition"/> is set, of <paramref name="right"/> elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<float> ConditionalSelect(Vector128x2<float> condition, Vector128x2<float> left, Vector128x2<float> right) =>
        new(Vector128.ConditionalSelect(condition.Lower, left.Lower, right.Lower), Vector128.ConditionalSelect(condition.Upper, left.Upper, right.Upper));

    /// <summary><c>a &amp; ~b</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<float> AndNot(Vector128x2<float> a, Vector128x2<float> b) =>
        new(Vector128.AndNot(a.Lower, b.Lower), Vector128.AndNot(a.Upper, b.Upper));

    /// <summary>The absolute value of each lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128x2<float> Abs(Vector128x2<float> a) => new(Vector128.Abs(a.Lower), Vector128.Abs(a.Upper));
}

/// <summary>Which path the generated kernels take (the 256-bit kernels, or their 128-bit ladder).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class KernelPaths
{
    /// <summary>
    /// When true, every generated kernel takes its 128-bit ladder even where <see cref="Vector256"/> is accelerated:
    /// for tests (the ladder must give the 256-bit kernels' bits on an FMA core) and for measuring it. Default false;
    /// the ladder is taken anyway where <see cref="Vector256"/> is not accelerated.
    /// </summary>
    public static bool Vector128Only { get; set; }
}
