// Issue 19's variable-length rows: W1's and W3's LSTM(16, 64), B = 32, T = 64, on sequences of lengths drawn in
// [T/4, T] (seeded). Deepbox runs them with Forward(input, batch, seqLen, lengths, output): the rows packed by length as
// PyTorch's PackedSequence packs them, each sequence advancing through its own steps only. libtorch runs the same
// batch as PyTorch users do: pack_padded_sequence(enforce_sorted=False), nn.LSTM, pad_packed_sequence(total_length=T).
// The "padded" rows run every sequence the full T steps (no lengths): the cost of ignoring the lengths, and the
// reference for "the time follows the valid steps".
using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Deepbox.Benchmarks.Suites;

using Tensor = TorchSharp.torch.Tensor;

/// <summary>The lengths the suites use: seeded, uniform in [T/4, T], in no particular order.</summary>
public static class LengthsWorkload
{
    /// <summary>W1's shape (W3 is the same model trained).</summary>
    public static Workload Shape => Workload.ByName(nameof(W1_Lstm));

    /// <summary>Each sequence's length for W1's and W3's shape.</summary>
    public static int[] Lengths { get; } = Create(Shape);

    /// <summary>The valid steps over all steps of W1's shape.</summary>
    public static double ValidFraction => Fraction(Shape, Lengths);

    /// <summary>
    /// Every sequence of W1's shape the same length, the ragged lengths' mean rounded (39 of 64 steps: a valid fraction
    /// of 0.609 against their 0.613): <see cref="W1_Lstm_EqualLengths"/>.
    /// </summary>
    public static int[] Equal { get; } = Enumerable.Repeat((int)Math.Round(Lengths.Average()), Shape.Batch).ToArray();

    /// <summary>The shape of a suite: W2's for <see cref="W2_Lstm_Lengths"/> and <see cref="W2_Train_Lengths"/>, else W1's.</summary>
    public static Workload ShapeOf(string suite) => IsW2(suite) ? Workload.ByName(nameof(W2_Lstm)) : Shape;

    /// <summary>The lengths of a suite.</summary>
    public static int[] LengthsOf(string suite) => IsW2(suite) ? W2Lengths : Lengths;

    /// <summary>Whether a suite runs W2's shape.</summary>
    public static bool IsW2(string suite) => suite is nameof(W2_Lstm_Lengths) or nameof(W2_Train_Lengths);

    /// <summary>Each sequence's length for W2's shape.</summary>
    public static int[] W2Lengths { get; } = Create(Workload.ByName(nameof(W2_Lstm)));

    /// <summary>The valid steps over all steps.</summary>
    public static double Fraction(Workload w, int[] lengths) => lengths.Sum() / (double)(w.Batch * w.SeqLen);

    private static int[] Create(Workload w)
    {
        var rng = new Random(19);
        return Enumerable.Range(0, w.Batch).Select(_ => rng.Next(w.SeqLen / 4, w.SeqLen + 1)).ToArray();
    }

    /// <summary>Zeros past each sequence's length of a batch-first <c>[B, T, F]</c> array of W1's shape (what a lengths pass outputs there).</summary>
    public static float[] Masked(float[] values, int features) => Masked(values, features, Shape, Lengths);

    /// <summary>Zeros past each sequence's length of a batch-first <c>[B, T, F]</c> array of <paramref name="w"/>'s shape.</summary>
    public static float[] Masked(float[] values, int features, Workload w, int[] lengths)
    {
        float[] result = (float[])values.Clone();
        for (int b = 0; b < w.Batch; b++)
        {
            result.AsSpan(((b * w.SeqLen) + lengths[b]) * features, (w.SeqLen - lengths[b]) * features).Clear();
        }

        return result;
    }
}

/// <summary>
/// W2_Lstm_Lengths: one forward pass of W2's LSTM(128, 256) over 64 sequences padded to 128 steps, with
/// <see cref="LengthsWorkload.W2Lengths"/>, against the same batch padded: does the time follow the valid steps at
/// W2's size too. (libtorch's packed path is timed on W1's and W3's shape.)
/// </summary>
[MemoryDiagnoser]
public class W2_Lstm_Lengths : LengthsForwardSuite
{
    /// <inheritdoc/>
    protected override float[] Prepare(int threads)
    {
        Workload w = Workload.ByName(nameof(W2_Lstm));
        Fixture fixture = Fixture.Create(w);
        return UseAgainstPadded(nameof(W2_Lstm_Lengths), fixture.CreateDeepboxModel(), threads, w, fixture.Input, LengthsWorkload.W2Lengths);
    }
}

