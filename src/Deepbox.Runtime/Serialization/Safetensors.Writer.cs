using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Deepbox;

/// <content>The writer: a snapshot of the tensors, and the header JSON as the reference library writes it.</content>
public static partial class Safetensors
{
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
}
