using System;
using Xunit;

namespace Deepbox.Tests;

public class TensorTests
{
    [Fact]
    public void FactoriesCopyAndShape()
    {
        float[] data = [1, 2, 3, 4, 5, 6];
        Tensor t = Tensor.FromArray(data, 2, 3);
        data[0] = 99;
        Assert.Equal(1f, t[0, 0]);
        Assert.Equal([2, 3], t.Shape);
        Assert.Equal(2, t.Rank);
        Assert.Equal(6, t.Length);
        Assert.Equal(6f, t[1, 2]);
        Assert.Equal(5f, t[[1, 1]]);

        Tensor z = Tensor.Zeros(2, 1, 4);
        Assert.Equal(new float[8], z.ToArray());
        z[1, 0, 3] = 7;
        Assert.Equal(7f, z.AsSpan()[7]);

        Tensor f2 = Tensor.From(new float[,] { { 1, 2 }, { 3, 4 }, { 5, 6 } });
        Assert.Equal([3, 2], f2.Shape);
        Assert.Equal(4f, f2[1, 1]);
        Tensor f3 = Tensor.From(new float[,,] { { { 1, 2 } }, { { 3, 4 } } });
        Assert.Equal([2, 1, 2], f3.Shape);
        Assert.Equal([1f, 2, 3, 4], f3.ToArray());

        Tensor v = Tensor.FromArray([1, 2, 3], 3);
        v[2] = 9;
        Assert.Equal(9f, v[2]);
    }

    [Fact]
    public void BadShapesAndIndicesSayWhat()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => Tensor.FromArray([1, 2, 3], 2, 2));
        Assert.Contains("Shape [2, 2] holds 4 values, got an array of 3", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, -1));
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(65536, 65536));
        Tensor t = Tensor.Zeros(2, 3);
        IndexOutOfRangeException i = Assert.Throws<IndexOutOfRangeException>(() => t[2, 0]);
        Assert.Contains("Index 2 is out of range for dimension 0 of size 2 (shape [2, 3])", i.Message, StringComparison.Ordinal);
        ArgumentException r = Assert.Throws<ArgumentException>(() => t[0, 0, 0]);
        Assert.Contains("takes 2 indices, got 3", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToStringIsReadable()
    {
        Tensor t = Tensor.FromArray([1, -2.5f, 3, 0.125f, 5, 6], 2, 3);
        Assert.Equal("Tensor [2, 3]\n[[1.0000, -2.5000, 3.0000],\n [0.1250, 5.0000, 6.0000]]", t.ToString());
        Tensor big = Tensor.FromArray(new float[10], 10);
        Assert.Equal("Tensor [10]\n[0.0000, 0.0000, 0.0000, ..., 0.0000, 0.0000, 0.0000]", big.ToString());
        Assert.Equal("Tensor []\n0.0000", Tensor.Zeros().ToString());
    }

    [Fact]
    public void ParameterHasNameValueGradAndShape()
    {
        var p = new Parameter("lstm.weight_ih_l0", 32, 4);
        Assert.Equal("lstm.weight_ih_l0", p.Name);
        Assert.Equal([32, 4], p.Shape);
        Assert.Equal([32, 4], p.Grad.Shape);
        Assert.NotSame(p.Value, p.Grad);
        Assert.Equal("lstm.weight_ih_l0 [32, 4]", p.ToString());
    }
}
