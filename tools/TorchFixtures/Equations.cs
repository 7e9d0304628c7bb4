using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using TModule = TorchSharp.torch.nn.Module;
using TTensor = TorchSharp.torch.Tensor;

namespace TorchFixtures;

/// <summary>
/// PyTorch's RNN, LSTM and GRU equations in plain torch ops, step by step and layer by layer: no nn.RNN/LSTM/GRU kernel,
/// so no oneDNN. A fixture is written only when libtorch's module agrees with them: libtorch 2.10's no-grad nn.LSTM
/// (oneDNN's AVX-512 RNN path) gives wrong outputs for small LSTMs on Zen 5 cores, and a fixture must never carry a
/// wrong libtorch.
/// </summary>
internal static class Equations
{
    /// <summary>The largest difference allowed between the module and the equations (float32 rounding only).</summary>
    private const double Tolerance = 1e-5;

    /// <summary>Throws unless <paramref name="module"/>'s results equal the equations' for the same weights and input.</summary>
    /// <remarks>
    /// With <see cref="Config.Lengths"/>, a sequence's state changes only at its own steps (before them, a reverse
    /// direction's state is still the initial one; after them, a forward direction's stays at its last step's) and its
    /// outputs past its length are 0: what <c>pack_padded_sequence</c> and <c>pad_packed_sequence</c> give.
    /// </remarks>
    public static void Check(Config c, TModule module, TTensor input, TTensor h0, TTensor? c0, TTensor output, TTensor hN, TTensor? cN)
    {
        using var noGrad = torch.no_grad();
        Dictionary<string, TTensor> w = module.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach());
        bool unbatched = input.dim() == 2;
        TTensor x = unbatched ? input.detach().unsqueeze(c.BatchFirst ? 0 : 1) : input.detach();
        if (c.BatchFirst)
        {
            x = x.transpose(0, 1); // [T, B, I]
        }

        TTensor h0b = unbatched ? h0.detach().unsqueeze(1) : h0.detach();
        TTensor? c0b = c0 is null ? null : unbatched ? c0.detach().unsqueeze(1) : c0.detach();
        int d2 = c.Bidirectional ? 2 : 1;
        long steps = x.shape[0];
        var hs = new List<TTensor>();
        var cs = new List<TTensor>();
        for (int layer = 0; layer < c.NumLayers; layer++)
        {
            var outputs = new List<TTensor>();
            for (int d = 0; d < d2; d++)
            {
                string suffix = $"_l{layer}{(d == 1 ? "_reverse" : string.Empty)}";
                TTensor wih = w["weight_ih" + suffix], whh = w["weight_hh" + suffix];
                TTensor? bih = c.Bias ? w["bias_ih" + suffix] : null, bhh = c.Bias ? w["bias_hh" + suffix] : null;
                TTensor h = h0b[(layer * d2) + d];
                TTensor? cell = c0b?[(layer * d2) + d];
                var ys = new TTensor[steps];
                for (long s = 0; s < steps; s++)
                {
                    long t = d == 1 ? steps - 1 - s : s;
                    TTensor previousH = h;
                    TTensor? previousCell = cell;
                    TTensor gi = torch.matmul(x[t], wih.t());
                    TTensor gh = torch.matmul(h, whh.t());
                    if (bih is not null)
                    {
                        gi = gi + bih;
                        gh = gh + bhh!;
                    }

                    switch (c.Cell)
                    {
                        case Cell.Rnn:
                            h = c.Relu ? torch.nn.functional.relu(gi + gh) : torch.tanh(gi + gh);
                            break;
                        case Cell.Lstm:
                        {
                            TTensor[] g = (gi + gh).chunk(4, -1);
                            cell = (torch.sigmoid(g[1]) * cell!) + (torch.sigmoid(g[0]) * torch.tanh(g[2]));
                            h = torch.sigmoid(g[3]) * torch.tanh(cell);
                            break;
                        }

                        default:
                        {
                            TTensor[] a = gi.chunk(3, -1), b = gh.chunk(3, -1);
                            TTensor r = torch.sigmoid(a[0] + b[0]);
                            TTensor z = torch.sigmoid(a[1] + b[1]);
                            TTensor n = torch.tanh(a[2] + (r * b[2]));
                            h = ((1 - z) * n) + (z * h);
                            break;
                        }
                    }

                    if (c.Lengths is { } lengths)
                    {
                        // Only the sequences that have step t take it.
                        TTensor valid = torch.tensor(lengths.Select(l => l > t).ToArray()).unsqueeze(-1);
                        h = torch.where(valid, h, previousH);
                        if (cell is not null)
                        {
                            cell = torch.where(valid, cell, previousCell!);
                        }

                        ys[t] = torch.where(valid, h, torch.zeros_like(h));
                    }
                    else
                    {
                        ys[t] = h;
                    }
                }

                outputs.Add(torch.stack(ys, 0));
                hs.Add(h);
                if (cell is not null)
                {
                    cs.Add(cell);
                }
            }

            x = torch.cat(outputs.ToArray(), -1);
        }

        TTensor expectedOutput = c.BatchFirst ? x.transpose(0, 1) : x;
        if (unbatched)
        {
            expectedOutput = expectedOutput.squeeze(c.BatchFirst ? 0 : 1);
        }

        Compare(c, "output", output, expectedOutput);
        TTensor expectedH = torch.stack(hs.ToArray(), 0);
        Compare(c, "h_n", hN, unbatched ? expectedH.squeeze(1) : expectedH);
        if (cN is not null)
        {
            TTensor expectedC = torch.stack(cs.ToArray(), 0);
            Compare(c, "c_n", cN, unbatched ? expectedC.squeeze(1) : expectedC);
        }
    }

    private static void Compare(Config c, string what, TTensor actual, TTensor expected)
    {
        double diff = (actual.detach() - expected).abs().max().item<float>();
        if (!(diff <= Tolerance))
        {
            throw new InvalidOperationException(
                $"{c.Name}: libtorch's {c.Cell} module gives a {what} {diff:G3} away from PyTorch's equations computed in torch ops " +
                $"(tolerance {Tolerance:G1}); no fixture is written from a wrong libtorch. On Zen 5 cores, libtorch 2.10's oneDNN " +
                "RNN path is known to do this for small LSTMs; ONEDNN_MAX_CPU_ISA=AVX2 avoids it.");
        }
    }
}
