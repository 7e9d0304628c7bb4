using System;
using System.Collections.Generic;
using System.Linq;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests.OracleSelfTests;

public class ReferenceModelTests
{
    private const double Tol = 1e-12;

    private static void Close(double expected, double actual, double tol = Tol) =>
        Assert.True(Math.Abs(expected - actual) <= tol, $"expected {expected:R}, got {actual:R}");

    private static void AllClose(double[] expected, double[] actual, double tol = Tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Close(expected[i], actual[i], tol);
    }

    private static RefRecurrent Rec(RefCell cell, int i, int h, int l = 1, bool bias = true, bool bi = false, bool relu = false, string? name = null) =>
        new(cell, i, h, l, bias, bi, relu, name);

    private static Dictionary<string, float[]> RandomWeights(IReadOnlyList<RefLayer> layers, int seed)
    {
        var rng = new Random(seed);
        return ReferenceModel.ParameterNames(layers).ToDictionary(
            p => p.Name, p => Enumerable.Range(0, p.Shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
    }

    private static float[] RandomFloats(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    // ---------- parameter names ----------

    [Fact]
    public void Names_SequentialExampleFromSpec()
    {
        RefLayer[] layers = [Rec(RefCell.Lstm, 3, 5, name: "lstm"), new RefLastStep(), new RefLinear(5, 2, true, RefActivation.None, null)];
        var names = ReferenceModel.ParameterNames(layers);
        Assert.Equal(["lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0", "2.weight", "2.bias"], names.Select(n => n.Name));
        Assert.Equal([20, 3], names[0].Shape);
        Assert.Equal([20, 5], names[1].Shape);
        Assert.Equal([20], names[2].Shape);
        Assert.Equal([2, 5], names[4].Shape);
        Assert.Equal([2], names[5].Shape);
    }

    [Fact]
    public void Names_SingleLayer_NoPrefixUnlessNamed()
    {
        var unnamed = ReferenceModel.ParameterNames([Rec(RefCell.Gru, 2, 3, l: 2, bias: false, bi: true)]);
        Assert.Equal(["weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse",
                      "weight_ih_l1", "weight_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse"], unnamed.Select(n => n.Name));
        Assert.Equal([9, 2], unnamed[0].Shape);
        Assert.Equal([9, 6], unnamed[4].Shape); // layer 1 input = D*H
        var named = ReferenceModel.ParameterNames([Rec(RefCell.Rnn, 2, 3, name: "rnn")]);
        Assert.Equal(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"], named.Select(n => n.Name));
        Assert.Equal(["weight"], ReferenceModel.ParameterNames([new RefLinear(2, 3, false, RefActivation.Relu, null)]).Select(n => n.Name));
    }

    [Fact]
    public void Names_BiasOrderPerDirection()
    {
        var names = ReferenceModel.ParameterNames([Rec(RefCell.Rnn, 1, 1, bi: true), new RefLinear(2, 1, true, RefActivation.None, "head")]);
        Assert.Equal(["0.weight_ih_l0", "0.weight_hh_l0", "0.bias_ih_l0", "0.bias_hh_l0",
                      "0.weight_ih_l0_reverse", "0.weight_hh_l0_reverse", "0.bias_ih_l0_reverse", "0.bias_hh_l0_reverse",
                      "head.weight", "head.bias"], names.Select(n => n.Name));
    }

    // ---------- hand-computed cells (literals from an independent Python 'math' computation, float32-rounded weights) ----------

    [Fact]
    public void Rnn_Tanh_TwoSteps()
    {
        var w = new Dictionary<string, float[]> { ["weight_ih_l0"] = [0.5f], ["weight_hh_l0"] = [-0.3f], ["bias_ih_l0"] = [0.1f], ["bias_hh_l0"] = [0.2f] };
        var r = ReferenceModel.Run([Rec(RefCell.Rnn, 1, 1)], w, [1f, 2f], [1, 2, 1], batchFirst: true);
        Assert.Equal([1, 2, 1], r.OutputShape);
        AllClose([0.6640367727670203, 0.8007822399983753], r.Output);
        AllClose([0.8007822399983753], r.H!);
        Assert.Null(r.C);
    }

    [Fact]
    public void Rnn_Relu_TwoSteps()
    {
        var w = new Dictionary<string, float[]> { ["weight_ih_l0"] = [0.5f], ["weight_hh_l0"] = [2f], ["bias_ih_l0"] = [-0.1f], ["bias_hh_l0"] = [0f] };
        var r = ReferenceModel.Run([Rec(RefCell.Rnn, 1, 1, relu: true)], w, [1f, -3f], [2, 1], batchFirst: false);
        Assert.Equal([2, 1], r.OutputShape);
        AllClose([0.3999999985098839, 0.0], r.Output);
        Assert.Equal([1], new[] { r.H!.Length });
    }

    [Fact]
    public void Lstm_TwoSteps_WithInitialState()
    {
        var w = new Dictionary<string, float[]>
        {
            ["weight_ih_l0"] = [0.5f, -0.4f, 0.3f, 0.8f], ["weight_hh_l0"] = [0.1f, 0.2f, -0.6f, 0.7f],
            ["bias_ih_l0"] = [0.01f, 0.02f, 0.03f, 0.04f], ["bias_hh_l0"] = [-0.05f, 0.06f, 0.07f, -0.08f],
        };
        var r = ReferenceModel.Run([Rec(RefCell.Lstm, 1, 1)], w, [1f, -2f], [2, 1], batchFirst: true, h0: [0.2f], c0: [-0.5f]);
        AllClose([-0.03313491148239121, -0.023594400954955602], r.Output);
        AllClose([-0.023594400954955602], r.H!);
        AllClose([-0.14917858137636178], r.C!);
    }

    [Fact]
    public void Gru_TwoSteps_ResetAppliedAfterHiddenMatmul()
    {
        var w = new Dictionary<string, float[]>
        {
            ["weight_ih_l0"] = [0.5f, -0.4f, 0.9f], ["weight_hh_l0"] = [0.3f, 0.2f, -0.7f],
            ["bias_ih_l0"] = [0.1f, -0.2f, 0.3f], ["bias_hh_l0"] = [0.05f, 0.15f, -0.25f],
        };
        var r = ReferenceModel.Run([Rec(RefCell.Gru, 1, 1)], w, [1f, -2f], [2, 1], batchFirst: true, h0: [0.4f]);
        AllClose([0.5683333250052045, 0.12170954398790751], r.Output);
        AllClose([0.12170954398790751], r.H!);
        Assert.Null(r.C);
        // The other GRU variant (r applied before W_hn) gives 0.5421..., 0.0966...: make sure we are not it.
        Assert.True(Math.Abs(r.Output[0] - 0.5421038980420088) > 1e-3);
    }

    [Fact]
    public void Bidirectional_NoBias_ThenLastStepLinearSigmoid()
    {
        var w = new Dictionary<string, float[]>
        {
            ["0.weight_ih_l0"] = [1f], ["0.weight_hh_l0"] = [0.5f],
            ["0.weight_ih_l0_reverse"] = [-1f], ["0.weight_hh_l0_reverse"] = [0.25f],
        };
        RefLayer[] rec = [Rec(RefCell.Rnn, 1, 1, bias: false, bi: true)];
        var seq = ReferenceModel.Run(rec, w.ToDictionary(kv => kv.Key[2..], kv => kv.Value), [0.3f, 0.7f], [1, 2, 1], batchFirst: true);
        Assert.Equal([1, 2, 2], seq.OutputShape);
        // t0: [fwd, rev], t1: [fwd, rev]; the reverse output at t is written at t.
        AllClose([0.29131262336087355, -0.422796179354345, 0.6887934029953275, -0.604367769550478], seq.Output);
        // Final states: forward after t=T-1, reverse after t=0.
        AllClose([0.6887934029953275, -0.422796179354345], seq.H!);

        w["2.weight"] = [2f, -1f];
        w["2.bias"] = [0.5f];
        RefLayer[] model = [rec[0], new RefLastStep(), new RefLinear(2, 1, true, RefActivation.Sigmoid, null)];
        var r = ReferenceModel.Run(model, w, [0.3f, 0.7f], [1, 2, 1], batchFirst: true);
        Assert.Equal([1, 1], r.OutputShape);
        AllClose([0.9228670463634555], r.Output);
        AllClose(seq.H!, r.H!);
    }

    [Fact]
    public void Linear_Activations_ByHand()
    {
        var w = new Dictionary<string, float[]> { ["weight"] = [1f, 2f, -1f, 0.5f], ["bias"] = [0.25f, -4f] };
        double[] pre = [1 * 1.0 + 2 * -2.0 + 0.25, -1 * 1.0 + 0.5 * -2.0 - 4];
        foreach (RefActivation a in Enum.GetValues<RefActivation>())
        {
            var r = ReferenceModel.Run([new RefLinear(2, 2, true, a, null)], w, [1f, -2f], [1, 2], batchFirst: true);
            Assert.Equal([1, 2], r.OutputShape);
            Assert.Null(r.H);
            double[] expected = a switch
            {
                RefActivation.None => pre,
                RefActivation.Tanh => pre.Select(Math.Tanh).ToArray(),
                RefActivation.Relu => [0, 0],
                _ => pre.Select(v => 1 / (1 + Math.Exp(-v))).ToArray(),
            };
            AllClose(expected, r.Output);
        }
    }

    // ---------- structural properties ----------

    private static float[] Slice(float[] a, int start, int length) => a.Skip(start).Take(length).ToArray();

    [Theory]
    [InlineData(RefCell.Rnn, false, true)]
    [InlineData(RefCell.Rnn, true, false)]
    [InlineData(RefCell.Lstm, true, true)]
    [InlineData(RefCell.Lstm, false, false)]
    [InlineData(RefCell.Gru, true, true)]
    [InlineData(RefCell.Gru, false, false)]
    public void TwoLayerBidirectional_EqualsComposedSingleLayers(RefCell cell, bool relu, bool batchFirst)
    {
        relu &= cell == RefCell.Rnn;
        const int B = 2, T = 4, I = 3, H = 5, D = 2;
        RefRecurrent two = new(cell, I, H, 2, true, true, relu, "rnn");
        var w = RandomWeights([two], 7);
        float[] x = RandomFloats(B * T * I, 8);
        float[] h0 = RandomFloats(2 * D * B * H, 9);
        float[]? c0 = cell == RefCell.Lstm ? RandomFloats(2 * D * B * H, 10) : null;
        int[] shape = batchFirst ? [B, T, I] : [T, B, I];
        var full = ReferenceModel.Run([two], w, x, shape, batchFirst, h0, c0);

        // Layer 0 alone, then layer 1 alone on layer 0's output, with the weights renamed to _l0.
        RefRecurrent l0 = new(cell, I, H, 1, true, true, relu, null);
        RefRecurrent l1 = new(cell, D * H, H, 1, true, true, relu, null);
        Dictionary<string, float[]> Take(string layer) => w.Where(kv => kv.Key.Contains("_l" + layer, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key.Replace("rnn.", "", StringComparison.Ordinal).Replace("_l" + layer, "_l0", StringComparison.Ordinal), kv => kv.Value);
        int half = D * B * H;
        var r0 = ReferenceModel.Run([l0], Take("0"), x, shape, batchFirst, Slice(h0, 0, half), c0 is null ? null : Slice(c0, 0, half));
        var r1 = ReferenceModel.Run([l1], Take("1"), r0.Output.Select(v => (float)v).ToArray(), r0.OutputShape, batchFirst,
            Slice(h0, half, half), c0 is null ? null : Slice(c0, half, half));
        // r0's output is fed as float, so allow float rounding of the intermediate.
        AllClose(r1.Output, full.Output, 1e-5);
        AllClose(r0.H!.Concat(r1.H!).ToArray(), full.H!, 1e-5);
        if (c0 is not null) AllClose(r0.C!.Concat(r1.C!).ToArray(), full.C!, 1e-5);
        Assert.Equal(batchFirst ? new[] { B, T, D * H } : new[] { T, B, D * H }, full.OutputShape);
        Assert.Equal(2 * D * B * H, full.H!.Length);
    }

    [Fact]
    public void ReverseDirection_EqualsForwardOnReversedSequence()
    {
        const int T = 5, I = 2, H = 3;
        RefRecurrent bi = new(RefCell.Lstm, I, H, 1, true, true, false, null);
        var w = RandomWeights([bi], 1);
        float[] x = RandomFloats(T * I, 2);
        var full = ReferenceModel.Run([bi], w, x, [T, I], true);
        var rev = w.Where(kv => kv.Key.EndsWith("_reverse", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[..^8], kv => kv.Value);
        float[] xr = Enumerable.Range(0, T).Reverse().SelectMany(t => x.Skip(t * I).Take(I)).ToArray();
        var one = ReferenceModel.Run([bi with { Bidirectional = false }], rev, xr, [T, I], true);
        for (int t = 0; t < T; t++)
            for (int j = 0; j < H; j++) Close(one.Output[(T - 1 - t) * H + j], full.Output[t * 2 * H + H + j]);
        AllClose(one.H!, full.H!.Skip(H).ToArray());
        AllClose(one.C!, full.C!.Skip(H).ToArray());
    }

    [Fact]
    public void BatchFirstAndTimeFirst_AreTransposes_AndBatchRowsIndependent()
    {
        const int B = 3, T = 4, I = 2, H = 3;
        RefLayer[] m = [new RefRecurrent(RefCell.Gru, I, H, 2, true, false, false, "gru"), new RefLinear(H, 2, true, RefActivation.Tanh, "fc")];
        var w = RandomWeights(m, 3);
        float[] xbf = RandomFloats(B * T * I, 4);
        float[] h0 = RandomFloats(2 * B * H, 5);
        float[] xtf = new float[xbf.Length];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int i = 0; i < I; i++) xtf[(t * B + b) * I + i] = xbf[(b * T + t) * I + i];
        var bf = ReferenceModel.Run(m, w, xbf, [B, T, I], true, h0);
        var tf = ReferenceModel.Run(m, w, xtf, [T, B, I], false, h0);
        Assert.Equal([B, T, 2], bf.OutputShape);
        Assert.Equal([T, B, 2], tf.OutputShape);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int f = 0; f < 2; f++) Assert.Equal(bf.Output[(b * T + t) * 2 + f], tf.Output[(t * B + b) * 2 + f]);
        Assert.Equal(bf.H!, tf.H!);

        // Each batch row alone (unbatched) gives the same numbers.
        for (int b = 0; b < B; b++)
        {
            float[] hb = Enumerable.Range(0, 2).SelectMany(s => h0.Skip((s * B + b) * H).Take(H)).ToArray();
            var one = ReferenceModel.Run(m, w, xbf.Skip(b * T * I).Take(T * I).ToArray(), [T, I], true, hb);
            Assert.Equal([T, 2], one.OutputShape);
            Assert.Equal(bf.Output.Skip(b * T * 2).Take(T * 2), one.Output);
            Assert.Equal(Enumerable.Range(0, 2).SelectMany(s => bf.H!.Skip((s * B + b) * H).Take(H)), one.H!);
        }
    }

    [Fact]
    public void LastStep_Unbatched_AndStatesOfFirstRecurrentOnly()
    {
        const int T = 3, I = 2, H = 2;
        RefLayer[] m = [new RefRecurrent(RefCell.Lstm, I, H, 1, false, true, false, "a"), new RefRecurrent(RefCell.Rnn, 2 * H, H, 1, true, false, false, "b"), new RefLastStep()];
        var w = RandomWeights(m, 11);
        float[] x = RandomFloats(T * I, 12);
        var r = ReferenceModel.Run(m, w, x, [T, I], false);
        Assert.Equal([H], r.OutputShape);
        Assert.Equal(2 * H, r.H!.Length); // [L*D, H] of "a"
        Assert.Equal(2 * H, r.C!.Length);
        var seq = ReferenceModel.Run(m[..2], w, x, [T, I], false);
        Assert.Equal(seq.Output.Skip((T - 1) * H), r.Output);
        // "b" starts at zero even though h0 is given for "a".
        float[] h0 = RandomFloats(2 * H, 13);
        var a = ReferenceModel.Run([m[0]], w.Where(kv => kv.Key.StartsWith("a.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value), x, [T, I], false, h0);
        var bOnly = ReferenceModel.Run([m[1]], w.Where(kv => kv.Key.StartsWith("b.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value),
            a.Output.Select(v => (float)v).ToArray(), [T, 2 * H], false);
        var withH0 = ReferenceModel.Run(m, w, x, [T, I], false, h0);
        AllClose(bOnly.Output.Skip((T - 1) * H).ToArray(), withH0.Output, 1e-5);
        AllClose(a.H!, withH0.H!);
    }

    [Fact]
    public void Validation_Throws()
    {
        RefLayer[] m = [Rec(RefCell.Lstm, 2, 3)];
        var w = RandomWeights(m, 1);
        Assert.Throws<ArgumentException>(() => ReferenceModel.Run(m, w, new float[5], [1, 3, 2], true));          // input length
        Assert.Throws<ArgumentException>(() => ReferenceModel.Run(m, w, new float[9], [1, 3, 3], true));          // wrong width
        Assert.Throws<ArgumentException>(() => ReferenceModel.Run(m, w, new float[6], [1, 3, 2], true, h0: new float[2]));
        Assert.Throws<ArgumentException>(() => ReferenceModel.Run([Rec(RefCell.Gru, 2, 3)], RandomWeights([Rec(RefCell.Gru, 2, 3)], 1), new float[6], [3, 2], true, c0: new float[3]));
        var missing = new Dictionary<string, float[]>(w);
        missing.Remove("bias_hh_l0");
        Assert.Throws<ArgumentException>(() => ReferenceModel.Run(m, missing, new float[6], [3, 2], true));
        var wrong = new Dictionary<string, float[]>(w) { ["bias_hh_l0"] = new float[3] };
        Assert.Throws<ArgumentException>(() => ReferenceModel.Run(m, wrong, new float[6], [3, 2], true));
        var extra = new Dictionary<string, float[]>(w) { ["weight_ih_l1"] = new float[3] };
        Assert.Throws<ArgumentException>(() => ReferenceModel.Run(m, extra, new float[6], [3, 2], true));
        Assert.Throws<ArgumentException>(() => ReferenceModel.ParameterNames([Rec(RefCell.Lstm, 2, 3, relu: true)]));
        Assert.Throws<ArgumentException>(() => ReferenceModel.ParameterNames([Rec(RefCell.Rnn, 2, 3, name: "x"), Rec(RefCell.Rnn, 3, 3, name: "x")]));
    }
}