/// <summary>
/// The rows every lengths forward suite has: the span <c>Forward</c> with lengths and without (padded), on 1 and 2
/// threads, evaluation mode, on buffers allocated once; <see cref="Prepare"/> builds the model for each.
/// </summary>
public abstract class LengthsForwardSuite
{
    private IModel _model = null!;
    private float[] _input = [];
    private float[] _output = [];
    private int[] _lengths = [];
    private int _batch;
    private int _seqLen;

    /// <summary>1 thread.</summary>
    [GlobalSetup(Targets = [nameof(Deepbox), nameof(Padded)])]
    public void SetupDeepbox() => Prepare(threads: 1);

    /// <summary>2 threads.</summary>
    [GlobalSetup(Targets = [nameof(Deepbox_2T), nameof(Padded_2T)])]
    public void SetupDeepbox2() => Prepare(threads: 2);

    /// <summary>Deepbox: the span <c>Forward</c> with lengths.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => _model.Forward(_input, _batch, _seqLen, _lengths, _output);

    /// <summary>Deepbox with lengths on 2 threads.</summary>
    [Benchmark]
    public void Deepbox_2T() => _model.Forward(_input, _batch, _seqLen, _lengths, _output);

    /// <summary>Deepbox without lengths: every sequence the full T steps.</summary>
    [Benchmark]
    public void Padded() => _model.Forward(_input, _batch, _seqLen, _output);

    /// <summary>Deepbox without lengths on 2 threads.</summary>
    [Benchmark]
    public void Padded_2T() => _model.Forward(_input, _batch, _seqLen, _output);

    /// <summary>Builds the model on <paramref name="threads"/> threads (through <see cref="Use"/>) and checks it.</summary>
    /// <param name="threads">The model's threads.</param>
    /// <returns>The output of one pass with lengths.</returns>
    protected abstract float[] Prepare(int threads);

    /// <summary>
    /// <see cref="Use"/> on <paramref name="threads"/> threads, then checks the output against a padded pass's valid steps
    /// (each sequence's valid steps equal the padded pass's: a sequence's steps do not depend on the steps after them).
    /// </summary>
    private protected float[] UseAgainstPadded(string suite, IModel model, int threads, Workload w, float[] input, int[] lengths)
    {
        model.Threads = threads;
        float[] output = Use(model, w, input, lengths);
        float[] padded = new float[output.Length];
        model.Forward(input, w.Batch, w.SeqLen, padded);
        Checks.Require($"{suite}/Deepbox{(threads == 2 ? "_2T" : "")}", "output against the padded pass's valid steps",
            Fixture.MaxAbsDiff(output, LengthsWorkload.Masked(padded, w.HiddenSize, w, lengths)));
        return output;
    }

    /// <summary>Makes <paramref name="model"/> (put in evaluation mode) the one the benchmarks call, runs it once with lengths and returns that output.</summary>
    private protected float[] Use(IModel model, Workload w, float[] input, int[] lengths)
    {
        _model = model;
        _model.Eval();
        (_batch, _seqLen) = (w.Batch, w.SeqLen);
        _input = (float[])input.Clone();
        _output = new float[w.Batch * w.SeqLen * w.HiddenSize];
        _lengths = (int[])lengths.Clone();
        _model.Forward(_input, _batch, _seqLen, _lengths, _output);
        return _output;
    }
}

