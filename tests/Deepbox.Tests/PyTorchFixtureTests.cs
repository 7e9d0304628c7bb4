using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using Deepbox.Tests.Fixtures;
using Deepbox.Tests.Models;
using RecurrentLayers;
using Xunit;
using Xunit.Abstractions;

namespace Deepbox.Tests;

/// <summary>
/// Deepbox against numbers libtorch computed (tests/Deepbox.Tests/Fixtures, written by tools/TorchFixtures): forward
/// passes, gradients of every parameter, the input and h0/c0, seeded initialization bit for bit, and the file Deepbox
/// saved that libtorch loaded. Nothing here needs libtorch.
/// </summary>
public sealed class PyTorchFixtureTests(ITestOutputHelper log) : IDisposable
{
    private const double ForwardTolerance = 1e-5;

    /// <summary>Names in a fixture file that are data, not weights (gradients are <c>grad.*</c>).</summary>
    private static readonly HashSet<string> DataNames = new(StringComparer.Ordinal)
    {
        "input", "output", "h0", "c0", "hN", "cN", "grad_output", "grad_h", "grad_c",
    };

    /// <summary>Each fixture's Deepbox model, declared in FixtureModels.cs to mirror the tool's torch configuration.</summary>
    private static readonly Dictionary<string, Func<IModel>> Models = new(StringComparer.Ordinal)
    {
        ["rnn_tanh_1x3"] = () => new FxRnnTanh1x3(),
        ["rnn_relu_7x9_nobias_seqfirst"] = () => new FxRnnRelu7x9NoBiasSeqFirst(),
        ["rnn_tanh_3x17_l2_bi"] = () => new FxRnnTanh3x17L2Bi(),
        ["rnn_relu_9x7_l3_zero_state"] = () => new FxRnnRelu9x7L3(),
        ["rnn_tanh_17x33_unbatched"] = () => new FxRnnTanh17x33(),
        ["lstm_3x1"] = () => new FxLstm3x1(),
        ["lstm_9x7_bi_seqfirst"] = () => new FxLstm9x7BiSeqFirst(),
        ["lstm_17x9_l3_nobias_zero_state"] = () => new FxLstm17x9L3NoBias(),
        ["lstm_1x33_l2_bi"] = () => new FxLstm1x33L2Bi(),
        ["lstm_7x17_unbatched_seqfirst"] = () => new FxLstm7x17SeqFirst(),
        ["lstm_33x3_l2_bi_nobias_seqfirst"] = () => new FxLstm33x3L2BiNoBiasSeqFirst(),
        ["gru_1x7"] = () => new FxGru1x7(),
        ["gru_9x3_bi_nobias"] = () => new FxGru9x3BiNoBias(),
        ["gru_3x33_l2_seqfirst"] = () => new FxGru3x33L2SeqFirst(),
        ["gru_17x9_l3_bi_zero_state"] = () => new FxGru17x9L3Bi(),
        ["gru_7x1_bi_unbatched"] = () => new FxGru7x1Bi(),
        ["lstm_forecaster"] = () => new FxForecaster(),
        ["gru_bi_linear_tanh"] = () => new FxBiGruTanhHead(),
        ["rnn_relu_l2_laststep_sigmoid_seqfirst"] = () => new FxReluRnnLastStepSigmoid(),
        ["lstm_bi_laststep_relu_unbatched"] = () => new FxBiLstmLastStepRelu(),

        // Sequences of different lengths, through libtorch's pack_padded_sequence path.
        ["rnn_relu_7x9_nobias_seqfirst_lengths"] = () => new FxRnnRelu7x9NoBiasSeqFirst(),
        ["rnn_tanh_3x17_l2_bi_lengths"] = () => new FxRnnTanh3x17L2Bi(),
        ["lstm_9x7_bi_seqfirst_lengths"] = () => new FxLstm9x7BiSeqFirst(),
        ["lstm_17x9_l3_nobias_lengths"] = () => new FxLstm17x9L3NoBias(),
        ["gru_17x9_l3_bi_lengths"] = () => new FxGru17x9L3Bi(),
        ["gru_1x7_lengths"] = () => new FxGru1x7(),
        ["lstm_forecaster_lengths"] = () => new FxForecaster(),
        ["gru_bi_linear_tanh_lengths"] = () => new FxBiGruTanhHead(),
        ["rnn_relu_l2_laststep_sigmoid_seqfirst_lengths"] = () => new FxReluRnnLastStepSigmoid(),
    };

