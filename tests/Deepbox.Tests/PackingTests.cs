using System;
using System.Collections.Generic;
using Deepbox.CompilerServices;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// The weight packing between PyTorch's layout and the kernels' (<see cref="ModelSupport.PackGateInterleaved"/>,
/// <see cref="ModelSupport.PackTransposed"/>, <see cref="ModelSupport.UnpackGateInterleavedAdd(ReadOnlySpan{float}, int, int, int, int, int, int, Span{float}, int, int)"/>)
/// moves eight units and eight columns at a time through an 8 x 8 transpose where it can and one float at a time where it
/// cannot (units past a multiple of 8, columns past one, a lane range that cuts a group of 8): each is checked here, bit for
/// bit, against the layout's definition written out element by element, on sizes of both kinds, with a NaN and an
/// infinity among the values. <see cref="ModelSupport.UnpackGateBiasAdd(ReadOnlySpan{float}, int, int, int, Span{float}, int, int)"/>
/// walks a lane range by runs of a gate's units: checked the same way, with ranges that cut a run.
/// </summary>
public class PackingTests
{
    public static TheoryData<int, int, int, int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int, int, int, int>();
        // gates, hidden, cols, vectorWidth, segmentWidth, segmentStride
        foreach (int vw in new[] { 8, 16 })
        {
            data.Add(4, 64, 64, vw, 64, 64); // W3's W_hh
            data.Add(4, 64, 16, vw, 16, 16); // W3's W_ih
            data.Add(3, 13, 21, vw, 21, 21); // nothing a multiple of 8
            data.Add(4, 24, 5, vw, 5, 5);    // fewer columns than a tile
            data.Add(1, 8, 17, vw, 17, 17);
            data.Add(4, 20, 40, vw, 20, 24); // a bidirectional input: two segments of 20 at a stride of 24
            data.Add(3, 16, 26, vw, 13, 16); // two segments of 13
        }

