// Test oracle: a plain scalar reference implementation of PyTorch's nn.RNN, nn.LSTM, nn.GRU and nn.Linear,
// written from PyTorch's documented equations, in double arithmetic. It shares no code with the generator
// and uses no Deepbox type: clarity over speed. Tensors are held as jagged arrays x[b][t][f].
// Backward is plain backpropagation through time over the same forward pass, written from the same equations.
using System;
using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Tests.Oracle;

public enum RefCell { Rnn, Lstm, Gru }

public enum RefActivation { None, Tanh, Relu, Sigmoid }

public abstract record RefLayer(string? Name);

/// <summary>One recurrent attribute: a stack of NumLayers layers, each with 1 or 2 directions.
/// Relu selects nonlinearity='relu' and is valid for RefCell.Rnn only.</summary>
public sealed record RefRecurrent(RefCell Cell, int InputSize, int HiddenSize, int NumLayers, bool Bias, bool Bidirectional, bool Relu, string? Name) : RefLayer(Name);

public sealed record RefLinear(int InFeatures, int OutFeatures, bool Bias, RefActivation Activation, string? Name) : RefLayer(Name);

/// <summary>nn.Embedding, first layer only: the input's single feature is a token id, replaced by its row of weight [NumEmbeddings, Dim].
/// PaddingIdx's row gets no gradient (-1: none).</summary>
public sealed record RefEmbedding(int NumEmbeddings, int Dim, int PaddingIdx, string? Name) : RefLayer(Name);

/// <summary>[B, T, F] to [B, F]: the row at t = T-1.</summary>
public sealed record RefLastStep() : RefLayer((string?)null);

public sealed class RefResult
{
    /// <summary>Row-major, in the model's output layout.</summary>
    public required double[] Output { get; init; }
    public required int[] OutputShape { get; init; }
    /// <summary>Final hidden states of the first recurrent attribute, [L*D, B, H] (unbatched: [L*D, H]); null without one.</summary>
    public double[]? H { get; init; }
    /// <summary>Final cell states (LSTM only), same shape as H.</summary>
    public double[]? C { get; init; }
}

public sealed class RefGradients
{
    /// <summary>dL/dθ by full PyTorch name, PyTorch layout, row-major: exactly the names ParameterNames gives.</summary>
    public required Dictionary<string, double[]> Parameters { get; init; }
    /// <summary>dL/dinput, in the input's layout and shape.</summary>
    public required double[] Input { get; init; }
    /// <summary>dL/dh0 of the first recurrent attribute, h0's shape ([L*D, B, H], unbatched [L*D, H]), also when h0 was
    /// not given (zeros); null without a recurrent layer.</summary>
    public double[]? H0 { get; init; }
    /// <summary>dL/dc0 when the first recurrent attribute is an LSTM, c0's shape; else null.</summary>
    public double[]? C0 { get; init; }
}