/// <summary>
/// W2_Train_Lengths: one training step of W2's LSTM(128, 256) over 64 sequences padded to 128 steps, with
/// <see cref="LengthsWorkload.W2Lengths"/>: span <c>Forward</c> with lengths, <c>Losses.Mse</c> masked by the lengths,
/// span <c>Backward</c>, <c>Adam.Step</c>; against the same step padded (no lengths, the MSE over every step). The setup
/// checks the loss with lengths against the masked MSE of the padded pass's outputs.
/// </summary>
[MemoryDiagnoser]
public class W2_Train_Lengths : LengthsTrainingSuite
{
    /// <inheritdoc/>
    protected override void Prepare(int threads, bool padded)
    {
        Workload w = LengthsWorkload.ShapeOf(nameof(W2_Train_Lengths));
        Fixture fixture = Fixture.Create(w);
        var model = (W2Lstm)fixture.CreateDeepboxModel();
        model.Threads = threads;
        var rng = new Random(219);
        float[] target = Enumerable.Range(0, w.Batch * w.SeqLen * w.HiddenSize).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
        // The loss with lengths is the MSE over the padded pass's valid steps (a sequence's steps do not depend on the steps after them).
        model.Eval();
        float[] output = new float[target.Length];
        model.Forward(fixture.Input, w.Batch, w.SeqLen, output);
        float expected = Losses.Mse(output, target, new float[target.Length], LengthsWorkload.W2Lengths, w.SeqLen);
        var check = new LengthsTrainingStep(model, w, fixture.Input, target, LengthsWorkload.W2Lengths);
        Checks.Require($"{nameof(W2_Train_Lengths)}/Deepbox{(threads == 2 ? "_2T" : "")}", "loss against the padded pass's valid steps", MathF.Abs(check.Loss() - expected));
        model.ZeroGrad();
        Step = new LengthsTrainingStep(model, w, fixture.Input, target, padded ? null : LengthsWorkload.W2Lengths);
    }
}

/// <summary>
/// The rows every lengths training suite has: a training step with lengths and without (padded), on 1 and 2 threads;
/// <see cref="Prepare"/> builds the step for each.
/// </summary>
public abstract class LengthsTrainingSuite
{
    /// <summary>The step the benchmarks run.</summary>
    private protected LengthsTrainingStep Step { get; set; } = null!;

    /// <summary>Deepbox with lengths, 1 thread.</summary>
    [GlobalSetup(Target = nameof(Deepbox))]
    public void SetupDeepbox() => Prepare(threads: 1, padded: false);

    /// <summary>Deepbox with lengths, 2 threads.</summary>
    [GlobalSetup(Target = nameof(Deepbox_2T))]
    public void SetupDeepbox2() => Prepare(threads: 2, padded: false);

    /// <summary>Deepbox without lengths, 1 thread.</summary>
    [GlobalSetup(Target = nameof(Padded))]
    public void SetupPadded() => Prepare(threads: 1, padded: true);

    /// <summary>Deepbox without lengths, 2 threads.</summary>
    [GlobalSetup(Target = nameof(Padded_2T))]
    public void SetupPadded2() => Prepare(threads: 2, padded: true);

    /// <summary>Deepbox: a training step with lengths.</summary>
    [Benchmark(Baseline = true)]
    public void Deepbox() => Step.Run();

    /// <summary>Deepbox: a training step with lengths on 2 threads.</summary>
    [Benchmark]
    public void Deepbox_2T() => Step.Run();

    /// <summary>Deepbox: a training step without lengths (every sequence the full T steps).</summary>
    [Benchmark]
    public void Padded() => Step.Run();

    /// <summary>Deepbox: a training step without lengths on 2 threads.</summary>
    [Benchmark]
    public void Padded_2T() => Step.Run();

    /// <summary>Builds <see cref="Step"/> on <paramref name="threads"/> threads, with lengths or <paramref name="padded"/>, and checks it.</summary>
    /// <param name="threads">The model's threads.</param>
    /// <param name="padded">Whether the step runs without lengths.</param>
    protected abstract void Prepare(int threads, bool padded);
}

/// <summary>
/// One training step as the lengths suites time it: the span <c>Forward</c> (with lengths, or padded without),
/// <c>Losses.Mse</c> (masked by the lengths, or over every step; on the model's threads), <c>Adam.ZeroGrad</c>, the span <c>Backward</c> (no input
/// gradient) and <c>Adam.Step</c> (lr 1e-3), on buffers allocated once.
/// </summary>
internal sealed class LengthsTrainingStep
{
    private readonly IModel _model;
    private readonly Adam _optimizer;
    private readonly float[] _input;
    private readonly float[] _target;
    private readonly float[] _output;
    private readonly float[] _gradOutput;
    private readonly int[]? _lengths;
    private readonly int _batch;
    private readonly int _seqLen;

