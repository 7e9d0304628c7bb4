// Concurrent inference: any number of threads may call evaluation-mode Forward on one model instance at once, each pass
// on a pooled workspace of its own and on weights published by ModelExecution (src/Deepbox.Runtime/Execution). This suite
// measures what that buys on W1's model: the same calls made by one caller, then split between two callers at once. Both
// callers use Threads = 1, so any speed-up comes from the callers running side by side, not from the model's own workers.
using Deepbox.CompilerServices;
using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading;
using BenchmarkDotNet.Attributes;

namespace Deepbox.Benchmarks.Suites;

/// <summary>
/// W1_Concurrent: throughput of ONE <see cref="W1Lstm"/> instance (W1: <c>LSTM(16, 64)</c>, B = 32, T = 64), in
/// <c>Eval()</c> mode with <c>Threads = 1</c>, called from one thread or from two at once. Each benchmark makes
/// <see cref="Calls"/> span <c>Forward</c> calls on W1's input (the <c>W1_Lstm</c> fixture's seeded random
/// <c>[32, 64, 16]</c>): <see cref="OneCaller"/> one after another on the benchmark thread, <see cref="TwoCallers"/> half on
/// the benchmark thread and half on a persistent worker thread at the same time. Every caller owns its input and output
/// arrays. Times are per benchmark call (all <see cref="Calls"/> calls), so calls per second with two callers over calls
/// per second with one is OneCaller's time over TwoCallers' (BenchmarkDotNet's Ratio column, inverted); 2 is perfect
/// scaling. The setup checks, bit for bit, that concurrent callers compute what one sequential call does.
/// </summary>
[MemoryDiagnoser]
public class W1_Concurrent
{
    /// <summary><c>Forward</c> calls per benchmark call (split evenly between the callers of <see cref="TwoCallers"/>).</summary>
    public const int Calls = 8;

    /// <summary>Rounds of the setup's concurrency check, each <see cref="Calls"/> calls from two callers at once.</summary>
    public const int CheckRounds = 8;

    private W1Lstm _model = null!;
    private Caller _first = null!;
    private Caller _second = null!;
    private Action _secondHalf = null!;
    private WorkerThread? _worker;

    /// <summary>Creates the model and the callers, and checks the one-caller benchmark's output.</summary>
    [GlobalSetup(Target = nameof(OneCaller))]
    public void SetupOneCaller() => Setup(nameof(OneCaller));

    /// <summary>Creates the model, the callers and the worker thread, and checks the two-caller benchmark's outputs.</summary>
    [GlobalSetup(Target = nameof(TwoCallers))]
    public void SetupTwoCallers() => Setup(nameof(TwoCallers));

    /// <summary>One caller: <see cref="Calls"/> calls one after another on the benchmark thread.</summary>
    [Benchmark(Baseline = true)]
    public void OneCaller() => _first.Run(Calls);

    /// <summary>
    /// Two callers on the same instance at once: the worker thread makes half the calls while the benchmark thread makes
    /// the other half, then the benchmark thread waits for the worker. Starting the worker is one semaphore release (the
    /// thread exists already), a few microseconds against milliseconds of calls.
    /// </summary>
    [Benchmark]
    public void TwoCallers()
    {
        WorkerThread worker = _worker!;
        worker.Start(_secondHalf);
        try
        {
            _first.Run(Calls / 2);
        }
        finally
        {
            worker.Wait();
        }
    }

