// The benchmark classes, one per workload of issue 7, named as the workload (id_cell). Each adds the Deepbox
// benchmark to its suite's peers, calling the concrete generated model directly (no interface dispatch).
using BenchmarkDotNet.Attributes;
using Deepbox.Benchmarks.Peers;

namespace Deepbox.Benchmarks.Suites;

/// <summary>W0_Rnn: a forward pass of <see cref="W0Rnn"/>.</summary>
public class W0_Rnn : ForwardSuite
{
    private W0Rnn _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (W0Rnn)PrepareDeepbox();

    /// <summary>Deepbox: the span <c>Forward</c> into a caller-owned buffer.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Forward(Input, Batch, SeqLen, Output);
}

/// <summary>W0_Lstm: a forward pass of <see cref="W0Lstm"/>.</summary>
public class W0_Lstm : ForwardSuite
{
    private W0Lstm _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (W0Lstm)PrepareDeepbox();

    /// <summary>Deepbox: the span <c>Forward</c> into a caller-owned buffer.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Forward(Input, Batch, SeqLen, Output);
}

/// <summary>W0_Gru: a forward pass of <see cref="W0Gru"/>.</summary>
public class W0_Gru : ForwardSuite
{
    private W0Gru _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (W0Gru)PrepareDeepbox();

    /// <summary>Deepbox: the span <c>Forward</c> into a caller-owned buffer.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Forward(Input, Batch, SeqLen, Output);
}

/// <summary>W1_Lstm: a forward pass of <see cref="W1Lstm"/>.</summary>
public class W1_Lstm : ForwardSuite
{
    private W1Lstm _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (W1Lstm)PrepareDeepbox();

    /// <summary>Deepbox: the span <c>Forward</c> into a caller-owned buffer.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Forward(Input, Batch, SeqLen, Output);
}

/// <summary>W2_Lstm: a forward pass of <see cref="W2Lstm"/>.</summary>
public class W2_Lstm : ForwardSuite
{
    private W2Lstm _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (W2Lstm)PrepareDeepbox();

    /// <summary>Deepbox: the span <c>Forward</c> into a caller-owned buffer.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Forward(Input, Batch, SeqLen, Output);

    private OrtForward? _exported;

    /// <summary>ONNX Runtime, 1 thread, on the W2 model as Deepbox.Onnx exports it (issue 15: it should run as the hand-written graph does).</summary>
    [GlobalSetup(Target = nameof(OnnxRuntimeExported_1T))]
    public void SetupExported() => _exported = Validated(new OrtForward(Fixture, 1, exported: true), "ONNX Runtime (Deepbox.Onnx export), 1 thread");

    /// <summary>ONNX Runtime on the exported file.</summary>
    [Benchmark]
    public void OnnxRuntimeExported_1T() => _exported!.Run();

    /// <summary>Frees the exported graph's session.</summary>
    [GlobalCleanup(Target = nameof(OnnxRuntimeExported_1T))]
    public void CleanupExported() => _exported?.Dispose();
}

/// <summary>W4_Gru: a forward pass of <see cref="W4Gru"/>.</summary>
public class W4_Gru : ForwardSuite
{
    private W4Gru _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (W4Gru)PrepareDeepbox();

    /// <summary>Deepbox: the span <c>Forward</c> into a caller-owned buffer.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Forward(Input, Batch, SeqLen, Output);
}

/// <summary>S8_Lstm: one streaming step of <see cref="S8Lstm"/>.</summary>
public class S8_Lstm : StreamingSuite
{
    private S8Lstm _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (S8Lstm)PrepareDeepbox();

    /// <summary>Deepbox: <c>Step</c>, the state carried in a <c>ModelState</c>.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Step(Input, State, Output);
}

/// <summary>S8_Gru: one streaming step of <see cref="S8Gru"/>.</summary>
public class S8_Gru : StreamingSuite
{
    private S8Gru _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (S8Gru)PrepareDeepbox();

    /// <summary>Deepbox: <c>Step</c>, the state carried in a <c>ModelState</c>.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Step(Input, State, Output);
}

/// <summary>S16_Lstm: one streaming step of <see cref="S16Lstm"/>.</summary>
public class S16_Lstm : StreamingSuite
{
    private S16Lstm _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (S16Lstm)PrepareDeepbox();

    /// <summary>Deepbox: <c>Step</c>, the state carried in a <c>ModelState</c>.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Step(Input, State, Output);
}

/// <summary>S16_Gru: one streaming step of <see cref="S16Gru"/>.</summary>
public class S16_Gru : StreamingSuite
{
    private S16Gru _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (S16Gru)PrepareDeepbox();

