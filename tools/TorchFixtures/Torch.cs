using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using DTensor = Deepbox.Tensor;
using TModule = TorchSharp.torch.nn.Module;
using TTensor = TorchSharp.torch.Tensor;

namespace TorchFixtures;

/// <summary>Conversions between Deepbox and TorchSharp tensors, and the torch modules of a configuration.</summary>
internal static class Torch
{
    /// <summary>
    /// A tensor in memory of libtorch's own allocator (64-byte aligned): <c>torch.tensor</c> may keep using the pinned
    /// managed array, whose alignment changes with the managed heap, and MKL's GEMM then rounds differently from run
    /// to run in the last bit. Cloned, the fixtures are the same bytes on every run.
    /// </summary>
    public static TTensor ToTorch(float[] values, int[] shape, bool requiresGrad = false)
    {
        using TTensor wrapped = torch.tensor(values, shape.Select(d => (long)d).ToArray());
        return wrapped.clone().requires_grad_(requiresGrad);
    }

    public static TTensor ToTorch(DTensor t) => ToTorch(t.ToArray(), [.. t.Shape]);

    /// <summary>A copy of <paramref name="t"/>'s values, made contiguous first (batch-first outputs are views).</summary>
    public static DTensor ToDeepbox(TTensor t)
    {
        using TTensor d = t.detach();
        using TTensor c = d.contiguous();
        return DTensor.FromArray(c.data<float>().ToArray(), c.shape.Select(x => checked((int)x)).ToArray());
    }

    public static TModule Recurrent(Cell cell, int input, int hidden, int layers = 1, bool bias = true, bool batchFirst = true, bool bidirectional = false, bool relu = false) => cell switch
    {
        Cell.Rnn => torch.nn.RNN(input, hidden, layers, relu ? torch.nn.NonLinearities.ReLU : torch.nn.NonLinearities.Tanh, bias, batchFirst, 0.0, bidirectional),
        Cell.Lstm => torch.nn.LSTM(input, hidden, layers, bias, batchFirst, 0.0, bidirectional),
        _ => torch.nn.GRU(input, hidden, layers, bias, batchFirst, 0.0, bidirectional),
    };

    public static TModule Recurrent(Config c) => Recurrent(c.Cell, c.InputSize, c.HiddenSize, c.NumLayers, c.Bias, c.BatchFirst, c.Bidirectional, c.Relu);

    /// <summary>
    /// Runs a recurrent module from explicit initial states (null: zeros); <paramref name="c0"/> only for an LSTM.
    /// Unbatched input <c>[T, I]</c> (states <c>[L*D, H]</c>) is handled as Python's <c>nn.RNNBase.forward</c> does it
    /// (libtorch's C++ modules take 3-d input only): unsqueeze the batch dimension, run, squeeze it again, all inside the
    /// autograd graph.
    /// </summary>
    public static (TTensor Output, TTensor H, TTensor? C) Run(TModule module, TTensor input, TTensor? h0, TTensor? c0, bool batchFirst)
    {
        return Run(module, input, h0, c0, batchFirst, lengths: null);
    }

