using System;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Deepbox.Benchmarks.Peers;

using Parameter = TorchSharp.Modules.Parameter;
using Tensor = TorchSharp.torch.Tensor;

/// <summary>libtorch through TorchSharp: versions, threads and copying the fixture's weights in.</summary>
public static class TorchSetup
{
    /// <summary>The libtorch version (<c>torch.__version__</c>).</summary>
    public static string Version => torch.__version__;

    /// <summary>The TorchSharp version.</summary>
    public static string BindingVersion => typeof(torch).Assembly.GetName().Version?.ToString(3) ?? "?";

    /// <summary>Sets libtorch's intra-op threads (<c>torch.set_num_threads</c>) and checks it took.</summary>
    public static void SetThreads(int threads)
    {
        torch.set_num_threads(threads);
        if (torch.get_num_threads() != threads)
        {
            throw new InvalidOperationException($"torch.set_num_threads({threads}) left {torch.get_num_threads()} threads");
        }
    }

    /// <summary>Copies the fixture's weights into a module; cells take the names without the <c>_l0</c> suffix.</summary>
    public static void CopyWeights(nn.Module module, Fixture fixture, bool cell)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(fixture);
        int copied = 0;
        using (torch.no_grad())
        {
            foreach ((string name, Parameter p) in module.named_parameters())
            {
                float[] values = fixture.Weight(cell ? name + "_l0" : name);
                using Tensor source = torch.tensor(values, p.shape);
                p.copy_(source);
                copied++;
            }
        }

        if (copied != fixture.Weights.Count)
        {
            throw new InvalidOperationException($"Copied {copied} parameters into libtorch's module, expected {fixture.Weights.Count}");
        }
    }

    /// <summary>The values of a tensor.</summary>
    public static float[] Values(Tensor t) => t.detach().contiguous().data<float>().ToArray();
}

/// <summary>
/// A whole-sequence forward pass in libtorch: <c>nn.RNN</c>/<c>nn.LSTM</c>/<c>nn.GRU</c>, batch-first, explicit zero
/// initial states, grad off (<c>torch.no_grad()</c>), every tensor of the call freed by a dispose scope.
/// </summary>
public sealed class TorchForward : IDisposable
{
    private readonly Fixture _fixture;
    private readonly nn.Module _module;
    private readonly Tensor _x;
    private readonly Tensor _h0;
    private readonly Tensor _c0;

    /// <summary>Creates the module with the fixture's weights and sets libtorch's threads.</summary>
    public TorchForward(Fixture fixture, int threads)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        _fixture = fixture;
        TorchSetup.SetThreads(threads);
        Workload w = fixture.Workload;
        _module = w.Cell switch
        {
            Cell.Rnn => nn.RNN(w.InputSize, w.HiddenSize, numLayers: 1, bias: true, batchFirst: true),
            Cell.Lstm => nn.LSTM(w.InputSize, w.HiddenSize, numLayers: 1, bias: true, batchFirst: true),
            _ => nn.GRU(w.InputSize, w.HiddenSize, numLayers: 1, bias: true, batchFirst: true),
        };
        _module.eval();
        TorchSetup.CopyWeights(_module, fixture, cell: false);
        _x = torch.tensor(fixture.Input, [w.Batch, w.SeqLen, w.InputSize]);
        _h0 = torch.zeros(1, w.Batch, w.HiddenSize);
        _c0 = torch.zeros(1, w.Batch, w.HiddenSize);
    }

    /// <summary>One forward pass; the output is freed at once.</summary>
    public void Run()
    {
        using DisposeScope scope = torch.NewDisposeScope();
        using (torch.no_grad())
        {
            Forward();
        }
    }

    /// <summary>Runs once and checks the output against Deepbox's.</summary>
    public float Validate(string label)
    {
        using DisposeScope scope = torch.NewDisposeScope();
        using (torch.no_grad())
        {
            return Checks.Require(label, "output", Fixture.MaxAbsDiff(TorchSetup.Values(Forward()), _fixture.Expected));
        }
    }

    private Tensor Forward() => _module switch
    {
        LSTM lstm => lstm.forward(_x, (_h0, _c0)).Item1,
        GRU gru => gru.forward(_x, _h0).Item1,
        RNN rnn => rnn.forward(_x, _h0).Item1,
        _ => throw new InvalidOperationException(),
    };

    /// <inheritdoc/>
    public void Dispose()
    {
        _x.Dispose();
        _h0.Dispose();
        _c0.Dispose();
        _module.Dispose();
    }
}

/// <summary>
/// One streaming step in libtorch: <c>nn.LSTMCell</c>/<c>nn.GRUCell</c> on <c>[1, I]</c>, grad off, the state carried
/// from call to call (the previous state's tensors freed as the new ones arrive).
/// </summary>
public sealed class TorchStreaming : IDisposable
{
    private readonly Fixture _fixture;
    private readonly nn.Module _cell;
    private readonly Tensor _x;
    private Tensor _h;
    private Tensor _c;

