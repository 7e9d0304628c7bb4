using System;
using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Deepbox.CompilerServices;

/// <summary>
/// Floats whose first element sits on a 64-byte boundary, for the packed weights the generated kernels read a vector
/// at a time. A <see cref="float"/> array starts wherever the allocator put it, often 16 bytes past a 32-byte
/// boundary, and a 32-byte load that straddles two cache lines costs two loads, which slows product loops that load
/// a weight vector per FMA. The floats live in a pinned array (it never moves) at the offset that aligns them; they
/// start as zeros. The generated models keep their packed weights and their workspace (input products, states, gates)
/// in these; a 64-byte boundary also keeps a 16-float vector on one cache line.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class AlignedBuffer
{
    private const int Alignment = 64;
    private readonly float[] _array;
    private readonly int _offset;

    /// <summary>Allocates <paramref name="length"/> floats, zeroed, aligned to 64 bytes.</summary>
    /// <param name="length">How many floats.</param>
    public AlignedBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _array = GC.AllocateArray<float>(length + (Alignment / sizeof(float)) - 1, pinned: true);
        GCHandle handle = GCHandle.Alloc(_array, GCHandleType.Pinned);
        try
        {
            long address = handle.AddrOfPinnedObject().ToInt64();
            _offset = (int)((Alignment - (address % Alignment)) % Alignment) / sizeof(float);
        }
        finally
        {
            handle.Free(); // the array was allocated pinned: it stays where it is without the handle
        }

        Length = length;
    }

    /// <summary>No floats: a workspace before its first pass.</summary>
    public static AlignedBuffer Empty { get; } = new(0);

    /// <summary>How many floats.</summary>
    public int Length { get; }

    /// <summary>The floats.</summary>
    public Span<float> Span => _array.AsSpan(_offset, Length);

    /// <summary>The floats (as <see cref="Span"/>).</summary>
    /// <returns>All of them.</returns>
    public Span<float> AsSpan() => Span;

    /// <summary>The floats from <paramref name="start"/> on.</summary>
    /// <param name="start">The first.</param>
    /// <returns>The floats from start to the end.</returns>
    public Span<float> AsSpan(int start) => Span.Slice(start);

    /// <summary><paramref name="length"/> floats from <paramref name="start"/>.</summary>
    /// <param name="start">The first.</param>
    /// <param name="length">How many.</param>
    /// <returns>The floats.</returns>
    public Span<float> AsSpan(int start, int length) => Span.Slice(start, length);

    /// <summary>The floats, for a kernel or a packing routine to write.</summary>
    /// <param name="buffer">The buffer.</param>
    public static implicit operator Span<float>(AlignedBuffer buffer) => buffer is null ? default : buffer.Span;

    /// <summary>The floats, for a kernel to read.</summary>
    /// <param name="buffer">The buffer.</param>
    public static implicit operator ReadOnlySpan<float>(AlignedBuffer buffer) => buffer is null ? default : buffer.Span;
}
