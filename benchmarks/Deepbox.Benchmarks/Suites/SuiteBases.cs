using System;
using BenchmarkDotNet.Attributes;
using Deepbox.Benchmarks.Peers;

namespace Deepbox.Benchmarks.Suites;

/// <summary>The workload of a suite instance: its class's name (BDN's in-process toolchain runs a subclass of it).</summary>
public static class SuiteWorkload
{
    /// <summary>The workload named as the first class of the suite's namespace in the instance's type hierarchy.</summary>
    public static Workload Of(object suite)
    {
        ArgumentNullException.ThrowIfNull(suite);
        for (Type? t = suite.GetType(); t is not null; t = t.BaseType)
        {
            if (t.Namespace == typeof(SuiteWorkload).Namespace && !t.IsAbstract)
            {
                return Workload.ByName(t.Name);
            }
        }

        throw new ArgumentException($"{suite.GetType()} is not a suite of {typeof(SuiteWorkload).Namespace}", nameof(suite));
    }
}

/// <summary>
/// The peers of a whole-sequence forward workload: libtorch and ONNX Runtime, each with 1 and 2 threads. A derived class
/// (named as its workload, e.g. <c>W1_Lstm</c>) adds the Deepbox benchmark, which calls its concrete model directly.
/// Every peer's setup checks its output against Deepbox's first: a peer that disagrees fails instead of being timed.
/// </summary>
[MemoryDiagnoser]
public abstract class ForwardSuite
{
    private Fixture? _fixture;
    private TorchForward? _torch;
    private OrtForward? _ort;
    private IModel? _deepbox2;

    /// <summary>The workload's input, <c>[B, T, I]</c>.</summary>
    protected float[] Input { get; private set; } = [];

    /// <summary>Deepbox's output buffer, <c>[B, T, H]</c>.</summary>
    protected float[] Output { get; private set; } = [];

    /// <summary>B.</summary>
    protected int Batch { get; private set; }

    /// <summary>T.</summary>
    protected int SeqLen { get; private set; }

    /// <summary>The fixture of the workload named as the class.</summary>
    protected Fixture Fixture => _fixture ??= Fixture.Create(SuiteWorkload.Of(this));

    /// <summary>libtorch, 1 thread.</summary>
    [GlobalSetup(Target = nameof(LibTorch_1T))]
    public void SetupLibTorch1() => _torch = Validated(new TorchForward(Fixture, 1), Peer.LibTorch(1));

    /// <summary>libtorch, 2 threads.</summary>
    [GlobalSetup(Target = nameof(LibTorch_2T))]
    public void SetupLibTorch2() => _torch = Validated(new TorchForward(Fixture, 2), Peer.LibTorch(2));

    /// <summary>ONNX Runtime, 1 intra-op thread.</summary>
    [GlobalSetup(Target = nameof(OnnxRuntime_1T))]
    public void SetupOnnxRuntime1() => _ort = Validated(new OrtForward(Fixture, 1), Peer.OnnxRuntime(1));

    /// <summary>ONNX Runtime, 2 intra-op threads.</summary>
    [GlobalSetup(Target = nameof(OnnxRuntime_2T))]
    public void SetupOnnxRuntime2() => _ort = Validated(new OrtForward(Fixture, 2), Peer.OnnxRuntime(2));

    /// <summary>libtorch 2.10 (<c>nn.LSTM</c> etc. under <c>no_grad</c>), 1 thread.</summary>
    [Benchmark]
    public void LibTorch_1T() => _torch!.Run();

    /// <summary>libtorch, 2 threads.</summary>
    [Benchmark]
    public void LibTorch_2T() => _torch!.Run();

    /// <summary>Creates and checks the Deepbox model, then lets it use 2 threads.</summary>
    [GlobalSetup(Target = nameof(Deepbox_2T))]
    public void SetupDeepbox2()
    {
        _deepbox2 = PrepareDeepbox();
        _deepbox2.Threads = 2;
    }

