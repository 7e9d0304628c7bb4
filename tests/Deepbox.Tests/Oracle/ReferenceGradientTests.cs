using System;
using System.Collections.Generic;
using System.Linq;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests.OracleSelfTests;

/// <summary>Checks ReferenceModel.Backward against central finite differences of the double forward pass
/// (ReferenceModel.RunDouble), element by element, plus a few closed forms and structural properties.</summary>
public class ReferenceGradientTests
{
    private const double Step = 1e-6;
    private const double RelTol = 1e-6;
    private const double AbsTol = 1e-8;

    private static int Product(int[] shape) => shape.Aggregate(1, (a, b) => a * b);

    private static double[] Rand(Random rng, int n) => Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();

    private static double Dot(double[] a, double[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static RefRecurrent Rec(RefCell cell, int i, int h, int l = 1, bool bias = true, bool bi = false, bool relu = false, string? name = null) =>
        new(cell, i, h, l, bias, bi, relu, name);

    /// <summary>Random double weights, input, h0/c0 (if giveStates), gradOutput and gradH/gradC (if giveStateGrads);
    /// then every parameter element, every input element, and h0/c0 (zeros when not given) by central differences of
    /// L = gradOutput·output + gradH·H + gradC·C.</summary>
    private static void CheckAgainstFiniteDifferences(RefLayer[] layers, int[] inputShape, bool batchFirst, int seed,
        bool giveStates = true, bool giveStateGrads = true, int[]? lengths = null)
    {
        var rng = new Random(seed);
        Dictionary<string, double[]> weights = ReferenceModel.ParameterNames(layers)
            .ToDictionary(p => p.Name, p => Rand(rng, Product(p.Shape)), StringComparer.Ordinal);
        double[] x = Rand(rng, Product(inputShape));
        RefRecurrent? first = layers.OfType<RefRecurrent>().FirstOrDefault();
        bool lstm = first?.Cell == RefCell.Lstm;
        int batch = inputShape.Length == 3 ? (batchFirst ? inputShape[0] : inputShape[1]) : 1;
        int stateLength = first is null ? 0 : first.NumLayers * (first.Bidirectional ? 2 : 1) * batch * first.HiddenSize;
        double[]? h0 = first is not null && giveStates ? Rand(rng, stateLength) : null;
        double[]? c0 = lstm && giveStates ? Rand(rng, stateLength) : null;

        RefResult probe = ReferenceModel.RunDouble(layers, weights, x, inputShape, batchFirst, h0, c0, lengths);
        double[] gradOutput = Rand(rng, probe.Output.Length);
        double[]? gradH = probe.H is not null && giveStateGrads ? Rand(rng, probe.H.Length) : null;
        double[]? gradC = probe.C is not null && giveStateGrads ? Rand(rng, probe.C.Length) : null;
        RefGradients g = ReferenceModel.BackwardDouble(layers, weights, x, inputShape, batchFirst, gradOutput, h0, c0, gradH, gradC, lengths);

        // The loss as a function of arrays perturbed in place; not-given states are explicit zeros.
        double[]? h0v = first is null ? null : h0 ?? new double[stateLength];
        double[]? c0v = lstm ? c0 ?? new double[stateLength] : null;
        int checkedCount = 0, nonZero = 0;
        double Loss()
        {
            RefResult r = ReferenceModel.RunDouble(layers, weights, x, inputShape, batchFirst, h0v, c0v, lengths);
            return Dot(gradOutput, r.Output) + (gradH is null ? 0 : Dot(gradH, r.H!)) + (gradC is null ? 0 : Dot(gradC, r.C!));
        }
        void Check(string what, double[] values, double[] analytic)
        {
            Assert.Equal(values.Length, analytic.Length);
            for (int i = 0; i < values.Length; i++)
            {
                double v = values[i];
                values[i] = v + Step;
                double plus = Loss();
                values[i] = v - Step;
                double minus = Loss();
                values[i] = v;
                double fd = (plus - minus) / (2 * Step);
                Assert.True(Math.Abs(fd - analytic[i]) <= AbsTol + RelTol * Math.Abs(fd),
                    $"{what}[{i}]: finite difference {fd:R}, backward {analytic[i]:R}");
            }
            checkedCount += values.Length;
            nonZero += analytic.Count(a => Math.Abs(a) > 1e-6);
        }

        Assert.Equal(weights.Keys, g.Parameters.Keys);
        foreach ((string name, double[] w) in weights) Check(name, w, g.Parameters[name]);
        Check("input", x, g.Input);
        if (first is null) Assert.Null(g.H0);
        else Check("h0", h0v!, g.H0!);
        if (lstm) Check("c0", c0v!, g.C0!);
        else Assert.Null(g.C0);
        // Not vacuous: most gradients are clearly non-zero (exceptions: rows LastStep drops, dead relu units).
        Assert.True(5 * nonZero >= 2 * checkedCount, $"only {nonZero} of {checkedCount} gradients are non-zero");
    }

    // ---------- finite differences ----------

    public static TheoryData<RefCell, bool, int, bool, bool, bool> Grid()
    {
        var data = new TheoryData<RefCell, bool, int, bool, bool, bool>();
        (RefCell, bool)[] cells = [(RefCell.Rnn, false), (RefCell.Rnn, true), (RefCell.Lstm, false), (RefCell.Gru, false)];
        foreach ((RefCell cell, bool relu) in cells)
            foreach (int numLayers in new[] { 1, 2 })
                foreach (bool bi in new[] { false, true })
                    foreach (bool bias in new[] { true, false })
                        foreach (bool batchFirst in new[] { true, false })
                            data.Add(cell, relu, numLayers, bi, bias, batchFirst);
        return data;
    }

    [Theory]
    [MemberData(nameof(Grid))]
    public void Recurrent_MatchesFiniteDifferences(RefCell cell, bool relu, int numLayers, bool bi, bool bias, bool batchFirst)
    {
        const int B = 2, T = 3, I = 3, H = 2;
        int seed = (int)cell * 100 + (relu ? 50 : 0) + numLayers * 10 + (bi ? 4 : 0) + (bias ? 2 : 0) + (batchFirst ? 1 : 0);
        RefLayer[] layers = [Rec(cell, I, H, numLayers, bias, bi, relu)];
        // Alternate given/zero initial states and present/absent final-state gradients across the grid.
        CheckAgainstFiniteDifferences(layers, batchFirst ? [B, T, I] : [T, B, I], batchFirst, seed,
            giveStates: (bias ^ bi) || (relu && !bias), giveStateGrads: batchFirst ^ (numLayers == 2));
    }

    /// <summary>With lengths (PyTorch's packed semantics), gradOutput random everywhere, the padding included: the
    /// finite differences see that the output past each length is the constant 0, that the padded input steps are
    /// never read, that a reverse direction starts at each sequence's last step and LastStep takes that step.</summary>
    [Theory]
    [InlineData(RefCell.Rnn, false)]
    [InlineData(RefCell.Rnn, true)]
    [InlineData(RefCell.Lstm, false)]
    [InlineData(RefCell.Gru, false)]
    public void WithLengths_MatchesFiniteDifferences(RefCell cell, bool relu)
    {
        const int B = 3, T = 4, I = 3, H = 2;
        int[] lengths = [2, 4, 1];
        int seed = 300 + (int)cell * 10 + (relu ? 5 : 0);
        CheckAgainstFiniteDifferences([Rec(cell, I, H, 2, true, true, relu)], [B, T, I], batchFirst: true, seed, lengths: lengths);
        CheckAgainstFiniteDifferences([Rec(cell, I, H, 1, false, true, relu), new RefLinear(2 * H, 2, true, RefActivation.Tanh, null)],
            [T, B, I], batchFirst: false, seed + 1, giveStates: false, lengths: lengths);
        CheckAgainstFiniteDifferences([Rec(cell, I, H, 2, true, false, relu), new RefLastStep(), new RefLinear(H, 2, true, RefActivation.None, null)],
            [T, B, I], batchFirst: false, seed + 2, giveStateGrads: false, lengths: lengths);
    }

    [Theory]
    [InlineData(RefCell.Rnn, false)]
    [InlineData(RefCell.Rnn, true)]
    [InlineData(RefCell.Lstm, false)]
    [InlineData(RefCell.Gru, false)]
    public void Unbatched_MatchesFiniteDifferences(RefCell cell, bool relu)
    {
        const int T = 4, I = 2, H = 3;
        // Sequence output, then LastStep + Linear head.
        CheckAgainstFiniteDifferences([Rec(cell, I, H, 2, true, true, relu, "rnn")], [T, I], batchFirst: true, seed: 1 + (int)cell);
        CheckAgainstFiniteDifferences([Rec(cell, I, H, 1, false, true, relu), new RefLastStep(), new RefLinear(2 * H, 2, true, RefActivation.Tanh, null)],
            [T, I], batchFirst: false, seed: 11 + (int)cell, giveStates: false);
    }

    [Theory]
    [InlineData(RefActivation.None, RefCell.Lstm)]
    [InlineData(RefActivation.Tanh, RefCell.Gru)]
    [InlineData(RefActivation.Relu, RefCell.Lstm)]
    [InlineData(RefActivation.Sigmoid, RefCell.Gru)]
    [InlineData(RefActivation.None, RefCell.Rnn)]
    [InlineData(RefActivation.Tanh, RefCell.Lstm)]
    [InlineData(RefActivation.Relu, RefCell.Gru)]
    [InlineData(RefActivation.Sigmoid, RefCell.Rnn)]
    public void LinearHeadAfterLastStep_MatchesFiniteDifferences(RefActivation activation, RefCell cell)
    {
        const int B = 3, T = 4, I = 2, H = 4;
        RefLayer[] layers = [Rec(cell, I, H, name: "rnn"), new RefLastStep(), new RefLinear(H, 5, true, activation, "fc")];
        CheckAgainstFiniteDifferences(layers, [B, T, I], batchFirst: true, seed: 20 + (int)activation * 3 + (int)cell);
        RefLayer[] twoHeads = [Rec(cell, I, H, 1, false, true), new RefLastStep(), new RefLinear(2 * H, 3, false, activation, null), new RefLinear(3, 2, true, activation, null)];
        CheckAgainstFiniteDifferences(twoHeads, [T, B, I], batchFirst: false, seed: 40 + (int)activation * 3 + (int)cell);
    }

    [Theory]
    [InlineData(RefActivation.None)]
    [InlineData(RefActivation.Tanh)]
    [InlineData(RefActivation.Relu)]
    [InlineData(RefActivation.Sigmoid)]
    public void LinearBeforeRecurrent_MatchesFiniteDifferences(RefActivation activation)
    {
        const int B = 2, T = 3, I = 3;
        RefLayer[] gru = [new RefLinear(I, 4, true, activation, "proj"), Rec(RefCell.Gru, 4, 3, name: "gru"), new RefLinear(3, 2, true, RefActivation.None, "out")];
        CheckAgainstFiniteDifferences(gru, [T, B, I], batchFirst: false, seed: 60 + (int)activation);
        RefLayer[] lstm = [new RefLinear(I, 2, false, activation, null), Rec(RefCell.Lstm, 2, 2, 2, true, true), new RefLastStep()];
        CheckAgainstFiniteDifferences(lstm, [B, T, I], batchFirst: true, seed: 70 + (int)activation);
    }

    [Fact]
    public void MixedStack_StatesAreTheFirstRecurrentOnes_MatchesFiniteDifferences()
    {
        const int B = 2, T = 4, I = 2;
        RefLayer[] layers =
        [
            Rec(RefCell.Lstm, I, 2, 1, true, true, name: "enc"),
            Rec(RefCell.Gru, 4, 3, 2, false, false, name: "mid"),
            Rec(RefCell.Rnn, 3, 2, 1, true, true, relu: true, name: "top"),
            new RefLinear(4, 3, true, RefActivation.Sigmoid, null),
            new RefLastStep(),
            new RefLinear(3, 2, true, RefActivation.None, "head"),
        ];
        CheckAgainstFiniteDifferences(layers, [B, T, I], batchFirst: true, seed: 80);
        CheckAgainstFiniteDifferences(layers, [T, I], batchFirst: false, seed: 81, giveStates: false);
        // A GRU first: h0 but no c0 even though an LSTM follows.
        RefLayer[] gruFirst = [Rec(RefCell.Gru, I, 2, name: "a"), Rec(RefCell.Lstm, 2, 2, bi: true, name: "b")];
        CheckAgainstFiniteDifferences(gruFirst, [T, B, I], batchFirst: false, seed: 82);
    }

    [Fact]
    public void LinearOnly_MatchesFiniteDifferences_NoStateGradients()
    {
        CheckAgainstFiniteDifferences([new RefLinear(3, 2, true, RefActivation.Tanh, null)], [2, 3, 3], batchFirst: true, seed: 90);
        CheckAgainstFiniteDifferences([new RefLinear(3, 4, false, RefActivation.Sigmoid, null), new RefLastStep(), new RefLinear(4, 2, true, RefActivation.None, null)],
            [3, 2, 3], batchFirst: false, seed: 91);
    }

    // ---------- closed forms ----------

    [Fact]
    public void Rnn_OneStep_ClosedForm()
    {
        // h = tanh(wi x + wh h0 + bi + bh); L = go h + gh h.
        double wi = 0.5, wh = -0.3, bi = 0.1, bh = 0.2, x = 1.5, h0 = 0.4, go = 0.7, gh = -0.2;
        var w = new Dictionary<string, double[]> { ["weight_ih_l0"] = [wi], ["weight_hh_l0"] = [wh], ["bias_ih_l0"] = [bi], ["bias_hh_l0"] = [bh] };
        var g = ReferenceModel.BackwardDouble([Rec(RefCell.Rnn, 1, 1)], w, [x], [1, 1, 1], true, [go], [h0], gradH: [gh]);
        double h = Math.Tanh(wi * x + wh * h0 + bi + bh);
        double dPre = (go + gh) * (1 - h * h);
        Assert.Equal(dPre * x, g.Parameters["weight_ih_l0"][0], 14);
        Assert.Equal(dPre * h0, g.Parameters["weight_hh_l0"][0], 14);
        Assert.Equal(dPre, g.Parameters["bias_ih_l0"][0], 14);
        Assert.Equal(dPre, g.Parameters["bias_hh_l0"][0], 14);
        Assert.Equal(dPre * wi, g.Input[0], 14);
        Assert.Equal(dPre * wh, g.H0![0], 14);
        Assert.Null(g.C0);
    }

    [Fact]
    public void Lstm_OneStep_CellStateGradient_ClosedForm()
    {
        // c = f c0 + i g, h = o tanh(c); with gradC only: dL/dc0 = gc f; with gradOutput only: go o (1 - tanh²c) f.
        var w = new Dictionary<string, double[]>
        {
            ["weight_ih_l0"] = [0.5, -0.4, 0.3, 0.8], ["weight_hh_l0"] = [0.1, 0.2, -0.6, 0.7],
            ["bias_ih_l0"] = [0.01, 0.02, 0.03, 0.04], ["bias_hh_l0"] = [-0.05, 0.06, 0.07, -0.08],
        };
        double x = 1.0, h0 = 0.2, c0 = -0.5;
        static double S(double v) => 1 / (1 + Math.Exp(-v));
        double i = S(0.5 * x + 0.1 * h0 + 0.01 - 0.05), f = S(-0.4 * x + 0.2 * h0 + 0.02 + 0.06);
        double gg = Math.Tanh(0.3 * x - 0.6 * h0 + 0.03 + 0.07), o = S(0.8 * x + 0.7 * h0 + 0.04 - 0.08);
        double c = f * c0 + i * gg;
        RefRecurrent lstm = Rec(RefCell.Lstm, 1, 1);
        var onlyC = ReferenceModel.BackwardDouble([lstm], w, [x], [1, 1], true, [0.0], [h0], [c0], gradC: [1.5]);
        Assert.Equal(1.5 * f, onlyC.C0![0], 14);
        var onlyOut = ReferenceModel.BackwardDouble([lstm], w, [x], [1, 1], true, [1.0], [h0], [c0]);
        Assert.Equal(o * (1 - Math.Tanh(c) * Math.Tanh(c)) * f, onlyOut.C0![0], 14);
        // dL/d bias of the output gate (row 3): tanh(c) o (1 - o).
        Assert.Equal(Math.Tanh(c) * o * (1 - o), onlyOut.Parameters["bias_hh_l0"][3], 14);
    }

    [Fact]
    public void Gru_OneStep_ClosedForm()
    {
        // n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h.
        var w = new Dictionary<string, double[]>
        {
            ["weight_ih_l0"] = [0.5, -0.4, 0.9], ["weight_hh_l0"] = [0.3, 0.2, -0.7],
            ["bias_ih_l0"] = [0.1, -0.2, 0.3], ["bias_hh_l0"] = [0.05, 0.15, -0.25],
        };
        double x = 1.0, h0 = 0.4;
        static double S(double v) => 1 / (1 + Math.Exp(-v));
        double r = S(0.5 * x + 0.1 + 0.3 * h0 + 0.05), z = S(-0.4 * x - 0.2 + 0.2 * h0 + 0.15);
        double hn = -0.7 * h0 - 0.25, n = Math.Tanh(0.9 * x + 0.3 + r * hn);
        var g = ReferenceModel.BackwardDouble([Rec(RefCell.Gru, 1, 1)], w, [x], [1, 1], true, [1.0], [h0]);
        double dnPre = (1 - z) * (1 - n * n);
        Assert.Equal(dnPre, g.Parameters["bias_ih_l0"][2], 14);
        Assert.Equal(dnPre * r, g.Parameters["bias_hh_l0"][2], 14);       // b_hn sits inside r ⊙ (...)
        Assert.Equal(dnPre * r * h0, g.Parameters["weight_hh_l0"][2], 14);
        Assert.Equal((h0 - n) * z * (1 - z), g.Parameters["bias_ih_l0"][1], 14);
        Assert.Equal(dnPre * hn * r * (1 - r), g.Parameters["bias_hh_l0"][0], 14);
    }

    [Fact]
    public void Relu_DerivativeAtExactlyZero_IsZero()
    {
        // Linear relu with pre-activation exactly 0: no gradient flows (PyTorch's threshold_backward).
        var lin = new Dictionary<string, double[]> { ["weight"] = [2.0, -1.0], ["bias"] = [0.0] };
        var g = ReferenceModel.BackwardDouble([new RefLinear(2, 1, true, RefActivation.Relu, null)], lin, [1.0, 2.0], [1, 2], true, [1.0]);
        Assert.All(g.Parameters.Values.SelectMany(v => v).Concat(g.Input), v => Assert.Equal(0.0, v));
        // Relu RNN with pre-activation exactly 0 at the only step.
        var rnn = new Dictionary<string, double[]> { ["weight_ih_l0"] = [1.0], ["weight_hh_l0"] = [1.0], ["bias_ih_l0"] = [0.5], ["bias_hh_l0"] = [-1.0] };
        var gr = ReferenceModel.BackwardDouble([Rec(RefCell.Rnn, 1, 1, relu: true)], rnn, [0.25], [1, 1], true, [1.0], [0.25], gradH: [1.0]);
        Assert.All(gr.Parameters.Values.SelectMany(v => v).Concat(gr.Input).Concat(gr.H0!), v => Assert.Equal(0.0, v));
        // Just above zero the gradient flows.
        var ga = ReferenceModel.BackwardDouble([Rec(RefCell.Rnn, 1, 1, relu: true)], rnn, [0.5], [1, 1], true, [1.0], [0.25], gradH: [1.0]);
        Assert.Equal(2.0, ga.Input[0]);
    }

    // ---------- structural properties ----------

    private static readonly RefLayer[] Mixed =
    [
        new RefLinear(2, 3, true, RefActivation.Tanh, "in"),
        new RefRecurrent(RefCell.Lstm, 3, 2, 2, true, true, false, "lstm"),
        new RefRecurrent(RefCell.Gru, 4, 3, 1, false, false, false, "gru"),
        new RefLastStep(),
        new RefLinear(3, 2, true, RefActivation.Sigmoid, "fc"),
    ];

    private static Dictionary<string, float[]> RandomWeights(IReadOnlyList<RefLayer> layers, int seed)
    {
        var rng = new Random(seed);
        return ReferenceModel.ParameterNames(layers).ToDictionary(p => p.Name, p => RandF(rng, Product(p.Shape)));
    }

    private static float[] RandF(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    private static IEnumerable<double> All(RefGradients g) =>
        g.Parameters.Values.SelectMany(v => v).Concat(g.Input).Concat(g.H0 ?? []).Concat(g.C0 ?? []);

    [Fact]
    public void Backward_IsLinearInTheOutputAndStateGradients()
    {
        const int B = 3, T = 4;
        var rng = new Random(5);
        var w = RandomWeights(Mixed, 6);
        float[] x = RandF(rng, B * T * 2), h0 = RandF(rng, 4 * B * 2), c0 = RandF(rng, 4 * B * 2);
        float[] g1 = RandF(rng, B * 2), g2 = RandF(rng, B * 2), gh = RandF(rng, 4 * B * 2), gc = RandF(rng, 4 * B * 2);
        float[] Twice(float[] a) => a.Select(v => 2 * v).ToArray();

        RefGradients one = ReferenceModel.Backward(Mixed, w, x, [T, B, 2], false, g1, h0, c0, gh, gc);
        RefGradients two = ReferenceModel.Backward(Mixed, w, x, [T, B, 2], false, Twice(g1), h0, c0, Twice(gh), Twice(gc));
        // Scaling by 2 commutes exactly with every product and sum of the backward pass.
        Assert.Equal(All(one).Select(v => 2 * v), All(two));
        Assert.Contains(All(one), v => v != 0);

        RefGradients outOnly = ReferenceModel.Backward(Mixed, w, x, [T, B, 2], false, g1, h0, c0);
        RefGradients outOnly2 = ReferenceModel.Backward(Mixed, w, x, [T, B, 2], false, Twice(g1), h0, c0);
        Assert.Equal(All(outOnly).Select(v => 2 * v), All(outOnly2));

        // Additivity: seeds g1 and g2 separately sum to the seed g1 + g2 (in double, so that g1 + g2 is not rounded).
        static double[] D(float[] v) => v.Select(e => (double)e).ToArray();
        var wd = w.ToDictionary(kv => kv.Key, kv => D(kv.Value));
        RefGradients a = ReferenceModel.BackwardDouble(Mixed, wd, D(x), [T, B, 2], false, D(g1), D(h0), D(c0));
        RefGradients b = ReferenceModel.BackwardDouble(Mixed, wd, D(x), [T, B, 2], false, D(g2), D(h0), D(c0));
        RefGradients sum = ReferenceModel.BackwardDouble(Mixed, wd, D(x), [T, B, 2], false, D(g1).Zip(D(g2), (p, q) => p + q).ToArray(), D(h0), D(c0));
        double[] expected = All(a).Zip(All(b), (p, q) => p + q).ToArray(), actual = All(sum).ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * (1 + Math.Abs(expected[i])), $"element {i}");

        // Zero seed, zero gradients.
        RefGradients zero = ReferenceModel.Backward(Mixed, w, x, [T, B, 2], false, new float[B * 2], h0, c0);
        Assert.All(All(zero), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void FloatApi_EqualsDoubleApiOnTheSameValues_AndShapes()
    {
        const int B = 2, T = 3;
        var rng = new Random(7);
        var w = RandomWeights(Mixed, 8);
        float[] x = RandF(rng, B * T * 2), go = RandF(rng, B * 2), h0 = RandF(rng, 4 * B * 2), gc = RandF(rng, 4 * B * 2);
        RefGradients f = ReferenceModel.Backward(Mixed, w, x, [B, T, 2], true, go, h0: h0, gradC: gc);
        static double[] D(float[] a) => a.Select(v => (double)v).ToArray();
        RefGradients d = ReferenceModel.BackwardDouble(Mixed, w.ToDictionary(kv => kv.Key, kv => D(kv.Value)), D(x), [B, T, 2], true, D(go), h0: D(h0), gradC: D(gc));
        Assert.Equal(All(d), All(f));
        Assert.Equal(ReferenceModel.ParameterNames(Mixed).Select(p => p.Name), f.Parameters.Keys);
        foreach ((string name, int[] shape) in ReferenceModel.ParameterNames(Mixed)) Assert.Equal(Product(shape), f.Parameters[name].Length);
        Assert.Equal(x.Length, f.Input.Length);
        Assert.Equal(h0.Length, f.H0!.Length);
        Assert.Equal(h0.Length, f.C0!.Length); // c0 not given: zeros, gradient still returned
        // The forward inside Backward is Run's.
        Assert.Equal(ReferenceModel.Run(Mixed, w, x, [B, T, 2], true, h0).Output, ReferenceModel.RunDouble(Mixed, w.ToDictionary(kv => kv.Key, kv => D(kv.Value)), D(x), [B, T, 2], true, D(h0)).Output);
    }

    [Fact]
    public void Validation_Throws()
    {
        RefLayer[] lstm = [Rec(RefCell.Lstm, 2, 3)];
        var w = RandomWeights(lstm, 1);
        float[] x = new float[6];
        Assert.Throws<ArgumentException>(() => ReferenceModel.Backward(lstm, w, x, [1, 3, 2], true, new float[8]));            // gradOutput length
        Assert.Throws<ArgumentException>(() => ReferenceModel.Backward(lstm, w, x, [1, 3, 2], true, new float[9], gradH: new float[2]));
        Assert.Throws<ArgumentException>(() => ReferenceModel.Backward(lstm, w, x, [1, 3, 2], true, new float[9], gradC: new float[4]));
        Assert.Throws<ArgumentNullException>(() => ReferenceModel.Backward(lstm, w, x, [1, 3, 2], true, null!));
        RefLayer[] gru = [Rec(RefCell.Gru, 2, 3)];
        Assert.Throws<ArgumentException>(() => ReferenceModel.Backward(gru, RandomWeights(gru, 1), x, [3, 2], true, new float[9], gradC: new float[3]));
        RefLayer[] lin = [new RefLinear(2, 1, true, RefActivation.None, null)];
        Assert.Throws<ArgumentException>(() => ReferenceModel.Backward(lin, RandomWeights(lin, 1), x, [3, 2], true, new float[3], gradH: new float[1]));
        var missing = new Dictionary<string, float[]>(w);
        missing.Remove("bias_hh_l0");
        Assert.Throws<ArgumentException>(() => ReferenceModel.Backward(lstm, missing, x, [3, 2], true, new float[9]));
    }
}