    /// <summary>Creates the cell with the fixture's weights and sets libtorch's threads.</summary>
    public TorchStreaming(Fixture fixture, int threads)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        _fixture = fixture;
        TorchSetup.SetThreads(threads);
        Workload w = fixture.Workload;
        _cell = w.Cell == Cell.Lstm
            ? nn.LSTMCell(w.InputSize, w.HiddenSize, bias: true)
            : nn.GRUCell(w.InputSize, w.HiddenSize, bias: true);
        _cell.eval();
        TorchSetup.CopyWeights(_cell, fixture, cell: true);
        _x = torch.tensor(fixture.CallInput, [1, w.InputSize]);
        _h = torch.zeros(1, w.HiddenSize);
        _c = torch.zeros(1, w.HiddenSize);
    }

    /// <summary>One time step with the benchmark's input.</summary>
    public void Step() => Step(_x);

    /// <summary>Zeroes the state.</summary>
    public void Reset()
    {
        _h.Dispose();
        _c.Dispose();
        _h = torch.zeros(1, _fixture.Workload.HiddenSize);
        _c = torch.zeros(1, _fixture.Workload.HiddenSize);
    }

    /// <summary>Streams the fixture's check steps from a zero state and compares every output with Deepbox's.</summary>
    public float Validate(string label)
    {
        Workload w = _fixture.Workload;
        Reset();
        var outputs = new float[_fixture.Expected.Length];
        for (int t = 0; t < Fixture.StreamingCheckSteps; t++)
        {
            using Tensor x = torch.tensor(_fixture.Input.AsSpan(t * w.InputSize, w.InputSize).ToArray(), [1, w.InputSize]);
            Step(x);
            TorchSetup.Values(_h).CopyTo(outputs, t * w.HiddenSize);
        }

        Reset();
        return Checks.Require(label, "streamed outputs", Fixture.MaxAbsDiff(outputs, _fixture.Expected));
    }

    private void Step(Tensor x)
    {
        using (torch.no_grad())
        {
            if (_cell is LSTMCell lstm)
            {
                (Tensor h, Tensor c) = lstm.forward(x, (_h, _c));
                _h.Dispose();
                _c.Dispose();
                _h = h;
                _c = c;
            }
            else
            {
                Tensor h = ((GRUCell)_cell).forward(x, _h);
                _h.Dispose();
                _h = h;
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _x.Dispose();
        _h.Dispose();
        _c.Dispose();
        _cell.Dispose();
    }
}

/// <summary>
/// A training step in libtorch: <c>nn.LSTM</c> forward from explicit zero states, <c>mse_loss</c>, <c>backward()</c>,
/// <c>torch.optim.Adam.step()</c> (lr 1e-3), after <c>zero_grad()</c>.
/// </summary>
public sealed class TorchTraining : IDisposable
{
    private readonly Fixture _fixture;
    private readonly LSTM _module;
    private readonly optim.Optimizer _optimizer;
    private readonly Tensor _x;
    private readonly Tensor _target;
    private readonly Tensor _h0;
    private readonly Tensor _c0;

    /// <summary>Creates the module with the fixture's weights, its optimizer, and sets libtorch's threads.</summary>
    public TorchTraining(Fixture fixture, int threads)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        _fixture = fixture;
        TorchSetup.SetThreads(threads);
        Workload w = fixture.Workload;
        _module = nn.LSTM(w.InputSize, w.HiddenSize, numLayers: 1, bias: true, batchFirst: true);
        _module.train();
        TorchSetup.CopyWeights(_module, fixture, cell: false);
        _optimizer = torch.optim.Adam(_module.parameters(), lr: 1e-3);
        _x = torch.tensor(fixture.Input, [w.Batch, w.SeqLen, w.InputSize]);
        _target = torch.tensor(fixture.Target, [w.Batch, w.SeqLen, w.HiddenSize]);
        _h0 = torch.zeros(1, w.Batch, w.HiddenSize);
        _c0 = torch.zeros(1, w.Batch, w.HiddenSize);
    }

    /// <summary>One training step.</summary>
    public void Step()
    {
        using DisposeScope scope = torch.NewDisposeScope();
        _optimizer.zero_grad();
        Tensor output = _module.forward(_x, (_h0, _c0)).Item1;
        Tensor loss = nn.functional.mse_loss(output, _target);
        loss.backward();
        _optimizer.step();
    }

    /// <summary>
    /// Runs forward, loss and backward once (no optimizer step) and checks output, loss and every parameter's gradient
    /// against Deepbox's; the gradients relative to their largest magnitude (they are small: the loss is a mean).
    /// </summary>
    public float Validate(string label)
    {
        using DisposeScope scope = torch.NewDisposeScope();
        _optimizer.zero_grad();
        Tensor output = _module.forward(_x, (_h0, _c0)).Item1;
        Tensor loss = nn.functional.mse_loss(output, _target);
        float worst = Checks.Require(label, "output", Fixture.MaxAbsDiff(TorchSetup.Values(output), _fixture.Expected));
        worst = MathF.Max(worst, Checks.Require(label, "loss", MathF.Abs(loss.item<float>() - _fixture.ExpectedLoss)));
        loss.backward();
        foreach ((string name, Parameter p) in _module.named_parameters())
        {
            worst = MathF.Max(worst, Checks.RequireRelative(label, $"gradient of {name}", TorchSetup.Values(p.grad!), _fixture.ExpectedGradients[name]));
        }

        _optimizer.zero_grad();
        return worst;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _x.Dispose();
        _target.Dispose();
        _h0.Dispose();
        _c0.Dispose();
        _optimizer.Dispose();
        _module.Dispose();
    }
}
