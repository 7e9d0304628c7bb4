using System;
using Deepbox.Benchmarks.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Deepbox.Benchmarks.Peers;

/// <summary>ONNX Runtime sessions for the suite: CPU provider, all graph optimizations, a given number of intra-op threads.</summary>
public static class OrtSessions
{
    /// <summary>The ONNX Runtime version the suite measures (the NuGet package's).</summary>
    public static string Version => typeof(InferenceSession).Assembly.GetName().Version?.ToString(3) ?? "?";

    /// <summary>Creates a session on an in-memory model.</summary>
    public static InferenceSession Create(OnnxModel model, int threads) => Create(OnnxWriter.ToBytes(model), threads);

    /// <summary>Creates a session on a model's bytes.</summary>
    public static InferenceSession Create(byte[] model, int threads)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        return new InferenceSession(model, options);
    }
}

/// <summary>
/// A whole-sequence forward pass in ONNX Runtime through <c>RunWithBinding</c> on a pre-bound <see cref="OrtIoBinding"/>:
/// the input, zero initial states and the output are pinned managed arrays, so a call allocates nothing.
/// </summary>
public sealed class OrtForward : IDisposable
{
    private readonly Fixture _fixture;
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly OrtIoBinding _binding;
    private readonly OrtValue[] _values;
    private readonly float[] _output;

    /// <summary>Builds the graph from the fixture's weights, creates the session and binds the buffers.</summary>
    /// <param name="fixture">The workload and its weights.</param>
    /// <param name="threads">ONNX Runtime's intra-op threads.</param>
    /// <param name="exported">Whether the graph is the file Deepbox.Onnx exports from the Deepbox model (dynamic
    /// axes, optional states), rather than the suite's hand-written one (fixed shapes).</param>
    public OrtForward(Fixture fixture, int threads, bool exported = false)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        _fixture = fixture;
        Workload w = fixture.Workload;
        _session = exported
            ? OrtSessions.Create(global::Deepbox.Onnx.OnnxExport.ToBytes(DeepboxModels.Create(w, Fixture.WeightSeed)), threads)
            : OrtSessions.Create(RecurrentExport.Sequence(w.Cell, w.InputSize, w.HiddenSize, w.Batch, w.SeqLen, fixture.Weight), threads);
        _output = new float[w.Batch * w.SeqLen * w.HiddenSize];
        long[] stateShape = [1, w.Batch, w.HiddenSize];
        OrtValue input = OrtValue.CreateTensorValueFromMemory((float[])fixture.Input.Clone(), [w.Batch, w.SeqLen, w.InputSize]);
        OrtValue h0 = OrtValue.CreateTensorValueFromMemory(new float[w.Batch * w.HiddenSize], stateShape);
        OrtValue c0 = OrtValue.CreateTensorValueFromMemory(new float[w.Batch * w.HiddenSize], stateShape);
        OrtValue output = OrtValue.CreateTensorValueFromMemory(_output, [w.Batch, w.SeqLen, w.HiddenSize]);
        _values = [input, h0, c0, output];
        _binding = _session.CreateIoBinding();
        _binding.BindInput("input", input);
        _binding.BindInput("h0", h0);
        if (w.Cell == Cell.Lstm)
        {
            _binding.BindInput("c0", c0);
        }

        _binding.BindOutput("output", output);
    }

    /// <summary>One forward pass.</summary>
    public void Run() => _session.RunWithBinding(_runOptions, _binding);

    /// <summary>Runs once and checks the output against Deepbox's; returns the largest difference.</summary>
    public float Validate(string label)
    {
        Array.Clear(_output);
        Run();
        return Checks.Require(label, "output", Fixture.MaxAbsDiff(_output, _fixture.Expected));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _binding.Dispose();
        foreach (OrtValue v in _values)
        {
            v.Dispose();
        }

        _runOptions.Dispose();
        _session.Dispose();
    }
}

/// <summary>
/// One streaming step in ONNX Runtime: a one-step graph whose state goes out and comes back in. Two pre-bound
/// bindings alternate (A reads state buffers 0 and writes 1, B reads 1 and writes 0), so the state is carried
/// with no copy and no allocation.
/// </summary>
public sealed class OrtStreaming : IDisposable
{
    private readonly Fixture _fixture;
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly OrtIoBinding _even;
    private readonly OrtIoBinding _odd;
    private readonly OrtValue[] _values;
    private readonly float[] _x;
    private readonly float[][] _h;
    private readonly float[][] _c;
    private bool _flip;

    /// <summary>Builds the one-step graph and both bindings.</summary>
    public OrtStreaming(Fixture fixture, int threads)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        _fixture = fixture;
        Workload w = fixture.Workload;
        _session = OrtSessions.Create(RecurrentExport.Step(w.Cell, w.InputSize, w.HiddenSize, fixture.Weight), threads);
        long[] stateShape = [1, 1, w.HiddenSize];
        _x = fixture.CallInput;
        _h = [new float[w.HiddenSize], new float[w.HiddenSize]];
        _c = [new float[w.HiddenSize], new float[w.HiddenSize]];
        OrtValue x = OrtValue.CreateTensorValueFromMemory(_x, [1, 1, w.InputSize]);
        OrtValue[] h = [OrtValue.CreateTensorValueFromMemory(_h[0], stateShape), OrtValue.CreateTensorValueFromMemory(_h[1], stateShape)];
        OrtValue[] c = [OrtValue.CreateTensorValueFromMemory(_c[0], stateShape), OrtValue.CreateTensorValueFromMemory(_c[1], stateShape)];
        _values = [x, .. h, .. c];
        bool lstm = w.Cell == Cell.Lstm;
        OrtIoBinding Bind(int from, int to)
        {
            OrtIoBinding b = _session.CreateIoBinding();
            b.BindInput("x", x);
            b.BindInput("h_in", h[from]);
            b.BindOutput("h_out", h[to]);
            if (lstm)
            {
                b.BindInput("c_in", c[from]);
                b.BindOutput("c_out", c[to]);
            }

            return b;
        }

        _even = Bind(0, 1);
        _odd = Bind(1, 0);
    }

    /// <summary>One time step; the state moves to the other buffer.</summary>
    public void Step()
    {
        _session.RunWithBinding(_runOptions, _flip ? _odd : _even);
        _flip = !_flip;
    }

    /// <summary>Zeroes the state.</summary>
    public void Reset()
    {
        foreach (float[] a in (float[][])[.. _h, .. _c])
        {
            Array.Clear(a);
        }

        _flip = false;
    }

    /// <summary>Streams the fixture's check steps from a zero state and compares every output with Deepbox's.</summary>
    public float Validate(string label)
    {
        Workload w = _fixture.Workload;
        Reset();
        var outputs = new float[_fixture.Expected.Length];
        for (int t = 0; t < Fixture.StreamingCheckSteps; t++)
        {
            _fixture.Input.AsSpan(t * w.InputSize, w.InputSize).CopyTo(_x);
            Step();
            _h[_flip ? 1 : 0].CopyTo(outputs, t * w.HiddenSize); // after the flip: the buffer just written
        }

        _fixture.CallInput.CopyTo(_x, 0);
        Reset();
        return Checks.Require(label, "streamed outputs", Fixture.MaxAbsDiff(outputs, _fixture.Expected));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _even.Dispose();
        _odd.Dispose();
        foreach (OrtValue v in _values)
        {
            v.Dispose();
        }

        _runOptions.Dispose();
        _session.Dispose();
    }
}
