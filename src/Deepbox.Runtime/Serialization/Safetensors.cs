using Deepbox.CompilerServices;
using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Deepbox;

/// <summary>
/// Reads and writes the safetensors weight format (https://github.com/huggingface/safetensors): an 8-byte
/// little-endian header length <c>N</c>, <c>N</c> bytes of UTF-8 JSON naming each tensor's dtype, shape and
/// <c>data_offsets</c> in the byte buffer that follows, with an optional <c>__metadata__</c> map of strings; then the
/// data, little-endian and row-major.
/// </summary>
/// <remarks>
/// <para>
/// Writing produces float32 (<c>F32</c>) tensors only. Reading accepts <c>F32</c>, and converts <c>F16</c>,
/// <c>BF16</c> and <c>F64</c> to float32 (<c>F64</c> rounds to nearest; values beyond float32's range become
/// infinities).
/// </para>
/// <para>
/// The reader treats a file as untrusted input. Everything is validated before any tensor is built, nothing is
/// allocated by a size the file claims until that size has been checked against the file's real length, and every
/// problem with the content is reported as a <see cref="SafetensorsException"/> naming what was wrong and where. It
/// is stricter than the reference reader in three ways: the header must start with <c>{</c> (as the reference
/// requires from version 0.4), duplicate names and fields are errors (not "last one wins"), and a tensor entry may
/// only have the fields <c>dtype</c>, <c>shape</c> and <c>data_offsets</c>.
/// </para>
/// </remarks>
public static partial class Safetensors
{
    /// <summary>The largest header accepted, in bytes: 100,000,000, the reference implementation's limit.</summary>
    public const int MaxHeaderLength = 100_000_000;

    private const string MetadataKey = "__metadata__";
    private const int ChunkBytes = 1 << 20;

