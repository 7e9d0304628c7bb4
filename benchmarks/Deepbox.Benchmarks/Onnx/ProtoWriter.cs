using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Deepbox.Benchmarks.Onnx;

/// <summary>
/// A minimal protocol-buffers encoder (wire format only, no schema): varints, fixed32, length-delimited fields and
/// nested messages. Enough to write ONNX's <c>ModelProto</c> without a protobuf library.
/// </summary>
public sealed class ProtoWriter
{
    private const int WireVarint = 0;
    private const int WireFixed32 = 5;
    private const int WireLengthDelimited = 2;

    private readonly ArrayBufferWriter<byte> _buffer = new();

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    /// <summary>Writes a varint field (int32, int64, enum, bool). Negative values take ten bytes, as protobuf's int64 does.</summary>
    public void Int64(int field, long value)
    {
        Tag(field, WireVarint);
        Varint(unchecked((ulong)value));
    }

    /// <summary>Writes a float field (fixed32, little-endian IEEE 754).</summary>
    public void Float(int field, float value)
    {
        Tag(field, WireFixed32);
        BinaryPrimitives.WriteSingleLittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    /// <summary>Writes a UTF-8 string field (not written when null).</summary>
    public void String(int field, string? value)
    {
        if (value is null)
        {
            return;
        }

        Bytes(field, Encoding.UTF8.GetBytes(value));
    }

    /// <summary>Writes a bytes field.</summary>
    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, WireLengthDelimited);
        Varint((ulong)value.Length);
        value.CopyTo(_buffer.GetSpan(value.Length));
        _buffer.Advance(value.Length);
    }

    /// <summary>Writes a nested message field: <paramref name="body"/> writes the message's own fields.</summary>
    public void Message(int field, Action<ProtoWriter> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var inner = new ProtoWriter();
        body(inner);
        Bytes(field, inner.WrittenSpan);
    }

    /// <summary>Writes a packed repeated float field (little-endian).</summary>
    public void PackedFloats(int field, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            Bytes(field, MemoryMarshal.AsBytes(values));
            return;
        }

        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        Bytes(field, bytes);
    }

    /// <summary>Writes a packed repeated int64 field.</summary>
    public void PackedInt64(int field, ReadOnlySpan<long> values)
    {
        var inner = new ProtoWriter();
        foreach (long v in values)
        {
            inner.Varint(unchecked((ulong)v));
        }

        Bytes(field, inner.WrittenSpan);
    }

    private void Tag(int field, int wireType)
    {
        if (field <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(field), field, "Protobuf field numbers start at 1");
        }

        Varint(((ulong)(uint)field << 3) | (uint)wireType);
    }

    private void Varint(ulong value)
    {
        Span<byte> span = _buffer.GetSpan(10);
        int n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[n++] = (byte)value;
        _buffer.Advance(n);
    }
}
