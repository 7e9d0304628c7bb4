using System;
using System.Collections.Generic;
using System.Linq;
using Deepbox.Tests.Models;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// <c>[Embedding]</c>, PyTorch's <c>nn.Embedding</c> as a model's first layer: a model that takes token ids must give
/// exactly what its layers after the table give on the looked-up vectors (those layers are checked against the oracle
/// and PyTorch elsewhere), and its table's gradient must be the sum of those vectors' gradients, id by id, except the
/// padding row's. With lengths, on several threads, and streaming. In the threads collection: one test splits small
/// batches (<see cref="TestSupport.SplitSmallWork"/>, a process-wide setting).
/// </summary>
[Collection(nameof(ThreadsTests))]
public class EmbeddingTests
{
    private const int Vocabulary = 11;
    private const int Dim = 6;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ATokenModelIsItsLayersOnTheLookedUpVectors(int threads)
    {
        using IDisposable split = TestSupport.SplitSmallWork();
        var rng = new Random(41);
        var model = new TokenLstm(3) { Threads = threads };
        var body = new TokenLstmBody { Threads = threads };
        float[] table = model.NamedParameters().First().Parameter.Value.ToArray();
        body.LoadStateDict(model.StateDict().Where(kv => !kv.Key.StartsWith("embedding.", StringComparison.Ordinal)).ToDictionary());
        foreach ((int b, int t) in new[] { (1, 1), (3, 5), (13, 7) })
        {
            int[,] tokens = Tokens(rng, b, t, Vocabulary);
            float[] vectors = Lookup(tokens, table, Dim);
            foreach (bool training in new[] { false, true })
            {
                if (training)
                {
                    model.Train();
                    body.Train();
                }
                else
                {
                    model.Eval();
                    body.Eval();
                }

                model.ZeroGrad();
                body.ZeroGrad();
                Tensor output = model.Forward(tokens);
                Tensor expected = body.Forward(Tensor.FromArray(vectors, b, t, Dim));
                string what = $"threads={threads} B={b} T={t} {(training ? "train" : "eval")}";
                Assert.Equal(expected.Shape, output.Shape);
                Assert.True(expected.AsSpan().SequenceEqual(output.AsSpan()), what + " output");
                if (!training)
                {
                    continue;
                }

                float[] gradOutput = TestSupport.RandomArray(rng, output.Length);
                Tensor gradVectors = model.Backward(Tensor.FromArray(gradOutput, [.. output.Shape]));
                Tensor expectedGradVectors = body.Backward(Tensor.FromArray(gradOutput, [.. output.Shape]));
                Assert.True(expectedGradVectors.AsSpan().SequenceEqual(gradVectors.AsSpan()), what + " gradient of the vectors");
                foreach (((string name, Parameter p), Parameter q) in model.NamedParameters().Skip(1).Zip(body.Parameters()))
                {
                    Assert.True(q.Grad.AsSpan().SequenceEqual(p.Grad.AsSpan()), $"{what} {name}");
                }

                // The table's gradient: each vector's gradient added into its id's row, the padding row (id 0) left at 0.
                double[] tableGrad = new double[Vocabulary * Dim];
                float[] gv = expectedGradVectors.ToArray();
                for (int i = 0; i < b * t; i++)
                {
                    int id = tokens[i / t, i % t];
                    for (int k = 0; k < Dim && id != 0; k++)
                    {
                        tableGrad[(id * Dim) + k] += gv[(i * Dim) + k];
                    }
                }

                TestSupport.AssertClose(tableGrad, model.NamedParameters().First().Parameter.Grad.AsSpan(), 1e-5, what + " embedding.weight gradient");
                Assert.True(model.NamedParameters().First().Parameter.Grad.AsSpan().Slice(0, Dim).IndexOfAnyExcept(0f) < 0, what + ": the padding row learned");
            }
        }
    }

