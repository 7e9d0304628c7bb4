using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using Deepbox.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using RecurrentLayers;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// Every model of the test grid exported to ONNX and run by ONNX Runtime: the outputs and final states equal Deepbox's
/// own to 1e-5, for several batch sizes and lengths from the same file (the dynamic axes), with initial states fed and
/// not, on random, seeded and trained weights.
/// </summary>
public sealed class OnnxExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("deepbox-onnx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [MemberData(nameof(ForwardGridTests.Names), MemberType = typeof(ForwardGridTests))]
    public void EveryGridModelRunsInOnnxRuntimeAsInDeepbox(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(41);
        IModel model = c.Create();
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, TestSupport.RandomWeights(c.Layers, rng)));
        model.Eval();
        AgreesWithOnnxRuntime(model, c.Type, c.BatchFirst, rng);
    }

    [Theory]
    [InlineData("Lstm9x8")]
    [InlineData("LstmGruStack")]
    [InlineData("BiGruTanhHead")]
    [InlineData("Forecaster")]
    [InlineData("Gru3x129")]
    public void UnbatchedGraphsTakeOneSequence(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(43);
        IModel model = c.Create();
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, TestSupport.RandomWeights(c.Layers, rng)));
        model.Eval();
        ModelArchitecture arch = model.Architecture;
        using var session = new InferenceSession(OnnxExport.ToBytes(model, new OnnxExportOptions { Unbatched = true }));
        MethodInfo? withState = c.Type.GetMethods().FirstOrDefault(m => m.Name == "ForwardWithState" && m.GetParameters()[1].ParameterType == typeof(Tensor));
        foreach (int t in new[] { 1, 4, 13 })
        {
            float[] x = TestSupport.RandomArray(rng, t * arch.InputSize, 2.0);
            Tensor expected = model.Forward(Tensor.FromArray(x, t, arch.InputSize));
            var feeds = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, [t, arch.InputSize])) };
            using (IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(feeds))
            {
                Tensor<float> output = results.First(r => r.Name == "output").AsTensor<float>();
                Assert.Equal(expected.Shape, output.Dimensions.ToArray());
                TestSupport.AssertClose(expected.ToArray(), output.ToArray(), 1e-5, $"{name} unbatched T={t}");
            }

            if (withState is not null)
            {
                LayerDeclaration rec = arch.Layers.Single(l => l.IsRecurrent);
                int states = rec.NumLayers * rec.Directions;
                float[] h0 = TestSupport.RandomArray(rng, states * rec.HiddenSize);
                object?[] args = withState.GetParameters().Select((p, i) => i == 0 ? (object)Tensor.FromArray(x, t, arch.InputSize) : i == 1 ? Tensor.FromArray(h0, states, rec.HiddenSize) : null).ToArray();
                var result = (ITuple)withState.Invoke(model, args)!;
                Tensor hn = result[1] is ITuple hc ? (Tensor)hc[0]! : (Tensor)result[1]!;
                feeds.Add(NamedOnnxValue.CreateFromTensor("h0", new DenseTensor<float>(h0, [states, rec.HiddenSize])));
                using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> stated = session.Run(feeds);
                Tensor<float> hnOnnx = stated.First(r => r.Name == "hn").AsTensor<float>();
                Assert.Equal(hn.Shape, hnOnnx.Dimensions.ToArray());
                TestSupport.AssertClose(hn.ToArray(), hnOnnx.ToArray(), 1e-5, $"{name} unbatched T={t} hn");
            }
        }
    }

    [Fact]
    public void SeededAndTrainedWeightsExportToo()
    {
        var rng = new Random(42);
        var seeded = new SeedLstm(seed: 7);
        seeded.Eval();
        AgreesWithOnnxRuntime(seeded, typeof(SeedLstm), batchFirst: true, rng);

        var trained = new SeedGru(seed: 8);
        var adam = new Adam(trained, lr: 0.05f);
        trained.Train();
        float[] x = TestSupport.RandomArray(rng, 4 * 6 * 4);
        var y = new float[4 * 6 * 8];
        var g = new float[y.Length];
        for (int step = 0; step < 20; step++)
        {
            adam.ZeroGrad();
            trained.Forward(x, 4, 6, y);
            Losses.Mse(y, x.Take(y.Length).Concat(new float[Math.Max(0, y.Length - x.Length)]).ToArray(), g);
            trained.Backward(g, Span<float>.Empty);
            adam.Step();
        }

        trained.Eval();
        AgreesWithOnnxRuntime(trained, typeof(SeedGru), batchFirst: true, rng);
    }

    [Fact]
    public void TheFileSaysWhatItIs()
    {
        var model = new SeedLstm(seed: 1);
        using var session = new InferenceSession(OnnxExport.ToBytes(model));
        ModelMetadata meta = session.ModelMetadata;
        Assert.Equal("Deepbox", meta.ProducerName);
        Assert.Equal("SeedLstm", meta.CustomMetadataMap["deepbox.model_class"]);
        Assert.Equal(typeof(IModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0], meta.CustomMetadataMap["deepbox.version"]);
        Assert.Equal(["input"], session.InputMetadata.Keys); // the states are optional: initializers a feed overrides
        Assert.Equal(["h0", "c0"], session.OverridableInitializerMetadata.Keys);
        Assert.Equal(["output", "hn", "cn"], session.OutputMetadata.Keys);
        Assert.Equal([-1, -1, 4], session.InputMetadata["input"].Dimensions); // batch and sequence are dynamic
        Assert.Equal(["batch", "sequence", ""], session.InputMetadata["input"].SymbolicDimensions);

        // Several recurrent declarations: each one's states under its parameter prefix (or position).
        using var stack = new InferenceSession(OnnxExport.ToBytes(new Models.LstmGruStack()));
        Assert.Equal(["encoder.h0", "encoder.c0", "1.h0"], stack.OverridableInitializerMetadata.Keys);
        Assert.Equal(["output", "encoder.hn", "encoder.cn", "1.hn"], stack.OutputMetadata.Keys);
        Assert.Equal([2, -1, 9], stack.OutputMetadata["encoder.hn"].Dimensions);
    }

    [Fact]
    public void ExportsFromSeveralThreadsWhileServingAreTheSameFile()
    {
        var model = new Models.LstmGruStack();
        model.Eval();
        byte[] expected = OnnxExport.ToBytes(model);
        int inputSize = Models.LstmGruStack.Architecture.InputSize;
        float[] x = TestSupport.RandomArray(new Random(44), 4 * 6 * inputSize, 2.0);
        var results = new byte[4][];
        var threads = new System.Threading.Thread[6];
        for (int i = 0; i < threads.Length; i++)
        {
            int k = i;
            threads[i] = new System.Threading.Thread(() =>
            {
                for (int n = 0; n < 20; n++)
                {
                    if (k < 4)
                    {
                        results[k] = OnnxExport.ToBytes(model);
                    }
                    else
                    {
                        model.Forward(Tensor.FromArray(x, 6, 4, inputSize)); // serving at the same time
                    }
                }
            });
            threads[i].Start();
        }

        foreach (System.Threading.Thread t in threads)
        {
            t.Join();
        }

        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void SaveWritesAWholeFileOrNothing()
    {
        var model = new SeedRnn(seed: 1);
        string path = Path.Combine(_dir, "rnn.onnx");
        OnnxExport.Save(model, path);
        byte[] first = File.ReadAllBytes(path);
        Assert.Equal(OnnxExport.ToBytes(model), first);

        // A destination that cannot be written: an exception, and no file or temporary left behind.
        string missing = Path.Combine(_dir, "no-such-folder", "rnn.onnx");
        Assert.ThrowsAny<IOException>(() => OnnxExport.Save(model, missing));
        Assert.False(Directory.Exists(Path.GetDirectoryName(missing)));
        string blocked = Path.Combine(_dir, "a-folder.onnx");
        Directory.CreateDirectory(blocked);
        Assert.ThrowsAny<Exception>(() => OnnxExport.Save(model, blocked));
        Assert.Equal(["a-folder.onnx", "rnn.onnx"], Directory.EnumerateFileSystemEntries(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        using var stream = new MemoryStream();
        OnnxExport.Save(model, stream);
        Assert.Equal(first, stream.ToArray());
    }

    /// <summary>
    /// Exported with <c>SequenceLengths</c>, every grid model runs in ONNX Runtime as its <c>Forward(input, lengths)</c>
    /// runs: outputs (0 past each length, heads included), <c>LastStep</c> at each sequence's last step, final states
    /// each sequence's own, with lengths in any order and NaN in the padding.
    /// </summary>
    [Theory]
    [MemberData(nameof(ForwardGridTests.Names), MemberType = typeof(ForwardGridTests))]
    public void WithLengthsItRunsAsForwardWithLengths(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(TestSupport.StableSeed(name));
        IModel model = c.Create();
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, TestSupport.RandomWeights(c.Layers, rng)));
        model.Eval();
        using var session = new InferenceSession(OnnxExport.ToBytes(model, new OnnxExportOptions { SequenceLengths = true }));
        ModelArchitecture arch = model.Architecture;
        MethodInfo? withState = TestSupport.ForwardWithState(c.Type, lengths: true);
        const int T = 6;
        int[] lengths = [4, 6, 1, 3, 6, 2];
        int b = lengths.Length;
        float[] x = TestSupport.RandomArray(rng, b * T * arch.InputSize, 2.0);
        int[] shape = c.BatchFirst ? [b, T, arch.InputSize] : [T, b, arch.InputSize];
        for (int s = 0; s < b; s++)
        {
            for (int t = lengths[s]; t < T; t++)
            {
                x.AsSpan((c.BatchFirst ? (s * T) + t : (t * b) + s) * arch.InputSize, arch.InputSize).Fill(float.NaN);
            }
        }

        Tensor input = Tensor.FromArray(x, shape);
        var feeds = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, shape)),
            NamedOnnxValue.CreateFromTensor("sequence_lens", new DenseTensor<int>(lengths, [b])),
        };
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(feeds);
        Tensor expected = model.Forward(input, lengths);
        TestSupport.AssertClose(expected.ToArray(), results.First(r => r.Name == "output").AsTensor<float>().ToArray(), 1e-5, $"{name} output with lengths");
        if (withState is null || arch.Layers.Count(l => l.IsRecurrent) != 1)
        {
            return;
        }

        LayerDeclaration rec = arch.Layers.Single(l => l.IsRecurrent);
        var result = (ITuple)withState.Invoke(model, rec.Kind == LayerKind.Lstm ? [input, lengths, null, null] : [input, lengths, null])!;
        Tensor hn = result[1] is ITuple hc ? (Tensor)hc[0]! : (Tensor)result[1]!;
        TestSupport.AssertClose(hn.ToArray(), results.First(r => r.Name == "hn").AsTensor<float>().ToArray(), 1e-5, $"{name} hn with lengths");
    }

    /// <summary>A model that starts with an <c>[Embedding]</c> exports with int64 token ids in, and runs as its token Forward.</summary>
    [Fact]
    public void TokenModelsExportWithTheirTable()
    {
        var rng = new Random(12);
        var lstm = new Models.TokenLstm(5);
        lstm.Eval();
        const int B = 4, T = 6;
        int[,] tokens = new int[B, T];
        for (int i = 0; i < B; i++)
        {
            for (int j = 0; j < T; j++)
            {
                tokens[i, j] = rng.Next(Models.TokenLstm.NumEmbeddings);
            }
        }

        long[] ids = tokens.Cast<int>().Select(v => (long)v).ToArray();
        int[] lengths = [6, 2, 5, 1];
        using (var session = new InferenceSession(OnnxExport.ToBytes(lstm)))
        {
            using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> r = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<long>(ids, [B, T]))]);
            TestSupport.AssertClose(lstm.Forward(tokens).ToArray(), r.First(x => x.Name == "output").AsTensor<float>().ToArray(), 1e-5, "TokenLstm");
        }

        using (var session = new InferenceSession(OnnxExport.ToBytes(lstm, new OnnxExportOptions { SequenceLengths = true })))
        {
            using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> r = session.Run(
            [
                NamedOnnxValue.CreateFromTensor("input", new DenseTensor<long>(ids, [B, T])),
                NamedOnnxValue.CreateFromTensor("sequence_lens", new DenseTensor<int>(lengths, [B])),
            ]);
            TestSupport.AssertClose(lstm.Forward(tokens, lengths).ToArray(), r.First(x => x.Name == "output").AsTensor<float>().ToArray(), 1e-5, "TokenLstm with lengths");
        }

        // Sequence-first, bidirectional, LastStep; and one sequence unbatched.
        var gru = new Models.TokenBiGru(6);
        gru.Eval();
        int[,] seqFirst = new int[T, B];
        for (int j = 0; j < T; j++)
        {
            for (int i = 0; i < B; i++)
            {
                seqFirst[j, i] = tokens[i, j] % Models.TokenBiGru.NumEmbeddings;
            }
        }

        using (var session = new InferenceSession(OnnxExport.ToBytes(gru)))
        {
            long[] tb = seqFirst.Cast<int>().Select(v => (long)v).ToArray();
            using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> r = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<long>(tb, [T, B]))]);
            TestSupport.AssertClose(gru.Forward(seqFirst).ToArray(), r.First(x => x.Name == "output").AsTensor<float>().ToArray(), 1e-5, "TokenBiGru");
        }

        using (var session = new InferenceSession(OnnxExport.ToBytes(lstm, new OnnxExportOptions { Unbatched = true })))
        {
            using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> r = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<long>(ids[..T], [T]))]);
            TestSupport.AssertClose(lstm.Forward(new int[1, T] { { tokens[0, 0], tokens[0, 1], tokens[0, 2], tokens[0, 3], tokens[0, 4], tokens[0, 5] } }).ToArray(), r.First(x => x.Name == "output").AsTensor<float>().ToArray(), 1e-5, "TokenLstm unbatched");
        }
    }

    [Fact]
    public void LengthsNeedABatch() =>
        Assert.Throws<NotSupportedException>(() => OnnxExport.ToBytes(new SeedLstm(1), new OnnxExportOptions { SequenceLengths = true, Unbatched = true }));

    /// <summary>The model's eval Forward (and ForwardWithState where there is one) against ONNX Runtime on the exported file.</summary>
    private static void AgreesWithOnnxRuntime(IModel model, Type type, bool batchFirst, Random rng)
    {
        using var session = new InferenceSession(OnnxExport.ToBytes(model));
        ModelArchitecture arch = model.Architecture;
        MethodInfo? withState = type.GetMethods().FirstOrDefault(m => m.Name == "ForwardWithState" && m.GetParameters()[1].ParameterType == typeof(Tensor));
        foreach ((int b, int t) in new[] { (1, 1), (3, 5), (8, 2), (5, 17) })
        {
            float[] x = TestSupport.RandomArray(rng, b * t * arch.InputSize, 2.0);
            int[] shape = batchFirst ? [b, t, arch.InputSize] : [t, b, arch.InputSize];
            Tensor expected = model.Forward(Tensor.FromArray(x, shape));
            var feeds = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, shape)) };
            using (IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(feeds))
            {
                float[] actual = results.First(r => r.Name == "output").AsTensor<float>().ToArray();
                Assert.Equal(expected.Shape, results.First(r => r.Name == "output").AsTensor<float>().Dimensions.ToArray());
                TestSupport.AssertClose(expected.ToArray(), actual, 1e-5, $"{arch.ClassName} B={b} T={t} output");
            }

            if (withState is null)
            {
                continue;
            }

            // Initial states fed, final states read: against ForwardWithState.
            LayerDeclaration rec = arch.Layers.Single(l => l.IsRecurrent);
            int states = rec.NumLayers * rec.Directions;
            bool lstm = rec.Kind == LayerKind.Lstm;
            float[] h0 = TestSupport.RandomArray(rng, states * b * rec.HiddenSize);
            float[] c0 = TestSupport.RandomArray(rng, states * b * rec.HiddenSize);
            object?[] args = withState.GetParameters().Select((p, i) => i switch
            {
                0 => (object)Tensor.FromArray(x, shape),
                1 => Tensor.FromArray(h0, states, b, rec.HiddenSize),
                _ => Tensor.FromArray(c0, states, b, rec.HiddenSize),
            }).ToArray();
            var result = (ITuple)withState.Invoke(model, args)!;
            Tensor output = (Tensor)result[0]!;
            Tensor hn = result[1] is ITuple hc ? (Tensor)hc[0]! : (Tensor)result[1]!;
            feeds.Add(NamedOnnxValue.CreateFromTensor("h0", new DenseTensor<float>(h0, [states, b, rec.HiddenSize])));
            if (lstm)
            {
                feeds.Add(NamedOnnxValue.CreateFromTensor("c0", new DenseTensor<float>(c0, [states, b, rec.HiddenSize])));
            }

            using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> stated = session.Run(feeds);
            TestSupport.AssertClose(output.ToArray(), stated.First(r => r.Name == "output").AsTensor<float>().ToArray(), 1e-5, $"{arch.ClassName} B={b} T={t} output with h0");
            TestSupport.AssertClose(hn.ToArray(), stated.First(r => r.Name == "hn").AsTensor<float>().ToArray(), 1e-5, $"{arch.ClassName} B={b} T={t} hn");
            if (lstm)
            {
                Tensor cn = (Tensor)((ITuple)result[1]!)[1]!;
                TestSupport.AssertClose(cn.ToArray(), stated.First(r => r.Name == "cn").AsTensor<float>().ToArray(), 1e-5, $"{arch.ClassName} B={b} T={t} cn");
            }
        }
    }
}