    /// <summary>Deepbox: <c>Step</c>, the state carried in a <c>ModelState</c>.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Step(Input, State, Output);
}

/// <summary>S32_Lstm: one streaming step of <see cref="S32Lstm"/>.</summary>
public class S32_Lstm : StreamingSuite
{
    private S32Lstm _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (S32Lstm)PrepareDeepbox();

    /// <summary>Deepbox: <c>Step</c>, the state carried in a <c>ModelState</c>.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Step(Input, State, Output);
}

/// <summary>S32_Gru: one streaming step of <see cref="S32Gru"/>.</summary>
public class S32_Gru : StreamingSuite
{
    private S32Gru _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (S32Gru)PrepareDeepbox();

    /// <summary>Deepbox: <c>Step</c>, the state carried in a <c>ModelState</c>.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Step(Input, State, Output);
}

/// <summary>S64_Lstm: one streaming step of <see cref="S64Lstm"/>.</summary>
public class S64_Lstm : StreamingSuite
{
    private S64Lstm _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (S64Lstm)PrepareDeepbox();

    /// <summary>Deepbox: <c>Step</c>, the state carried in a <c>ModelState</c>.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Step(Input, State, Output);
}

/// <summary>S64_Gru: one streaming step of <see cref="S64Gru"/>.</summary>
public class S64_Gru : StreamingSuite
{
    private S64Gru _model = null!;

    /// <summary>Creates and checks the Deepbox model.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => _model = (S64Gru)PrepareDeepbox();

    /// <summary>Deepbox: <c>Step</c>, the state carried in a <c>ModelState</c>.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Step(Input, State, Output);
}

/// <summary>W3: a training step of <see cref="W3Lstm"/>: span Forward, Losses.Mse, ZeroGrad, span Backward, Adam.Step.</summary>
public class W3_Lstm : TrainingSuite
{
    private W3Lstm _model = null!;
    private Adam _optimizer = null!;
    private float[] _input = [];
    private float[] _target = [];
    private float[] _output = [];
    private float[] _gradOutput = [];
    private int _batch;
    private int _seqLen;

    /// <summary>Creates the Deepbox model in training mode and its optimizer, and checks output, loss and gradients.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => Prepare(threads: 1);

    /// <summary>As <see cref="SetupDeepbox"/>, with <c>Threads = 2</c> (forward and backward split across two cores).</summary>
    [GlobalSetup(Target = nameof(Deepbox_2T))]
    public void SetupDeepbox2() => Prepare(threads: 2);

    private void Prepare(int threads)
    {
        Workload w = Fixture.Workload;
        _model = (W3Lstm)Fixture.CreateDeepboxModel();
        _model.Threads = threads;
        _model.Train();
        _optimizer = new Adam(_model, 1e-3f);
        (_batch, _seqLen) = (w.Batch, w.SeqLen);
        _input = (float[])Fixture.Input.Clone();
        _target = (float[])Fixture.Target.Clone();
        _output = new float[w.Batch * w.SeqLen * w.HiddenSize];
        _gradOutput = new float[_output.Length];
        _model.Forward(_input, _batch, _seqLen, _output);
        float loss = Losses.Mse(_output, _target, _gradOutput, threads: threads);
        _model.ZeroGrad();
        _model.Backward(_gradOutput, default);
        string label = $"{w.Name}/{(threads == 1 ? Peer.Deepbox : Peer.Deepbox2)}";
        Checks.Require(label, "output after LoadStateDict", Fixture.MaxAbsDiff(_output, Fixture.Expected), 0);
        Checks.Require(label, "loss", System.MathF.Abs(loss - Fixture.ExpectedLoss), 0);
        foreach ((string name, Parameter p) in _model.NamedParameters())
        {
            Checks.Require(label, $"gradient of {name}", Fixture.MaxAbsDiff(p.Grad.AsSpan(), Fixture.ExpectedGradients[name]), 0);
        }

        _model.ZeroGrad();
    }

    /// <summary>Deepbox: one training step, allocation-free.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => TrainingStep();

    /// <summary>Deepbox with <c>Threads = 2</c>: the same step, forward and backward split across the caller and a worker.</summary>
    [Benchmark]
    public void Deepbox_2T() => TrainingStep();

    private void TrainingStep()
    {
        _model.Forward(_input, _batch, _seqLen, _output);
        Losses.Mse(_output, _target, _gradOutput, threads: _model.Threads); // on two threads, each half on the core that wrote it
        _optimizer.ZeroGrad();
        _model.Backward(_gradOutput, default);
        _optimizer.Step();
    }
}
