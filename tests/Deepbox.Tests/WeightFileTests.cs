using System;
using System.IO;
using System.Linq;
using Deepbox.Tests.Models;
using Xunit;

namespace Deepbox.Tests;

/// <summary>Generated <c>Save</c>/<c>Load</c>: round trips, and a failed load that changes nothing.</summary>
public sealed class WeightFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("deepbox-weights").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SaveThenLoadGivesTheSameModel()
    {
        string path = Path.Combine(_dir, "forecaster.safetensors");
        var a = new Forecaster(1);
        a.Save(path);
        var b = new Forecaster(2);
        LoadStateDictResult r = b.Load(path);
        Assert.Empty(r.MissingKeys);
        Assert.Empty(r.UnexpectedKeys);
        Assert.Equal("LoadStateDictResult { All keys matched }", r.ToString());
        Assert.Equal(a.Parameters().Select(p => p.Value.ToArray()), b.Parameters().Select(p => p.Value.ToArray()));
        a.Eval();
        b.Eval();
        Tensor x = Tensor.FromArray(TestSupport.RandomArray(new Random(1), 12, 1.0), 2, 6, 1);
        Assert.Equal(a.Forward(x).ToArray(), b.Forward(x).ToArray());
        Assert.Equal(Safetensors.Load(path).Tensors.Keys, a.StateDict().Keys);
    }

    [Fact]
    public void BadFilesAndMismatchedModelsChangeNothing()
    {
        var m = new LstmGruStack(3);
        float[][] before = m.Parameters().Select(p => p.Value.ToArray()).ToArray();

        string truncated = Path.Combine(_dir, "truncated.safetensors");
        new LstmGruStack(4).Save(truncated);
        byte[] bytes = File.ReadAllBytes(truncated);
        File.WriteAllBytes(truncated, bytes[..^10]);
        Assert.Throws<SafetensorsException>(() => m.Load(truncated));

        string other = Path.Combine(_dir, "other.safetensors");
        new Forecaster(4).Save(other);
        ArgumentException e = Assert.Throws<ArgumentException>(() => m.Load(other));
        Assert.Contains("Missing keys: encoder.weight_ih_l0", e.Message, StringComparison.Ordinal);
        Assert.Contains("Unexpected keys: fc.bias", e.Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => m.Load(Path.Combine(_dir, "missing.safetensors")));

        Assert.Equal(before, m.Parameters().Select(p => p.Value.ToArray()).ToArray());
    }
}
