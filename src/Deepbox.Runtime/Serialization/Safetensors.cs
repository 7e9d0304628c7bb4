using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
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
public static class Safetensors
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
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' names no file.", nameof(path));
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
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

                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
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

    private static Header ParseHeader(ReadOnlySpan<byte> json)
    {
        if (json.Length == 0 || json[0] != (byte)'{')
        {
            throw new SafetensorsException(
                $"The header is not a JSON object: it must start with '{{' at byte 8, found {(json.Length == 0 ? "an empty header" : DescribeByte(json[0]))}.");
        }

        if (!Utf8.IsValid(json))
        {
            throw new SafetensorsException($"The header is not valid UTF-8: the byte sequence at byte {8 + FirstInvalidUtf8(json)} is not UTF-8.");
        }

        var header = new Header();
        var names = new HashSet<string>(StringComparer.Ordinal);
        bool sawMetadata = false;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
        try
        {
            Next(ref reader);
            while (true)
            {
                Next(ref reader);
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    break;
                }

                long at = At(reader);
                string key = reader.GetString()!;
                if (key == MetadataKey)
                {
                    if (sawMetadata)
                    {
                        throw new SafetensorsException($"The header has a second \"{MetadataKey}\" entry at byte {at}.");
                    }

                    sawMetadata = true;
                    ReadMetadata(ref reader, header.Metadata);
                }
                else
                {
                    if (!names.Add(key))
                    {
                        throw new SafetensorsException($"The header names tensor {Quote(key)} twice; the second is at byte {at}.");
                    }

                    header.Entries.Add(ReadEntry(ref reader, key, at));
                }
            }

            // Only whitespace may follow the object: the reader throws on anything else.
            while (reader.Read())
            {
            }
        }
        catch (JsonException e)
        {
            throw new SafetensorsException(
                $"The header is not valid JSON: {e.Message} (line numbers and positions count from the header's start at byte 8)", e);
        }
        catch (InvalidOperationException e)
        {
            throw new SafetensorsException($"The header has a string that is not valid text near byte {At(reader)}: {e.Message}", e);
        }

        return header;
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, OrderedDictionary<string, string> metadata)
    {
        Next(ref reader);
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new SafetensorsException($"\"{MetadataKey}\" must be an object of strings, found {Describe(reader)} at byte {At(reader)}.");
        }

        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return;
            }

            long at = At(reader);
            string key = reader.GetString()!;
            Next(ref reader);
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new SafetensorsException(
                    $"The metadata value for key {Quote(key)} must be a string, found {Describe(reader)} at byte {At(reader)}.");
            }

            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                throw new SafetensorsException($"The metadata has key {Quote(key)} twice; the second is at byte {at}.");
            }
        }
    }

    private static Entry ReadEntry(ref Utf8JsonReader reader, string name, long at)
    {
        string tensor = $"Tensor {Quote(name)}";
        Next(ref reader);
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new SafetensorsException(
                $"{tensor}: its entry must be an object with \"dtype\", \"shape\" and \"data_offsets\", found {Describe(reader)} at byte {At(reader)}.");
        }

        var entry = new Entry(name);
        bool sawDtype = false;
        bool sawShape = false;
        bool sawOffsets = false;
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }

            long fieldAt = At(reader);
            string field = reader.GetString()!;
            bool seen = field switch
            {
                "dtype" => sawDtype,
                "shape" => sawShape,
                "data_offsets" => sawOffsets,
                _ => throw new SafetensorsException(
                    $"{tensor}: unknown field {Quote(field)} at byte {fieldAt}; an entry has only \"dtype\", \"shape\" and \"data_offsets\"."),
            };
            if (seen)
            {
                throw new SafetensorsException($"{tensor}: field \"{field}\" appears twice; the second is at byte {fieldAt}.");
            }

            Next(ref reader);
            switch (field)
            {
                case "dtype":
                    sawDtype = true;
                    entry.Dtype = ReadDtype(ref reader, tensor);
                    break;
                case "shape":
                    sawShape = true;
                    entry.Shape = ReadShape(ref reader, tensor);
                    break;
                default:
                    sawOffsets = true;
                    ReadOffsets(ref reader, tensor, entry);
                    break;
            }
        }

        string? missing = !sawDtype ? "dtype" : !sawShape ? "shape" : !sawOffsets ? "data_offsets" : null;
        if (missing is not null)
        {
            throw new SafetensorsException($"{tensor}: its entry at byte {at} has no \"{missing}\" field.");
        }

        if (entry.End < entry.Begin)
        {
            throw new SafetensorsException($"{tensor}: data_offsets [{entry.Begin}, {entry.End}] end before they begin.");
        }

        long count = 1;
        foreach (int d in entry.Shape)
        {
            count *= d;
        }

        ulong expected = (ulong)count * (ulong)ElementSize(entry.Dtype);
        if (entry.End - entry.Begin != expected)
        {
            throw new SafetensorsException(
                $"{tensor}: shape {Tensor.FormatShape(entry.Shape)} of {entry.Dtype} takes {expected} bytes, but data_offsets [{entry.Begin}, {entry.End}] span {entry.End - entry.Begin}.");
        }

        return entry;
    }

    private static Dtype ReadDtype(ref Utf8JsonReader reader, string tensor)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new SafetensorsException($"{tensor}: \"dtype\" must be a string, found {Describe(reader)} at byte {At(reader)}.");
        }

        string dtype = reader.GetString()!;
        switch (dtype)
        {
            case "F32": return Dtype.F32;
            case "F16": return Dtype.F16;
            case "BF16": return Dtype.BF16;
            case "F64": return Dtype.F64;
        }

        string kind = Array.IndexOf(UnsupportedDtypes, dtype) >= 0 ? "unsupported" : "unknown";
        throw new SafetensorsException(
            $"{tensor}: {kind} dtype {Quote(dtype)} at byte {At(reader)}; Deepbox reads F32, F16, BF16 and F64.");
    }

    private static int[] ReadShape(ref Utf8JsonReader reader, string tensor)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new SafetensorsException($"{tensor}: \"shape\" must be an array of integers, found {Describe(reader)} at byte {At(reader)}.");
        }

        var shape = new List<int>();
        long count = 1;
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                return [.. shape];
            }

            ulong d = ReadNonNegative(ref reader, tensor, $"dimension {shape.Count} of \"shape\"");
            if (d > int.MaxValue)
            {
                throw new SafetensorsException(
                    $"{tensor}: dimension {shape.Count} of \"shape\" is {d} at byte {At(reader)}, larger than a tensor dimension can be ({int.MaxValue}).");
            }

            // The running product stays within a float array's length (as Tensor.Zeros requires), so it cannot overflow.
            count *= (long)d;
            if (count > Array.MaxLength)
            {
                throw new SafetensorsException(
                    $"{tensor}: \"shape\" has more elements than a float array can hold ({Array.MaxLength}): its first {shape.Count + 1} dimensions already hold {count} (dimension {shape.Count} is {d} at byte {At(reader)}).");
            }

            shape.Add((int)d);
        }
    }

    private static void ReadOffsets(ref Utf8JsonReader reader, string tensor, Entry entry)
    {
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.Number)
            {
                entry.Begin = ReadNonNegative(ref reader, tensor, "the begin of \"data_offsets\"");
                Next(ref reader);
                if (reader.TokenType == JsonTokenType.Number)
                {
                    entry.End = ReadNonNegative(ref reader, tensor, "the end of \"data_offsets\"");
                    Next(ref reader);
                    if (reader.TokenType == JsonTokenType.EndArray)
                    {
                        return;
                    }
                }
            }
        }

        throw new SafetensorsException(
            $"{tensor}: \"data_offsets\" must be an array of two integers [begin, end], found {Describe(reader)} at byte {At(reader)}.");
    }

    private static ulong ReadNonNegative(ref Utf8JsonReader reader, string tensor, string what)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetUInt64(out ulong value))
            {
                return value;
            }

            if (reader.TryGetInt64(out long signed) && signed == 0)
            {
                return 0; // "-0", which the reference reads as 0.
            }
        }

        string problem = reader.TokenType != JsonTokenType.Number ? $"must be an integer, found {Describe(reader)}"
            : reader.ValueSpan.IndexOfAny((byte)'.', (byte)'e', (byte)'E') >= 0 ? $"must be an integer, found {Describe(reader)}"
            : reader.ValueSpan[0] == (byte)'-' ? $"is negative ({Describe(reader)})"
            : $"is larger than {ulong.MaxValue} ({Describe(reader)})";
        throw new SafetensorsException($"{tensor}: {what} {problem} at byte {At(reader)}.");
    }

    /// <summary>
    /// Checks that the tensors' byte spans, in offset order, start at 0, follow each other without gaps or overlaps,
    /// and end exactly at the end of the data buffer.
    /// </summary>
    private static void CheckLayout(List<Entry> entries, long dataLength, long dataStart)
    {
        ulong expected = 0;
        Entry? previous = null;
        string where = $"(offsets count from the data buffer, which starts at byte {dataStart} and holds {dataLength} bytes)";
        foreach (int i in OffsetOrder(entries))
        {
            Entry e = entries[i];
            string tensor = $"Tensor {Quote(e.Name)}";
            if (e.Begin > expected)
            {
                throw new SafetensorsException(
                    $"{tensor}: data_offsets [{e.Begin}, {e.End}] leave a gap: data bytes {expected} to {e.Begin - 1} belong to no tensor{(previous is null ? "" : $" (the previous tensor, {Quote(previous.Name)}, ends at {expected})")} {where}.");
            }

            if (e.Begin < expected)
            {
                throw new SafetensorsException(
                    $"{tensor}: data_offsets [{e.Begin}, {e.End}] overlap tensor {Quote(previous!.Name)}, which ends at {expected} {where}.");
            }

            if (e.End > (ulong)dataLength)
            {
                throw new SafetensorsException(
                    $"{tensor}: data_offsets [{e.Begin}, {e.End}] run past the end of the file {where}.");
            }

            expected = e.End;
            previous = e;
        }

        if (expected != (ulong)dataLength)
        {
            throw new SafetensorsException(
                $"The tensors end at data byte {expected}, but the file goes on: its last {(ulong)dataLength - expected} bytes belong to no tensor; the offsets must end exactly at the end of the file {where}.");
        }
    }

    /// <summary>The entries' indices sorted by (begin, end), ties in header order.</summary>
    private static int[] OffsetOrder(List<Entry> entries)
    {
        var order = new int[entries.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) =>
        {
            int c = entries[a].Begin.CompareTo(entries[b].Begin);
            c = c != 0 ? c : entries[a].End.CompareTo(entries[b].End);
            return c != 0 ? c : a.CompareTo(b);
        });
        return order;
    }

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

    private static List<KeyValuePair<string, Tensor>> Snapshot(IReadOnlyDictionary<string, Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var items = new List<KeyValuePair<string, Tensor>>(tensors.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, Tensor> item in tensors)
        {
            CheckText(item.Key, "A tensor name", nameof(tensors));
            if (item.Key == MetadataKey)
            {
                throw new ArgumentException($"\"{MetadataKey}\" is reserved for the metadata and cannot name a tensor.", nameof(tensors));
            }

            if (item.Value is null)
            {
                throw new ArgumentException($"Tensor {Quote(item.Key)} is null.", nameof(tensors));
            }

            if (!names.Add(item.Key))
            {
                throw new ArgumentException($"The dictionary lists tensor {Quote(item.Key)} twice.", nameof(tensors));
            }

            items.Add(item);
        }

        return items;
    }

    /// <summary>The header JSON as the reference library writes it (compact, <c>serde_json</c> escaping), padded to a multiple of 8.</summary>
    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> items, IReadOnlyDictionary<string, string>? metadata, out long dataLength)
    {
        var json = new StringBuilder("{");
        if (metadata is not null)
        {
            json.Append('"').Append(MetadataKey).Append("\":{");
            bool first = true;
            foreach (KeyValuePair<string, string> pair in metadata)
            {
                CheckText(pair.Key, "A metadata key", nameof(metadata));
                if (pair.Value is null)
                {
                    throw new ArgumentException($"The metadata value for key {Quote(pair.Key)} is null.", nameof(metadata));
                }

                CheckText(pair.Value, $"The metadata value for key {Quote(pair.Key)}", nameof(metadata));
                json.Append(first ? "" : ",");
                AppendJsonString(json, pair.Key).Append(':');
                AppendJsonString(json, pair.Value);
                first = false;
            }

            json.Append('}');
        }

        long offset = 0;
        foreach (KeyValuePair<string, Tensor> item in items)
        {
            json.Append(json.Length > 1 ? "," : "");
            AppendJsonString(json, item.Key).Append(":{\"dtype\":\"F32\",\"shape\":[");
            IReadOnlyList<int> shape = item.Value.Shape;
            for (int d = 0; d < shape.Count; d++)
            {
                json.Append(d > 0 ? "," : "").Append(shape[d].ToString(CultureInfo.InvariantCulture));
            }

            long end = offset + (item.Value.Length * 4L);
            json.Append("],\"data_offsets\":[")
                .Append(offset.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(end.ToString(CultureInfo.InvariantCulture)).Append("]}");
            offset = end;
        }

        json.Append('}');

        // Every character takes at least one UTF-8 byte, so the character count bounds the byte count from below.
        string text = json.ToString();
        int length = text.Length > MaxHeaderLength ? text.Length : Encoding.UTF8.GetByteCount(text);
        int padded = (length + 7) / 8 * 8;
        if (length > MaxHeaderLength || padded > MaxHeaderLength)
        {
            throw new ArgumentException($"The header would take at least {length} bytes, over the {MaxHeaderLength}-byte limit readers accept.", "tensors");
        }

        var header = new byte[padded];
        Encoding.UTF8.GetBytes(text, header);
        header.AsSpan(length).Fill((byte)' ');
        dataLength = offset;
        return header;
    }

    /// <summary>Appends a JSON string escaped as <c>serde_json</c> does: <c>\"</c>, <c>\\</c>, short escapes for \b \f \n \r \t, <c>\u00xx</c> for other controls, everything else as is.</summary>
    private static StringBuilder AppendJsonString(StringBuilder json, string s)
    {
        json.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                case '\b': json.Append("\\b"); break;
                case '\f': json.Append("\\f"); break;
                case '\n': json.Append("\\n"); break;
                case '\r': json.Append("\\r"); break;
                case '\t': json.Append("\\t"); break;
                case < ' ': json.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)); break;
                default: json.Append(c); break;
            }
        }

        return json.Append('"');
    }

    /// <summary>Throws unless <paramref name="s"/> is non-null and has no unpaired surrogate (so it has a UTF-8 form).</summary>
    private static void CheckText(string? s, string what, string parameter)
    {
        if (s is null)
        {
            throw new ArgumentException($"{what} is null.", parameter);
        }

        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(s[i]))
            {
                throw new ArgumentException($"{what}, {Quote(s)}, has an unpaired surrogate at index {i} and cannot be written as UTF-8.", parameter);
            }
        }
    }

    private static void Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw new SafetensorsException($"The header ends early at byte {8 + reader.BytesConsumed}.");
        }
    }

    private static long At(in Utf8JsonReader reader) => 8 + reader.TokenStartIndex;

    private static string Describe(in Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.EndArray => "the end of the array",
        JsonTokenType.EndObject => "the end of the object",
        JsonTokenType.PropertyName => "a property name",
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        JsonTokenType.String => $"the string {Quote(reader.GetString()!)}",
        _ => $"the number {Quote(Encoding.UTF8.GetString(reader.ValueSpan[..Math.Min(reader.ValueSpan.Length, 48)]) + (reader.ValueSpan.Length > 48 ? "..." : ""), false)}",
    };

    private static string DescribeByte(byte b) =>
        b is >= 0x20 and < 0x7F ? $"'{(char)b}'" : $"byte 0x{b:X2}";

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        int at = 0;
        while (at < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[at..], out _, out int consumed) != OperationStatus.Done)
            {
                return at;
            }

            at += consumed;
        }

        return at;
    }

    /// <summary>
    /// A name for a message: quoted, control characters and unpaired surrogates escaped, cut at 64 characters (names
    /// come from strangers).
    /// </summary>
    private static string Quote(string s, bool quotes = true)
    {
        int cut = s.Length <= 64 ? s.Length : char.IsHighSurrogate(s[63]) ? 63 : 64;
        var sb = new StringBuilder(quotes ? "'" : "");
        for (int i = 0; i < cut; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < cut && char.IsLowSurrogate(s[i + 1]))
            {
                sb.Append(c).Append(s[++i]);
            }
            else if (c < ' ' || c == '\x7F' || char.IsSurrogate(c))
            {
                sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }

        if (cut < s.Length)
        {
            sb.Append("...");
        }

        return sb.Append(quotes ? "'" : "").ToString();
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
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