    private static readonly string[] UnsupportedDtypes =
        ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "I16", "U16", "I32", "U32", "I64", "U64", "C64"];

    private enum Dtype
    {
        F32,
        F16,
        BF16,
        F64,
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> to a safetensors file as float32, replacing any file at
    /// <paramref name="path"/> atomically: the bytes go to a temporary file in the same directory that is then moved
    /// over <paramref name="path"/>, so a failed save leaves either the old file or nothing, never a partial file.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="tensors">The tensors by name, written in the dictionary's enumeration order (see <see cref="Serialize"/>).</param>
    /// <param name="metadata">Free-form strings written as the header's <c>__metadata__</c>, or null for none.</param>
    /// <exception cref="ArgumentException">A name is <c>__metadata__</c> or not valid UTF-16, a tensor or value is null, or the header would exceed <see cref="MaxHeaderLength"/>.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        List<KeyValuePair<string, Tensor>> items = Snapshot(tensors);
        byte[] header = BuildHeader(items, metadata, out _);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            byte[]? buffer = BitConverter.IsLittleEndian ? null : new byte[ChunkBytes];
            foreach (KeyValuePair<string, Tensor> item in items)
            {
                ReadOnlySpan<float> values = item.Value.AsSpan();
                for (int i = 0; i < values.Length; i += ChunkBytes / 4)
                {
                    ReadOnlySpan<float> chunk = values.Slice(i, Math.Min(ChunkBytes / 4, values.Length - i));
                    if (buffer is null)
                    {
                        stream.Write(MemoryMarshal.AsBytes(chunk));
                    }
                    else
                    {
                        EncodeF32(chunk, buffer);
                        stream.Write(buffer, 0, chunk.Length * 4);
                    }
                }
            }
        });
    }

    /// <summary>
    /// The bytes of a safetensors file holding <paramref name="tensors"/> as float32.
    /// </summary>
    /// <remarks>
    /// Tensors are written in the dictionary's enumeration order, header and data alike (a generated model's
    /// <see cref="IModel.StateDict"/> enumerates in PyTorch's parameter order). The reference Python library instead
    /// sorts by dtype alignment, then by name; for float32-only tensors that is ordinal name order, so passing the
    /// names in ordinal order gives the same bytes as <c>safetensors.torch.save_file</c>. The header JSON is compact,
    /// with the reference's string escaping, <c>__metadata__</c> first when <paramref name="metadata"/> is not null (its
    /// entries in enumeration order), and is padded with spaces to a multiple of 8 bytes so the data is aligned.
    /// </remarks>
    /// <param name="tensors">The tensors by name.</param>
    /// <param name="metadata">Free-form strings written as the header's <c>__metadata__</c>, or null for none.</param>
    /// <exception cref="ArgumentException">A name is <c>__metadata__</c> or not valid UTF-16, a tensor or value is null, the header would exceed <see cref="MaxHeaderLength"/>, or the file would not fit in an array (use <see cref="Save"/>).</exception>
    public static byte[] Serialize(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        List<KeyValuePair<string, Tensor>> items = Snapshot(tensors);
        byte[] header = BuildHeader(items, metadata, out long dataLength);
        long total = 8 + header.Length + dataLength;
        if (total > Array.MaxLength)
        {
            throw new ArgumentException($"The file would be {total} bytes, more than an array can hold; use Save to write it to a file.", nameof(tensors));
        }

        var bytes = new byte[total];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        int at = 8 + header.Length;
        foreach (KeyValuePair<string, Tensor> item in items)
        {
            ReadOnlySpan<float> values = item.Value.AsSpan();
            EncodeF32(values, bytes.AsSpan(at, values.Length * 4));
            at += values.Length * 4;
        }

        return bytes;
    }

    /// <summary>Reads and validates a safetensors file, converting its tensors to float32.</summary>
    /// <remarks>
    /// The file's length is checked before its header is read, and the header (at most <see cref="MaxHeaderLength"/>
    /// bytes) is fully validated against that length before any tensor is allocated. Files larger than 2 GB are read
    /// tensor by tensor. Nothing outside the returned object changes; load it into a model with
    /// <see cref="IModel.LoadStateDict"/>.
    /// </remarks>
    /// <param name="path">The file to read.</param>
    /// <returns>The tensors, in header order, and the metadata.</returns>
    /// <exception cref="SafetensorsException">The content is not a valid safetensors file (or it changed while being read); the message names the problem and the path.</exception>
    /// <exception cref="IOException">The file cannot be opened or read (for example <see cref="FileNotFoundException"/>).</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    public static SafetensorsFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        try
        {
            return LoadFrom(handle);
        }
        catch (SafetensorsException e)
        {
            throw new SafetensorsException($"'{path}' is not a valid safetensors file. {e.Message}", e);
        }
    }

    /// <summary>Parses and validates the bytes of a safetensors file, converting its tensors to float32.</summary>
    /// <param name="data">The whole file.</param>
    /// <returns>The tensors, in header order, and the metadata.</returns>
    /// <exception cref="SafetensorsException">The data is not a valid safetensors file; the message names the problem and where it is.</exception>
    public static SafetensorsFile Parse(ReadOnlySpan<byte> data)
    {
        ulong headerLength = CheckPrefix(data.Length, data);
        long dataStart = 8 + (long)headerLength;
        Header header = ParseHeader(data.Slice(8, (int)headerLength));
        CheckLayout(header.Entries, data.Length - dataStart, dataStart);
        ReadOnlySpan<byte> buffer = data[(int)dataStart..];
        var tensors = new Tensor[header.Entries.Count];
        for (int i = 0; i < tensors.Length; i++)
        {
            Entry e = header.Entries[i];
            tensors[i] = Tensor.Zeros(e.Shape);
            Decode(buffer.Slice((int)e.Begin, (int)(e.End - e.Begin)), e.Dtype, tensors[i].AsSpan());
        }

        return Build(header, tensors);
    }

    private static SafetensorsFile LoadFrom(SafeFileHandle handle)
    {
        long length = RandomAccess.GetLength(handle);
        Span<byte> prefix = stackalloc byte[8];
        if (length >= 8)
        {
            ReadExactly(handle, prefix, 0, length, "the header length");
        }

        ulong headerLength = CheckPrefix(length, prefix);
        long dataStart = 8 + (long)headerLength;
        var headerBytes = new byte[headerLength];
        ReadExactly(handle, headerBytes, 8, length, "the header");
        Header header = ParseHeader(headerBytes);
        CheckLayout(header.Entries, length - dataStart, dataStart);

        var tensors = new Tensor[header.Entries.Count];
        byte[]? buffer = null;
        try
        {
            foreach (int i in OffsetOrder(header.Entries))
            {
                Entry e = header.Entries[i];
                tensors[i] = Tensor.Zeros(e.Shape);
                Span<float> values = tensors[i].AsSpan();
                int size = ElementSize(e.Dtype);
                int perChunk = ChunkBytes / size;
                string what = $"tensor {Quote(e.Name)}";
                for (int at = 0; at < values.Length; at += perChunk)
                {
                    Span<float> chunk = values.Slice(at, Math.Min(perChunk, values.Length - at));
                    long offset = dataStart + (long)e.Begin + ((long)at * size);
                    if (e.Dtype == Dtype.F32 && BitConverter.IsLittleEndian)
                    {
                        ReadExactly(handle, MemoryMarshal.AsBytes(chunk), offset, length, what);
                    }
                    else
                    {
                        buffer ??= ArrayPool<byte>.Shared.Rent(ChunkBytes);
                        Span<byte> bytes = buffer.AsSpan(0, chunk.Length * size);
                        ReadExactly(handle, bytes, offset, length, what);
                        Decode(bytes, e.Dtype, chunk);
                    }
                }
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        return Build(header, tensors);
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long offset, long length, string what)
    {
        while (destination.Length > 0)
        {
            int read = RandomAccess.Read(handle, destination, offset);
            if (read <= 0)
            {
                throw new SafetensorsException(
                    $"The file ended at byte {offset} while reading {what}; it was {length} bytes long when it was opened (did it change while being read?).");
            }

            destination = destination[read..];
            offset += read;
        }
    }

    /// <summary>Checks the file length and the header length prefix; returns the header length, validated.</summary>
    private static ulong CheckPrefix(long fileLength, ReadOnlySpan<byte> prefix)
    {
        if (fileLength < 8)
        {
            throw new SafetensorsException(
                $"The file is {fileLength} bytes long, shorter than the 8-byte header length that starts a safetensors file.");
        }

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderLength)
        {
            throw new SafetensorsException(
                $"The header length at byte 0 is {n} bytes, over the limit of {MaxHeaderLength} bytes.");
        }

        if (n > (ulong)(fileLength - 8))
        {
            throw new SafetensorsException(
                $"The header length at byte 0 is {n} bytes, past the end of the file: only {fileLength - 8} bytes follow the 8-byte prefix.");
        }

        return n;
    }

    private static SafetensorsFile Build(Header header, Tensor[] tensors)
    {
        var byName = new OrderedDictionary<string, Tensor>(tensors.Length, StringComparer.Ordinal);
        for (int i = 0; i < tensors.Length; i++)
        {
            byName.Add(header.Entries[i].Name, tensors[i]);
        }

        return new SafetensorsFile(
            new ReadOnlyDictionary<string, Tensor>(byName), new ReadOnlyDictionary<string, string>(header.Metadata));
    }


    private sealed class Entry(string name)
    {
        public string Name { get; } = name;

        public Dtype Dtype { get; set; }

        public int[] Shape { get; set; } = [];

        public ulong Begin { get; set; }

        public ulong End { get; set; }
    }

    private sealed class Header
    {
        public List<Entry> Entries { get; } = [];

        public OrderedDictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);
    }
}
