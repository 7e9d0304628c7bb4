using System;

namespace Deepbox.Benchmarks.Onnx;

/// <summary>
/// ONNX graphs of one unidirectional recurrent layer from PyTorch-named weights (<c>weight_ih_l0</c>, <c>weight_hh_l0</c>,
/// <c>bias_ih_l0</c>, <c>bias_hh_l0</c>), computing what PyTorch (and Deepbox) compute. What differs in ONNX: the gate
/// order (LSTM i, o, f, c against PyTorch's i, f, g, o; GRU z, r, h against r, z, n), the biases as one <c>[Wb, Rb]</c>
/// tensor, <c>linear_before_reset = 1</c> for PyTorch's GRU, a leading num_directions axis on weights, states and Y,
/// and sequence-first tensors (ONNX Runtime's CPU kernels reject <c>layout = 1</c>).
/// </summary>
public static class RecurrentExport
{
    /// <summary>
    /// A whole-sequence graph with batch-first tensors, as a batch-first PyTorch model exports: inputs <c>input</c>
    /// <c>[B, T, I]</c>, <c>h0</c> <c>[1, B, H]</c> (and <c>c0</c> for LSTM); output <c>output</c> <c>[B, T, H]</c>.
    /// Transposes around the recurrent node give it the sequence-first layout it needs.
    /// </summary>
    public static OnnxModel Sequence(Cell cell, int inputSize, int hiddenSize, int batch, int seqLen, Func<string, float[]> weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        var g = new OnnxGraph { Name = $"{cell}_{inputSize}x{hiddenSize}_sequence" };
        g.Inputs.Add(new OnnxValueInfo("input", OnnxDataType.Float, batch, seqLen, inputSize));
        g.Inputs.Add(new OnnxValueInfo("h0", OnnxDataType.Float, 1, batch, hiddenSize));
        if (cell == Cell.Lstm)
        {
            g.Inputs.Add(new OnnxValueInfo("c0", OnnxDataType.Float, 1, batch, hiddenSize));
        }

        AddWeights(g, cell, inputSize, hiddenSize, weight);
        g.Initializers.Add(OnnxTensor.FromInt64s("axis1", [1], 1));
        g.Nodes.Add(new OnnxNode("Transpose", ["input"], ["x_tbi"], "to_seq_first", OnnxAttribute.Ints("perm", 1, 0, 2)));
        g.Nodes.Add(RecurrentNode(cell, hiddenSize, "x_tbi", "h0", cell == Cell.Lstm ? "c0" : null, ["y_t1bh"]));
        g.Nodes.Add(new OnnxNode("Squeeze", ["y_t1bh", "axis1"], ["y_tbh"], "drop_directions"));
        g.Nodes.Add(new OnnxNode("Transpose", ["y_tbh"], ["output"], "to_batch_first", OnnxAttribute.Ints("perm", 1, 0, 2)));
        g.Outputs.Add(new OnnxValueInfo("output", OnnxDataType.Float, batch, seqLen, hiddenSize));
        return new OnnxModel { Graph = g, DocString = $"{cell}({inputSize}, {hiddenSize}), batch-first, one layer, exported by Deepbox.Benchmarks" };
    }

