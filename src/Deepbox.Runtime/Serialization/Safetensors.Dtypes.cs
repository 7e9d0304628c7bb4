using System;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Deepbox;

/// <content>The element types: sizes, and conversion of F16, BF16 and F64 to float32 (and float32 to bytes).</content>
public static partial class Safetensors
{
    private static int ElementSize(Dtype dtype) => dtype switch
    {
        Dtype.F16 or Dtype.BF16 => 2,
        Dtype.F64 => 8,
        _ => 4,
    };

    private static void Decode(ReadOnlySpan<byte> source, Dtype dtype, Span<float> destination)
    {
        switch (dtype)
        {
            case Dtype.F32 when BitConverter.IsLittleEndian:
                source.CopyTo(MemoryMarshal.AsBytes(destination));
                break;
            case Dtype.F32:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(i * 4)..]);
                }

                break;
            case Dtype.F16:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source[(i * 2)..]);
                }

                break;
            case Dtype.BF16:
                // A bfloat16 is the top 16 bits of a float32.
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(source[(i * 2)..]) << 16);
                }

                break;
            default:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(source[(i * 8)..]);
                }

                break;
        }
    }

    private static void EncodeF32(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(destination);
            return;
        }

        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[(i * 4)..], values[i]);
        }
    }
}