    /// <summary>The oracle (an Embedding in double, from PyTorch's definition) agrees: outputs, with lengths too, and every gradient.</summary>
    [Fact]
    public void TheOracleAgrees()
    {
        var rng = new Random(17);
        RefLayer[] layers =
        [
            new RefEmbedding(Vocabulary, Dim, 0, "embedding"),
            new RefRecurrent(RefCell.Lstm, Dim, 9, 2, true, false, false, "lstm"),
            new RefLinear(9, Vocabulary, true, RefActivation.None, "head"),
        ];
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(layers, rng);
        var model = new TokenLstm();
        model.LoadStateDict(TestSupport.ToTensors(layers, weights));
        model.Train();
        const int B = 5, T = 7;
        int[,] tokens = Tokens(rng, B, T, Vocabulary);
        float[] ids = tokens.Cast<int>().Select(v => (float)v).ToArray();
        RefResult expected = ReferenceModel.Run(layers, weights, ids, [B, T, 1], batchFirst: true);
        Tensor output = model.Forward(tokens);
        TestSupport.AssertClose(expected.Output, output.AsSpan(), 1e-5, "output");
        float[] gradOutput = TestSupport.RandomArray(rng, output.Length);
        model.ZeroGrad();
        model.Backward(Tensor.FromArray(gradOutput, [.. output.Shape]));
        RefGradients grads = ReferenceModel.Backward(layers, weights, ids, [B, T, 1], true, gradOutput);
        foreach ((string name, Parameter p) in model.NamedParameters())
        {
            BackwardGridTests.AssertGradClose(grads.Parameters[name], p.Grad.AsSpan(), name);
        }

        int[] lengths = [3, 7, 1, 5, 2];
        TestSupport.AssertClose(ReferenceModel.Run(layers, weights, ids, [B, T, 1], true, lengths).Output, model.Forward(tokens, lengths).AsSpan(), 1e-5, "output with lengths");
        model.ZeroGrad();
        model.Backward(Tensor.FromArray(gradOutput, [.. output.Shape]));
        grads = ReferenceModel.Backward(layers, weights, ids, [B, T, 1], true, lengths, gradOutput);
        foreach ((string name, Parameter p) in model.NamedParameters())
        {
            BackwardGridTests.AssertGradClose(grads.Parameters[name], p.Grad.AsSpan(), name + " with lengths");
        }

        model.Eval();
        TestSupport.AssertClose(ReferenceModel.Run(layers, weights, ids, [B, T, 1], true, lengths).Output, model.Forward(tokens, lengths).AsSpan(), 1e-5, "output with lengths in eval mode");
    }