    /// <summary>
    /// <see cref="Run(TModule, TTensor, TTensor?, TTensor?, bool)"/> with lengths (3-d input only): as PyTorch users run
    /// a padded batch, <c>pack_padded_sequence(input, lengths, batch_first, enforce_sorted=False)</c>, the module, then
    /// <c>pad_packed_sequence(..., batch_first, total_length=T)</c>; the final states are each sequence's own.
    /// </summary>
    public static (TTensor Output, TTensor H, TTensor? C) Run(TModule module, TTensor input, TTensor? h0, TTensor? c0, bool batchFirst, int[]? lengths)
    {
        if (lengths is not null)
        {
            long total = input.shape[batchFirst ? 1 : 0];
            using TTensor lengthsTensor = torch.tensor(lengths.Select(l => (long)l).ToArray());
            using torch.nn.utils.rnn.PackedSequence packed = torch.nn.utils.rnn.pack_padded_sequence(input, lengthsTensor, batchFirst, enforce_sorted: false);
            (torch.nn.utils.rnn.PackedSequence output, TTensor h, TTensor? c) = module switch
            {
                TorchSharp.Modules.LSTM lstm => lstm.call(packed, h0 is null ? null : (h0, c0 ?? throw new ArgumentNullException(nameof(c0)))),
                TorchSharp.Modules.RNN rnn => WithoutCell(rnn.call(packed, h0)),
                TorchSharp.Modules.GRU gru => WithoutCell(gru.call(packed, h0)),
                _ => throw new ArgumentException($"{module.GetType().Name} is not a recurrent module.", nameof(module)),
            };
            using (output)
            {
                return (torch.nn.utils.rnn.pad_packed_sequence(output, batchFirst, total_length: total).Item1, h, c);
            }
        }

        if (input.dim() == 2)
        {
            long batchDim = batchFirst ? 0 : 1;
            (TTensor o, TTensor h, TTensor? c) = Run(module, input.unsqueeze(batchDim), h0?.unsqueeze(1), c0?.unsqueeze(1), batchFirst);
            return (o.squeeze(batchDim), h.squeeze(1), c?.squeeze(1));
        }

        return module switch
        {
            TorchSharp.Modules.LSTM lstm => lstm.call(input, h0 is null ? null : (h0, c0 ?? throw new ArgumentNullException(nameof(c0)))),
            TorchSharp.Modules.RNN rnn => WithoutCell(rnn.call(input, h0)),
            TorchSharp.Modules.GRU gru => WithoutCell(gru.call(input, h0)),
            _ => throw new ArgumentException($"{module.GetType().Name} is not a recurrent module.", nameof(module)),
        };
    }

    public static TTensor Activate(string activation, TTensor z) => activation switch
    {
        "None" => z,
        "Tanh" => torch.tanh(z),
        "Relu" => torch.nn.functional.relu(z),
        "Sigmoid" => torch.sigmoid(z),
        _ => throw new ArgumentException($"Unknown activation {activation}.", nameof(activation)),
    };

    /// <summary>The module's parameters in its order, with <paramref name="prefix"/> before each name.</summary>
    public static List<(string Name, TorchSharp.Modules.Parameter Parameter)> Named(TModule module, string prefix) =>
        module.named_parameters().Select(p => (prefix + p.name, p.parameter)).ToList();

    private static (TTensor, TTensor, TTensor?) WithoutCell((TTensor Output, TTensor H) r) => (r.Output, r.H, null);

    private static (torch.nn.utils.rnn.PackedSequence, TTensor, TTensor?) WithoutCell((torch.nn.utils.rnn.PackedSequence Output, TTensor H) r) => (r.Output, r.H, null);
}

/// <summary>A parameterless container, only so that torch sees the names of an nn.Sequential of its children.</summary>
internal sealed class Holder : TModule
{
    public Holder(params (string Name, TModule Module)[] children)
        : base(nameof(Holder))
    {
        foreach ((string name, TModule module) in children)
        {
            register_module(name, module);
        }
    }
}

/// <summary>SplitMix64 seeded by the FNV-1a hash of a name: the fixtures' weights and data, independent of libtorch's generator.</summary>
internal sealed class Rng(string name)
{
    private ulong _state = Fnv1a(name);

    /// <summary><paramref name="count"/> values of U(-<paramref name="bound"/>, <paramref name="bound"/>), 24-bit resolution.</summary>
    public float[] Uniform(int count, double bound)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u = (Next() >> 40) * (1.0 / (1 << 24));
            values[i] = (float)((((2 * u) - 1) * bound));
        }

        return values;
    }

    private ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Fnv1a(string s)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (char ch in s)
        {
            h = (h ^ ch) * 0x100000001B3UL;
        }

        return h;
    }
}
