using System;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Deepbox.CompilerServices;

/// <summary>Work split in parts that can run at the same time: part <c>p</c> of <c>parts</c> touches only its own share.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IPartitioned
{
    /// <summary>Runs one part of the work.</summary>
    /// <param name="part">Which part, from 0.</param>
    /// <param name="parts">How many parts the work is split in.</param>
    void RunPart(int part, int parts);
}

/// <summary>
/// The process's persistent worker threads that generated models split a pass across (<see cref="IModel.Threads"/>).
/// The caller and the workers take a region's parts one after another until none is left. After the region a worker
/// spins briefly when the pass has another region to come, so that region starts without a wake-up; after a pass's
/// last region it waits 50 µs at most (a pass called right after finds it awake) and then blocks, so that it takes no
/// core for long from what the caller does next. One region runs at a time: a second caller, or a region started from
/// inside a part, runs all its parts itself. Nothing is allocated after the workers exist.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Workers
{
    /// <summary>Iterations a worker spins for new work before it blocks (some hundreds of microseconds).</summary>
    private const int SpinIterations = 4_000;

    /// <summary>
    /// How long a worker waits awake after a pass's last region before it blocks: 50 µs, so that a pass called right
    /// after the last (a benchmark's loop, a server's next batch, a training step's next forward after the optimizer)
    /// finds it awake, rather than paying the 15-40 µs a blocked thread took to wake (measured on a 2-core AMD EPYC family 25 model 17, Zen 4, FMA peak 117 GFLOP/s),
    /// while a caller that goes on to other work loses the core for no longer than that.
    /// </summary>
    private static readonly long LastRegionSpinTicks = Stopwatch.Frequency / 20_000;

    private static readonly object Gate = new();
    private static Worker[] s_workers = [];
    private static IPartitioned? s_work;
    private static int s_parts;
    private static int s_next;
    private static bool s_last;
    private static int[]? s_placement;
    private static long s_claimed;
    private static int s_pending;
    private static ExceptionDispatchInfo? s_failure;
    private static readonly ManualResetEventSlim Done = new(false, 2047);
    private static long s_regionsSplit;
    private static long s_spins;
    private static long s_workerAllocated;

    /// <summary>Regions that ran on the workers (not on the caller alone) since the process started; tests read it.</summary>
    internal static long RegionsSplit => Interlocked.Read(ref s_regionsSplit);

    /// <summary>Times a worker spun for another region after its part, since the process started; tests read it.</summary>
    internal static long Spins => Interlocked.Read(ref s_spins);

    /// <summary>
    /// Spins the last worker of a region waits between counting itself done and setting the done event: 0 but in
    /// tests, which widen the window a worker preempted there opens (its Set can then land in the next region).
    /// </summary>
    internal static int LateSignalSpins
    {
        get => s_lateSignalSpins;
        set => s_lateSignalSpins = value;
    }

    private static int s_lateSignalSpins;

    /// <summary>Bytes the workers allocated while running parts, since the process started; tests read it.</summary>
    internal static long WorkerAllocatedBytes => Interlocked.Read(ref s_workerAllocated);

    /// <summary>
    /// The work, in floating-point operations, below which a share of a region does not pay for its thread: a region
    /// is split into no more parts than its work holds of these. Measured on this project's machines (see
    /// docs/benchmarks.md, "When Threads helps"): below about this much work per thread, the wake-up and the join of a
    /// worker and the caller's smaller tiles cost more than the second core gives. Settable, for other machines and
    /// for measuring (0 splits whatever <see cref="IModel.Threads"/> and the batch allow).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public static long MinWorkPerThread
    {
        get => s_minWork;
        set => s_minWork = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Expected zero or more floating-point operations.");
    }

    private static long s_minWork = DefaultMinWorkPerThread;

    /// <summary>The default of <see cref="MinWorkPerThread"/>.</summary>
    public const long DefaultMinWorkPerThread = 4_000_000;

    /// <summary>
    /// How many parts a region of <paramref name="work"/> floating-point operations over <paramref name="batch"/>
    /// sequences takes with <paramref name="threads"/> threads: at most the threads, 4 sequences a part at least (one
    /// register tile of rows), and <see cref="MinWorkPerThread"/> a part at least; 1 runs it on the caller.
    /// </summary>
    /// <param name="threads">The model's <see cref="IModel.Threads"/>.</param>
    /// <param name="batch">The sequences the region splits.</param>
    /// <param name="work">The region's floating-point operations.</param>
    public static int Parts(int threads, int batch, long work)
    {
        long parts = Math.Min(threads, batch / KernelLayout.RowTile);
        long minWork = s_minWork;
        if (minWork > 0)
        {
            parts = Math.Min(parts, work / minWork);
        }

        return (int)Math.Max(1, parts);
    }

    /// <summary>
    /// How many parts a region of <paramref name="batch"/> sequences is cut into for <paramref name="threads"/> threads:
    /// one for one thread, else two a thread where each gets 4 sequences at least (one register tile of rows), so that
    /// a thread that starts late leaves part of its share to the others.
    /// </summary>
    /// <param name="threads">The threads the region runs on (<see cref="Parts"/>).</param>
    /// <param name="batch">The sequences the region splits.</param>
    public static int Chunks(int threads, int batch) =>
        threads <= 1 ? 1 : Math.Max(threads, Math.Min(ChunksPerThread * threads, batch / KernelLayout.RowTile));

    /// <summary>Parts a thread gets of a split region, on average (<see cref="Chunks"/>).</summary>
    private const int ChunksPerThread = 2;

    /// <summary>Runs <paramref name="work"/> in <paramref name="parts"/> parts, on the calling thread and <c>parts - 1</c> workers.</summary>
    /// <param name="work">The work.</param>
    /// <param name="parts">How many parts; 1 runs the work on the caller alone.</param>
    /// <param name="last">Whether this is the pass's last region: the workers then block 50 µs after their parts are done, rather than spin for another region.</param>
    public static void Run(IPartitioned work, int parts, bool last) => Run(work, parts, parts, last);

    /// <summary>
    /// Runs <paramref name="work"/> in <paramref name="parts"/> parts, each thread taking first a part that last ran on the
    /// processor it is on (<paramref name="placement"/>: part <c>p</c>'s processor, updated here; -1 for none yet), then
    /// any part left: for regions whose part <c>p</c> reads what part <c>p</c> of an earlier region wrote (a training
    /// pass's sub-batches, forward then backward), so that it reads from that core's cache, wherever the operating system
    /// has moved the threads in between. A thread that starts late still leaves its part to the others. As in
    /// <see cref="Run(IPartitioned, int, bool)"/>, a region that cannot take the workers runs every part on the caller.
    /// </summary>
    /// <param name="work">The work.</param>
    /// <param name="parts">How many parts (at most 64), one a thread.</param>
    /// <param name="last">Whether this is the pass's last region.</param>
    /// <param name="placement">The processor each part last ran on, <paramref name="parts"/> of them at least.</param>
    public static void RunPlaced(IPartitioned work, int parts, bool last, int[] placement)
    {
        ArgumentNullException.ThrowIfNull(placement);
        if (parts > 64 || placement.Length < parts)
        {
            throw new ArgumentOutOfRangeException(nameof(parts), parts, $"Expected at most 64 parts and a placement for each, got {placement.Length} placements.");
        }

        Run(work, parts, parts, last, placement);
    }

    /// <summary>
    /// Runs <paramref name="work"/> in <paramref name="parts"/> parts on the calling thread and <c>threads - 1</c>
    /// workers, each thread taking the next part no one has taken until none is left: a worker that starts late (a
    /// wake-up, a core busy with another process) leaves its parts to the others rather than hold the region up.
    /// </summary>
    /// <param name="work">The work.</param>
    /// <param name="parts">How many parts.</param>
    /// <param name="threads">How many threads take parts (at most <paramref name="parts"/>); 1 runs the work on the caller alone.</param>
    /// <param name="last">Whether this is the pass's last region: the workers then block 50 µs after their parts are done, rather than spin for another region.</param>
    public static void Run(IPartitioned work, int parts, int threads, bool last) => Run(work, parts, threads, last, placement: null);

    private static void Run(IPartitioned work, int parts, int threads, bool last, int[]? placement)
    {
        ArgumentNullException.ThrowIfNull(work);
        parts = Math.Max(1, parts);
        threads = Math.Clamp(threads, 1, parts);
        // The gate is a monitor, which its holder may enter again: a region started from inside a part on the caller
        // must not take it again and overwrite the running region.
        if (threads == 1 || Monitor.IsEntered(Gate) || !Monitor.TryEnter(Gate))
        {
            for (int p = 0; p < parts; p++)
            {
                work.RunPart(p, parts);
            }

            return;
        }

        try
        {
            EnsureWorkers(threads - 1);
            s_regionsSplit++; // under the gate
            s_work = work;
            s_parts = parts;
            s_next = 0;
            s_claimed = 0;
            s_placement = placement;
            s_last = last;
            s_failure = null;
            Done.Reset();
            Volatile.Write(ref s_pending, threads - 1);
            for (int i = 0; i < threads - 1; i++)
            {
                s_workers[i].Start();
            }

            try
            {
                RunParts(work, parts);
            }
            finally
            {
                // Wait for the workers even when a part failed: they still read the work's buffers. The count, not
                // the event, says when they are done: the last worker of the region before may set the event after
                // this region reset it (between its count going to 0 and its Set, where it can be preempted), and
                // that stale Set must not end this wait while a worker still runs a part.
                while (Volatile.Read(ref s_pending) != 0)
                {
                    Done.Wait();
                    if (Volatile.Read(ref s_pending) != 0)
                    {
                        Done.Reset();
                    }
                }

                s_work = null;
                s_placement = null;
            }

            s_failure?.Throw();
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    /// <summary>
    /// Wakes the workers a region on <paramref name="threads"/> threads will take, ahead of it: a caller with work of its
    /// own before the region (a pass in sub-batches copies their inputs first) calls this first, so that a blocked
    /// worker's wake-up overlaps that work instead of delaying its parts. A worker woken this way waits awake for the
    /// region as after a pass's last region, then blocks again.
    /// </summary>
    /// <param name="threads">The threads of the coming region, the caller included.</param>
    public static void Wake(int threads)
    {
        Worker[] workers = s_workers;
        int count = Math.Min(threads - 1, workers.Length);
        for (int i = 0; i < count; i++)
        {
            workers[i].Wake();
        }
    }

    /// <summary>The first row of part <paramref name="part"/> of <paramref name="count"/> rows split in <paramref name="parts"/>, at multiples of 4.</summary>
    /// <param name="count">Rows to split.</param>
    /// <param name="part">The part.</param>
    /// <param name="parts">The parts.</param>
    /// <returns>The part's first row; part <c>p</c> runs up to the first row of part <c>p + 1</c>.</returns>
    public static int Split(int count, int part, int parts) =>
        part >= parts ? count : Math.Min(count, (int)((long)count * part / parts) & ~(KernelLayout.RowTile - 1));

    /// <summary>Takes parts of the running region until none is left (in a placed region, this processor's first).</summary>
    private static void RunParts(IPartitioned work, int parts)
    {
        if (s_placement is { } placement)
        {
            int cpu = Thread.GetCurrentProcessorId();
            for (int pass = 0; pass < 2; pass++)
            {
                for (int p = 0; p < parts; p++)
                {
                    long bit = 1L << p;
                    if ((pass == 0 && Volatile.Read(ref placement[p]) != cpu) || (Interlocked.Or(ref s_claimed, bit) & bit) != 0)
                    {
                        continue;
                    }

                    Volatile.Write(ref placement[p], cpu);
                    work.RunPart(p, parts);
                }
            }

            return;
        }

        int next;
        while ((next = Interlocked.Increment(ref s_next) - 1) < parts)
        {
            work.RunPart(next, parts);
        }
    }

    private static void EnsureWorkers(int count)
    {
        if (s_workers.Length >= count)
        {
            return;
        }

        var workers = new Worker[count];
        Array.Copy(s_workers, workers, s_workers.Length);
        for (int i = s_workers.Length; i < count; i++)
        {
            workers[i] = new Worker(i + 1);
        }

        s_workers = workers;
    }

    private static void Finish()
    {
        if (Interlocked.Decrement(ref s_pending) == 0)
        {
            if (s_lateSignalSpins != 0)
            {
                Thread.SpinWait(s_lateSignalSpins); // tests: a worker preempted between its count and its Set
            }

            Done.Set();
        }
    }

    private sealed class Worker
    {
        private readonly ManualResetEventSlim _go = new(false, 1);
        private int _generation;

        public Worker(int number)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"Deepbox worker {number}" };
            thread.Start();
        }

        public void Start()
        {
            Interlocked.Increment(ref _generation);
            _go.Set();
        }

        public void Wake() => _go.Set();

        private void Loop()
        {
            int seen = 0;
            bool spin = false;
            while (true)
            {
                // After a region with another to come in the same pass, spin a while for it (some hundreds of
                // microseconds); after a pass's last region, 50 µs at most for the next pass; then block until work
                // comes. The event may be left set by a start the spin already saw: the generation, not the event,
                // says whether there is new work.
                if (spin)
                {
                    Interlocked.Increment(ref s_spins);
                    for (int i = 0; i < SpinIterations && Volatile.Read(ref _generation) == seen; i++)
                    {
                        Thread.SpinWait(8);
                    }
                }
                else
                {
                    long until = Stopwatch.GetTimestamp() + LastRegionSpinTicks;
                    while (Volatile.Read(ref _generation) == seen && Stopwatch.GetTimestamp() < until)
                    {
                        Thread.SpinWait(8);
                    }
                }

                while (Volatile.Read(ref _generation) == seen)
                {
                    _go.Wait();
                    _go.Reset();
                    // Started, or woken ahead of a region (Wake): wait awake for it as after a pass's last region.
                    long until = Stopwatch.GetTimestamp() + LastRegionSpinTicks;
                    while (Volatile.Read(ref _generation) == seen && Stopwatch.GetTimestamp() < until)
                    {
                        Thread.SpinWait(8);
                    }
                }

                seen = Volatile.Read(ref _generation);
                spin = !s_last;
                long allocated = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    RunParts(s_work!, s_parts);
                }
                catch (Exception e)
                {
                    s_failure ??= ExceptionDispatchInfo.Capture(e);
                }
                finally
                {
                    allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
                    if (allocated != 0)
                    {
                        Interlocked.Add(ref s_workerAllocated, allocated);
                    }

                    Finish();
                }
            }
        }
    }
}
