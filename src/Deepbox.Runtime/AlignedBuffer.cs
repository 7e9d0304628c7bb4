using System;
using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Deepbox;

/// <summary>
/// Floats whose first element sits on a 64-byte boundary, for the packed weights the generated kernels read a vector
/// at a time. A <see cref="float"/> array starts wherever the allocator put it, often 16 bytes past a 32-byte
/// boundary, and a 32-byte load that straddles two cache lines costs two loads, which slows product loops that load
/// a weight vector per FMA. The floats live in a pinned array (it never moves) at the offset that aligns them; they
/// start as zeros.
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

    /// <summary>How many floats.</summary>
    public int Length { get; }

    /// <summary>The floats.</summary>
    public Span<float> Span => _array.AsSpan(_offset, Length);

    /// <summary>The floats, for a kernel or a packing routine to write.</summary>
    /// <param name="buffer">The buffer.</param>
    public static implicit operator Span<float>(AlignedBuffer buffer) => buffer is null ? default : buffer.Span;

    /// <summary>The floats, for a kernel to read.</summary>
    /// <param name="buffer">The buffer.</param>
    public static implicit operator ReadOnlySpan<float>(AlignedBuffer buffer) => buffer is null ? default : buffer.Span;
}