    /// <summary>Each seeded case of torch_init_seeded.safetensors: <c>torch.manual_seed(seed)</c> and the same modules.</summary>
    private static readonly Dictionary<string, Func<IModel>> SeededModels = new(StringComparer.Ordinal)
    {
        ["seed42_lstm_4_8"] = () => new SeedLstm(42),
        ["seed42_rnn_4_8"] = () => new SeedRnn(42),
        ["seed2147483647_gru_4_8"] = () => new SeedGru(int.MaxValue),
        ["seed7_forecaster"] = () => new Forecaster(7),
        ["seed3_bigru_tanh_head"] = () => new BiGruTanhHead(3),
        ["seed0_relu_rnn_l2_nobias"] = () => new FxInitReluRnn(0),
        ["seed11_lstm_gru_stack"] = () => new LstmGruStack(11),
        ["seed5_linear_rnn_sigmoid_head"] = () => new LinearRnnSigmoidHead(5),
        ["seed1_bi_rnn_mlp_head"] = () => new BiRnnMlpHead(1),
        ["seed3_token_lstm"] = () => new TokenLstm(3),
        ["seed8_tiny_embedding"] = () => new TinyEmbeddingRnn(8),
    };

    private readonly string _temp = Directory.CreateTempSubdirectory("deepbox-fixtures").FullName;

    public static TheoryData<string> Names => new(Models.Keys.Order(StringComparer.Ordinal));

    public static TheoryData<string> SeededCases => new(SeededModels.Keys.Order(StringComparer.Ordinal));

    private static string FixtureDirectory => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void EveryFixtureHasAModel()
    {
        string[] files = Directory.GetFiles(FixtureDirectory, "torch_*.safetensors")
            .Select(f => Path.GetFileNameWithoutExtension(f)["torch_".Length..])
            .Where(n => n != "init_seeded")
            .Order(StringComparer.Ordinal)
            .ToArray();
        Assert.Equal(Models.Keys.Order(StringComparer.Ordinal), files);
        Assert.Equal(
            SeededModels.Keys.Order(StringComparer.Ordinal),
            LoadFixture("torch_init_seeded").Tensors.Keys.Select(k => k[..k.IndexOf('/', StringComparison.Ordinal)]).Distinct().Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Strict <c>LoadStateDict</c> of libtorch's weights (names, order and shapes are PyTorch's), then ForwardWithState
    /// and BackwardWithState in training mode against libtorch's outputs, final states and gradients.
    /// </summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void ForwardAndBackwardMatchPyTorch(string name)
    {
        SafetensorsFile f = LoadFixture("torch_" + name);
        IReadOnlyDictionary<string, Tensor> t = f.Tensors;
        IModel model = Models[name]();
        Assert.Equal(f.Metadata["deepbox_model"], model.GetType().Name);

        var weights = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string key, Tensor value) in t)
        {
            if (!DataNames.Contains(key) && !key.StartsWith("grad.", StringComparison.Ordinal))
            {
                weights.Add(key, value);
            }
        }

        Assert.Equal(weights.Keys, model.NamedParameters().Select(p => p.Name));
        model.LoadStateDict(weights, strict: true);
        model.Train();
        model.ZeroGrad();

        bool lstm = t.ContainsKey("c0");
        bool zeroStates = f.Metadata["initial_state"].StartsWith("zeros", StringComparison.Ordinal);
        Type type = model.GetType();
        // With lengths, libtorch ran pack_padded_sequence(enforce_sorted=False), the module, pad_packed_sequence.
        int[]? lengths = f.Metadata.TryGetValue("lengths", out string? l) && l != "none" ? l.Split(',').Select(v => int.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray() : null;
        MethodInfo forward = TestSupport.ForwardWithState(type, lengths: lengths is not null) ?? throw new InvalidOperationException($"{type.Name} has no ForwardWithState");
        MethodInfo backward = type.GetMethod("BackwardWithState") ?? throw new InvalidOperationException($"{type.Name} has no BackwardWithState");

        // Zero initial states go in as null (Deepbox's zeros); their gradients come back all the same.
        Tensor? h0 = zeroStates ? null : t["h0"];
        Tensor? c0 = zeroStates ? null : t.GetValueOrDefault("c0");
        object fr = lengths is null
            ? forward.Invoke(model, lstm ? [t["input"], h0, c0] : [t["input"], h0])!
            : forward.Invoke(model, lstm ? [t["input"], lengths, h0, c0] : [t["input"], lengths, h0])!;
        (Tensor output, Tensor hN, Tensor? cN) = ForwardGridTests.Unpack(fr, lstm);
        var errors = new Errors();
        errors.Forward(t["output"], output, "output");
        errors.Forward(t["hN"], hN, "hN");
        if (lstm)
        {
            errors.Forward(t["cN"], cN!, "cN");
        }

        object br = backward.Invoke(model, lstm ? [t["grad_output"], t["grad_h"], t["grad_c"]] : [t["grad_output"], t["grad_h"]])!;
        (Tensor gradInput, Tensor gradH0, Tensor? gradC0) = ForwardGridTests.Unpack(br, lstm);
        errors.Gradient(t["grad.input"], gradInput, "grad.input");
        errors.Gradient(t["grad.h0"], gradH0, "grad.h0");
        if (lstm)
        {
            errors.Gradient(t["grad.c0"], gradC0!, "grad.c0");
        }

        foreach ((string pname, Parameter p) in model.NamedParameters())
        {
            errors.Gradient(t["grad." + pname], p.Grad, "grad." + pname);
        }

        log.WriteLine($"{name}: forward max |error| {errors.ForwardAbs:E2} (relative {errors.ForwardRel:E2}); gradients max |error| {errors.GradAbs:E2}, max error / (1e-5 + 1e-4 |x|) {errors.GradExcess:F3}");
    }

