using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Deepbox;
using TorchSharp;
using DTensor = Deepbox.Tensor;
using TModule = TorchSharp.torch.nn.Module;
using TTensor = TorchSharp.torch.Tensor;

namespace TorchFixtures;

/// <summary>Forward and backward passes computed by libtorch for one configuration, written as one safetensors file.</summary>
internal static class Fixtures
{
    private const double InputBound = 1.5;

    /// <summary>Computes the fixture of <paramref name="c"/> and writes <c>torch_{name}.safetensors</c>; returns the path.</summary>
    public static string Write(Config c, string directory, IReadOnlyDictionary<string, string> versions)
    {
        using DisposeScope scope = torch.NewDisposeScope();
        var rng = new Rng(c.Name);
        using TModule recurrent = Torch.Recurrent(c);
        using TorchSharp.Modules.Linear? head = c.Head is { } h ? torch.nn.Linear(h.InFeatures, h.OutFeatures, h.Bias) : null;
        recurrent.train();
        head?.train();

        // Known weights, scaled like PyTorch's init: U(-1/sqrt(H), 1/sqrt(H)) for the recurrent layer,
        // U(-1/sqrt(in), 1/sqrt(in)) for the head.
        List<(string Name, TorchSharp.Modules.Parameter Parameter)> parameters = Torch.Named(recurrent, c.RecurrentPrefix);
        int recurrentCount = parameters.Count;
        if (head is not null)
        {
            parameters.AddRange(Torch.Named(head, c.HeadPrefix));
        }

        using (torch.no_grad())
        {
            for (int i = 0; i < parameters.Count; i++)
            {
                TorchSharp.Modules.Parameter p = parameters[i].Parameter;
                int[] shape = p.shape.Select(d => (int)d).ToArray();
                double bound = 1 / Math.Sqrt(i < recurrentCount ? c.HiddenSize : c.Head!.InFeatures);
                p.copy_(Torch.ToTorch(rng.Uniform(shape.Aggregate(1, (a, b) => a * b), bound), shape));
            }
        }

        bool lstm = c.Cell == Cell.Lstm;
        int stateCount = c.StateShape.Aggregate(1, (a, b) => a * b);
        TTensor input = Torch.ToTorch(rng.Uniform(c.InputShape.Aggregate(1, (a, b) => a * b), InputBound), c.InputShape, requiresGrad: true);
        TTensor h0 = Torch.ToTorch(c.ZeroStates ? new float[stateCount] : rng.Uniform(stateCount, 1.0), c.StateShape, requiresGrad: true);
        TTensor? c0 = lstm ? Torch.ToTorch(c.ZeroStates ? new float[stateCount] : rng.Uniform(stateCount, 1.0), c.StateShape, requiresGrad: true) : null;

        (TTensor seq, TTensor hN, TTensor? cN) = Torch.Run(recurrent, input, h0, c0, c.BatchFirst, c.Lengths);
        Equations.Check(c, recurrent, input, h0, c0, seq, hN, cN); // throws rather than write a wrong libtorch's numbers
        TTensor output = seq;
        if (c.LastStep && c.Lengths is { } lastLengths)
        {
            // Each sequence's output at its own last step: out[b, lengths[b] - 1] (out[lengths[b] - 1, b] sequence-first).
            output = torch.stack(lastLengths.Select((l, b) => c.BatchFirst ? output[b, l - 1] : output[l - 1, b]).ToArray(), 0);
        }
        else if (c.LastStep)
        {
            // out[:, -1, :] batch-first; out[-1] sequence-first and unbatched.
            output = output.select(c.Batch != 0 && c.BatchFirst ? 1 : 0, c.Steps - 1);
        }

        if (head is not null)
        {
            output = Torch.Activate(c.Head!.Activation, head.call(output));
            if (c.Lengths is { } lengths && !c.LastStep)
            {
                // Deepbox's model gives 0 past each length after a head too (PyTorch's fc(pad_packed_sequence(...)) gives fc(0)).
                float[] mask = new float[c.Batch * c.Steps];
                for (int b = 0; b < c.Batch; b++)
                {
                    for (int t = 0; t < lengths[b]; t++)
                    {
                        mask[c.BatchFirst ? (b * c.Steps) + t : (t * c.Batch) + b] = 1;
                    }
                }

                output = output * Torch.ToTorch(mask, c.BatchFirst ? [c.Batch, c.Steps, 1] : [c.Steps, c.Batch, 1]);
            }
        }

        int[] outputShape = output.shape.Select(d => (int)d).ToArray();
        TTensor gradOutput = Torch.ToTorch(rng.Uniform(outputShape.Aggregate(1, (a, b) => a * b), 1.0), outputShape);
        TTensor gradH = Torch.ToTorch(rng.Uniform(stateCount, 1.0), c.StateShape);
        TTensor? gradC = lstm ? Torch.ToTorch(rng.Uniform(stateCount, 1.0), c.StateShape) : null;
        TTensor loss = (output * gradOutput).sum() + (hN * gradH).sum();
        if (lstm)
        {
            loss = loss + (cN! * gradC!).sum();
        }

        loss.backward();

        var file = new OrderedDictionary<string, DTensor>(StringComparer.Ordinal);
        foreach ((string name, TorchSharp.Modules.Parameter p) in parameters)
        {
            file.Add(name, Torch.ToDeepbox(p));
        }

        file.Add("input", Torch.ToDeepbox(input));
        file.Add("output", Torch.ToDeepbox(output));
        file.Add("h0", Torch.ToDeepbox(h0));
        AddIf(file, "c0", c0);
        file.Add("hN", Torch.ToDeepbox(hN));
        AddIf(file, "cN", cN);
        file.Add("grad_output", Torch.ToDeepbox(gradOutput));
        file.Add("grad_h", Torch.ToDeepbox(gradH));
        AddIf(file, "grad_c", gradC);
        foreach ((string name, TorchSharp.Modules.Parameter p) in parameters)
        {
            file.Add("grad." + name, Torch.ToDeepbox(p.grad ?? throw new InvalidOperationException($"{c.Name}: {name} got no gradient")));
        }

        file.Add("grad.input", Torch.ToDeepbox(input.grad ?? throw new InvalidOperationException($"{c.Name}: the input got no gradient")));
        file.Add("grad.h0", Torch.ToDeepbox(h0.grad ?? throw new InvalidOperationException($"{c.Name}: h0 got no gradient")));
        if (c0 is not null)
        {
            file.Add("grad.c0", Torch.ToDeepbox(c0.grad ?? throw new InvalidOperationException($"{c.Name}: c0 got no gradient")));
        }

        var metadata = new OrderedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["fixture"] = c.Name,
            ["deepbox_model"] = c.Model,
            ["deepbox_declaration"] = c.Declaration,
            ["torch"] = TorchDescription(c),
            ["cell"] = c.Cell.ToString(),
            ["input_size"] = Invariant(c.InputSize),
            ["hidden_size"] = Invariant(c.HiddenSize),
            ["num_layers"] = Invariant(c.NumLayers),
            ["nonlinearity"] = c.Cell == Cell.Rnn ? (c.Relu ? "relu" : "tanh") : "n/a",
            ["bias"] = Bool(c.Bias),
            ["batch_first"] = Bool(c.BatchFirst),
            ["bidirectional"] = Bool(c.Bidirectional),
            ["batch"] = c.Batch == 0 ? "unbatched" : Invariant(c.Batch),
            ["seq_len"] = Invariant(c.Steps),
            ["lengths"] = c.Lengths is { } l ? string.Join(",", l.Select(Invariant)) : "none",
            ["initial_state"] = c.ZeroStates ? "zeros (requires grad)" : "U(-1, 1) (requires grad)",
            ["loss"] = "sum(output * grad_output) + sum(hN * grad_h)" + (lstm ? " + sum(cN * grad_c)" : string.Empty),
            ["mode"] = "train (no dropout)",
            ["weights"] = $"SplitMix64(FNV-1a(\"{c.Name}\")): recurrent U(-1/sqrt(hidden), 1/sqrt(hidden)), head U(-1/sqrt(in), 1/sqrt(in)); then input U(-{InputBound}, {InputBound}), states and upstream gradients U(-1, 1)",
        };
        foreach (KeyValuePair<string, string> v in versions)
        {
            metadata[v.Key] = v.Value;
        }