    /// <summary>Stops the worker thread.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _worker?.Dispose();
        _worker = null;
    }

    /// <summary>
    /// Loads the fixture's weights into one model (<c>Eval()</c>, <c>Threads = 1</c>), makes the two callers and the
    /// worker, and checks, bit for bit: the sequential output against the fixture's; <see cref="CheckRounds"/> rounds of
    /// two callers making <see cref="Calls"/> / 2 calls each at once, every call into an array of its own filled with
    /// NaN, against the sequential output; and then one call of the benchmark itself. Throws (recording a failed check,
    /// which the report shows) on any difference, so nothing unchecked is timed.
    /// </summary>
    private void Setup(string benchmark)
    {
        Workload w = Workload.ByName(nameof(W1_Lstm));
        string label = $"{nameof(W1_Concurrent)}/{benchmark}";
        Fixture fixture = Fixture.Create(w);
        _model = (W1Lstm)fixture.CreateDeepboxModel();
        _model.Eval();
        _model.Threads = 1;
        int outputLength = w.Batch * w.SeqLen * w.HiddenSize;
        _first = new Caller(_model, (float[])fixture.Input.Clone(), w.Batch, w.SeqLen, outputLength);
        _second = new Caller(_model, (float[])fixture.Input.Clone(), w.Batch, w.SeqLen, outputLength);
        _secondHalf = () => _second.Run(Calls / 2);
        _worker?.Dispose();
        _worker = new WorkerThread($"{nameof(W1_Concurrent)} second caller");

        var sequential = new float[outputLength];
        _model.Forward(fixture.Input, w.Batch, w.SeqLen, sequential);
        RequireIdentical(label, "sequential output after LoadStateDict", sequential, fixture.Expected);

        int overlapped = 0;
        for (int round = 0; round < CheckRounds; round++)
        {
            (float[][] firstOutputs, float[][] secondOutputs, bool overlap) = ConcurrentRound(outputLength);
            overlapped += overlap ? 1 : 0;
            for (int k = 0; k < Calls / 2; k++)
            {
                RequireIdentical(label, $"output of the first caller's call {k + 1} of round {round + 1} (two callers at once)", firstOutputs[k], sequential);
                RequireIdentical(label, $"output of the second caller's call {k + 1} of round {round + 1} (two callers at once)", secondOutputs[k], sequential);
            }
        }

        // The benchmark itself, once: its callers' buffers must hold the sequential output afterwards.
        _first.Output.AsSpan().Fill(float.NaN);
        _second.Output.AsSpan().Fill(float.NaN);
        if (benchmark == nameof(TwoCallers))
        {
            TwoCallers();
            RequireIdentical(label, "first caller's output after the benchmark", _first.Output, sequential);
            RequireIdentical(label, "second caller's output after the benchmark", _second.Output, sequential);
        }
        else
        {
            OneCaller();
            RequireIdentical(label, "caller's output after the benchmark", _first.Output, sequential);
        }

        Console.WriteLine(
            $"// {label} setup: {CheckRounds} rounds of {Calls / 2} + {Calls / 2} calls from two callers at once on one model equal "
            + $"the sequential output bit for bit (the callers' calls overlapped in time in {overlapped} of {CheckRounds} rounds)");
    }

    /// <summary>
    /// One round of the concurrency check: both callers start together (a barrier) and each makes <see cref="Calls"/> / 2
    /// calls, each into a new array filled with NaN. Also tells whether the two callers' spans of calls overlapped in time.
    /// </summary>
    private (float[][] First, float[][] Second, bool Overlapped) ConcurrentRound(int outputLength)
    {
        float[][] NaNs()
        {
            var outputs = new float[Calls / 2][];
            for (int k = 0; k < outputs.Length; k++)
            {
                outputs[k] = new float[outputLength];
                outputs[k].AsSpan().Fill(float.NaN);
            }

            return outputs;
        }

        float[][] first = NaNs();
        float[][] second = NaNs();
        long secondStart = 0, secondEnd = 0;
        using var barrier = new Barrier(2);
        _worker!.Start(() =>
        {
            barrier.SignalAndWait();
            secondStart = Stopwatch.GetTimestamp();
            _second.RunInto(second);
            secondEnd = Stopwatch.GetTimestamp();
        });
        long firstStart, firstEnd;
        try
        {
            barrier.SignalAndWait();
            firstStart = Stopwatch.GetTimestamp();
            _first.RunInto(first);
            firstEnd = Stopwatch.GetTimestamp();
        }
        finally
        {
            _worker.Wait();
        }

        return (first, second, firstStart < secondEnd && secondStart < firstEnd);
    }

    /// <summary>
    /// Records the check and throws unless both arrays hold the same bits. The recorded difference is the largest
    /// absolute one; a difference only in the sign of a zero, which that calls 0, is recorded as the smallest float.
    /// </summary>
    private static void RequireIdentical(string label, string what, float[] actual, float[] expected)
    {
        bool identical = MemoryMarshal.Cast<float, int>(actual.AsSpan()).SequenceEqual(MemoryMarshal.Cast<float, int>(expected.AsSpan()));
        float difference = identical ? 0 : MathF.Max(Fixture.MaxAbsDiff(actual, expected), float.Epsilon);
        Checks.Require(label, what, difference, 0);
    }

    /// <summary>One caller: its own input and output arrays, calling the shared model.</summary>
    private sealed class Caller(W1Lstm model, float[] input, int batch, int seqLen, int outputLength)
    {
        /// <summary>The caller's output buffer, <c>[B, T, H]</c>.</summary>
        public float[] Output { get; } = new float[outputLength];

        /// <summary>Makes <paramref name="calls"/> span <c>Forward</c> calls into <see cref="Output"/>.</summary>
        public void Run(int calls)
        {
            for (int i = 0; i < calls; i++)
            {
                model.Forward(input, batch, seqLen, Output);
            }
        }

        /// <summary>Makes one call into each of <paramref name="outputs"/> (the setup's check).</summary>
        public void RunInto(float[][] outputs)
        {
            foreach (float[] output in outputs)
            {
                model.Forward(input, batch, seqLen, output);
            }
        }
    }

    /// <summary>
    /// A background thread that runs one piece of work whenever told to: the second caller, started without creating a
    /// thread or a task per benchmark call (one semaphore release to start, one wait to join, nothing allocated).
    /// </summary>
    private sealed class WorkerThread : IDisposable
    {
        private readonly SemaphoreSlim _go = new(0);
        private readonly SemaphoreSlim _done = new(0);
        private readonly Thread _thread;
        private Action? _work;
        private ExceptionDispatchInfo? _error;
        private volatile bool _stopping;

        /// <summary>Starts the thread, idle until <see cref="Start"/>.</summary>
        public WorkerThread(string name)
        {
            _thread = new Thread(Loop) { IsBackground = true, Name = name };
            _thread.Start();
        }

        /// <summary>Has the thread run <paramref name="work"/>; <see cref="Wait"/> must follow before the next start.</summary>
        public void Start(Action work)
        {
            _work = work;
            _go.Release();
        }

        /// <summary>Waits for the work started last, and rethrows what it threw.</summary>
        public void Wait()
        {
            _done.Wait();
            Interlocked.Exchange(ref _error, null)?.Throw();
        }

        /// <summary>Stops the thread and waits for it to end.</summary>
        public void Dispose()
        {
            _stopping = true;
            _go.Release();
            _thread.Join();
            _go.Dispose();
            _done.Dispose();
        }

        private void Loop()
        {
            while (true)
            {
                _go.Wait();
                if (_stopping)
                {
                    return;
                }

                try
                {
                    _work!();
                }
                catch (Exception e)
                {
                    _error = ExceptionDispatchInfo.Capture(e);
                }

                _done.Release();
            }
        }
    }
}
