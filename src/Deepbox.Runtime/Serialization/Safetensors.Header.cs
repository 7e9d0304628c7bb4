using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Deepbox;

/// <content>The header reader: the JSON of a file from a stranger, read token by token, every field checked.</content>
public static partial class Safetensors
{
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
}