    /// <summary>Deepbox with <c>Threads = 2</c>: the batch split across the caller and a persistent worker.</summary>
    [Benchmark]
    public void Deepbox_2T() => _deepbox2!.Forward(Input, Batch, SeqLen, Output);

    /// <summary>ONNX Runtime (<c>RunWithBinding</c>), 1 intra-op thread.</summary>
    [Benchmark]
    public void OnnxRuntime_1T() => _ort!.Run();

    /// <summary>ONNX Runtime, 2 intra-op threads.</summary>
    [Benchmark]
    public void OnnxRuntime_2T() => _ort!.Run();

    /// <summary>Frees the peers' native resources (an idle ONNX Runtime pool must not spin beside the next benchmark).</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _torch?.Dispose();
        _ort?.Dispose();
        _torch = null;
        _ort = null;
    }

    /// <summary>The Deepbox model of the workload in inference mode, its buffers, and its output checked against the fixture.</summary>
    protected IModel PrepareDeepbox()
    {
        Workload w = Fixture.Workload;
        IModel model = Fixture.CreateDeepboxModel();
        model.Eval();
        Batch = w.Batch;
        SeqLen = w.SeqLen;
        Input = (float[])Fixture.Input.Clone();
        Output = new float[w.Batch * w.SeqLen * w.HiddenSize];
        model.Forward(Input, Batch, SeqLen, Output);
        Checks.Require($"{w.Name}/{Peer.Deepbox}", "output after LoadStateDict", Fixture.MaxAbsDiff(Output, Fixture.Expected), 0);
        return model;
    }

    private protected T Validated<T>(T peer, string name)
        where T : IDisposable
    {
        try
        {
            switch (peer)
            {
                case TorchForward t: t.Validate($"{Fixture.Workload.Name}/{name}"); break;
                case OrtForward o: o.Validate($"{Fixture.Workload.Name}/{name}"); break;
            }
        }
        catch
        {
            peer.Dispose();
            throw;
        }

        return peer;
    }
}

/// <summary>
/// The peers of a streaming workload (one step of one sequence, the state carried): libtorch's <c>LSTMCell</c>/<c>GRUCell</c>
/// and ONNX Runtime's one-step graph with alternating bindings, each with 1 and 2 threads.
/// </summary>
[MemoryDiagnoser]
public abstract class StreamingSuite
{
    private Fixture? _fixture;
    private TorchStreaming? _torch;
    private OrtStreaming? _ort;

    /// <summary>The step's input, <c>I</c> floats.</summary>
    protected float[] Input { get; private set; } = [];

    /// <summary>Deepbox's output buffer, <c>H</c> floats.</summary>
    protected float[] Output { get; private set; } = [];

    /// <summary>Deepbox's state (the model's own, made by <see cref="PrepareDeepbox"/>).</summary>
    protected ModelState State { get; private set; } = null!;

    /// <summary>The fixture of the workload named as the class.</summary>
    protected Fixture Fixture => _fixture ??= Fixture.Create(SuiteWorkload.Of(this));

    /// <summary>libtorch, 1 thread.</summary>
    [GlobalSetup(Target = nameof(LibTorch_1T))]
    public void SetupLibTorch1() => _torch = Validated(new TorchStreaming(Fixture, 1), Peer.LibTorch(1));

    /// <summary>libtorch, 2 threads.</summary>
    [GlobalSetup(Target = nameof(LibTorch_2T))]
    public void SetupLibTorch2() => _torch = Validated(new TorchStreaming(Fixture, 2), Peer.LibTorch(2));

    /// <summary>ONNX Runtime, 1 intra-op thread.</summary>
    [GlobalSetup(Target = nameof(OnnxRuntime_1T))]
    public void SetupOnnxRuntime1() => _ort = Validated(new OrtStreaming(Fixture, 1), Peer.OnnxRuntime(1));

    /// <summary>ONNX Runtime, 2 intra-op threads.</summary>
    [GlobalSetup(Target = nameof(OnnxRuntime_2T))]
    public void SetupOnnxRuntime2() => _ort = Validated(new OrtStreaming(Fixture, 2), Peer.OnnxRuntime(2));

