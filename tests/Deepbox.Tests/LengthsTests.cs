using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Deepbox.Tests.Models;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// Sequences of different lengths (PyTorch's <c>pack_padded_sequence</c> semantics): a batch with lengths must give,
/// for each sequence, exactly what that sequence gives alone, truncated to its length (whose forward and backward the
/// grid tests check against the oracle and PyTorch): outputs, final states, <c>LastStep</c>, every gradient; zeros past
/// each length whatever the padding holds (NaN included). Models here are made with 1 and 2 threads, but these small
/// batches run on the caller; <c>ThreadsTests.SplittingABatchWithLengthsChangesNoBit</c> splits them.
/// </summary>
public class LengthsTests
{
    public static TheoryData<string> Names => ForwardGridTests.Names;

    /// <summary>Lengths in any order, with 1 and T among them, and a few sizes that split across threads.</summary>
    private static IEnumerable<(int T, int[] Lengths)> Batches()
    {
        yield return (6, [3, 6, 1, 6, 2, 5, 4]);
        yield return (5, [2, 2, 2]); // all shorter than the layout
        yield return (4, [1]);
        yield return (9, [9, 1, 3, 7, 8, 2, 9, 5, 4, 6, 1, 3, 9, 2, 8, 7, 5]);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void EachSequenceGetsWhatItGetsAlone(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(TestSupport.StableSeed(name));
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        foreach (bool training in c.Modes)
        {
            foreach (int threads in new[] { 1, 2 })
            {
                foreach ((int t, int[] lengths) in Batches())
                {
                    int b = lengths.Length;
                    float[] x = Padded(rng, c.BatchFirst, b, t, inputSize, lengths);
                    IModel model = Create(c, weights, training, threads);
                    Tensor output = model.Forward(Tensor.FromArray(x, Shape(c.BatchFirst, b, t, inputSize)), lengths);
                    bool lastStep = output.Shape.Count == 2;
                    int outputSize = output.Shape[^1];
                    string what = $"{name} {(training ? "train" : "eval")} threads={threads} T={t} lengths=[{string.Join(",", lengths)}]";
                    Assert.All(output.ToArray(), v => Assert.True(float.IsFinite(v), what + ": NaN in the padding leaked into the output"));
                    IModel alone = Create(c, weights, training, threads: 1);
                    for (int s = 0; s < b; s++)
                    {
                        int length = lengths[s];
                        float[] own = alone.Forward(Tensor.FromArray(Sequence(x, c.BatchFirst, b, t, inputSize, s, length), Shape(c.BatchFirst, 1, length, inputSize))).ToArray();
                        if (lastStep)
                        {
                            TestSupport.AssertClose(own, output.AsSpan().Slice(s * outputSize, outputSize), 1e-5, $"{what} sequence {s}");
                            continue;
                        }

                        float[] got = Sequence(output.ToArray(), c.BatchFirst, b, t, outputSize, s, t);
                        TestSupport.AssertClose(own, got.AsSpan(0, length * outputSize), 1e-5, $"{what} sequence {s}");
                        Assert.True(got.AsSpan(length * outputSize).IndexOfAnyExcept(0f) < 0, $"{what} sequence {s}: not zero past its length");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void TheOracleWithLengthsAgrees(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        var rng = new Random(3 + TestSupport.StableSeed(name));
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        IModel model = Create(c, weights, training: false, threads: 1);
        MethodInfo? withState = TestSupport.ForwardWithState(c.Type, lengths: true);
        RefRecurrent? first = c.Layers.OfType<RefRecurrent>().FirstOrDefault();
        foreach ((int t, int[] lengths) in Batches())
        {
            int b = lengths.Length;
            float[] x = Padded(rng, c.BatchFirst, b, t, inputSize, lengths);
            int[] shape = Shape(c.BatchFirst, b, t, inputSize);
            float[] clean = Array.ConvertAll(x, v => float.IsNaN(v) ? 0f : v); // the oracle reads every step: give it finite padding
            RefResult expected = ReferenceModel.Run(c.Layers, weights, clean, shape, c.BatchFirst, lengths);
            string what = $"{name} T={t} lengths=[{string.Join(",", lengths)}]";
            Tensor input = Tensor.FromArray(x, shape);
            TestSupport.AssertClose(expected.Output, model.Forward(input, lengths).AsSpan(), 1e-5, what + " output");
            if (withState is null || first is null)
            {
                continue;
            }

            object r = withState.Invoke(model, first.Cell == RefCell.Lstm ? [input, lengths, null, null] : [input, lengths, null])!;
            (Tensor _, Tensor h, Tensor? cN) = ForwardGridTests.Unpack(r, first.Cell == RefCell.Lstm);
            TestSupport.AssertClose(expected.H!, h.AsSpan(), 1e-5, what + " h");
            if (cN is not null)
            {
                TestSupport.AssertClose(expected.C!, cN.AsSpan(), 1e-5, what + " c");
            }
        }
    }

    /// <summary>Every gradient after a forward with lengths against the oracle's (PyTorch's definitions, in double, itself
    /// checked by finite differences with lengths): the parameters, the input, and where the model has states, h0 and c0
    /// given and the final states' gradients random. gradOutput is random past each length too, which must be ignored.</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void TheOracleWithLengthsGivesTheSameGradients(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        if (c.Dropout)
        {
            return; // the oracle has no dropout masks; the other cases run the same kernels
        }

        var rng = new Random(5 + TestSupport.StableSeed(name));
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        MethodInfo? withState = TestSupport.ForwardWithState(c.Type, lengths: true);
        MethodInfo? backwardWithState = c.Type.GetMethod("BackwardWithState");
        RefRecurrent? first = c.Layers.OfType<RefRecurrent>().FirstOrDefault();
        bool lstm = first?.Cell == RefCell.Lstm;
        foreach (int threads in new[] { 1, 2 })
        {
            foreach ((int t, int[] lengths) in Batches())
            {
                int b = lengths.Length;
                float[] x = Padded(rng, c.BatchFirst, b, t, inputSize, lengths);
                int[] shape = Shape(c.BatchFirst, b, t, inputSize);
                float[] clean = Array.ConvertAll(x, v => float.IsNaN(v) ? 0f : v); // the oracle reads every step: give it finite padding
                Tensor input = Tensor.FromArray(x, shape);
                IModel model = Create(c, weights, training: true, threads);
                string what = $"{name} threads={threads} T={t} lengths=[{string.Join(",", lengths)}]";
                RefGradients expected;
                Tensor gradInput;
                if (withState is null || backwardWithState is null || first is null)
                {
                    Tensor output = model.Forward(input, lengths);
                    float[] gradOutput = TestSupport.RandomArray(rng, output.Length);
                    gradInput = model.Backward(Tensor.FromArray(gradOutput, [.. output.Shape]));
                    expected = ReferenceModel.Backward(c.Layers, weights, clean, shape, c.BatchFirst, lengths, gradOutput);
                }
                else
                {
                    int states = first.NumLayers * (first.Bidirectional ? 2 : 1);
                    int[] stateShape = [states, b, first.HiddenSize];
                    float[] h0 = TestSupport.RandomArray(rng, states * b * first.HiddenSize);
                    float[] c0 = TestSupport.RandomArray(rng, states * b * first.HiddenSize);
                    float[] gradH = TestSupport.RandomArray(rng, states * b * first.HiddenSize);
                    float[] gradC = TestSupport.RandomArray(rng, states * b * first.HiddenSize);
                    object fr = withState.Invoke(model, lstm
                        ? [input, lengths, Tensor.FromArray(h0, stateShape), Tensor.FromArray(c0, stateShape)]
                        : [input, lengths, Tensor.FromArray(h0, stateShape)])!;
                    (Tensor output, _, _) = ForwardGridTests.Unpack(fr, lstm);
                    float[] gradOutput = TestSupport.RandomArray(rng, output.Length);
                    object br = backwardWithState.Invoke(model, lstm
                        ? [Tensor.FromArray(gradOutput, [.. output.Shape]), Tensor.FromArray(gradH, stateShape), Tensor.FromArray(gradC, stateShape)]
                        : [Tensor.FromArray(gradOutput, [.. output.Shape]), Tensor.FromArray(gradH, stateShape)])!;
                    (gradInput, Tensor gradH0, Tensor? gradC0) = ForwardGridTests.Unpack(br, lstm);
                    expected = ReferenceModel.Backward(c.Layers, weights, clean, shape, c.BatchFirst, lengths, gradOutput,
                        h0, lstm ? c0 : null, gradH, lstm ? gradC : null);
                    BackwardGridTests.AssertGradClose(expected.H0!, gradH0.AsSpan(), what + " h0");
                    if (lstm)
                    {
                        BackwardGridTests.AssertGradClose(expected.C0!, gradC0!.AsSpan(), what + " c0");
                    }
                }

                BackwardGridTests.AssertGradClose(expected.Input, gradInput.AsSpan(), what + " input");
                foreach ((string pname, Parameter p) in model.NamedParameters())
                {
                    BackwardGridTests.AssertGradClose(expected.Parameters[pname], p.Grad.AsSpan(), $"{what} {pname}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void GradientsAreTheSumOfEachSequencesAlone(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        if (c.Dropout)
        {
            return; // dropout masks differ between the batch and the sequences alone; the other cases cover the same code
        }

        var rng = new Random(7 + TestSupport.StableSeed(name));
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        foreach (int threads in new[] { 1, 2 })
        {
            foreach ((int t, int[] lengths) in Batches())
            {
                int b = lengths.Length;
                float[] x = Padded(rng, c.BatchFirst, b, t, inputSize, lengths);
                IModel model = Create(c, weights, training: true, threads);
                Tensor output = model.Forward(Tensor.FromArray(x, Shape(c.BatchFirst, b, t, inputSize)), lengths);
                bool lastStep = output.Shape.Count == 2;
                int outputSize = output.Shape[^1];
                // Gradients past each length are garbage the backward pass must ignore, as PyTorch's pad_packed_sequence does.
                float[] gradOutput = TestSupport.RandomArray(rng, output.Length);
                float[] gradInput = model.Backward(Tensor.FromArray(gradOutput, [.. output.Shape])).ToArray();
                string what = $"{name} threads={threads} T={t} lengths=[{string.Join(",", lengths)}]";

                IModel alone = Create(c, weights, training: true, threads: 1);
                for (int s = 0; s < b; s++)
                {
                    int length = lengths[s];
                    float[] xs = Sequence(x, c.BatchFirst, b, t, inputSize, s, length);
                    Tensor own = alone.Forward(Tensor.FromArray(xs, Shape(c.BatchFirst, 1, length, inputSize)));
                    float[] gs = lastStep
                        ? gradOutput.AsSpan(s * outputSize, outputSize).ToArray()
                        : Sequence(gradOutput, c.BatchFirst, b, t, outputSize, s, length);
                    float[] ownInput = alone.Backward(Tensor.FromArray(gs, [.. own.Shape])).ToArray(); // parameter gradients add up
                    float[] gotInput = Sequence(gradInput, c.BatchFirst, b, t, inputSize, s, t);
                    TestSupport.AssertClose(ownInput, gotInput.AsSpan(0, length * inputSize), 1e-4, $"{what} input gradient of sequence {s}");
                    Assert.True(gotInput.AsSpan(length * inputSize).IndexOfAnyExcept(0f) < 0, $"{what} sequence {s}: input gradient not zero past its length");
                }

                foreach (((string pname, Parameter p), Parameter q) in model.NamedParameters().Zip(alone.Parameters()))
                {
                    BackwardGridTests.AssertGradClose(Array.ConvertAll(q.Grad.ToArray(), v => (double)v), p.Grad.AsSpan(), $"{what} {pname}");
                }
            }
        }
    }

    [Theory]
    [InlineData("Lstm17x9")]
    [InlineData("Lstm7x3")]
    [InlineData("Gru17x8")]
    [InlineData("Gru9x7")]
    [InlineData("Rnn3x7")]
    [InlineData("Rnn7x8")]
    public void FinalStatesAndTheirGradientsAreEachSequencesOwn(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        RefRecurrent r = c.Layers.OfType<RefRecurrent>().Single();
        bool lstm = r.Cell == RefCell.Lstm;
        int states = r.NumLayers * (r.Bidirectional ? 2 : 1);
        int hidden = r.HiddenSize;
        MethodInfo forward = TestSupport.ForwardWithState(c.Type, lengths: true)!;
        MethodInfo forwardAlone = TestSupport.ForwardWithState(c.Type, lengths: false)!;
        MethodInfo backward = c.Type.GetMethod("BackwardWithState")!;
        var rng = new Random(11 + TestSupport.StableSeed(name));
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        const int T = 7;
        int[] lengths = [4, 7, 1, 5, 7, 2, 3, 6, 1];
        int b = lengths.Length;
        float[] x = Padded(rng, c.BatchFirst, b, T, inputSize, lengths);
        float[] h0 = TestSupport.RandomArray(rng, states * b * hidden);
        float[] c0 = TestSupport.RandomArray(rng, states * b * hidden);
        float[] gradH = TestSupport.RandomArray(rng, states * b * hidden);
        float[] gradC = TestSupport.RandomArray(rng, states * b * hidden);
        int[] stateShape = [states, b, hidden];
        foreach (int threads in new[] { 1, 2 })
        {
            IModel model = Create(c, weights, training: true, threads);
            Tensor input = Tensor.FromArray(x, Shape(c.BatchFirst, b, T, inputSize));
            object fr = forward.Invoke(model, lstm
                ? [input, lengths, Tensor.FromArray(h0, stateShape), Tensor.FromArray(c0, stateShape)]
                : [input, lengths, Tensor.FromArray(h0, stateShape)])!;
            (Tensor output, Tensor h, Tensor? cN) = ForwardGridTests.Unpack(fr, lstm);
            float[] gradOutput = TestSupport.RandomArray(rng, output.Length);
            object br = backward.Invoke(model, lstm
                ? [Tensor.FromArray(gradOutput, [.. output.Shape]), Tensor.FromArray(gradH, stateShape), Tensor.FromArray(gradC, stateShape)]
                : [Tensor.FromArray(gradOutput, [.. output.Shape]), Tensor.FromArray(gradH, stateShape)])!;
            (Tensor gradInput, Tensor gradH0, Tensor? gradC0) = ForwardGridTests.Unpack(br, lstm);

            IModel alone = Create(c, weights, training: true, threads: 1);
            string what = $"{name} threads={threads}";
            for (int s = 0; s < b; s++)
            {
                int length = lengths[s];
                int[] ownState = [states, 1, hidden];
                object ar = forwardAlone.Invoke(alone, lstm
                    ? [Tensor.FromArray(Sequence(x, c.BatchFirst, b, T, inputSize, s, length), Shape(c.BatchFirst, 1, length, inputSize)), Tensor.FromArray(StateOf(h0, states, b, hidden, s), ownState), Tensor.FromArray(StateOf(c0, states, b, hidden, s), ownState)]
                    : [Tensor.FromArray(Sequence(x, c.BatchFirst, b, T, inputSize, s, length), Shape(c.BatchFirst, 1, length, inputSize)), Tensor.FromArray(StateOf(h0, states, b, hidden, s), ownState)])!;
                (Tensor ownOutput, Tensor ownH, Tensor? ownC) = ForwardGridTests.Unpack(ar, lstm);
                TestSupport.AssertClose(ownH.ToArray(), StateOf(h.ToArray(), states, b, hidden, s), 1e-5, $"{what} h of sequence {s}");
                if (lstm)
                {
                    TestSupport.AssertClose(ownC!.ToArray(), StateOf(cN!.ToArray(), states, b, hidden, s), 1e-5, $"{what} c of sequence {s}");
                }

                float[] gs = Sequence(gradOutput, c.BatchFirst, b, T, output.Shape[^1], s, length);
                object abr = backward.Invoke(alone, lstm
                    ? [Tensor.FromArray(gs, [.. ownOutput.Shape]), Tensor.FromArray(StateOf(gradH, states, b, hidden, s), ownState), Tensor.FromArray(StateOf(gradC, states, b, hidden, s), ownState)]
                    : [Tensor.FromArray(gs, [.. ownOutput.Shape]), Tensor.FromArray(StateOf(gradH, states, b, hidden, s), ownState)])!;
                (Tensor ownGradInput, Tensor ownGradH0, Tensor? ownGradC0) = ForwardGridTests.Unpack(abr, lstm);
                TestSupport.AssertClose(ownGradInput.ToArray(), Sequence(gradInput.ToArray(), c.BatchFirst, b, T, inputSize, s, length), 1e-4, $"{what} input gradient of sequence {s}");
                TestSupport.AssertClose(ownGradH0.ToArray(), StateOf(gradH0.ToArray(), states, b, hidden, s), 1e-4, $"{what} h0 gradient of sequence {s}");
                if (lstm)
                {
                    TestSupport.AssertClose(ownGradC0!.ToArray(), StateOf(gradC0!.ToArray(), states, b, hidden, s), 1e-4, $"{what} c0 gradient of sequence {s}");
                }
            }

            foreach (((string pname, Parameter p), Parameter q) in model.NamedParameters().Zip(alone.Parameters()))
            {
                BackwardGridTests.AssertGradClose(Array.ConvertAll(q.Grad.ToArray(), v => (double)v), p.Grad.AsSpan(), $"{what} {pname}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void StepThroughASequenceGivesItsOutputsInABatchWithLengths(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        if (TestSupport.StepMethod(c.Type) is not { } stepMethod)
        {
            return; // a bidirectional model cannot stream
        }

        const int T = 7;
        int[] lengths = [5, 7, 1, 3, 7, 2];
        int b = lengths.Length;
        (Random rng, Dictionary<string, float[]> weights, int inputSize, float[] x) = RandomBatch(c, 5 + TestSupport.StableSeed(name), T, lengths);
        IModel model = Create(c, weights, training: false, threads: 1);
        float[] whole = model.Forward(Tensor.FromArray(x, Shape(c.BatchFirst, b, T, inputSize)), lengths).ToArray();
        bool lastStep = c.Layers.OfType<RefLastStep>().Any();
        int outputSize = whole.Length / (lastStep ? b : b * T);
        StepFunction step = stepMethod.CreateDelegate<StepFunction>(model);
        var y = new float[outputSize];
        for (int s = 0; s < b; s++)
        {
            var state = (ModelState)c.Type.GetMethod("CreateState", Type.EmptyTypes)!.Invoke(model, null)!;
            float[] xs = Sequence(x, c.BatchFirst, b, T, inputSize, s, lengths[s]);
            float[] ys = lastStep ? [] : Sequence(whole, c.BatchFirst, b, T, outputSize, s, lengths[s]);
            for (int t = 0; t < lengths[s]; t++)
            {
                step(xs.AsSpan(t * inputSize, inputSize), state, y);
                if (!lastStep)
                {
                    TestSupport.AssertClose(ys.AsSpan(t * outputSize, outputSize).ToArray(), y, 1e-6, $"{name} sequence {s} step {t}");
                }
            }

            if (lastStep)
            {
                TestSupport.AssertClose(whole.AsSpan(s * outputSize, outputSize).ToArray(), y, 1e-6, $"{name} sequence {s}");
            }
        }
    }

    private delegate void StepFunction(ReadOnlySpan<float> input, ModelState state, Span<float> output);

    /// <summary>
    /// Callers on real threads share one evaluation-mode model, each with its own batch and lengths (and one with
    /// tokens): the rows' order and packing live in each pass's workspace, so each gets, bit for bit, what it gets alone.
    /// </summary>
    [Fact]
    public void CallersOnSeveralThreadsWithTheirOwnLengthsGetWhatTheyGetAlone()
    {
        var rng = new Random(29);
        var model = new Lstm17x9(3) { Threads = 2 };
        model.Eval();
        var tokenModel = new TokenLstm(4);
        tokenModel.Eval();
        const int T = 9;
        int[][] lengths = [[9, 1, 4, 7, 2, 9, 3, 5], [2, 9, 9], [5, 6, 1, 8, 9, 3, 2, 7, 4, 9, 1, 6, 5]];
        float[][] inputs = lengths.Select(l => TestSupport.RandomArray(rng, l.Length * T * 17)).ToArray();
        int[][] tokens = lengths.Select(l => Enumerable.Range(0, l.Length * T).Select(_ => rng.Next(TokenLstm.NumEmbeddings)).ToArray()).ToArray();
        float[][] expected = lengths.Select((l, i) => Run(model, inputs[i], l)).ToArray();
        float[][] expectedTokens = lengths.Select((l, i) => RunTokens(tokenModel, tokens[i], l)).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var start = new System.Threading.Barrier(lengths.Length * 2);
        System.Threading.Thread[] threads = Enumerable.Range(0, lengths.Length * 2).Select(c => new System.Threading.Thread(() =>
        {
            int i = c % lengths.Length;
            bool useTokens = c >= lengths.Length;
            start.SignalAndWait();
            for (int call = 0; call < 40; call++)
            {
                float[] got = useTokens ? RunTokens(tokenModel, tokens[i], lengths[i]) : Run(model, inputs[i], lengths[i]);
                if (!got.AsSpan().SequenceEqual(useTokens ? expectedTokens[i] : expected[i]))
                {
                    failures.Add($"caller {c} ({(useTokens ? "tokens" : "floats")}, batch {i}), call {call}");
                }
            }
        })).ToArray();
        foreach (System.Threading.Thread t in threads)
        {
            t.Start();
        }

        foreach (System.Threading.Thread t in threads)
        {
            t.Join();
        }

        Assert.Empty(failures);

        static float[] Run(Lstm17x9 m, float[] x, int[] l)
        {
            var y = new float[l.Length * T * 18];
            m.Forward(x, l.Length, T, l, y);
            return y;
        }

        static float[] RunTokens(TokenLstm m, int[] ids, int[] l)
        {
            var y = new float[l.Length * T * TokenLstm.NumEmbeddings];
            m.Forward(ids, l.Length, T, l, y);
            return y;
        }
    }

    /// <summary>
    /// The span forms write every value of the caller's buffers: zeros past each length in an output and an input
    /// gradient that held NaN before, the same bits as the tensor forms' fresh arrays.
    /// </summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void DirtyBuffersGetZerosPastEachLength(string name)
    {
        ForwardGridTests.ModelCase c = ForwardGridTests.Cases[name];
        const int T = 7;
        int[] lengths = [3, 7, 1, 5, 7, 2];
        int b = lengths.Length;
        (Random rng, Dictionary<string, float[]> weights, int inputSize, float[] x) = RandomBatch(c, TestSupport.StableSeed(name) + 1, T, lengths);
        foreach (bool training in c.Modes)
        {
            IModel model = Create(c, weights, training, threads: 1);
            Tensor fresh = model.Forward(Tensor.FromArray(x, Shape(c.BatchFirst, b, T, inputSize)), lengths);
            var output = new float[fresh.Length];
            output.AsSpan().Fill(float.NaN);
            float[] gradOutput = TestSupport.RandomArray(rng, fresh.Length);
            Tensor freshGrad = training ? model.Backward(Tensor.FromArray(gradOutput, [.. fresh.Shape])) : fresh;
            model.Forward(x, b, T, lengths, output);
            string what = $"{name} {(training ? "train" : "eval")}";
            Assert.True(fresh.AsSpan().SequenceEqual(output), what + ": output");
            if (training)
            {
                var gradInput = new float[x.Length];
                gradInput.AsSpan().Fill(float.NaN);
                model.Backward(gradOutput, gradInput);
                Assert.True(freshGrad.AsSpan().SequenceEqual(gradInput), what + ": input gradient");
            }
        }
    }

    [Fact]
    public void LengthsThatAreAllTheLayoutsGiveTheSameBitsAsNoLengths()
    {
        var model = new Lstm17x9(5);
        var rng = new Random(3);
        float[] x = TestSupport.RandomArray(rng, 6 * 5 * 17);
        Tensor input = Tensor.FromArray(x, [5, 6, 17]);
        Assert.True(model.Forward(input).AsSpan().SequenceEqual(model.Forward(input, [6, 6, 6, 6, 6]).AsSpan()));
    }

    [Fact]
    public void BadLengthsAreRefusedNamingTheIndexAndValue()
    {
        var model = new Gru9x7(1);
        Tensor input = Tensor.Zeros(3, 4, 9);
        Assert.Contains("got 2", Assert.Throws<ArgumentException>(() => { model.Forward(input, [1, 2]); }).Message);
        Assert.Contains("lengths[1] = 0", Assert.Throws<ArgumentException>(() => { model.Forward(input, [1, 0, 4]); }).Message);
        Assert.Contains("lengths[2] = 5", Assert.Throws<ArgumentException>(() => { model.Forward(input, [1, 4, 5]); }).Message);
        Assert.Contains("lengths[0] = -1", Assert.Throws<ArgumentException>(() => model.Forward(new float[3 * 4 * 9], 3, 4, [-1, 1, 1], new float[3 * 4 * 14])).Message);
        Assert.Throws<ArgumentNullException>(() => { model.Forward(input, (int[])null!); });
    }

    [Fact]
    public void TheSpanForwardWithLengthsAllocatesNothing()
    {
        var model = new Forecaster(1);
        const int B = 16, T = 20;
        float[] x = new float[B * T];
        float[] y = new float[B];
        int[] lengths = Enumerable.Range(0, B).Select(i => 1 + (i * 7 % T)).ToArray();
        model.Forward(x, B, T, lengths, y);
        Assert.Equal(0, TestSupport.QuietestAllocation(() => model.Forward(x, B, T, lengths, y)));
        model.Train();
        float[] g = new float[B];
        model.Forward(x, B, T, lengths, y);
        model.Backward(g, default);
        Assert.Equal(0, TestSupport.QuietestAllocation(() =>
        {
            model.Forward(x, B, T, lengths, y);
            model.Backward(g, default);
        }));
    }

    private static IModel Create(ForwardGridTests.ModelCase c, Dictionary<string, float[]> weights, bool training, int threads) =>
        ThreadsTests.Create(c, weights, training, threads);

    private static int[] Shape(bool batchFirst, int b, int t, int features) => batchFirst ? [b, t, features] : [t, b, features];

    /// <summary>Random weights for <paramref name="c"/> and a random batch of <paramref name="lengths"/> padded with NaN to <paramref name="t"/> steps.</summary>
    private static (Random Rng, Dictionary<string, float[]> Weights, int InputSize, float[] X) RandomBatch(ForwardGridTests.ModelCase c, int seed, int t, int[] lengths)
    {
        var rng = new Random(seed);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        int inputSize = ForwardGridTests.InputSize(c.Layers);
        return (rng, weights, inputSize, Padded(rng, c.BatchFirst, lengths.Length, t, inputSize, lengths));
    }

    /// <summary>A random batch with NaN at every step past each sequence's length: none of it may reach a result.</summary>
    internal static float[] Padded(Random rng, bool batchFirst, int b, int t, int features, int[] lengths)
    {
        float[] x = TestSupport.RandomArray(rng, b * t * features, 2.0);
        for (int s = 0; s < b; s++)
        {
            for (int step = lengths[s]; step < t; step++)
            {
                x.AsSpan(At(batchFirst, b, t, s, step) * features, features).Fill(float.NaN);
            }
        }

        return x;
    }

    private static int At(bool batchFirst, int b, int t, int s, int step) => batchFirst ? (s * t) + step : (step * b) + s;

    /// <summary>The first <paramref name="length"/> steps of sequence <paramref name="s"/>, contiguous (a batch of one in either layout).</summary>
    private static float[] Sequence(float[] values, bool batchFirst, int b, int t, int features, int s, int length)
    {
        float[] result = new float[length * features];
        for (int step = 0; step < length; step++)
        {
            values.AsSpan(At(batchFirst, b, t, s, step) * features, features).CopyTo(result.AsSpan(step * features));
        }

        return result;
    }

    /// <summary>Sequence <paramref name="s"/>'s rows of a state <c>[states, B, H]</c>.</summary>
    private static float[] StateOf(float[] state, int states, int b, int hidden, int s)
    {
        float[] result = new float[states * hidden];
        for (int i = 0; i < states; i++)
        {
            state.AsSpan(((i * b) + s) * hidden, hidden).CopyTo(result.AsSpan(i * hidden));
        }

        return result;
    }
}
