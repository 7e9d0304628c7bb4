using System;
using System.Threading;

namespace Deepbox.CompilerServices;

/// <summary>
/// A small lock-free pool of per-pass workspaces: a caller takes one (or makes one when all are taken) and gives it back
/// after its pass, so concurrent passes never share a buffer and a steady stream of calls allocates nothing. A pool holds
/// at most twice as many workspaces as the machine has cores; a workspace given back to a full pool is dropped.
/// </summary>
/// <typeparam name="T">The workspace type.</typeparam>
internal sealed class WorkspacePool<T>
    where T : class
{
    private readonly T?[] _slots = new T?[Math.Max(4, 2 * Environment.ProcessorCount)];

    /// <summary>Takes a pooled workspace, or returns null when none is free.</summary>
    public T? Rent()
    {
        T?[] slots = _slots;
        for (int i = 0; i < slots.Length; i++)
        {
            // A plain read first: an empty slot costs no interlocked operation.
            if (Volatile.Read(ref slots[i]) is not null && Interlocked.Exchange(ref slots[i], null) is { } taken)
            {
                return taken;
            }
        }

        return null;
    }

    /// <summary>Gives a workspace back; dropped when every slot is full.</summary>
    /// <param name="item">The workspace, no longer used by its caller.</param>
    public void Return(T item)
    {
        T?[] slots = _slots;
        for (int i = 0; i < slots.Length; i++)
        {
            if (Volatile.Read(ref slots[i]) is null && Interlocked.CompareExchange(ref slots[i], item, null) is null)
            {
                return;
            }
        }
    }
}
