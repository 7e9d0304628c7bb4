using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Deepbox;
using TorchSharp;
using DTensor = Deepbox.Tensor;
using TModule = TorchSharp.torch.nn.Module;

namespace TorchFixtures;

/// <summary>
/// <c>torch.manual_seed(seed)</c> followed by constructing modules in order, as a Deepbox model of the same layers
/// draws its weights: the full weights of each case, under <c>{case}/{Deepbox parameter name}</c>.
/// </summary>
internal static class SeededInit
{
    public const string FileName = "torch_init_seeded.safetensors";

    /// <summary>The cases: name, seed, the paired Deepbox model, and the modules as (name prefix, constructor) in order.</summary>
    private static readonly (string Case, long Seed, string Deepbox, (string Prefix, Func<TModule> Build)[] Modules)[] Cases =
    [
        ("seed42_lstm_4_8", 42, "new SeedLstm(42)", [(string.Empty, () => Torch.Recurrent(Cell.Lstm, 4, 8))]),
        ("seed42_rnn_4_8", 42, "new SeedRnn(42)", [(string.Empty, () => Torch.Recurrent(Cell.Rnn, 4, 8))]),
        ("seed2147483647_gru_4_8", int.MaxValue, "new SeedGru(int.MaxValue)", [(string.Empty, () => Torch.Recurrent(Cell.Gru, 4, 8))]),
        ("seed7_forecaster", 7, "new Forecaster(7)",
            [("lstm.", () => Torch.Recurrent(Cell.Lstm, 1, 32, layers: 2)), ("fc.", () => torch.nn.Linear(32, 1))]),
        ("seed3_bigru_tanh_head", 3, "new BiGruTanhHead(3)",
            [("0.", () => Torch.Recurrent(Cell.Gru, 5, 9, bidirectional: true)), ("1.", () => torch.nn.Linear(18, 4))]),
        ("seed0_relu_rnn_l2_nobias", 0, "new FxInitReluRnn(0)",
            [(string.Empty, () => Torch.Recurrent(Cell.Rnn, 3, 5, layers: 2, bias: false, relu: true))]),
        ("seed11_lstm_gru_stack", 11, "new LstmGruStack(11)",
            [
                ("encoder.", () => Torch.Recurrent(Cell.Lstm, 4, 9, bidirectional: true, batchFirst: false)),
                ("1.", () => Torch.Recurrent(Cell.Gru, 18, 5, layers: 2, batchFirst: false)),
                ("head.", () => torch.nn.Linear(5, 3)),
            ]),
        ("seed5_linear_rnn_sigmoid_head", 5, "new LinearRnnSigmoidHead(5)",
            [("0.", () => torch.nn.Linear(6, 10)), ("1.", () => Torch.Recurrent(Cell.Rnn, 10, 3)), ("3.", () => torch.nn.Linear(3, 2, hasBias: false))]),
        // nn.Embedding: N(0, 1) through normal_ (avx_mathfun's Box-Muller for 16 values or more, the double path below
        // 16), the padding row zeroed.
        ("seed3_token_lstm", 3, "new TokenLstm(3)",
            [
                ("embedding.", () => torch.nn.Embedding(11, 6, padding_idx: 0)),
                ("lstm.", () => Torch.Recurrent(Cell.Lstm, 6, 9, layers: 2)),
                ("head.", () => torch.nn.Linear(9, 11)),
            ]),
        ("seed8_tiny_embedding", 8, "new TinyEmbeddingRnn(8)",
            [("0.", () => torch.nn.Embedding(3, 5)), ("1.", () => Torch.Recurrent(Cell.Rnn, 5, 2))]),
        ("seed1_bi_rnn_mlp_head", 1, "new BiRnnMlpHead(1)",
            [
                ("0.", () => Torch.Recurrent(Cell.Rnn, 2, 9, layers: 2, bidirectional: true, relu: true)),
                ("2.", () => torch.nn.Linear(18, 7)),
                ("3.", () => torch.nn.Linear(7, 3)),
            ]),
    ];

    public static string Write(string directory, IReadOnlyDictionary<string, string> versions)
    {
        var file = new OrderedDictionary<string, DTensor>(StringComparer.Ordinal);
        var metadata = new OrderedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["fixture"] = "seeded initialization: torch.manual_seed(seed), then the modules constructed in order; keys are {case}/{parameter name}",
        };
        foreach ((string name, long seed, string deepbox, (string Prefix, Func<TModule> Build)[] modules) in Cases)
        {
            torch.manual_seed(seed);
            var built = new List<(string Prefix, TModule Module)>();
            foreach ((string prefix, Func<TModule> build) in modules)
            {
                built.Add((prefix, build()));
            }

            int count = 0;
            foreach ((string prefix, TModule module) in built)
            {
                foreach ((string pname, TorchSharp.Modules.Parameter p) in Torch.Named(module, prefix))
                {
                    file.Add($"{name}/{pname}", Torch.ToDeepbox(p));
                    count += (int)p.numel();
                }

                module.Dispose();
            }

            metadata[name] = $"torch.manual_seed({seed}); {string.Join(", ", modules.Select(m => m.Prefix.Length == 0 ? "(bare names)" : m.Prefix))} -> {deepbox}";
            Console.WriteLine($"  {name,-32} {count,6} values  {deepbox}");
        }

        foreach (KeyValuePair<string, string> v in versions)
        {
            metadata[v.Key] = v.Value;
        }

        string path = Path.Combine(directory, FileName);
        Safetensors.Save(path, file, metadata);
        Console.WriteLine($"  {FileName,-52} {new FileInfo(path).Length,8:N0} B");
        return path;
    }
}