    /// <summary>A step of <paramref name="model"/> (put in training mode) over a batch of <paramref name="w"/>'s shape; no lengths: padded.</summary>
    public LengthsTrainingStep(IModel model, Workload w, float[] input, float[] target, int[]? lengths)
    {
        _model = model;
        _model.Train();
        _optimizer = new Adam(model, 1e-3f);
        (_batch, _seqLen) = (w.Batch, w.SeqLen);
        _input = (float[])input.Clone();
        _target = (float[])target.Clone();
        _output = new float[w.Batch * w.SeqLen * w.HiddenSize];
        _gradOutput = new float[_output.Length];
        _lengths = lengths is null ? null : (int[])lengths.Clone();
    }

    /// <summary>The forward pass and the loss, whose gradient then waits for <see cref="Backward"/>.</summary>
    public float Loss()
    {
        if (_lengths is null)
        {
            _model.Forward(_input, _batch, _seqLen, _output);
            return Losses.Mse(_output, _target, _gradOutput, threads: _model.Threads);
        }

        _model.Forward(_input, _batch, _seqLen, _lengths, _output);
        return Losses.Mse(_output, _target, _gradOutput, _lengths, _seqLen, threads: _model.Threads);
    }

    /// <summary>The gradients of the last <see cref="Loss"/> into the parameters (added to what they hold).</summary>
    public void Backward() => _model.Backward(_gradOutput, default);

    /// <summary>One whole step.</summary>
    public void Run()
    {
        Loss();
        _optimizer.ZeroGrad();
        Backward();
        _optimizer.Step();
    }
}

/// <summary>
/// W1_Lstm_Lengths: one forward pass of W1's LSTM(16, 64) over 32 sequences padded to 64 steps, with
/// <see cref="LengthsWorkload.Lengths"/>. Each peer's setup checks its output against libtorch's packed pass.
/// </summary>
[MemoryDiagnoser]
public class W1_Lstm_Lengths : LengthsForwardSuite, IDisposable
{
    private TorchPacked? _torch;

    /// <summary>libtorch packed, 1 thread.</summary>
    [GlobalSetup(Target = nameof(LibTorchPacked_1T))]
    public void SetupTorch1() => _torch = TorchPacked.Create(training: false, threads: 1);

    /// <summary>libtorch packed, 2 threads.</summary>
    [GlobalSetup(Target = nameof(LibTorchPacked_2T))]
    public void SetupTorch2() => _torch = TorchPacked.Create(training: false, threads: 2);

    /// <summary>libtorch 2.10: <c>pack_padded_sequence</c>, <c>nn.LSTM</c>, <c>pad_packed_sequence</c> under <c>no_grad</c>, 1 thread.</summary>
    [Benchmark]
    public void LibTorchPacked_1T() => _torch!.Forward();

    /// <summary>libtorch packed, 2 threads.</summary>
    [Benchmark]
    public void LibTorchPacked_2T() => _torch!.Forward();

    /// <summary>Frees libtorch's module and tensors.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _torch?.Dispose();
        _torch = null;
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc/>
    protected override float[] Prepare(int threads)
    {
        Workload w = LengthsWorkload.Shape;
        Fixture fixture = Fixture.Create(w);
        var model = (W1Lstm)fixture.CreateDeepboxModel();
        model.Threads = threads;
        float[] output = Use(model, w, fixture.Input, LengthsWorkload.Lengths);
        using TorchPacked reference = TorchPacked.Create(training: false, threads: 1);
        Checks.Require($"{nameof(W1_Lstm_Lengths)}/Deepbox{(threads == 2 ? "_2T" : "")}", "output against libtorch's packed pass", Fixture.MaxAbsDiff(output, reference.Output()));
        return output;
    }
}

