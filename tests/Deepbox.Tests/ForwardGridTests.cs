using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Deepbox.Tests.Models;
using Deepbox.Tests.Oracle;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// Every declared model of <see cref="TestModels"/> against the scalar oracle: outputs and final states to 1e-5,
/// for T in {1, 5}, B in {1, 3}, unbatched input, zero and random initial states, the tensor and span entry points.
/// </summary>
public class ForwardGridTests
{
    private const double Tolerance = 1e-5;

    internal static readonly Dictionary<string, ModelCase> Cases = new ModelCase[]
    {
        Case<Rnn1x3>(true, Rec(RefCell.Rnn, 1, 3, 1, bias: true, bi: false, relu: false)),
        Case<Rnn3x7>(true, Rec(RefCell.Rnn, 3, 7, 2, bias: true, bi: true, relu: false)),
        Case<Rnn7x8>(false, Rec(RefCell.Rnn, 7, 8, 1, bias: false, bi: false, relu: true)),
        Case<Rnn8x9>(true, Rec(RefCell.Rnn, 8, 9, 3, bias: true, bi: false, relu: false)),
        Case<Rnn9x17>(true, Rec(RefCell.Rnn, 9, 17, 1, bias: true, bi: true, relu: true)),
        Case<Rnn17x33>(false, Rec(RefCell.Rnn, 17, 33, 1, bias: true, bi: false, relu: false)),
        Case<Rnn4x129>(true, Rec(RefCell.Rnn, 4, 129, 1, bias: true, bi: false, relu: false)),
        Case<Rnn33x1>(true, Rec(RefCell.Rnn, 33, 1, 2, bias: false, bi: false, relu: false)),
        Case<Lstm3x1>(true, Rec(RefCell.Lstm, 3, 1, 1, bias: true, bi: false, relu: false)),
        Case<Lstm7x3>(false, Rec(RefCell.Lstm, 7, 3, 1, bias: true, bi: true, relu: false)),
        Case<Lstm8x7>(true, Rec(RefCell.Lstm, 8, 7, 2, bias: false, bi: false, relu: false)),
        Case<Lstm9x8>(true, Rec(RefCell.Lstm, 9, 8, 1, bias: true, bi: false, relu: false)),
        Case<Lstm17x9>(true, Rec(RefCell.Lstm, 17, 9, 3, bias: true, bi: true, relu: false)),
        Case<Lstm33x17>(true, Rec(RefCell.Lstm, 33, 17, 1, bias: true, bi: false, relu: false)),
        Case<Lstm5x130>(true, Rec(RefCell.Lstm, 5, 130, 1, bias: true, bi: false, relu: false)),
        Case<Lstm1x33>(false, Rec(RefCell.Lstm, 1, 33, 2, bias: false, bi: true, relu: false)),
        Case<Gru7x1>(true, Rec(RefCell.Gru, 7, 1, 2, bias: true, bi: false, relu: false)),
        Case<Gru8x3>(false, Rec(RefCell.Gru, 8, 3, 1, bias: true, bi: false, relu: false)),
        Case<Gru9x7>(true, Rec(RefCell.Gru, 9, 7, 1, bias: false, bi: true, relu: false)),
        Case<Gru17x8>(true, Rec(RefCell.Gru, 17, 8, 2, bias: true, bi: true, relu: false)),
        Case<Gru33x9>(true, Rec(RefCell.Gru, 33, 9, 1, bias: true, bi: false, relu: false)),
        Case<Gru3x129>(true, Rec(RefCell.Gru, 3, 129, 1, bias: true, bi: true, relu: false)),
        Case<Gru1x17>(false, Rec(RefCell.Gru, 1, 17, 3, bias: true, bi: false, relu: false)),
        Case<Gru3x33>(true, Rec(RefCell.Gru, 3, 33, 1, bias: true, bi: true, relu: false)),
        Case<Gru5x257>(true, Rec(RefCell.Gru, 5, 257, 1, bias: true, bi: false, relu: false)),
        Case<Lstm8x16>(true, Rec(RefCell.Lstm, 8, 16, 1, bias: true, bi: false, relu: false)),
        Case<Gru5x48>(true, Rec(RefCell.Gru, 5, 48, 2, bias: true, bi: false, relu: false)),
        Case<Gru3x144>(true, Rec(RefCell.Gru, 3, 144, 1, bias: true, bi: false, relu: false)),
        Case<Rnn6x32>(true, Rec(RefCell.Rnn, 6, 32, 2, bias: true, bi: false, relu: true)),
        Case<Forecaster>(true, Rec(RefCell.Lstm, 1, 32, 2, name: "lstm"), new RefLastStep(), new RefLinear(32, 1, true, RefActivation.None, "fc")) with { Dropout = true },
        Case<BiGruTanhHead>(true, Rec(RefCell.Gru, 5, 9, 1, bi: true), new RefLinear(18, 4, true, RefActivation.Tanh, null)),
        Case<LinearRnnSigmoidHead>(true, new RefLinear(6, 10, true, RefActivation.Relu, null), Rec(RefCell.Rnn, 10, 3, 1), new RefLastStep(), new RefLinear(3, 2, false, RefActivation.Sigmoid, null)),
        Case<LstmGruStack>(false, Rec(RefCell.Lstm, 4, 9, 1, bi: true, name: "encoder"), Rec(RefCell.Gru, 18, 5, 2), new RefLinear(5, 3, true, RefActivation.None, "head")),
        Case<LinearOnly>(true, new RefLinear(3, 17, true, RefActivation.None, null)),
        Case<BiRnnMlpHead>(true, Rec(RefCell.Rnn, 2, 9, 2, bi: true, relu: true), new RefLastStep(), new RefLinear(18, 7, true, RefActivation.Relu, null), new RefLinear(7, 3, true, RefActivation.None, null)),
        Case<Outer.NestedGru>(true, Rec(RefCell.Gru, 4, 5, 1, name: "gru")),
    }.ToDictionary(c => c.Name);