public static class ReferenceModel
{
    /// <summary>The PyTorch parameter names of a model made of these layers, in PyTorch's order, with shapes.</summary>
    public static IReadOnlyList<(string Name, int[] Shape)> ParameterNames(IReadOnlyList<RefLayer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0) throw new ArgumentException("A model needs at least one layer.", nameof(layers));
        var result = new List<(string Name, int[] Shape)>();
        for (int index = 0; index < layers.Count; index++)
        {
            RefLayer layer = layers[index] ?? throw new ArgumentException($"Layer {index} is null.", nameof(layers));
            string prefix = Prefix(layers, index);
            switch (layer)
            {
                case RefRecurrent r:
                    Validate(r);
                    int gh = Gates(r.Cell) * r.HiddenSize;
                    int dirs = r.Bidirectional ? 2 : 1;
                    for (int l = 0; l < r.NumLayers; l++)
                    {
                        int inSize = l == 0 ? r.InputSize : dirs * r.HiddenSize;
                        for (int d = 0; d < dirs; d++)
                        {
                            string sfx = Suffix(l, d);
                            result.Add((prefix + "weight_ih" + sfx, [gh, inSize]));
                            result.Add((prefix + "weight_hh" + sfx, [gh, r.HiddenSize]));
                            if (r.Bias)
                            {
                                result.Add((prefix + "bias_ih" + sfx, [gh]));
                                result.Add((prefix + "bias_hh" + sfx, [gh]));
                            }
                        }
                    }
                    break;
                case RefLinear lin:
                    if (lin.InFeatures <= 0 || lin.OutFeatures <= 0) throw new ArgumentException($"Layer {index}: Linear sizes must be positive.", nameof(layers));
                    result.Add((prefix + "weight", [lin.OutFeatures, lin.InFeatures]));
                    if (lin.Bias) result.Add((prefix + "bias", [lin.OutFeatures]));
                    break;
                case RefLastStep:
                    break;
                case RefEmbedding e:
                    if (index != 0) throw new ArgumentException($"Layer {index}: an Embedding comes first only.", nameof(layers));
                    result.Add((prefix + "weight", [e.NumEmbeddings, e.Dim]));
                    break;
                default:
                    throw new ArgumentException($"Layer {index}: unknown layer type {layer.GetType().Name}.", nameof(layers));
            }
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string name, _) in result)
        {
            if (!seen.Add(name)) throw new ArgumentException($"Duplicate parameter name '{name}'.", nameof(layers));
        }
        return result;
    }

    /// <summary>Runs the model (eval mode). weights: by full PyTorch name, PyTorch layout, row-major; exactly the names
    /// ParameterNames gives (like load_state_dict(strict=True)). input: [B, T, I] if batchFirst, [T, B, I] if not,
    /// or [T, I] unbatched. h0/c0: initial states of the first recurrent attribute, [L*D, B, H] (unbatched [L*D, H]); null = zeros.</summary>
    public static RefResult Run(IReadOnlyList<RefLayer> layers, IReadOnlyDictionary<string, float[]> weights,
        float[] input, int[] inputShape, bool batchFirst, float[]? h0 = null, float[]? c0 = null) =>
        Run(layers, weights, input, inputShape, batchFirst, lengths: null, h0, c0);

    /// <summary>Run with each sequence's length (null: all T), PyTorch's packed semantics: each sequence runs its own
    /// steps only (a reverse direction starts at its last step), its final states are those after its own steps,
    /// LastStep takes its output at step length - 1, and the model's output past its length is 0.</summary>
    public static RefResult Run(IReadOnlyList<RefLayer> layers, IReadOnlyDictionary<string, float[]> weights,
        float[] input, int[] inputShape, bool batchFirst, int[]? lengths, float[]? h0 = null, float[]? c0 = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(inputShape);
        return Forward(layers, CheckedWeights(layers, weights, v => v), ToDouble(input), inputShape, batchFirst, ToDouble(h0), ToDouble(c0), lengths).Result;
    }

    /// <summary>Run entirely in double (weights, input and states not rounded to float), for finite-difference checks.</summary>
    internal static RefResult RunDouble(IReadOnlyList<RefLayer> layers, IReadOnlyDictionary<string, double[]> weights,
        double[] input, int[] inputShape, bool batchFirst, double[]? h0 = null, double[]? c0 = null, int[]? lengths = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(inputShape);
        return Forward(layers, CheckedWeights(layers, weights, v => v), (double[])input.Clone(), inputShape, batchFirst, h0, c0, lengths).Result;
    }

    /// <summary>Gradients of L = sum(gradOutput ⊙ output) + sum(gradH ⊙ hN) + sum(gradC ⊙ cN) with respect to every
    /// parameter, the input, h0 and c0 (the first recurrent attribute's; h0/c0 given or zeros, as in Run). gradOutput has
    /// the output's shape and layout; gradH/gradC (optional, null = zeros) the shape of Run's H/C.</summary>
    public static RefGradients Backward(IReadOnlyList<RefLayer> layers, IReadOnlyDictionary<string, float[]> weights,
        float[] input, int[] inputShape, bool batchFirst, float[] gradOutput,
        float[]? h0 = null, float[]? c0 = null, float[]? gradH = null, float[]? gradC = null) =>
        Backward(layers, weights, input, inputShape, batchFirst, lengths: null, gradOutput, h0, c0, gradH, gradC);

    /// <summary>Backward after <see cref="Run(IReadOnlyList{RefLayer}, IReadOnlyDictionary{string, float[]}, float[], int[], bool, int[], float[], float[])"/>
    /// with lengths: PyTorch's gradients through pack_padded_sequence, the module and pad_packed_sequence. gradOutput past
    /// each sequence's length is ignored (that output is the constant 0); the input gradient there is 0.</summary>
    public static RefGradients Backward(IReadOnlyList<RefLayer> layers, IReadOnlyDictionary<string, float[]> weights,
        float[] input, int[] inputShape, bool batchFirst, int[]? lengths, float[] gradOutput,
        float[]? h0 = null, float[]? c0 = null, float[]? gradH = null, float[]? gradC = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(gradOutput);
        return BackwardCore(layers, CheckedWeights(layers, weights, v => v), ToDouble(input), inputShape, batchFirst,
            ToDouble(gradOutput), ToDouble(h0), ToDouble(c0), ToDouble(gradH), ToDouble(gradC), lengths);
    }

    /// <summary>Backward entirely in double, for finite-difference checks against RunDouble.</summary>
    internal static RefGradients BackwardDouble(IReadOnlyList<RefLayer> layers, IReadOnlyDictionary<string, double[]> weights,
        double[] input, int[] inputShape, bool batchFirst, double[] gradOutput,
        double[]? h0 = null, double[]? c0 = null, double[]? gradH = null, double[]? gradC = null, int[]? lengths = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(gradOutput);
        return BackwardCore(layers, CheckedWeights(layers, weights, v => v), (double[])input.Clone(), inputShape, batchFirst,
            gradOutput, h0, c0, gradH, gradC, lengths);
    }

    // Weights: exactly the expected names, each with the expected element count; returned in double.
    private static Dictionary<string, double[]> CheckedWeights<T>(IReadOnlyList<RefLayer> layers, IReadOnlyDictionary<string, T[]> weights, Func<T, double> toDouble)
    {
        IReadOnlyList<(string Name, int[] Shape)> expected = ParameterNames(layers);
        var result = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach ((string name, int[] pshape) in expected)
        {
            if (!weights.TryGetValue(name, out T[]? w) || w is null) throw new ArgumentException($"Missing weight '{name}'.", nameof(weights));
            if (w.Length != Product(pshape)) throw new ArgumentException($"Weight '{name}' has {w.Length} elements, expected {Product(pshape)}.", nameof(weights));
            result[name] = w.Select(toDouble).ToArray();
        }
        if (weights.Count != expected.Count)
        {
            var names = new HashSet<string>(expected.Select(e => e.Name), StringComparer.Ordinal);
            string extra = weights.Keys.First(k => !names.Contains(k));
            throw new ArgumentException($"Unexpected weight '{extra}'.", nameof(weights));
        }
        return result;
    }

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(values))]
    private static double[]? ToDouble(float[]? values) => values?.Select(v => (double)v).ToArray();

    // ---------- forward pass, keeping what the backward pass needs ----------

    /// <summary>Activations between layers: Seq[b][t][f] while there is a time axis, Vec[b][f] after LastStep.</summary>
    private sealed record Activation(double[][][]? Seq, double[][]? Vec);

    /// <summary>One time step of one direction of one layer: the step's input, the incoming states, and the two
    /// pre-activation halves W_ih x + b_ih and W_hh h + b_hh (all gate values follow from these).</summary>
    private sealed record Step(double[] X, double[] HPrev, double[] CPrev, double[] Gi, double[] Gg);

    /// <summary>A recurrent attribute's forward pass: LayerInputs[l][b][t][f] and Steps[l][d][b][t] (t is the time index).</summary>
    private sealed record RecurrentTrace(double[][][][] LayerInputs, Step[][][][] Steps);

    private sealed class ForwardPass
    {
        public required RefResult Result { get; init; }
        public required bool Batched { get; init; }
        public required int FirstRecurrent { get; init; }
        /// <summary>Each sequence's length (all T without lengths).</summary>
        public required int[] Lengths { get; init; }
        /// <summary>Per layer: the activation it received.</summary>
        public required List<Activation> LayerInputs { get; init; }
        /// <summary>Per layer: its trace if it is recurrent, else null.</summary>
        public required List<RecurrentTrace?> Recurrent { get; init; }
    }

    // weights have been checked by CheckedWeights.
    private static ForwardPass Forward(IReadOnlyList<RefLayer> layers, IReadOnlyDictionary<string, double[]> weights,
        double[] input, int[] inputShape, bool batchFirst, double[]? h0, double[]? c0, int[]? lengths = null)
    {
        // Input to x[b][t][i].
        bool batched = inputShape.Length == 3;
        if (!batched && inputShape.Length != 2) throw new ArgumentException("inputShape must be [B, T, I], [T, B, I] or [T, I].", nameof(inputShape));
        if (inputShape.Any(n => n <= 0)) throw new ArgumentException("inputShape dimensions must be positive.", nameof(inputShape));
        if (input.Length != Product(inputShape)) throw new ArgumentException($"input has {input.Length} elements, shape needs {Product(inputShape)}.", nameof(input));
        int batch = batched ? (batchFirst ? inputShape[0] : inputShape[1]) : 1;
        int steps = batched ? (batchFirst ? inputShape[1] : inputShape[0]) : inputShape[0];
        double[][][] x = ToSequence(input, batched, batchFirst, batch, steps, inputShape[^1]);
        if (lengths is not null && (lengths.Length != batch || lengths.Any(l => l < 1 || l > steps))) throw new ArgumentException("lengths: one per sequence, each in [1, T].", nameof(lengths));
        int[] own = lengths ?? Enumerable.Repeat(steps, batch).ToArray();

        int firstRecurrent = FirstRecurrent(layers);
        if (firstRecurrent < 0 && (h0 is not null || c0 is not null)) throw new ArgumentException("h0/c0 given but the model has no recurrent layer.", nameof(h0));

        double[][][]? seq = x;
        double[][]? vec = null;
        double[][][]? hN = null, cN = null;
        var layerInputs = new List<Activation>();
        var traces = new List<RecurrentTrace?>();
        for (int index = 0; index < layers.Count; index++)
        {
            string prefix = Prefix(layers, index);
            double[] P(string n) => weights[prefix + n];
            layerInputs.Add(new Activation(seq, vec));
            RecurrentTrace? trace = null;
            switch (layers[index])
            {
                case RefRecurrent r:
                    if (seq is null) throw new ArgumentException($"Layer {index}: a recurrent layer needs a time axis (it follows LastStep).", nameof(layers));
                    if (seq[0][0].Length != r.InputSize) throw new ArgumentException($"Layer {index}: input width {seq[0][0].Length}, InputSize {r.InputSize}.", nameof(layers));
                    double[][][]? hInit = null, cInit = null;
                    if (index == firstRecurrent)
                    {
                        if (c0 is not null && r.Cell != RefCell.Lstm) throw new ArgumentException("c0 is for an LSTM only.", nameof(c0));
                        hInit = States(h0, r, batch, nameof(h0));
                        cInit = States(c0, r, batch, nameof(c0));
                    }
                    (seq, double[][][] h, double[][][] c, trace) = RunRecurrent(r, P, seq, hInit, cInit, own);
                    if (index == firstRecurrent) { hN = h; cN = r.Cell == RefCell.Lstm ? c : null; }
                    break;
                case RefLinear lin:
                    double[] w = P("weight");
                    double[] bias = lin.Bias ? P("bias") : new double[lin.OutFeatures];
                    if (seq is not null)
                    {
                        if (seq[0][0].Length != lin.InFeatures) throw new ArgumentException($"Layer {index}: input width {seq[0][0].Length}, InFeatures {lin.InFeatures}.", nameof(layers));
                        seq = seq.Select(rows => rows.Select(row => Linear(lin, w, bias, row)).ToArray()).ToArray();
                    }
                    else
                    {
                        if (vec![0].Length != lin.InFeatures) throw new ArgumentException($"Layer {index}: input width {vec[0].Length}, InFeatures {lin.InFeatures}.", nameof(layers));
                        vec = vec.Select(row => Linear(lin, w, bias, row)).ToArray();
                    }
                    break;
                case RefEmbedding e:
                    double[] table = P("weight");
                    seq = seq!.Select(rows => rows.Select(row => table.AsSpan(TokenId(row, e) * e.Dim, e.Dim).ToArray()).ToArray()).ToArray();
                    break;
                case RefLastStep:
                    if (seq is null) throw new ArgumentException($"Layer {index}: LastStep needs a time axis.", nameof(layers));
                    vec = seq.Select((rows, b) => (double[])rows[own[b] - 1].Clone()).ToArray();
                    seq = null;
                    break;
            }
            traces.Add(trace);
        }

        // Past each sequence's length the output is 0 (after a head too).
        if (seq is not null)
        {
            for (int b = 0; b < batch; b++)
            {
                for (int t = own[b]; t < steps; t++) Array.Clear(seq[b][t]);
            }
        }

        // Output layout.
        double[] output;
        int[] shape;
        if (seq is not null)
        {
            int f = seq[0][0].Length;
            if (!batched) shape = [steps, f];
            else if (batchFirst) shape = [batch, steps, f];
            else shape = [steps, batch, f];
            output = FromSequence(seq, batched, batchFirst);
        }
        else
        {
            int f = vec![0].Length;
            shape = batched ? [batch, f] : [f];
            output = vec.SelectMany(row => row).ToArray();
        }

        return new ForwardPass
        {
            Result = new RefResult
            {
                Output = output,
                OutputShape = shape,
                H = hN is null ? null : Flatten(hN),
                C = cN is null ? null : Flatten(cN),
            },
            Batched = batched,
            FirstRecurrent = firstRecurrent,
            Lengths = own,
            LayerInputs = layerInputs,
            Recurrent = traces,
        };
    }

    // One recurrent attribute. state arrays are [L*D][B][H].
    private static (double[][][] Output, double[][][] H, double[][][] C, RecurrentTrace Trace) RunRecurrent(
        RefRecurrent r, Func<string, double[]> param, double[][][] input, double[][][]? h0, double[][][]? c0, int[]? lengths = null)
    {
        int batch = input.Length, steps = input[0].Length, hid = r.HiddenSize;
        int dirs = r.Bidirectional ? 2 : 1;
        int gh = Gates(r.Cell) * hid;
        var hN = new double[r.NumLayers * dirs][][];
        var cN = new double[r.NumLayers * dirs][][];
        var layerInputs = new double[r.NumLayers][][][];
        var trace = new Step[r.NumLayers][][][];
        double[][][] layerInput = input;
        for (int l = 0; l < r.NumLayers; l++)
        {
            layerInputs[l] = layerInput;
            trace[l] = new Step[dirs][][];
            int inSize = layerInput[0][0].Length;
            var layerOutput = new double[batch][][];
            for (int b = 0; b < batch; b++)
            {
                layerOutput[b] = new double[steps][];
                for (int t = 0; t < steps; t++) layerOutput[b][t] = new double[dirs * hid];
            }
            for (int d = 0; d < dirs; d++)
            {
                string sfx = Suffix(l, d);
                double[] wIh = param("weight_ih" + sfx), wHh = param("weight_hh" + sfx);
                double[] bIh = r.Bias ? param("bias_ih" + sfx) : new double[gh];
                double[] bHh = r.Bias ? param("bias_hh" + sfx) : new double[gh];
                int s = l * dirs + d;
                hN[s] = new double[batch][];
                cN[s] = new double[batch][];
                trace[l][d] = new Step[batch][];
                for (int b = 0; b < batch; b++)
                {
                    trace[l][d][b] = new Step[steps];
                    double[] h = h0 is null ? new double[hid] : (double[])h0[s][b].Clone();
                    double[] c = c0 is null ? new double[hid] : (double[])c0[s][b].Clone();
                    int length = lengths?[b] ?? steps; // this sequence's own steps; its outputs past them stay 0
                    for (int k = 0; k < length; k++)
                    {
                        int t = d == 0 ? k : length - 1 - k;
                        double[] gi = MatVec(wIh, gh, inSize, layerInput[b][t], bIh); // W_ih x + b_ih
                        double[] gg = MatVec(wHh, gh, hid, h, bHh);                    // W_hh h + b_hh
                        trace[l][d][b][t] = new Step(layerInput[b][t], h, c, gi, gg);
                        var hNew = new double[hid];
                        var cNew = (double[])c.Clone();
                        for (int j = 0; j < hid; j++)
                        {
                            switch (r.Cell)
                            {
                                case RefCell.Rnn:
                                    double pre = gi[j] + gg[j];
                                    hNew[j] = r.Relu ? Math.Max(0.0, pre) : Math.Tanh(pre);
                                    break;
                                case RefCell.Lstm:
                                    double ig = Sigmoid(gi[j] + gg[j]);
                                    double fg = Sigmoid(gi[hid + j] + gg[hid + j]);
                                    double g = Math.Tanh(gi[2 * hid + j] + gg[2 * hid + j]);
                                    double og = Sigmoid(gi[3 * hid + j] + gg[3 * hid + j]);
                                    cNew[j] = fg * c[j] + ig * g;
                                    hNew[j] = og * Math.Tanh(cNew[j]);
                                    break;
                                case RefCell.Gru:
                                    double rg = Sigmoid(gi[j] + gg[j]);
                                    double z = Sigmoid(gi[hid + j] + gg[hid + j]);
                                    double n = Math.Tanh(gi[2 * hid + j] + rg * gg[2 * hid + j]);
                                    hNew[j] = (1.0 - z) * n + z * h[j];
                                    break;
                            }
                        }
                        h = hNew;
                        c = cNew;
                        Array.Copy(h, 0, layerOutput[b][t], d * hid, hid);
                    }
                    hN[s][b] = h;
                    cN[s][b] = c;
                }
            }
            layerInput = layerOutput;
        }
        return (layerInput, hN, cN, new RecurrentTrace(layerInputs, trace));
    }

    // ---------- backward pass ----------

    private static RefGradients BackwardCore(IReadOnlyList<RefLayer> layers, IReadOnlyDictionary<string, double[]> weights,
        double[] input, int[] inputShape, bool batchFirst, double[] gradOutput,
        double[]? h0, double[]? c0, double[]? gradH, double[]? gradC, int[]? lengths)
    {
        ForwardPass pass = Forward(layers, weights, input, inputShape, batchFirst, h0, c0, lengths);
        int[] own = pass.Lengths;
        RefResult result = pass.Result;
        if (gradOutput.Length != result.Output.Length)
            throw new ArgumentException($"gradOutput has {gradOutput.Length} elements, the output has {result.Output.Length}.", nameof(gradOutput));
        if (gradH is not null)
        {
            if (result.H is null) throw new ArgumentException("gradH given but the model has no recurrent layer.", nameof(gradH));
            if (gradH.Length != result.H.Length) throw new ArgumentException($"gradH has {gradH.Length} elements, H has {result.H.Length}.", nameof(gradH));
        }
        if (gradC is not null)
        {
            if (result.C is null) throw new ArgumentException("gradC is for a model whose first recurrent layer is an LSTM.", nameof(gradC));
            if (gradC.Length != result.C.Length) throw new ArgumentException($"gradC has {gradC.Length} elements, C has {result.C.Length}.", nameof(gradC));
        }

        var grads = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach ((string name, int[] pshape) in ParameterNames(layers)) grads[name] = new double[Product(pshape)];

        // dL/doutput in the activation layout of the last layer's output: a sequence keeps its time axis in the shape.
        int batch = pass.LayerInputs[0].Seq!.Length;
        int steps = pass.LayerInputs[0].Seq![0].Length;
        double[][][]? dSeq = null;
        double[][]? dVec = null;
        if (result.OutputShape.Length == (pass.Batched ? 3 : 2))
        {
            dSeq = ToSequence(gradOutput, pass.Batched, batchFirst, batch, steps, result.OutputShape[^1]);
            // The output past each length is the constant 0: no gradient flows from there.
            for (int b = 0; b < batch; b++)
            {
                for (int t = own[b]; t < steps; t++) Array.Clear(dSeq[b][t]);
            }
        }
        else
        {
            int f = result.OutputShape[^1];
            dVec = new double[batch][];
            for (int b = 0; b < batch; b++) dVec[b] = gradOutput.Skip(b * f).Take(f).ToArray();
        }

        double[]? dH0 = null, dC0 = null;
        for (int index = layers.Count - 1; index >= 0; index--)
        {
            string prefix = Prefix(layers, index);
            double[] P(string n) => weights[prefix + n];
            double[] G(string n) => grads[prefix + n];
            Activation layerInput = pass.LayerInputs[index];
            switch (layers[index])
            {
                case RefRecurrent r:
                    int states = r.NumLayers * (r.Bidirectional ? 2 : 1);
                    bool first = index == pass.FirstRecurrent;
                    double[][][] dHN = States(first ? gradH : null, r, batch, nameof(gradH)) ?? Zeros(states, batch, r.HiddenSize);
                    double[][][] dCN = States(first ? gradC : null, r, batch, nameof(gradC)) ?? Zeros(states, batch, r.HiddenSize);
                    (dSeq, double[][][] dh0, double[][][] dc0) = RecurrentBackward(r, P, G, pass.Recurrent[index]!, dSeq!, dHN, dCN, own);
                    if (first)
                    {
                        dH0 = Flatten(dh0);
                        dC0 = r.Cell == RefCell.Lstm ? Flatten(dc0) : null;
                    }
                    break;
                case RefLinear lin:
                    double[] w = P("weight");
                    double[] bias = lin.Bias ? P("bias") : new double[lin.OutFeatures];
                    double[] gW = G("weight");
                    double[]? gB = lin.Bias ? G("bias") : null;
                    if (layerInput.Seq is not null)
                    {
                        double[][][] xs = layerInput.Seq, dys = dSeq!;
                        dSeq = xs.Select((rows, b) => rows.Select((row, t) => LinearBackward(lin, w, bias, row, dys[b][t], gW, gB)).ToArray()).ToArray();
                    }
                    else
                    {
                        double[][] xs = layerInput.Vec!, dys = dVec!;
                        dVec = xs.Select((row, b) => LinearBackward(lin, w, bias, row, dys[b], gW, gB)).ToArray();
                    }
                    break;
                case RefEmbedding e:
                    // Each step's gradient into its token's row (but the padding row's); the ids themselves get none.
                    double[] gTable = G("weight");
                    for (int b = 0; b < batch; b++)
                    {
                        for (int t = 0; t < steps; t++)
                        {
                            int id = TokenId(layerInput.Seq![b][t], e);
                            for (int k = 0; k < e.Dim && id != e.PaddingIdx; k++) gTable[(id * e.Dim) + k] += dSeq![b][t][k];
                        }
                    }

                    dSeq = Zeros(batch, steps, 1);
                    break;
                case RefLastStep:
                    // Only each sequence's row at t = length - 1 reached the output.
                    int width = layerInput.Seq![0][0].Length;
                    dSeq = Zeros(batch, steps, width);
                    for (int b = 0; b < batch; b++) dSeq[b][own[b] - 1] = (double[])dVec![b].Clone();
                    dVec = null;
                    break;
            }
        }

        return new RefGradients
        {
            Parameters = grads,
            Input = FromSequence(dSeq!, pass.Batched, batchFirst),
            H0 = dH0,
            C0 = dC0,
        };
    }

    private static int TokenId(double[] row, RefEmbedding e)
    {
        int id = (int)row[0];
        if (row.Length != 1 || id != row[0] || id < 0 || id >= e.NumEmbeddings) throw new ArgumentException($"An Embedding's input is one token id in [0, {e.NumEmbeddings}) per step, got [{string.Join(", ", row)}].");
        return id;
    }

    // Backpropagation through time of one recurrent attribute. dOutput[b][t][D*H] is dL/d(the last layer's output),
    // dHN/dCN[L*D][B][H] dL/d(final states). Accumulates into the parameter gradients; returns dL/dinput and dL/d(initial states).
    private static (double[][][] DInput, double[][][] DH0, double[][][] DC0) RecurrentBackward(
        RefRecurrent r, Func<string, double[]> param, Func<string, double[]> grad, RecurrentTrace trace,
        double[][][] dOutput, double[][][] dHN, double[][][] dCN, int[] lengths)
    {
        int batch = dOutput.Length, steps = dOutput[0].Length, hid = r.HiddenSize;
        int dirs = r.Bidirectional ? 2 : 1;
        int gh = Gates(r.Cell) * hid;
        var dH0 = new double[r.NumLayers * dirs][][];
        var dC0 = new double[r.NumLayers * dirs][][];
        double[][][] dLayerOutput = dOutput;
        for (int l = r.NumLayers - 1; l >= 0; l--)
        {
            int inSize = trace.LayerInputs[l][0][0].Length;
            double[][][] dLayerInput = Zeros(batch, steps, inSize);
            for (int d = 0; d < dirs; d++)
            {
                string sfx = Suffix(l, d);
                double[] wIh = param("weight_ih" + sfx), wHh = param("weight_hh" + sfx);
                double[] gWIh = grad("weight_ih" + sfx), gWHh = grad("weight_hh" + sfx);
                double[] gBIh = r.Bias ? grad("bias_ih" + sfx) : new double[gh];
                double[] gBHh = r.Bias ? grad("bias_hh" + sfx) : new double[gh];
                int s = l * dirs + d;
                dH0[s] = new double[batch][];
                dC0[s] = new double[batch][];
                for (int b = 0; b < batch; b++)
                {
                    double[] dh = (double[])dHN[s][b].Clone(); // dL/dh after the step being undone
                    double[] dc = (double[])dCN[s][b].Clone(); // dL/dc likewise (LSTM)
                    int length = lengths[b]; // the steps this sequence ran; the input gradient past them stays 0
                    for (int k = length - 1; k >= 0; k--)
                    {
                        int t = d == 0 ? k : length - 1 - k;
                        Step st = trace.Steps[l][d][b][t];
                        for (int j = 0; j < hid; j++) dh[j] += dLayerOutput[b][t][d * hid + j];
                        var dGi = new double[gh];   // dL/d(W_ih x + b_ih)
                        var dGg = new double[gh];   // dL/d(W_hh h + b_hh)
                        var dhPrev = new double[hid];
                        var dcPrev = new double[hid];
                        for (int j = 0; j < hid; j++)
                        {
                            double[] gi = st.Gi, gg = st.Gg;
                            switch (r.Cell)
                            {
                                case RefCell.Rnn:
                                {
                                    // h' = act(pre), pre = gi + gg.
                                    double pre = gi[j] + gg[j];
                                    // relu' is 0 at exactly 0, as PyTorch's threshold_backward.
                                    double dPre = r.Relu ? (pre > 0.0 ? dh[j] : 0.0) : dh[j] * (1.0 - Math.Tanh(pre) * Math.Tanh(pre));
                                    dGi[j] = dPre;
                                    dGg[j] = dPre;
                                    break;
                                }
                                case RefCell.Lstm:
                                {
                                    // i, f, g, o; c' = f c + i g; h' = o tanh(c').
                                    double ig = Sigmoid(gi[j] + gg[j]);
                                    double fg = Sigmoid(gi[hid + j] + gg[hid + j]);
                                    double g = Math.Tanh(gi[2 * hid + j] + gg[2 * hid + j]);
                                    double og = Sigmoid(gi[3 * hid + j] + gg[3 * hid + j]);
                                    double cNew = fg * st.CPrev[j] + ig * g;
                                    double tc = Math.Tanh(cNew);
                                    double dO = dh[j] * tc;
                                    double dC = dc[j] + dh[j] * og * (1.0 - tc * tc);
                                    double dI = dC * g, dF = dC * st.CPrev[j], dG = dC * ig;
                                    dcPrev[j] = dC * fg;
                                    double[] dPre = [dI * ig * (1.0 - ig), dF * fg * (1.0 - fg), dG * (1.0 - g * g), dO * og * (1.0 - og)];
                                    for (int q = 0; q < 4; q++)
                                    {
                                        dGi[q * hid + j] = dPre[q];
                                        dGg[q * hid + j] = dPre[q];
                                    }
                                    break;
                                }
                                case RefCell.Gru:
                                {
                                    // r, z; n = tanh(gi_n + r ⊙ gg_n); h' = (1 - z) n + z h.
                                    double rg = Sigmoid(gi[j] + gg[j]);
                                    double z = Sigmoid(gi[hid + j] + gg[hid + j]);
                                    double n = Math.Tanh(gi[2 * hid + j] + rg * gg[2 * hid + j]);
                                    double dN = dh[j] * (1.0 - z);
                                    double dZ = dh[j] * (st.HPrev[j] - n);
                                    dhPrev[j] = dh[j] * z;
                                    double dNPre = dN * (1.0 - n * n);
                                    double dR = dNPre * gg[2 * hid + j];
                                    dGi[j] = dGg[j] = dR * rg * (1.0 - rg);
                                    dGi[hid + j] = dGg[hid + j] = dZ * z * (1.0 - z);
                                    dGi[2 * hid + j] = dNPre;
                                    dGg[2 * hid + j] = dNPre * rg;
                                    break;
                                }
                            }
                        }
                        // gi = W_ih x + b_ih and gg = W_hh h + b_hh.
                        AccumulateMatVec(wIh, gh, inSize, st.X, dGi, gWIh, gBIh, dLayerInput[b][t]);
                        AccumulateMatVec(wHh, gh, hid, st.HPrev, dGg, gWHh, gBHh, dhPrev);
                        dh = dhPrev;
                        dc = dcPrev;
                    }
                    dH0[s][b] = dh;
                    dC0[s][b] = dc;
                }
            }
            dLayerOutput = dLayerInput;
        }
        return (dLayerOutput, dH0, dC0);
    }

    // Backward of y = W v + bias (W row-major [rows, cols]) given dy: gW += dy vᵀ, gBias += dy, dv += Wᵀ dy.
    private static void AccumulateMatVec(double[] w, int rows, int cols, double[] v, double[] dy, double[] gW, double[]? gBias, double[] dv)
    {
        for (int i = 0; i < rows; i++)
        {
            if (gBias is not null) gBias[i] += dy[i];
            for (int j = 0; j < cols; j++)
            {
                gW[i * cols + j] += dy[i] * v[j];
                dv[j] += w[i * cols + j] * dy[i];
            }
        }
    }

    // Backward of Linear(lin, w, bias, v) given dy; accumulates gW/gBias and returns dL/dv.
    private static double[] LinearBackward(RefLinear lin, double[] w, double[] bias, double[] v, double[] dy, double[] gW, double[]? gBias)
    {
        double[] pre = MatVec(w, lin.OutFeatures, lin.InFeatures, v, bias);
        var dPre = new double[lin.OutFeatures];
        for (int i = 0; i < pre.Length; i++)
        {
            double derivative = lin.Activation switch
            {
                RefActivation.None => 1.0,
                RefActivation.Tanh => 1.0 - Math.Tanh(pre[i]) * Math.Tanh(pre[i]),
                RefActivation.Relu => pre[i] > 0.0 ? 1.0 : 0.0, // 0 at exactly 0, as PyTorch's threshold_backward
                RefActivation.Sigmoid => Sigmoid(pre[i]) * (1.0 - Sigmoid(pre[i])),
                _ => throw new ArgumentException($"Unknown activation {lin.Activation}."),
            };
            dPre[i] = dy[i] * derivative;
        }
        var dv = new double[lin.InFeatures];
        AccumulateMatVec(w, lin.OutFeatures, lin.InFeatures, v, dPre, gW, gBias, dv);
        return dv;
    }

    // ---------- layout helpers ----------

    private static int FirstRecurrent(IReadOnlyList<RefLayer> layers)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i] is RefRecurrent) return i;
        }
        return -1;
    }

    // Flat [B, T, F] / [T, B, F] / [T, F] to s[b][t][f].
    private static double[][][] ToSequence(double[] flat, bool batched, bool batchFirst, int batch, int steps, int features)
    {
        var s = new double[batch][][];
        for (int b = 0; b < batch; b++)
        {
            s[b] = new double[steps][];
            for (int t = 0; t < steps; t++)
            {
                s[b][t] = new double[features];
                int rowIndex = batched && !batchFirst ? t * batch + b : b * steps + t;
                for (int f = 0; f < features; f++) s[b][t][f] = flat[rowIndex * features + f];
            }
        }
        return s;
    }

    // s[b][t][f] to flat [B, T, F] / [T, B, F] / [T, F].
    private static double[] FromSequence(double[][][] s, bool batched, bool batchFirst)
    {
        var flat = new List<double>();
        if (batched && !batchFirst)
        {
            for (int t = 0; t < s[0].Length; t++)
                for (int b = 0; b < s.Length; b++) flat.AddRange(s[b][t]);
        }
        else
        {
            for (int b = 0; b < s.Length; b++)
                for (int t = 0; t < s[b].Length; t++) flat.AddRange(s[b][t]);
        }
        return flat.ToArray();
    }

    private static double[][][] Zeros(int n0, int n1, int n2)
    {
        var z = new double[n0][][];
        for (int i = 0; i < n0; i++)
        {
            z[i] = new double[n1][];
            for (int j = 0; j < n1; j++) z[i][j] = new double[n2];
        }
        return z;
    }

    // y[i] = sum_j W[i, j] v[j] + bias[i], W row-major [rows, cols].
    private static double[] MatVec(double[] w, int rows, int cols, double[] v, double[] bias)
    {
        var y = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            double sum = bias[i];
            for (int j = 0; j < cols; j++) sum += w[i * cols + j] * v[j];
            y[i] = sum;
        }
        return y;
    }

    private static double[] Linear(RefLinear lin, double[] w, double[] bias, double[] v)
    {
        double[] y = MatVec(w, lin.OutFeatures, lin.InFeatures, v, bias);
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = lin.Activation switch
            {
                RefActivation.None => y[i],
                RefActivation.Tanh => Math.Tanh(y[i]),
                RefActivation.Relu => Math.Max(0.0, y[i]),
                RefActivation.Sigmoid => Sigmoid(y[i]),
                _ => throw new ArgumentException($"Unknown activation {lin.Activation}."),
            };
        }
        return y;
    }

    private static double Sigmoid(double v) => 1.0 / (1.0 + Math.Exp(-v));

    private static double[][][]? States(double[]? flat, RefRecurrent r, int batch, string paramName)
    {
        if (flat is null) return null;
        int count = r.NumLayers * (r.Bidirectional ? 2 : 1);
        if (flat.Length != count * batch * r.HiddenSize)
            throw new ArgumentException($"{paramName} has {flat.Length} elements, expected {count * batch * r.HiddenSize} ([L*D, B, H]).", paramName);
        var s = new double[count][][];
        for (int i = 0; i < count; i++)
        {
            s[i] = new double[batch][];
            for (int b = 0; b < batch; b++)
            {
                s[i][b] = new double[r.HiddenSize];
                for (int j = 0; j < r.HiddenSize; j++) s[i][b][j] = flat[(i * batch + b) * r.HiddenSize + j];
            }
        }
        return s;
    }

    private static double[] Flatten(double[][][] s) => s.SelectMany(a => a.SelectMany(v => v)).ToArray();

    private static string Prefix(IReadOnlyList<RefLayer> layers, int index)
    {
        string? name = layers[index].Name;
        if (layers.Count == 1) return name is null ? "" : name + ".";
        return (name ?? index.ToString(System.Globalization.CultureInfo.InvariantCulture)) + ".";
    }

    private static string Suffix(int layer, int direction) =>
        "_l" + layer.ToString(System.Globalization.CultureInfo.InvariantCulture) + (direction == 1 ? "_reverse" : "");

    private static int Gates(RefCell cell) => cell switch
    {
        RefCell.Rnn => 1,
        RefCell.Lstm => 4,
        RefCell.Gru => 3,
        _ => throw new ArgumentException($"Unknown cell {cell}."),
    };

    private static void Validate(RefRecurrent r)
    {
        if (r.InputSize <= 0 || r.HiddenSize <= 0 || r.NumLayers <= 0)
            throw new ArgumentException("Recurrent InputSize, HiddenSize and NumLayers must be positive.");
        if (r.Relu && r.Cell != RefCell.Rnn) throw new ArgumentException("Relu (nonlinearity='relu') is for RefCell.Rnn only.");
        _ = Gates(r.Cell);
    }

    private static int Product(int[] shape)
    {
        int p = 1;
        foreach (int n in shape) p *= n;
        return p;
    }
}
