using System;
using System.Collections.Generic;
using System.Linq;
using Deepbox.Tests.Models;
using RecurrentLayers;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// Seeded initialization: the same weights on every machine, and PyTorch's own. The expected values were printed by
/// libtorch 2.10 (TorchSharp 0.107.0, AVX-512 build) after <c>torch.manual_seed(seed)</c> and constructing the same
/// modules; the sums are sequential double sums in element order.
/// </summary>
public class InitTests
{
    [Fact]
    public void MersenneTwisterMatchesPyTorch()
    {
        // torch.Generator().manual_seed(42): the first raw 32-bit outputs.
        var g = new TorchGenerator(42);
        Assert.Equal([0x5FE1DC66u, 0xCBEA3DB3u, 0xF362035Cu, 0x2EF5950Eu, 0xBB63F46Au], Enumerable.Range(0, 5).Select(_ => g.NextUInt32()));

        // torch.manual_seed(42); torch.rand(2)
        var rand = new float[2];
        new TorchGenerator(42).Uniform(rand, 0, 1);
        Assert.Equal(0x3F61DC66, BitConverter.SingleToInt32Bits(rand[0]));
        Assert.Equal(0x3F6A3DB3, BitConverter.SingleToInt32Bits(rand[1]));
    }

    public static TheoryData<string, int, string, double, int> Checksums => new()
    {
        { "RNN(4, 8)", 42, "weight_ih_l0", 0.7756184600293636, 0 },
        { "RNN(4, 8)", 42, "weight_hh_l0", 0.6067159553058445, 0 },
        { "RNN(4, 8)", 42, "bias_ih_l0", -0.68045848980546, 0 },
        { "RNN(4, 8)", 42, "bias_hh_l0", -0.8422173596918583, 0 },
        { "LSTM(4, 8)", 42, "weight_ih_l0", -2.5745136331534013, 0x3E8A6571 },
        { "LSTM(4, 8)", 42, "weight_hh_l0", -5.352424003183842, 0x3E97C77D },
        { "LSTM(4, 8)", 42, "bias_ih_l0", -0.6700421399436891, 0x3BA2AF2D },
        { "LSTM(4, 8)", 42, "bias_hh_l0", -0.19619607785716653, unchecked((int)0xBE13E17B) },
        { "GRU(4, 8)", 42, "weight_ih_l0", 1.3823344153352082, 0 },
        { "GRU(4, 8)", 42, "weight_hh_l0", -6.5192665284266695, 0 },
        { "GRU(4, 8)", 42, "bias_ih_l0", -1.1518330173566937, 0 },
        { "GRU(4, 8)", 42, "bias_hh_l0", -0.808012094348669, 0 },
        { "Forecaster", 7, "lstm.weight_ih_l0", -0.4559700305981096, 0x3C4A4AFF },
        { "Forecaster", 7, "lstm.weight_hh_l0", 8.326839358642246, 0 },
        { "Forecaster", 7, "lstm.bias_ih_l0", 0.8874866358964937, 0 },
        { "Forecaster", 7, "lstm.bias_hh_l0", 1.2934949124464765, 0 },
        { "Forecaster", 7, "lstm.weight_ih_l1", -15.256275839688897, 0 },
        { "Forecaster", 7, "lstm.weight_hh_l1", -4.011203302849026, 0 },
        { "Forecaster", 7, "lstm.bias_ih_l1", -1.6445977922994643, 0 },
        { "Forecaster", 7, "lstm.bias_hh_l1", 0.25131227605743334, 0 },
        { "Forecaster", 7, "fc.weight", 0.3255717472638935, unchecked((int)0xBC2D6A49) },
        { "Forecaster", 7, "fc.bias", 0.08073568344116211, 0 },
    };

    [Theory]
    [MemberData(nameof(Checksums))]
    public void SeededWeightsArePyTorchs(string model, int seed, string name, double sum, int firstBits)
    {
        IModel m = model switch
        {
            "RNN(4, 8)" => new SeedRnn(seed),
            "LSTM(4, 8)" => new SeedLstm(seed),
            "GRU(4, 8)" => new SeedGru(seed),
            _ => new Forecaster(seed),
        };
        Parameter p = m.NamedParameters().Single(x => x.Name == name).Parameter;
        double actual = 0;
        foreach (float v in p.Value.AsSpan())
        {
            actual += v;
        }

        Assert.Equal(sum, actual);
        if (firstBits != 0)
        {
            Assert.Equal(firstBits, BitConverter.SingleToInt32Bits(p.Value.AsSpan()[0]));
        }
    }

    [Fact]
    public void SameSeedSameWeightsOtherSeedOthers()
    {
        float[] a = new Forecaster(3).Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        float[] b = new Forecaster(3).Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        float[] c = new Forecaster(4).Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(Forecaster.ParameterCount, a.Length);
    }

    [Fact]
    public void BoundsAreOneOverSqrtOfHiddenAndFanIn()
    {
        var m = new BiRnnMlpHead(1);
        foreach ((string name, Parameter p) in m.NamedParameters())
        {
            double bound = name switch
            {
                "2.weight" or "2.bias" => 1 / Math.Sqrt(18),
                "3.weight" or "3.bias" => 1 / Math.Sqrt(7),
                _ => 1 / Math.Sqrt(9),
            };
            float max = p.Value.ToArray().Max(v => Math.Abs(v));
            Assert.True(max <= bound && max > bound * 0.5, $"{name}: max |w| = {max}, bound {bound}");
        }
    }

    [Fact]
    public void DefaultConstructorUsesPyTorchsDefaultSeed()
    {
        Dictionary<string, float[]> a = new SeedLstm().StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        var g = new TorchGenerator(TorchGenerator.DefaultSeed);
        var expected = new float[32 * 4];
        g.UniformInverseSqrt(expected, 8);
        Assert.Equal(expected, a["weight_ih_l0"]);

        // The seed itself, pinned by libtorch 2.10: the first values of nn.LSTM(4, 8).weight_ih_l0 after
        // torch.manual_seed(67280421310721), c10's default_rng_seed_val (what a fresh Python process starts from;
        // TorchSharp reseeds its process, hence the explicit call), printed round-trip by TorchSharp 0.107.0.
        Assert.Equal([-0.16454712f, 0.2634173f, -0.116468385f, -0.06857815f], a["weight_ih_l0"][..4]);
    }
}
