// Test oracle: a plain scalar reference implementation of PyTorch's nn.RNN, nn.LSTM, nn.GRU and nn.Linear,
// written from PyTorch's documented equations, in double arithmetic. It shares no code with the generator
// and uses no Deepbox type: clarity over speed. Tensors are held as jagged arrays x[b][t][f].
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
        float[] input, int[] inputShape, bool batchFirst, float[]? h0 = null, float[]? c0 = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(inputShape);

        // Weights: exactly the expected names, each with the expected element count.
        IReadOnlyList<(string Name, int[] Shape)> expected = ParameterNames(layers);
        foreach ((string name, int[] pshape) in expected)
        {
            if (!weights.TryGetValue(name, out float[]? w) || w is null) throw new ArgumentException($"Missing weight '{name}'.", nameof(weights));
            if (w.Length != Product(pshape)) throw new ArgumentException($"Weight '{name}' has {w.Length} elements, expected {Product(pshape)}.", nameof(weights));
        }
        if (weights.Count != expected.Count)
        {
            var names = new HashSet<string>(expected.Select(e => e.Name), StringComparer.Ordinal);
            string extra = weights.Keys.First(k => !names.Contains(k));
            throw new ArgumentException($"Unexpected weight '{extra}'.", nameof(weights));
        }

        // Input to x[b][t][i].
        bool batched = inputShape.Length == 3;
        if (!batched && inputShape.Length != 2) throw new ArgumentException("inputShape must be [B, T, I], [T, B, I] or [T, I].", nameof(inputShape));
        if (inputShape.Any(n => n <= 0)) throw new ArgumentException("inputShape dimensions must be positive.", nameof(inputShape));
        if (input.Length != Product(inputShape)) throw new ArgumentException($"input has {input.Length} elements, shape needs {Product(inputShape)}.", nameof(input));
        int batch = batched ? (batchFirst ? inputShape[0] : inputShape[1]) : 1;
        int steps = batched ? (batchFirst ? inputShape[1] : inputShape[0]) : inputShape[0];
        int features = inputShape[^1];
        var x = new double[batch][][];
        for (int b = 0; b < batch; b++)
        {
            x[b] = new double[steps][];
            for (int t = 0; t < steps; t++)
            {
                x[b][t] = new double[features];
                int rowIndex = batched && !batchFirst ? t * batch + b : b * steps + t;
                for (int f = 0; f < features; f++) x[b][t][f] = input[rowIndex * features + f];
            }
        }

        int firstRecurrent = -1;
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i] is RefRecurrent) { firstRecurrent = i; break; }
        }
        if (firstRecurrent < 0 && (h0 is not null || c0 is not null)) throw new ArgumentException("h0/c0 given but the model has no recurrent layer.", nameof(h0));

        // Activations: seq[b][t][f] while there is a time axis, vec[b][f] after LastStep.
        double[][][]? seq = x;
        double[][]? vec = null;
        double[][][]? hN = null, cN = null;
        for (int index = 0; index < layers.Count; index++)
        {
            string prefix = Prefix(layers, index);
            double[] P(string n) => weights[prefix + n].Select(v => (double)v).ToArray();
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
                    (seq, double[][][] h, double[][][] c) = RunRecurrent(r, P, seq, hInit, cInit);
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
                case RefLastStep:
                    if (seq is null) throw new ArgumentException($"Layer {index}: LastStep needs a time axis.", nameof(layers));
                    vec = seq.Select(rows => (double[])rows[steps - 1].Clone()).ToArray();
                    seq = null;
                    break;
            }
        }

        // Output layout.
        var output = new List<double>();
        int[] shape;
        if (seq is not null)
        {
            int f = seq[0][0].Length;
            if (!batched) shape = [steps, f];
            else if (batchFirst) shape = [batch, steps, f];
            else shape = [steps, batch, f];
            if (batched && !batchFirst)
            {
                for (int t = 0; t < steps; t++)
                    for (int b = 0; b < batch; b++) output.AddRange(seq[b][t]);
            }
            else
            {
                for (int b = 0; b < batch; b++)
                    for (int t = 0; t < steps; t++) output.AddRange(seq[b][t]);
            }
        }
        else
        {
            int f = vec![0].Length;
            shape = batched ? [batch, f] : [f];
            foreach (double[] row in vec) output.AddRange(row);
        }

        return new RefResult
        {
            Output = output.ToArray(),
            OutputShape = shape,
            H = hN is null ? null : Flatten(hN),
            C = cN is null ? null : Flatten(cN),
        };
    }

    // One recurrent attribute. state arrays are [L*D][B][H].
    private static (double[][][] Output, double[][][] H, double[][][] C) RunRecurrent(
        RefRecurrent r, Func<string, double[]> param, double[][][] input, double[][][]? h0, double[][][]? c0)
    {
        int batch = input.Length, steps = input[0].Length, hid = r.HiddenSize;
        int dirs = r.Bidirectional ? 2 : 1;
        int gh = Gates(r.Cell) * hid;
        var hN = new double[r.NumLayers * dirs][][];
        var cN = new double[r.NumLayers * dirs][][];
        double[][][] layerInput = input;
        for (int l = 0; l < r.NumLayers; l++)
        {
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
                for (int b = 0; b < batch; b++)
                {
                    double[] h = h0 is null ? new double[hid] : (double[])h0[s][b].Clone();
                    double[] c = c0 is null ? new double[hid] : (double[])c0[s][b].Clone();
                    for (int k = 0; k < steps; k++)
                    {
                        int t = d == 0 ? k : steps - 1 - k;
                        double[] gi = MatVec(wIh, gh, inSize, layerInput[b][t], bIh); // W_ih x + b_ih
                        double[] gg = MatVec(wHh, gh, hid, h, bHh);                    // W_hh h + b_hh
                        var hNew = new double[hid];
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
                                    c[j] = fg * c[j] + ig * g;
                                    hNew[j] = og * Math.Tanh(c[j]);
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
                        Array.Copy(h, 0, layerOutput[b][t], d * hid, hid);
                    }
                    hN[s][b] = h;
                    cN[s][b] = c;
                }
            }
            layerInput = layerOutput;
        }
        return (layerInput, hN, cN);
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

    private static double[][][]? States(float[]? flat, RefRecurrent r, int batch, string paramName)
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