    /// <summary>libtorch 2.10 cell under <c>no_grad</c>, 1 thread.</summary>
    [Benchmark]
    public void LibTorch_1T() => _torch!.Step();

    /// <summary>libtorch, 2 threads.</summary>
    [Benchmark]
    public void LibTorch_2T() => _torch!.Step();

    /// <summary>ONNX Runtime one-step graph, 1 intra-op thread.</summary>
    [Benchmark]
    public void OnnxRuntime_1T() => _ort!.Step();

    /// <summary>ONNX Runtime, 2 intra-op threads.</summary>
    [Benchmark]
    public void OnnxRuntime_2T() => _ort!.Step();

    /// <summary>Frees the peers' native resources.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _torch?.Dispose();
        _ort?.Dispose();
        _torch = null;
        _ort = null;
    }

    /// <summary>The Deepbox model of the workload, its buffers and a zero state, its streamed outputs checked against the fixture.</summary>
    protected IModel PrepareDeepbox()
    {
        Workload w = Fixture.Workload;
        IModel model = Fixture.CreateDeepboxModel();
        model.Eval();
        State = DeepboxModels.CreateState(model);
        var outputs = new float[Fixture.Expected.Length];
        for (int t = 0; t < Fixture.StreamingCheckSteps; t++)
        {
            DeepboxModels.Step(model, Fixture.Input.AsSpan(t * w.InputSize, w.InputSize), State, outputs.AsSpan(t * w.HiddenSize, w.HiddenSize));
        }

        Checks.Require($"{w.Name}/{Peer.Deepbox}", "streamed outputs after LoadStateDict", Fixture.MaxAbsDiff(outputs, Fixture.Expected), 0);
        State.Reset();
        Input = Fixture.CallInput;
        Output = new float[w.HiddenSize];
        return model;
    }

    private T Validated<T>(T peer, string name)
        where T : IDisposable
    {
        try
        {
            switch (peer)
            {
                case TorchStreaming t: t.Validate($"{Fixture.Workload.Name}/{name}"); break;
                case OrtStreaming o: o.Validate($"{Fixture.Workload.Name}/{name}"); break;
            }
        }
        catch
        {
            peer.Dispose();
            throw;
        }

        return peer;
    }
}

/// <summary>
/// The peers of a training step (forward, MSE loss, backward through time, Adam step): libtorch with 1 and 2 threads.
/// ONNX Runtime's CPU package has no training, and is not in this suite.
/// </summary>
[MemoryDiagnoser]
public abstract class TrainingSuite
{
    private Fixture? _fixture;
    private TorchTraining? _torch;

    /// <summary>The fixture of the workload named as the class.</summary>
    protected Fixture Fixture => _fixture ??= Fixture.Create(SuiteWorkload.Of(this));

    /// <summary>libtorch, 1 thread.</summary>
    [GlobalSetup(Target = nameof(LibTorch_1T))]
    public void SetupLibTorch1() => _torch = Validated(new TorchTraining(Fixture, 1), Peer.LibTorch(1));

    /// <summary>libtorch, 2 threads.</summary>
    [GlobalSetup(Target = nameof(LibTorch_2T))]
    public void SetupLibTorch2() => _torch = Validated(new TorchTraining(Fixture, 2), Peer.LibTorch(2));

    /// <summary>libtorch 2.10: <c>zero_grad</c>, <c>nn.LSTM</c> forward, <c>mse_loss</c>, <c>backward</c>, <c>Adam.step</c>; 1 thread.</summary>
    [Benchmark]
    public void LibTorch_1T() => _torch!.Step();

    /// <summary>libtorch, 2 threads.</summary>
    [Benchmark]
    public void LibTorch_2T() => _torch!.Step();

    /// <summary>Frees libtorch's module and tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _torch?.Dispose();
        _torch = null;
    }

    private TorchTraining Validated(TorchTraining peer, string name)
    {
        try
        {
            peer.Validate($"{Fixture.Workload.Name}/{name}");
        }
        catch
        {
            peer.Dispose();
            throw;
        }

        return peer;
    }
}
