using System;
using System.Threading;

namespace Deepbox.CompilerServices;

/// <summary>
/// The per-pass workspaces of one model: a caller takes one and gives it back after its pass, so concurrent passes never
/// share a buffer and a steady stream of calls allocates nothing. Each pooled workspace has a slot of its own (its home):
/// taking it is one interlocked exchange, giving it back a plain store into its home. At most twice as many workspaces
/// as the machine has cores get a home; beyond that a caller gets a workspace of its own, dropped after its pass.
/// </summary>
/// <remarks>
/// <see cref="AllHome"/> tells whether any workspace is out: a pass takes its workspace before it reads the current
/// weights, so when every workspace is home no pass can be reading weights that are no longer current, and they may be
/// repacked (see <see cref="ModelExecution{TWeights, TWorkspace}"/>).
/// </remarks>
/// <typeparam name="T">The workspace type.</typeparam>
internal sealed class WorkspacePool<T>
    where T : class
{
    private readonly T?[] _slots = new T?[Math.Max(4, 2 * Environment.ProcessorCount)];
    private readonly T?[] _homes;
    private readonly Func<T> _create;
    private readonly Lock _grow = new();
    private int _assigned;
    private int _homeless;

    public WorkspacePool(Func<T> create)
    {
        _create = create;
        _homes = new T?[_slots.Length];
    }

    /// <summary>Takes a free workspace (one interlocked exchange), or makes one.</summary>
    public T Rent()
    {
        T?[] slots = _slots;
        int assigned = Volatile.Read(ref _assigned);
        for (int i = 0; i < assigned; i++)
        {
            // A plain read first: a taken slot costs no interlocked operation.
            if (Volatile.Read(ref slots[i]) is not null && Interlocked.Exchange(ref slots[i], null) is { } taken)
            {
                return taken;
            }
        }

        lock (_grow)
        {
            if (_assigned < slots.Length)
            {
                // A new workspace with a home of its own; its slot stays empty while it is out.
                T created = _create();
                _homes[_assigned] = created;
                Volatile.Write(ref _assigned, _assigned + 1);
                return created;
            }
        }

        Interlocked.Increment(ref _homeless);
        return _create();
    }

    /// <summary>Gives back a workspace taken with <see cref="Rent"/>: into its home (a plain store), or dropped.</summary>
    /// <param name="item">The workspace, no longer used by its caller.</param>
    public void Return(T item)
    {
        T?[] homes = _homes;
        int assigned = Volatile.Read(ref _assigned);
        for (int i = 0; i < assigned; i++)
        {
            if (ReferenceEquals(homes[i], item))
            {
                Volatile.Write(ref _slots[i], item);
                return;
            }
        }

        Interlocked.Decrement(ref _homeless);
    }

    /// <summary>Whether every workspace is home: no pass holds one.</summary>
    public bool AllHome()
    {
        if (Volatile.Read(ref _homeless) != 0)
        {
            return false;
        }

        int assigned = Volatile.Read(ref _assigned);
        for (int i = 0; i < assigned; i++)
        {
            if (Volatile.Read(ref _slots[i]) is null)
            {
                return false;
            }
        }

        return true;
    }
}