        string path = Path.Combine(directory, $"torch_{c.Name}.safetensors");
        Safetensors.Save(path, file, metadata);
        Console.WriteLine($"  {Path.GetFileName(path),-52} {new FileInfo(path).Length,8:N0} B  {c.Declaration}  input {Tensor.FormatShape(c.InputShape)} -> output {Tensor.FormatShape(outputShape)}");
        return path;
    }

    private static void AddIf(OrderedDictionary<string, DTensor> file, string name, TTensor? t)
    {
        if (t is not null)
        {
            file.Add(name, Torch.ToDeepbox(t));
        }
    }

    private static string TorchDescription(Config c)
    {
        string module = c.Cell switch
        {
            Cell.Rnn => "nn.RNN",
            Cell.Lstm => "nn.LSTM",
            _ => "nn.GRU",
        };
        string s = string.Create(CultureInfo.InvariantCulture, $"{module}({c.InputSize}, {c.HiddenSize}, num_layers={c.NumLayers}, bias={c.Bias}, batch_first={c.BatchFirst}, bidirectional={c.Bidirectional}");
        s += c.Cell == Cell.Rnn ? $", nonlinearity='{(c.Relu ? "relu" : "tanh")}')" : ")";
        if (c.Lengths is not null)
        {
            s = "pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False); " + s + "; pad_packed_sequence(batch_first, total_length=T)";
        }

        if (c.LastStep)
        {
            s += c.Lengths is not null ? "; each sequence's out at lengths[b] - 1" : c.Batch != 0 && c.BatchFirst ? "; out[:, -1, :]" : "; out[-1]";
        }

        if (c.Head is { } h)
        {
            s += string.Create(CultureInfo.InvariantCulture, $"; nn.Linear({h.InFeatures}, {h.OutFeatures}, bias={h.Bias})");
            if (h.Activation != "None")
            {
                s += $"; torch.{h.Activation.ToLowerInvariant()}";
            }

            if (c.Lengths is not null && !c.LastStep)
            {
                s += "; times the mask t < lengths[b] (0 past each length, as Deepbox's model gives)";
            }
        }

        return s;
    }

    private static string Invariant(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Bool(bool b) => b ? "true" : "false";
}
