using System;
using System.Collections.Generic;
using System.Linq;
using Deepbox.Tests.Models;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// Gate rows of a multiple of 2 KB put a block's slice of every sequence's row in one or two of L1's sets, so over a large
/// batch the recurrence kernels update each block tile by tile, right after the tile's sums, instead of over the whole
/// batch after them (UpdateByTileAbove in the generator). Both orders must give the oracle's numbers and the same bits:
/// a sequence's output may not depend on which order its batch took, with or without lengths, in evaluation and training,
/// on one thread or two, with a NaN in one sequence kept to that sequence.
/// </summary>
[Collection(nameof(ThreadsTests))]
public class UpdateByTileTests
{
    public static TheoryData<string, int> Cases => new()
    {
        { nameof(Lstm3x128), 40 }, // 2 KB rows: tile by tile above 32 sequences
        { nameof(Lstm3x128), 8 },
        { nameof(Lstm2x256), 20 }, // 4 KB rows: above 16
        { nameof(Lstm2x256), 5 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EitherOrderOfTheUpdateGivesTheOraclesNumbersAndTheSameBits(string name, int batch)
    {
        (Func<IModel> create, int inputSize, int hidden, bool bi) = name switch
        {
            nameof(Lstm3x128) => ((Func<IModel>)(() => new Lstm3x128()), 3, 128, false),
            _ => ((Func<IModel>)(() => new Lstm2x256()), 2, 256, true),
        };
        var layers = new RefLayer[] { ForwardGridTests.Rec(RefCell.Lstm, inputSize, hidden, 1, bi: bi) };
        var rng = new Random(batch * 31);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(layers, rng);
        const int T = 4;
        int width = hidden * (bi ? 2 : 1);
        float[] x = TestSupport.RandomArray(rng, batch * T * inputSize, 2.0);
        const int Dirty = 3;
        x[((Dirty * T) + 1) * inputSize] = float.NaN; // sequence 3, step 1 (batch first)
        int[] lengths = Enumerable.Range(0, batch).Select(b => 1 + ((b * 7) % T)).ToArray();
        foreach (bool training in new[] { false, true })
        {
            foreach (int threads in new[] { 1, 2 })
            {
                foreach (int[]? lens in new[] { null, lengths })
                {
                    IModel model = create();
                    model.LoadStateDict(TestSupport.ToTensors(layers, weights));
                    model.Threads = threads;
                    if (training)
                    {
                        model.Train();
                    }
                    else
                    {
                        model.Eval();
                    }

                    var output = new float[batch * T * width];
                    if (lens is null)
                    {
                        model.Forward(x, batch, T, output);
                    }
                    else
                    {
                        model.Forward(x, batch, T, lens, output);
                    }

                    string what = $"{name} B={batch} {(training ? "train" : "eval")} threads={threads}{(lens is null ? string.Empty : " with lengths")}";
                    RefResult expected = ReferenceModel.Run(layers, weights, x, [batch, T, inputSize], batchFirst: true, lens);
                    for (int b = 0; b < batch; b++)
                    {
                        ReadOnlySpan<float> mine = output.AsSpan(b * T * width, T * width);
                        if (b == Dirty)
                        {
                            Assert.Contains(mine.ToArray(), float.IsNaN);
                            continue;
                        }

                        Assert.True(mine.ToArray().All(float.IsFinite), $"{what}: sequence {b} is finite");
                        TestSupport.AssertClose(expected.Output.AsSpan(b * T * width, T * width).ToArray(), mine, 1e-5, $"{what}: sequence {b}");

                        // The same sequence alone (one row: the update over the whole batch) gives the same bits.
                        IModel alone = create();
                        alone.LoadStateDict(TestSupport.ToTensors(layers, weights));
                        alone.Eval();
                        var one = new float[T * width];
                        if (lens is null)
                        {
                            alone.Forward(x.AsSpan(b * T * inputSize, T * inputSize), 1, T, one);
                        }
                        else
                        {
                            alone.Forward(x.AsSpan(b * T * inputSize, T * inputSize), 1, T, [lens[b]], one);
                        }

                        Assert.True(one.AsSpan().SequenceEqual(mine), $"{what}: sequence {b} alone");
                    }
                }
            }
        }
    }
}
