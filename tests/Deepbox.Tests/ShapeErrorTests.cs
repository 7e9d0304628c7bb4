using System;
using System.Collections.Generic;
using System.Linq;
using Deepbox.Tests.Models;
using RecurrentLayers;
using Xunit;

namespace Deepbox.Tests;

/// <summary>Bad tensors throw with expected and actual shapes, and nothing is half-written.</summary>
public class ShapeErrorTests
{
    [Fact]
    public void WrongInputSizeNamesExpectedAndActual()
    {
        var m = new SeedLstm();
        ArgumentException e = Assert.Throws<ArgumentException>(() => m.Forward(Tensor.Zeros(2, 3, 5)));
        Assert.StartsWith("Expected input [*, *, 4], got [2, 3, 5]", e.Message, StringComparison.Ordinal);
        Assert.Equal("input", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => m.Forward(Tensor.Zeros(3, 5)));
        Assert.StartsWith("Expected input [*, 4], got [3, 5]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => m.Forward(Tensor.Zeros(1, 2, 3, 4)));
        Assert.StartsWith("Expected input [*, *, 4] or [*, 4], got [1, 2, 3, 4]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => m.Forward(Tensor.Zeros(0, 3, 4)));
        Assert.StartsWith("Expected input [*, *, 4] with no empty dimension, got [0, 3, 4]", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => m.Forward(null!));
    }

    [Fact]
    public void WrongStateShapesNameExpectedAndActual()
    {
        var m = new SeedLstm();
        Tensor x = Tensor.Zeros(2, 3, 4);
        ArgumentException e = Assert.Throws<ArgumentException>(() => m.ForwardWithState(x, Tensor.Zeros(1, 3, 8)));
        Assert.StartsWith("Expected h0 [1, 2, 8], got [1, 3, 8]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => m.ForwardWithState(x, null, Tensor.Zeros(2, 8)));
        Assert.StartsWith("Expected c0 [1, 2, 8], got [2, 8]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => m.ForwardWithState(Tensor.Zeros(3, 4), Tensor.Zeros(1, 1, 8)));
        Assert.StartsWith("Expected h0 [1, 8], got [1, 1, 8]", e.Message, StringComparison.Ordinal);

        var gru = new Rnn3x7(); // two bidirectional layers: states [4, B, 7]
        e = Assert.Throws<ArgumentException>(() => gru.ForwardWithState(Tensor.Zeros(2, 5, 3), Tensor.Zeros(2, 2, 7)));
        Assert.StartsWith("Expected h0 [4, 2, 7], got [2, 2, 7]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongSpanLengthsThrowBeforeWritingAnything()
    {
        var m = new Forecaster();
        float[] output = [42, 42, 42];
        ArgumentException e = Assert.Throws<ArgumentException>(() => m.Forward(new float[2 * 5], 3, 5, output));
        Assert.StartsWith("Expected input of length 3 * 5 * 1 = 15, got 10", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => m.Forward(new float[15], 3, 5, new float[15]));
        Assert.StartsWith("Expected output of length 3 * 1 * 1 = 3, got 15", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Forward(ReadOnlySpan<float>.Empty, 0, 5, Span<float>.Empty));
        Assert.Equal([42f, 42, 42], output);
        m.Forward(new float[15], 3, 5, output);
        Assert.DoesNotContain(42f, output);
    }

    [Fact]
    public void FailedLoadChangesNothingAndReportsEveryProblem()
    {
        var m = new Forecaster(1);
        float[][] before = m.Parameters().Select(p => p.Value.ToArray()).ToArray();
        var dict = m.StateDict().ToDictionary(kv => kv.Key, kv => Tensor.FromArray(kv.Value.ToArray().Select(v => v + 1).ToArray(), [.. kv.Value.Shape]));
        dict["fc.weight"] = Tensor.Zeros(32, 1);
        dict.Remove("lstm.bias_hh_l1");
        dict["extra"] = Tensor.Zeros(1);
        ArgumentException e = Assert.Throws<ArgumentException>(() => m.LoadStateDict(dict));
        Assert.Contains("fc.weight: expected [1, 32], got [32, 1]", e.Message, StringComparison.Ordinal);
        Assert.Contains("Missing keys: lstm.bias_hh_l1", e.Message, StringComparison.Ordinal);
        Assert.Contains("Unexpected keys: extra", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, m.Parameters().Select(p => p.Value.ToArray()).ToArray());

        // Non-strict: loads what matches, reports the rest; a wrong shape is still an error.
        dict["fc.weight"] = Tensor.Zeros(1, 32);
        LoadStateDictResult r = m.LoadStateDict(dict, strict: false);
        Assert.Equal(["lstm.bias_hh_l1"], r.MissingKeys);
        Assert.Equal(["extra"], r.UnexpectedKeys);
        Assert.Equal("LoadStateDictResult { MissingKeys = [lstm.bias_hh_l1], UnexpectedKeys = [extra] }", r.ToString());
        Assert.Equal(before[0].Select(v => v + 1), m.Parameters()[0].Value.ToArray());
        Assert.Equal(before[7], m.NamedParameters().Single(p => p.Name == "lstm.bias_hh_l1").Parameter.Value.ToArray());
    }

    [Fact]
    public void StateDictIsLiveAndOrdered()
    {
        var m = new SeedGru(3);
        IReadOnlyDictionary<string, Tensor> sd = m.StateDict();
        Assert.Equal(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"], sd.Keys);
        sd["bias_ih_l0"].AsSpan().Fill(0.5f);
        Assert.All(m.Parameters()[2].Value.ToArray(), v => Assert.Equal(0.5f, v));
    }

    [Fact]
    public void TrainEvalZeroGradAndToString()
    {
        var m = new Forecaster();
        Assert.True(m.IsTraining);
        m.Eval();
        Assert.False(m.IsTraining);
        m.Train();
        Assert.True(m.IsTraining);
        m.Parameters()[0].Grad.AsSpan().Fill(1);
        m.ZeroGrad();
        Assert.All(m.Parameters(), p => Assert.All(p.Grad.ToArray(), g => Assert.Equal(0f, g)));
        Assert.Equal("LSTM(4, 8, num_layers=1)", new SeedLstm().ToString());
        Assert.Equal("RNN(4, 16, num_layers=2)", new DeepRnn().ToString());
        Assert.Equal("Linear(in_features=3, out_features=17, bias=true)", new LinearOnly().ToString());
        Assert.Equal(
            "Forecaster(\n  (lstm): LSTM(1, 32, num_layers=2)\n  (1): LastStep()\n  (fc): Linear(in_features=32, out_features=1, bias=true)\n)",
            m.ToString());
        Assert.Equal(1, Forecaster.InputSize);
        Assert.Equal(1, Forecaster.OutputSize);
        Assert.Equal((4 * 32 * (1 + 32 + 2)) + (4 * 32 * (32 + 32 + 2)) + 33, Forecaster.ParameterCount);
    }
}