    /// <summary>
    /// A one-step graph for streaming one sequence: inputs <c>x</c> <c>[1, 1, I]</c>, <c>h_in</c> <c>[1, 1, H]</c> (and
    /// <c>c_in</c>); outputs <c>h_out</c> (the step's output and next hidden state) and <c>c_out</c>.
    /// </summary>
    public static OnnxModel Step(Cell cell, int inputSize, int hiddenSize, Func<string, float[]> weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        var g = new OnnxGraph { Name = $"{cell}_{inputSize}x{hiddenSize}_step" };
        g.Inputs.Add(new OnnxValueInfo("x", OnnxDataType.Float, 1, 1, inputSize));
        g.Inputs.Add(new OnnxValueInfo("h_in", OnnxDataType.Float, 1, 1, hiddenSize));
        bool lstm = cell == Cell.Lstm;
        if (lstm)
        {
            g.Inputs.Add(new OnnxValueInfo("c_in", OnnxDataType.Float, 1, 1, hiddenSize));
        }

        AddWeights(g, cell, inputSize, hiddenSize, weight);
        g.Nodes.Add(RecurrentNode(cell, hiddenSize, "x", "h_in", lstm ? "c_in" : null, lstm ? ["", "h_out", "c_out"] : ["", "h_out"]));
        g.Outputs.Add(new OnnxValueInfo("h_out", OnnxDataType.Float, 1, 1, hiddenSize));
        if (lstm)
        {
            g.Outputs.Add(new OnnxValueInfo("c_out", OnnxDataType.Float, 1, 1, hiddenSize));
        }

        return new OnnxModel { Graph = g, DocString = $"{cell}({inputSize}, {hiddenSize}), one time step, exported by Deepbox.Benchmarks" };
    }

    /// <summary>ONNX's gate blocks as indices of PyTorch's: LSTM (i, o, f, c) = PyTorch's (0, 3, 1, 2); GRU (z, r, h) = (1, 0, 2).</summary>
    public static int[] GateOrder(Cell cell) => cell switch
    {
        Cell.Lstm => [0, 3, 1, 2],
        Cell.Gru => [1, 0, 2],
        _ => [0],
    };

    /// <summary>Reorders the gate blocks (rows of <paramref name="rowLength"/> floats, <paramref name="hiddenSize"/> rows a block).</summary>
    public static float[] ReorderGates(float[] source, Cell cell, int hiddenSize, int rowLength)
    {
        ArgumentNullException.ThrowIfNull(source);
        int[] order = GateOrder(cell);
        int block = hiddenSize * rowLength;
        if (source.Length != order.Length * block)
        {
            throw new ArgumentException($"Expected {order.Length} gate blocks of {block} floats, got {source.Length} floats", nameof(source));
        }

        var result = new float[source.Length];
        for (int k = 0; k < order.Length; k++)
        {
            source.AsSpan(order[k] * block, block).CopyTo(result.AsSpan(k * block, block));
        }

        return result;
    }

    private static void AddWeights(OnnxGraph g, Cell cell, int inputSize, int hiddenSize, Func<string, float[]> weight)
    {
        int gates = GateOrder(cell).Length;
        g.Initializers.Add(OnnxTensor.FromFloats("W", ReorderGates(weight("weight_ih_l0"), cell, hiddenSize, inputSize), 1, gates * hiddenSize, inputSize));
        g.Initializers.Add(OnnxTensor.FromFloats("R", ReorderGates(weight("weight_hh_l0"), cell, hiddenSize, hiddenSize), 1, gates * hiddenSize, hiddenSize));
        float[] wb = ReorderGates(weight("bias_ih_l0"), cell, hiddenSize, 1);
        float[] rb = ReorderGates(weight("bias_hh_l0"), cell, hiddenSize, 1);
        g.Initializers.Add(OnnxTensor.FromFloats("B", [.. wb, .. rb], 1, 2 * gates * hiddenSize));
    }

    private static OnnxNode RecurrentNode(Cell cell, int hiddenSize, string x, string h0, string? c0, string[] outputs)
    {
        // Inputs: X, W, R, B, sequence_lens (empty: every sequence full length), initial_h, initial_c (LSTM).
        string[] inputs = c0 is null ? [x, "W", "R", "B", "", h0] : [x, "W", "R", "B", "", h0, c0];
        return cell switch
        {
            Cell.Lstm => new OnnxNode("LSTM", inputs, outputs, "lstm", OnnxAttribute.Int("hidden_size", hiddenSize)),
            Cell.Gru => new OnnxNode("GRU", inputs, outputs, "gru", OnnxAttribute.Int("hidden_size", hiddenSize), OnnxAttribute.Int("linear_before_reset", 1)),
            _ => new OnnxNode("RNN", inputs, outputs, "rnn", OnnxAttribute.Int("hidden_size", hiddenSize)),
        };
    }
}
