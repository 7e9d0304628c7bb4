using System;
using System.ComponentModel;

namespace Deepbox.CompilerServices;

/// <summary>
/// The span a pass in sub-batches reads and the span it writes (the input and the output; in Backward, the output's
/// gradient and the input's), held for the threads of one region so that each thread copies its own sub-batch's rows
/// in and out, side by side, instead of the caller copying every sub-batch's before and after the region. A span
/// cannot be kept in a field or handed to another thread, so the caller's two are pinned for the region's duration
/// (<see cref="Run"/>) and the parts read them back as spans. For generated code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed unsafe class CallerSpans
{
    private int _running; // 1 while Run holds the spans: a second Run on the same instance would replace them under the first
    private float* _read;
    private int _readLength;
    private float* _write;
    private int _writeLength;

    /// <summary>Gets the span the region reads (empty outside <see cref="Run"/>).</summary>
    public ReadOnlySpan<float> Read => new(_read, _readLength);

    /// <summary>Gets the span the region writes (empty outside <see cref="Run"/>, or when the caller gave none).</summary>
    public Span<float> Write => new(_write, _writeLength);

    /// <summary>
    /// Runs <paramref name="work"/> in <paramref name="parts"/> parts (<see cref="Workers.Run(IPartitioned, int, bool)"/>,
    /// or <see cref="Workers.RunPlaced"/> when <paramref name="placement"/> is given) with <paramref name="read"/> and
    /// <paramref name="write"/> pinned and readable from <see cref="Read"/> and <see cref="Write"/> on any thread until
    /// it returns. The spans must not overlap: a part writes its rows while another may still read its own. One region at
    /// a time on an instance (each workspace has its own): a second <see cref="Run"/> while one runs is refused.
    /// </summary>
    /// <param name="read">What the parts read.</param>
    /// <param name="write">Where the parts write.</param>
    /// <param name="work">The work.</param>
    /// <param name="parts">How many parts, one a thread.</param>
    /// <param name="last">Whether this is the pass's last region.</param>
    /// <param name="placement">The processor each part last ran on, or null to let the threads take the parts in turn.</param>
    public void Run(ReadOnlySpan<float> read, Span<float> write, IPartitioned work, int parts, bool last, int[]? placement)
    {
        if (read.Overlaps(write))
        {
            throw new ArgumentException("The span read and the span written overlap: the parts of a region would overwrite each other's input.", nameof(write));
        }

        if (System.Threading.Interlocked.Exchange(ref _running, 1) != 0)
        {
            throw new InvalidOperationException("These spans are held by a region already running: one region at a time on a CallerSpans.");
        }

        fixed (float* r = read)
        fixed (float* w = write)
        {
            _read = r;
            _readLength = read.Length;
            _write = w;
            _writeLength = write.Length;
            try
            {
                if (placement is null)
                {
                    Workers.Run(work, parts, last);
                }
                else
                {
                    Workers.RunPlaced(work, parts, last, placement);
                }
            }
            finally
            {
                _read = null;
                _readLength = 0;
                _write = null;
                _writeLength = 0;
                System.Threading.Volatile.Write(ref _running, 0);
            }
        }
    }
}