/// <summary>
/// W1_Lstm_EqualLengths: <see cref="W1_Lstm_Lengths"/>'s control, the same model and batch with every sequence
/// <see cref="LengthsWorkload.Equal"/> steps long, about the same valid fraction: what lengths cost when every step has
/// the whole batch (tiles of 4 rows throughout, parts of equal rows), apart from what ragged lengths cost. Times in
/// BenchmarkDotNet's own tables and in <c>loop</c> mode, not in the report.
/// </summary>
[MemoryDiagnoser]
public class W1_Lstm_EqualLengths : LengthsForwardSuite
{
    /// <inheritdoc/>
    protected override float[] Prepare(int threads)
    {
        Workload w = LengthsWorkload.Shape;
        Fixture fixture = Fixture.Create(w);
        return UseAgainstPadded(nameof(W1_Lstm_EqualLengths), fixture.CreateDeepboxModel(), threads, w, fixture.Input, LengthsWorkload.Equal);
    }
}

/// <summary>
/// W3_Lstm_Lengths: one training step of W3's LSTM(16, 64) with <see cref="LengthsWorkload.Lengths"/>: span
/// <c>Forward</c> with lengths, <c>Losses.Mse</c> masked by the lengths, span <c>Backward</c>, <c>Adam.Step</c>.
/// libtorch: packed forward, the same masked mean, <c>backward</c>, <c>Adam.step</c>. The setup checks the loss and every
/// gradient against libtorch's.
/// </summary>
[MemoryDiagnoser]
public class W3_Lstm_Lengths : LengthsTrainingSuite, IDisposable
{
    private TorchPacked? _torch;

    /// <summary>libtorch packed, 1 thread.</summary>
    [GlobalSetup(Target = nameof(LibTorchPacked_1T))]
    public void SetupTorch1() => _torch = TorchPacked.Create(training: true, threads: 1);

    /// <summary>libtorch packed, 2 threads.</summary>
    [GlobalSetup(Target = nameof(LibTorchPacked_2T))]
    public void SetupTorch2() => _torch = TorchPacked.Create(training: true, threads: 2);

    /// <summary>libtorch 2.10: packed forward, masked MSE, <c>backward</c>, <c>Adam.step</c>; 1 thread.</summary>
    [Benchmark]
    public void LibTorchPacked_1T() => _torch!.TrainingStep();

    /// <summary>libtorch packed training step, 2 threads.</summary>
    [Benchmark]
    public void LibTorchPacked_2T() => _torch!.TrainingStep();

    /// <summary>Frees libtorch's module and tensors.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _torch?.Dispose();
        _torch = null;
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc/>
    protected override void Prepare(int threads, bool padded)
    {
        Workload w = LengthsWorkload.Shape;
        Fixture fixture = Fixture.Create(Workload.ByName(nameof(W3_Lstm)));
        var model = (W3Lstm)fixture.CreateDeepboxModel();
        model.Threads = threads;
        Step = new LengthsTrainingStep(model, w, fixture.Input, fixture.Target, padded ? null : LengthsWorkload.Lengths);
        if (!padded)
        {
            float loss = Step.Loss();
            model.ZeroGrad();
            Step.Backward();
            using TorchPacked reference = TorchPacked.Create(training: true, threads: 1);
            (float torchLoss, System.Collections.Generic.Dictionary<string, float[]> gradients) = reference.LossAndGradients();
            string label = $"{nameof(W3_Lstm_Lengths)}/Deepbox{(threads == 2 ? "_2T" : "")}";
            Checks.Require(label, "loss against libtorch's packed pass", MathF.Abs(loss - torchLoss));
            foreach ((string name, Parameter p) in model.NamedParameters())
            {
                Checks.RequireRelative(label, $"gradient of {name} against libtorch's packed pass", p.Grad.AsSpan(), gradients[name]);
            }

            model.ZeroGrad();
        }
    }
}

/// <summary>
/// libtorch's packed path as PyTorch users write it: <c>pack_padded_sequence(x, lengths, batch_first=True,
/// enforce_sorted=False)</c>, <c>nn.LSTM</c>, <c>pad_packed_sequence(..., batch_first=True, total_length=T)</c>; in
/// training, the MSE over the valid steps only (the mean of the squared errors where the mask is set), <c>backward</c>
/// and <c>Adam.step</c>. The weights are the W1 (or W3) fixture's.
/// </summary>
internal sealed class TorchPacked : IDisposable
{
    private readonly LSTM _module;
    private readonly optim.Optimizer? _optimizer;
    private readonly Tensor _x;
    private readonly Tensor _target;
    private readonly Tensor _mask;
    private readonly Tensor _lengths;
    private readonly Tensor _h0;
    private readonly Tensor _c0;
    private readonly int _seqLen;