    public static TheoryData<string> Names => new(Cases.Keys.OrderBy(k => k, StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Names))]
    public void NamesShapesAndOrderArePyTorchs(string name)
    {
        ModelCase c = Cases[name];
        IModel model = c.Create();
        var expected = ReferenceModel.ParameterNames(c.Layers).Select(p => $"{p.Name} {Tensor.FormatShape(p.Shape)}").ToList();
        var actual = model.NamedParameters().Select(p => $"{p.Name} {Tensor.FormatShape(p.Parameter.Shape)}").ToList();
        Assert.Equal(expected, actual);
        Assert.Equal(actual, model.Parameters().Select(p => $"{p.Name} {Tensor.FormatShape(p.Shape)}"));
        Assert.Equal(expected.Count, model.StateDict().Count);
    }

    public static TheoryData<string, bool> NamesAndModes
    {
        get
        {
            var data = new TheoryData<string, bool>();
            foreach (string name in Cases.Keys.OrderBy(k => k, StringComparer.Ordinal))
            {
                foreach (bool training in Cases[name].Modes)
                {
                    data.Add(name, training);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(NamesAndModes))]
    public void ForwardMatchesOracle(string name, bool training)
    {
        ModelCase c = Cases[name];
        var rng = new Random(TestSupport.StableSeed(name));
        IModel model = c.Create();
        SetMode(model, training);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, weights));
        int inputSize = InputSize(c.Layers);

        // Shapes in an order that grows, shrinks and grows the workspace again.
        foreach ((int t, int b) in new[] { (1, 1), (5, 3), (1, 3), (5, 1), (3, 9), (9, 9), (5, 3) })
        {
            float[] x = TestSupport.RandomArray(rng, t * b * inputSize, 2.0);
            int[] shape = c.BatchFirst ? [b, t, inputSize] : [t, b, inputSize];
            RefResult expected = ReferenceModel.Run(c.Layers, weights, x, shape, c.BatchFirst);
            Tensor output = model.Forward(Tensor.FromArray(x, shape));
            Assert.Equal(expected.OutputShape, output.Shape);
            TestSupport.AssertClose(expected.Output, output.AsSpan(), Tolerance, $"{name} T={t} B={b} output");

            var spanOut = new float[expected.Output.Length];
            model.Forward(x, b, t, spanOut);
            TestSupport.AssertClose(expected.Output, spanOut, Tolerance, $"{name} T={t} B={b} span output");
        }

        // Unbatched [T, I].
        float[] u = TestSupport.RandomArray(rng, 5 * inputSize, 2.0);
        RefResult ue = ReferenceModel.Run(c.Layers, weights, u, [5, inputSize], c.BatchFirst);
        Tensor uo = model.Forward(Tensor.FromArray(u, 5, inputSize));
        Assert.Equal(ue.OutputShape, uo.Shape);
        TestSupport.AssertClose(ue.Output, uo.AsSpan(), Tolerance, $"{name} unbatched output");
    }

    [Theory]
    [MemberData(nameof(NamesAndModes))]
    public void ForwardWithStateMatchesOracle(string name, bool training)
    {
        ModelCase c = Cases[name];
        MethodInfo? withState = TestSupport.ForwardWithState(c.Type, lengths: false);
        List<RefRecurrent> recurrent = c.Layers.OfType<RefRecurrent>().ToList();
        if (recurrent.Count != 1)
        {
            Assert.Null(withState); // only models with one recurrent layer attribute take and give states
            return;
        }

        Assert.NotNull(withState);
        RefRecurrent r = recurrent[0];
        bool lstm = r.Cell == RefCell.Lstm;
        int states = r.NumLayers * (r.Bidirectional ? 2 : 1);
        var rng = new Random(17 + TestSupport.StableSeed(name));
        IModel model = c.Create();
        SetMode(model, training);
        Dictionary<string, float[]> weights = TestSupport.RandomWeights(c.Layers, rng);
        model.LoadStateDict(TestSupport.ToTensors(c.Layers, weights));
        int inputSize = InputSize(c.Layers);
        foreach ((int t, int b, bool unbatched) in new[] { (5, 3, false), (1, 1, false), (5, 1, true), (1, 3, false) })
        {
            float[] x = TestSupport.RandomArray(rng, t * b * inputSize, 2.0);
            int[] shape = unbatched ? [t, inputSize] : c.BatchFirst ? [b, t, inputSize] : [t, b, inputSize];
            int[] stateShape = unbatched ? [states, r.HiddenSize] : [states, b, r.HiddenSize];
            float[] h0 = TestSupport.RandomArray(rng, states * b * r.HiddenSize);
            float[] c0 = TestSupport.RandomArray(rng, states * b * r.HiddenSize);
            RefResult expected = ReferenceModel.Run(c.Layers, weights, x, shape, c.BatchFirst, h0, lstm ? c0 : null);
            object?[] args = lstm
                ? [Tensor.FromArray(x, shape), Tensor.FromArray(h0, stateShape), Tensor.FromArray(c0, stateShape)]
                : [Tensor.FromArray(x, shape), Tensor.FromArray(h0, stateShape)];
            object result = withState!.Invoke(model, args)!;
            (Tensor output, Tensor h, Tensor? cell) = Unpack(result, lstm);
            string what = $"{name} T={t} B={b}{(unbatched ? " unbatched" : string.Empty)}";
            TestSupport.AssertClose(expected.Output, output.AsSpan(), Tolerance, what + " output");
            Assert.Equal(stateShape, h.Shape);
            TestSupport.AssertClose(expected.H!, h.AsSpan(), Tolerance, what + " h");
            if (lstm)
            {
                Assert.Equal(stateShape, cell!.Shape);
                TestSupport.AssertClose(expected.C!, cell.AsSpan(), Tolerance, what + " c");
            }

            // Null states are zeros.
            RefResult zero = ReferenceModel.Run(c.Layers, weights, x, shape, c.BatchFirst);
            object zr = withState.Invoke(model, lstm ? [Tensor.FromArray(x, shape), null, null] : [Tensor.FromArray(x, shape), null])!;
            (Tensor zo, Tensor zh, _) = Unpack(zr, lstm);
            TestSupport.AssertClose(zero.Output, zo.AsSpan(), Tolerance, what + " output from zero states");
            TestSupport.AssertClose(zero.H!, zh.AsSpan(), Tolerance, what + " h from zero states");
        }
    }

    private static void SetMode(IModel model, bool training)
    {
        if (training)
        {
            model.Train();
        }
        else
        {
            model.Eval();
        }
    }

    internal static (Tensor Output, Tensor H, Tensor? C) Unpack(object result, bool lstm)
    {
        if (lstm)
        {
            var (o, (h, c)) = ((Tensor, (Tensor, Tensor)))result;
            return (o, h, c);
        }

        var (output, hidden) = ((Tensor, Tensor))result;
        return (output, hidden, null);
    }

    internal static int InputSize(IReadOnlyList<RefLayer> layers) => layers[0] switch
    {
        RefRecurrent r => r.InputSize,
        RefLinear l => l.InFeatures,
        _ => throw new InvalidOperationException("the first layer has no input size"),
    };

    internal static RefRecurrent Rec(RefCell cell, int input, int hidden, int layers, bool bias = true, bool bi = false, bool relu = false, string? name = null) =>
        new(cell, input, hidden, layers, bias, bi, relu, name);

    private static ModelCase Case<TModel>(bool batchFirst, params RefLayer[] layers)
        where TModel : IModel, new() =>
        new(typeof(TModel).Name, typeof(TModel), () => new TModel(), layers, batchFirst);

    /// <summary>A declared model and its oracle description; <see cref="Dropout"/> models are compared in eval mode only.</summary>
    internal sealed record ModelCase(string Name, Type Type, Func<IModel> Create, RefLayer[] Layers, bool BatchFirst)
    {
        public bool Dropout { get; init; }

        /// <summary>The modes whose forward pass equals the oracle's: both, or eval only when dropout is on in training.</summary>
        public bool[] Modes => Dropout ? [false] : [false, true];
    }
}
