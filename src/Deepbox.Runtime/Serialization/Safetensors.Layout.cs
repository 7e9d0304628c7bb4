using System;
using System.Collections.Generic;

namespace Deepbox;

/// <content>The validator of a header's layout: offsets that tile the data buffer exactly.</content>
public static partial class Safetensors
{
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
}