    private TorchPacked(Fixture fixture, bool training, int threads)
    {
        Peers.TorchSetup.SetThreads(threads);
        Workload w = fixture.Workload;
        _seqLen = w.SeqLen;
        _module = nn.LSTM(w.InputSize, w.HiddenSize, numLayers: 1, bias: true, batchFirst: true);
        Peers.TorchSetup.CopyWeights(_module, fixture, cell: false);
        if (training)
        {
            _module.train();
            _optimizer = torch.optim.Adam(_module.parameters(), lr: 1e-3);
        }
        else
        {
            _module.eval();
        }

        _x = torch.tensor(fixture.Input, [w.Batch, w.SeqLen, w.InputSize]);
        _target = torch.tensor(fixture.Target.Length == 0 ? new float[w.Batch * w.SeqLen * w.HiddenSize] : fixture.Target, [w.Batch, w.SeqLen, w.HiddenSize]);
        float[] mask = LengthsWorkload.Masked(Enumerable.Repeat(1f, w.Batch * w.SeqLen * w.HiddenSize).ToArray(), w.HiddenSize);
        _mask = torch.tensor(mask, [w.Batch, w.SeqLen, w.HiddenSize]).to_type(ScalarType.Bool);
        _lengths = torch.tensor(LengthsWorkload.Lengths.Select(l => (long)l).ToArray());
        _h0 = torch.zeros(1, w.Batch, w.HiddenSize);
        _c0 = torch.zeros(1, w.Batch, w.HiddenSize);
    }

    /// <summary>The module for the forward (W1) or training (W3) workload, on <paramref name="threads"/> threads.</summary>
    public static TorchPacked Create(bool training, int threads) =>
        new(Fixture.Create(Workload.ByName(training ? nameof(W3_Lstm) : nameof(W1_Lstm))), training, threads);

    /// <summary>One packed forward pass under <c>no_grad</c>; the output is freed at once.</summary>
    public void Forward()
    {
        using DisposeScope scope = torch.NewDisposeScope();
        using (torch.no_grad())
        {
            Packed();
        }
    }

    /// <summary>The padded output of one packed pass, <c>[B, T, H]</c>.</summary>
    public float[] Output()
    {
        using DisposeScope scope = torch.NewDisposeScope();
        using (torch.no_grad())
        {
            return Peers.TorchSetup.Values(Packed());
        }
    }

    /// <summary>One training step.</summary>
    public void TrainingStep()
    {
        using DisposeScope scope = torch.NewDisposeScope();
        _optimizer!.zero_grad();
        Loss(Packed()).backward();
        _optimizer.step();
    }

    /// <summary>The loss and every parameter's gradient of one step (no optimizer step).</summary>
    public (float Loss, System.Collections.Generic.Dictionary<string, float[]> Gradients) LossAndGradients()
    {
        using DisposeScope scope = torch.NewDisposeScope();
        _optimizer!.zero_grad();
        Tensor loss = Loss(Packed());
        loss.backward();
        var gradients = _module.named_parameters().ToDictionary(p => p.name, p => Peers.TorchSetup.Values(p.parameter.grad!));
        _optimizer.zero_grad();
        return (loss.item<float>(), gradients);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (Tensor t in new[] { _x, _target, _mask, _lengths, _h0, _c0 })
        {
            t.Dispose();
        }

        _optimizer?.Dispose();
        _module.Dispose();
    }

    private Tensor Loss(Tensor output) => nn.functional.mse_loss(output.masked_select(_mask), _target.masked_select(_mask));

    private Tensor Packed()
    {
        using nn.utils.rnn.PackedSequence packed = nn.utils.rnn.pack_padded_sequence(_x, _lengths, batch_first: true, enforce_sorted: false);
        (nn.utils.rnn.PackedSequence output, Tensor _, Tensor _) = _module.call(packed, (_h0, _c0));
        using (output)
        {
            return nn.utils.rnn.pad_packed_sequence(output, batch_first: true, total_length: _seqLen).Item1;
        }
    }
}