    [Fact]
    public void SequenceFirstTokensWithLengthsAndLastStep()
    {
        var rng = new Random(5);
        var model = new TokenBiGru(2);
        var body = new TokenBiGruBody();
        model.Eval();
        body.Eval();
        float[] table = model.NamedParameters().First().Parameter.Value.ToArray();
        body.LoadStateDict(model.StateDict().Where(kv => kv.Key.StartsWith("1.", StringComparison.Ordinal) || kv.Key.StartsWith("3.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[0] == '1' ? "0" + kv.Key[1..] : "2" + kv.Key[1..], kv => kv.Value));
        const int T = 6, B = 5;
        int[,] tokens = Tokens(rng, T, B, 7); // [T, B]: the model is sequence-first
        int[] lengths = [3, 6, 1, 4, 6];
        float[] vectors = new float[T * B * 5];
        for (int t = 0; t < T; t++)
        {
            for (int b = 0; b < B; b++)
            {
                table.AsSpan(tokens[t, b] * 5, 5).CopyTo(vectors.AsSpan(((t * B) + b) * 5));
            }
        }

        Tensor expected = body.Forward(Tensor.FromArray(vectors, T, B, 5), lengths);
        Tensor output = model.Forward(tokens, lengths);
        Assert.Equal([B, 3], output.Shape);
        Assert.True(expected.AsSpan().SequenceEqual(output.AsSpan()));
        var spanOutput = new float[B * 3];
        model.Forward(ModelSpan(tokens), B, T, lengths, spanOutput);
        Assert.Equal(output.ToArray(), spanOutput);
    }

    [Fact]
    public void StepThroughTokensGivesForwardsOutputs()
    {
        var rng = new Random(9);
        var model = new TokenLstm(8);
        model.Eval();
        const int T = 7;
        int[,] tokens = Tokens(rng, 1, T, Vocabulary);
        float[] whole = model.Forward(tokens).ToArray();
        ModelState state = model.CreateState();
        var y = new float[Vocabulary];
        for (int t = 0; t < T; t++)
        {
            model.Step(tokens[0, t], state, y);
            Assert.Equal(whole.AsSpan(t * Vocabulary, Vocabulary).ToArray(), y);
        }

        Assert.Contains("Token id 11", Assert.Throws<ArgumentOutOfRangeException>(() => model.Step(11, state, y)).Message);
    }

    [Fact]
    public void InitializationIsNormalWithAZeroPaddingRow()
    {
        var model = new TokenLstm(0);
        float[] table = model.NamedParameters().First().Parameter.Value.ToArray();
        Assert.Equal("embedding.weight", model.NamedParameters().First().Name);
        Assert.True(table.AsSpan(0, Dim).IndexOfAnyExcept(0f) < 0, "padding_idx 0's row is zero");
        // The other 60 values are N(0, 1) draws: mean and spread near 0 and 1, as TorchGenerator.Normal gives them.
        float[] rest = table[Dim..];
        var g = new TorchGenerator(0);
        var expected = new float[Vocabulary * Dim];
        g.Normal(expected);
        Assert.Equal(expected[Dim..], rest);
        Assert.InRange(rest.Average(), -0.5, 0.5);
        Assert.InRange(Math.Sqrt(rest.Average(v => v * v)), 0.6, 1.4);
    }

    [Fact]
    public void BadIdsAndFloatInputAreRefusedBeforeAnythingRuns()
    {
        var model = new TokenLstm(1);
        model.Train();
        int[,] tokens = { { 1, 2, 3 }, { 4, 11, 5 } };
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => { model.Forward(tokens); });
        Assert.Contains("Token id 11 at [batch 1, step 1] is outside the vocabulary [0, 11)", e.Message);
        Assert.Contains("Token id -1", Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(new[] { 0, -1 }, 1, 2, new float[2 * Vocabulary])).Message);
        // Nothing ran: no training pass to go back through.
        Assert.Throws<InvalidOperationException>(() => { model.Backward(Tensor.Zeros(2, 3, Vocabulary)); });
        IModel asModel = model;
        Assert.Contains("takes token ids", Assert.Throws<InvalidOperationException>(() => { asModel.Forward(Tensor.Zeros(2, 3, 1)); }).Message);
        Assert.Throws<ArgumentException>(() => model.Forward(new[] { 0, 1, 2 }, 2, 2, new float[4 * Vocabulary]));
    }

    [Fact]
    public void ATrainingStepAllocatesNothing()
    {
        var model = new TokenLstm(4);
        model.Train();
        var rng = new Random(2);
        const int B = 8, T = 12;
        int[] tokens = Enumerable.Range(0, B * T).Select(_ => rng.Next(Vocabulary)).ToArray();
        int[] lengths = Enumerable.Range(0, B).Select(i => 1 + (i * 5 % T)).ToArray();
        var y = new float[B * T * Vocabulary];
        var g = new float[y.Length];
        var adam = new Adam(model, 1e-3f);
        void Step()
        {
            model.Forward(tokens, B, T, lengths, y);
            Losses.Mse(y, g, g);
            adam.ZeroGrad();
            model.Backward(g, default);
            adam.Step();
        }

        Step();
        Assert.Equal(0, TestSupport.QuietestAllocation(Step));
        Assert.True(model.NamedParameters().First().Parameter.Value.AsSpan().Slice(0, Dim).IndexOfAnyExcept(0f) < 0, "the padding row stays zero through Adam");
    }

    private static int[,] Tokens(Random rng, int rows, int columns, int vocabulary)
    {
        var tokens = new int[rows, columns];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < columns; j++)
            {
                tokens[i, j] = rng.Next(vocabulary);
            }
        }

        return tokens;
    }

    private static float[] Lookup(int[,] tokens, float[] table, int dim)
    {
        int b = tokens.GetLength(0), t = tokens.GetLength(1);
        var vectors = new float[b * t * dim];
        for (int i = 0; i < b; i++)
        {
            for (int j = 0; j < t; j++)
            {
                table.AsSpan(tokens[i, j] * dim, dim).CopyTo(vectors.AsSpan(((i * t) + j) * dim));
            }
        }

        return vectors;
    }

    private static int[] ModelSpan(int[,] tokens) => tokens.Cast<int>().ToArray();
}