        data.Add(4, 10, 12, 4, 12, 12); // 128-bit blocks: no fast path
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackGateInterleavedPutsEachWeightWhereTheLayoutSays(int gates, int hidden, int cols, int vectorWidth, int segmentWidth, int segmentStride)
    {
        float[] weight = Values(gates * hidden * cols, seed: 1);
        int rowLength = Blocks(hidden, vectorWidth) * gates * vectorWidth;
        int rows = PackedRows(cols, segmentWidth, segmentStride) + 3; // spare rows stay zero
        float[] packed = new float[rows * rowLength];
        Array.Fill(packed, 7f); // fully overwritten
        ModelSupport.PackGateInterleaved(weight, gates, hidden, cols, vectorWidth, segmentWidth, segmentStride, packed);

        float[] expected = new float[packed.Length];
        for (int g = 0; g < gates; g++)
        {
            for (int j = 0; j < hidden; j++)
            {
                for (int c = 0; c < cols; c++)
                {
                    int row = RowOf(c, segmentWidth, segmentStride);
                    expected[ModelSupport.PanelIndex(row, Lane(g, j, gates, vectorWidth), rows, gates * vectorWidth)] = weight[(((g * hidden) + j) * cols) + c];
                }
            }
        }

        AssertBits(expected, packed);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackTransposedPutsEachWeightWhereTheLayoutSays(int gates, int hidden, int cols, int vectorWidth, int segmentWidth, int segmentStride)
    {
        float[] weight = Values(gates * hidden * cols, seed: 2);
        int lanes = Blocks(hidden, vectorWidth) * gates * vectorWidth;
        int rowLength = Blocks(PackedRows(cols, segmentWidth, segmentStride), vectorWidth) * vectorWidth;
        float[] packed = new float[lanes * rowLength];
        Array.Fill(packed, 7f);
        ModelSupport.PackTransposed(weight, gates, hidden, cols, vectorWidth, segmentWidth, segmentStride, rowLength, packed);

        float[] expected = new float[packed.Length];
        for (int g = 0; g < gates; g++)
        {
            for (int j = 0; j < hidden; j++)
            {
                for (int c = 0; c < cols; c++)
                {
                    int at = RowOf(c, segmentWidth, segmentStride);
                    expected[ModelSupport.PanelIndex(Lane(g, j, gates, vectorWidth), at, lanes, vectorWidth)] = weight[(((g * hidden) + j) * cols) + c];
                }
            }
        }

        AssertBits(expected, packed);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void UnpackGateInterleavedAddAddsEachLaneOfTheRangeIntoItsWeight(int gates, int hidden, int cols, int vectorWidth, int segmentWidth, int segmentStride)
    {
        int lanes = Blocks(hidden, vectorWidth) * gates * vectorWidth;
        int rows = PackedRows(cols, segmentWidth, segmentStride);
        float[] packed = Values(rows * lanes, seed: 3);
        float[] start = Values(gates * hidden * cols, seed: 4);
        var ranges = new List<(int First, int End)> { (0, int.MaxValue), (0, 32), (32, 64), (8, 20), (3, lanes - 5), (lanes, lanes) };
        foreach ((int first, int end) in ranges)
        {
            float[] gradient = (float[])start.Clone();
            ModelSupport.UnpackGateInterleavedAdd(packed, gates, hidden, cols, vectorWidth, segmentWidth, segmentStride, gradient, first, end);

            float[] expected = (float[])start.Clone();
            for (int g = 0; g < gates; g++)
            {
                for (int j = 0; j < hidden; j++)
                {
                    int lane = Lane(g, j, gates, vectorWidth);
                    if (lane < first || lane >= end)
                    {
                        continue;
                    }

                    for (int c = 0; c < cols; c++)
                    {
                        expected[(((g * hidden) + j) * cols) + c] += packed[(RowOf(c, segmentWidth, segmentStride) * lanes) + lane];
                    }
                }
            }

            AssertBits(expected, gradient);
        }
    }

    [Theory]
    [InlineData(4, 64, 8)]
    [InlineData(4, 64, 16)]
    [InlineData(3, 13, 8)]
    [InlineData(3, 13, 16)]
    [InlineData(1, 5, 4)]
    public void UnpackGateBiasAddAddsEachLaneOfTheRangeIntoItsBias(int gates, int hidden, int vectorWidth)
    {
        int lanes = Blocks(hidden, vectorWidth) * gates * vectorWidth;
        float[] packed = Values(lanes, seed: 6);
        float[] start = Values(gates * hidden, seed: 7);
        foreach ((int first, int end) in new[] { (0, int.MaxValue), (0, 32), (32, 64), (8, 20), (3, lanes - 5), (-4, 6), (lanes, lanes) })
        {
            float[] gradient = (float[])start.Clone();
            ModelSupport.UnpackGateBiasAdd(packed, gates, hidden, vectorWidth, gradient, first, end);
            float[] expected = (float[])start.Clone();
            for (int g = 0; g < gates; g++)
            {
                for (int j = 0; j < hidden; j++)
                {
                    int lane = Lane(g, j, gates, vectorWidth);
                    if (lane >= first && lane < end)
                    {
                        expected[(g * hidden) + j] += packed[lane];
                    }
                }
            }

            AssertBits(expected, gradient);
        }
    }

    [Fact]
    public void PackingRefusesAWeightOrADestinationTooSmallAndWritesNothing()
    {
        float[] weight = Values(4 * 8 * 16, seed: 5);
        float[] packed = new float[15 * 32]; // 15 rows for 16 columns
        var ex = Assert.Throws<ArgumentException>(() => ModelSupport.PackGateInterleaved(weight, 4, 8, 16, 8, 16, 16, packed));
        Assert.Contains("16 packed rows, got 512 floats and 15 rows", ex.Message, StringComparison.Ordinal);
        Assert.All(packed, v => Assert.Equal(0f, v));

        float[] gradient = new float[(4 * 8 * 16) - 1];
        ex = Assert.Throws<ArgumentException>(() => ModelSupport.UnpackGateInterleavedAdd(new float[16 * 32], 4, 8, 16, 8, 16, 16, gradient, 0, 32));
        Assert.Contains("a weight of 512 floats", ex.Message, StringComparison.Ordinal);
        Assert.All(gradient, v => Assert.Equal(0f, v));
    }

    private static float[] Values(int count, int seed)
    {
        var rng = new Random(seed);
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        values[count / 3] = float.NaN;
        values[(2 * count) / 3] = float.PositiveInfinity;
        return values;
    }

    private static int Blocks(int count, int width) => (count + width - 1) / width;

    private static int RowOf(int c, int segmentWidth, int segmentStride) => ((c / segmentWidth) * segmentStride) + (c % segmentWidth);

    private static int PackedRows(int cols, int segmentWidth, int segmentStride) => RowOf(cols - 1, segmentWidth, segmentStride) + 1;

    private static int Lane(int g, int j, int gates, int vectorWidth) => ((j / vectorWidth) * gates * vectorWidth) + (g * vectorWidth) + (j % vectorWidth);

    private static void AssertBits(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"Element {i}: expected {expected[i]:R}, got {actual[i]:R}.");
            }
        }
    }
}