    /// <summary><c>new Model(seed)</c> gives libtorch's weights for <c>torch.manual_seed(seed)</c> and the same modules, bit for bit.</summary>
    [Theory]
    [MemberData(nameof(SeededCases))]
    public void SeededInitializationIsPyTorchsBitForBit(string name)
    {
        IModel model = SeededModels[name]();
        string prefix = name + "/";
        List<KeyValuePair<string, Tensor>> expected = LoadFixture("torch_init_seeded").Tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.Equal(expected.Select(kv => kv.Key[prefix.Length..]), model.NamedParameters().Select(p => p.Name));
        int values = 0;
        foreach (((string key, Tensor want), (string pname, Parameter p)) in expected.Zip(model.NamedParameters()))
        {
            Assert.Equal(want.Shape, p.Shape);
            int[] wantBits = want.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();
            int[] gotBits = p.Value.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();
            for (int i = 0; i < wantBits.Length; i++)
            {
                Assert.True(wantBits[i] == gotBits[i], $"{key}[{i}]: libtorch 0x{wantBits[i]:X8}, Deepbox 0x{gotBits[i]:X8}");
            }

            values += wantBits.Length;
        }

        log.WriteLine($"{name}: {values} values bit for bit");
    }

    /// <summary>
    /// The file libtorch loaded with <c>load_state_dict(strict=True)</c> (tools/TorchFixtures checks that its output is
    /// Deepbox's) is what <c>Save</c> writes for this model and seed, and the recorded output is the model's.
    /// </summary>
    [Fact]
    public void TheFileLibtorchLoadedIsWhatDeepboxSaves()
    {
        var model = new RoundTripStack(2024);
        string path = Path.Combine(_temp, "saved.safetensors");
        model.Save(path);
        Assert.Equal(File.ReadAllBytes(Path.Combine(FixtureDirectory, "deepbox_saved_roundtrip.safetensors")), File.ReadAllBytes(path));

        SafetensorsFile record = LoadFixture("deepbox_saved_roundtrip.io");
        model.Eval();
        Tensor output = model.Forward(record.Tensors["input"]);
        Assert.Equal(record.Tensors["output"].Shape, output.Shape);
        TestSupport.AssertClose(ToDouble(record.Tensors["output"]), output.AsSpan(), ForwardTolerance, "RoundTripStack output");
    }

    private static SafetensorsFile LoadFixture(string name) => Safetensors.Load(Path.Combine(FixtureDirectory, name + ".safetensors"));

    private static double[] ToDouble(Tensor t) => t.ToArray().Select(v => (double)v).ToArray();

    /// <summary>Checks values against libtorch's and keeps the worst errors for the log.</summary>
    private sealed class Errors
    {
        public double ForwardAbs { get; private set; }

        public double ForwardRel { get; private set; }

        public double GradAbs { get; private set; }

        public double GradExcess { get; private set; }

        /// <summary>|expected - actual| &lt;= 1e-5 max(1, |expected|).</summary>
        public void Forward(Tensor expected, Tensor actual, string what)
        {
            Assert.Equal(expected.Shape, actual.Shape);
            double[] e = ToDouble(expected);
            TestSupport.AssertClose(e, actual.AsSpan(), ForwardTolerance, what);
            float[] a = actual.ToArray();
            for (int i = 0; i < e.Length; i++)
            {
                double err = Math.Abs(e[i] - a[i]);
                ForwardAbs = Math.Max(ForwardAbs, err);
                ForwardRel = Math.Max(ForwardRel, err / Math.Max(1.0, Math.Abs(e[i])));
            }
        }

        /// <summary>|expected - actual| &lt;= 1e-5 + 1e-4 |expected|.</summary>
        public void Gradient(Tensor expected, Tensor actual, string what)
        {
            Assert.Equal(expected.Shape, actual.Shape);
            double[] e = ToDouble(expected);
            BackwardGridTests.AssertGradClose(e, actual.AsSpan(), what);
            float[] a = actual.ToArray();
            for (int i = 0; i < e.Length; i++)
            {
                double err = Math.Abs(e[i] - a[i]);
                GradAbs = Math.Max(GradAbs, err);
                GradExcess = Math.Max(GradExcess, err / (1e-5 + (1e-4 * Math.Abs(e[i]))));
            }
        }
    }
}
