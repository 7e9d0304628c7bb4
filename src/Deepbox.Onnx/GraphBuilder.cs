using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Proto = global::Onnx;

namespace Deepbox.Onnx;

/// <summary>Builds the ONNX graph of a model from its <see cref="ModelArchitecture"/> and state dict.</summary>
internal sealed class GraphBuilder
{
    private const int FloatType = (int)Proto.TensorProto.Types.DataType.Float;
    private const int Int64Type = (int)Proto.TensorProto.Types.DataType.Int64;
    private const int Int32Type = (int)Proto.TensorProto.Types.DataType.Int32;
    private const string Lengths = "sequence_lens";
    private const string Batch = "batch";
    private const string Sequence = "sequence";

    private readonly Proto.GraphProto _graph = new();
    private readonly IReadOnlyDictionary<string, Tensor> _weights;
    private readonly bool _unbatched;
    private readonly bool _lengths; // the graph takes each sequence's length (OnnxExportOptions.SequenceLengths)
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly List<Proto.ValueInfoProto> _stateOutputs = []; // the final states, listed after "output"
    private int _counter;

    private GraphBuilder(IReadOnlyDictionary<string, Tensor> weights, bool unbatched, bool lengths)
    {
        _weights = weights;
        _unbatched = unbatched;
        _lengths = lengths;
    }

    public static Proto.ModelProto Build(IModel model, OnnxExportOptions options)
    {
        ModelArchitecture arch = model.Architecture;
        if (options.Unbatched && options.SequenceLengths)
        {
            throw new NotSupportedException("SequenceLengths needs a batch: an unbatched graph runs one sequence, of the input's length.");
        }

        var b = new GraphBuilder(model.StateDict(), options.Unbatched, options.SequenceLengths);
        b._graph.Name = options.GraphName ?? arch.ClassName;
        b.BuildGraph(arch);
        var result = new Proto.ModelProto
        {
            IrVersion = OnnxExport.IrVersion,
            ProducerName = "Deepbox",
            ProducerVersion = DeepboxVersion(),
            ModelVersion = options.ModelVersion,
            DocString = options.DocString ?? model.ToString() ?? arch.ClassName,
            Graph = b._graph,
        };
        result.OpsetImport.Add(new Proto.OperatorSetIdProto { Domain = string.Empty, Version = OnnxExport.OpsetVersion });
        result.MetadataProps.Add(new Proto.StringStringEntryProto { Key = "deepbox.model_class", Value = arch.ClassName });
        result.MetadataProps.Add(new Proto.StringStringEntryProto { Key = "deepbox.version", Value = DeepboxVersion() });
        result.MetadataProps.Add(new Proto.StringStringEntryProto { Key = "deepbox.batch_first", Value = arch.BatchFirst ? "true" : "false" });
        return result;
    }

    /// <summary>The runtime's informational version (what its package says), without the commit suffix.</summary>
    private static string DeepboxVersion()
    {
        string? version = typeof(IModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return version is null ? "unknown" : version.Split('+')[0];
    }

    private void BuildGraph(ModelArchitecture arch)
    {
        int recurrent = arch.Layers.Count(l => l.IsRecurrent);
        Reserve("input");
        Reserve("output");
        string current;
        LayerDeclaration? embedding = arch.Layers.Count > 0 && arch.Layers[0].Kind == LayerKind.Embedding ? arch.Layers[0] : null;
        if (embedding is not null)
        {
            // Token ids, int64, looked up in the table: [B, T] (or [T, B], or [T]) -> the same with the vector width added.
            _graph.Input.Add(ValueInfo("input", _unbatched ? [Sequence] : arch.BatchFirst ? [Batch, Sequence] : [Sequence, Batch], Int64Type));
            string table = Reserve($"{embedding.Prefix}weight");
            _graph.Initializer.Add(FloatTensor(table, Weight(table, embedding.InputSize * embedding.HiddenSize), [embedding.InputSize, embedding.HiddenSize], $"PyTorch's {table} (nn.Embedding), [num_embeddings, embedding_dim]: Gather's data."));
            string vectors = Node("Gather", [table, "input"], Name("embedded"), Int("axis", 0));
            current = _unbatched
                ? Node("Unsqueeze", [vectors, Ints64("one", 1)], "input_tbf")
                : arch.BatchFirst ? Node("Transpose", [vectors], "input_tbf", Ints("perm", 1, 0, 2)) : vectors;
        }
        else if (_unbatched)
        {
            // One sequence [T, F], run as a batch of one: [T, 1, F].
            _graph.Input.Add(ValueInfo("input", [Sequence, Dim(arch.InputSize)]));
            current = Node("Unsqueeze", ["input", Ints64("one", 1)], "input_tbf");
        }
        else
        {
            // Everything runs sequence-first, as ONNX Runtime's recurrent kernels want: [T, B, F].
            _graph.Input.Add(ValueInfo("input", arch.BatchFirst ? [Batch, Sequence, Dim(arch.InputSize)] : [Sequence, Batch, Dim(arch.InputSize)]));
            current = arch.BatchFirst ? Node("Transpose", ["input"], "input_tbf", Ints("perm", 1, 0, 2)) : "input";
        }

        if (_lengths)
        {
            // Each sequence's length, int32 [batch], as ONNX's recurrent operators take it.
            Reserve(Lengths);
            _graph.Input.Add(ValueInfo(Lengths, [Batch], Int32Type));
        }

        bool sequence = true; // [T, B, F]; false after LastStep: [B, F]
        string? batchDim = null; // [B] as a 1-D int64 tensor, made when a state default needs it
        for (int index = 0; index < arch.Layers.Count; index++)
        {
            LayerDeclaration layer = arch.Layers[index];
            switch (layer.Kind)
            {
                case LayerKind.Rnn:
                case LayerKind.Lstm:
                case LayerKind.Gru:
                    if (!sequence)
                    {
                        throw new NotSupportedException($"{arch.ClassName}: a recurrent layer after LastStep has no sequence to run over.");
                    }

                    // [B] as a 1-D tensor, for the state defaults' shape (unbatched, they need none).
                    batchDim ??= _unbatched ? string.Empty : Node("Slice", [Node("Shape", [current], Name("input_shape")), Ints64("one", 1), Ints64("two", 2), Ints64("zero", 0)], Name("batch_dim"));
                    string statePrefix = recurrent == 1 ? string.Empty : (layer.Prefix.Length > 0 ? layer.Prefix : Inv(index) + ".");
                    current = Recurrent(layer, current, statePrefix, batchDim);
                    break;
                case LayerKind.LastStep:
                    if (!sequence)
                    {
                        throw new NotSupportedException($"{arch.ClassName}: LastStep twice.");
                    }

                    current = _lengths ? LastSteps(current) : Node("Gather", [current, Scalar64("last_index", -1)], Name("last_step"), Int("axis", 0));
                    sequence = false;
                    break;
                case LayerKind.Linear:
                    current = Linear(layer, current, sequence);
                    break;
                case LayerKind.Embedding when index == 0:
                    break; // looked up above

                default:
                    throw new NotSupportedException($"{arch.ClassName}: the ONNX exporter does not know layer kind {layer.Kind}.");
            }
        }

        if (_lengths && sequence)
        {
            // Zeros past each sequence's length, as the model's Forward with lengths gives (after a head too).
            current = Node("Where", [ValidSteps(current), current, FloatScalar("zero_float", 0)], Name("masked"));
        }

        // Back to the model's layout, named "output".
        if (_unbatched)
        {
            // [T, 1, F] -> [T, F]; after LastStep [1, F] -> [F].
            Node("Squeeze", [current, sequence ? Ints64("one", 1) : Ints64("zero", 0)], "output");
            _graph.Output.Add(ValueInfo("output", sequence ? [Sequence, Dim(arch.OutputSize)] : [Dim(arch.OutputSize)]));
        }
        else if (sequence && arch.BatchFirst)
        {
            Node("Transpose", [current], "output", Ints("perm", 1, 0, 2));
            _graph.Output.Add(ValueInfo("output", [Batch, Sequence, Dim(arch.OutputSize)]));
        }
        else
        {
            Node("Identity", [current], "output");
            _graph.Output.Add(ValueInfo("output", sequence ? [Sequence, Batch, Dim(arch.OutputSize)] : [Batch, Dim(arch.OutputSize)]));
        }

        // The states' outputs after the main output, in declaration order (added while building).
        foreach (Proto.ValueInfoProto state in _stateOutputs)
        {
            _graph.Output.Add(state);
        }
    }

    /// <summary>
    /// One recurrent declaration: a node per stacked layer (both directions in one node), each one's Y
    /// <c>[T, D, B, H]</c> made <c>[T, B, D*H]</c> for the next; initial states from the optional inputs, final states
    /// concatenated into the outputs.
    /// </summary>
    private string Recurrent(LayerDeclaration layer, string current, string statePrefix, string batchDim)
    {
        int h = layer.HiddenSize;
        int d = layer.Directions;
        int states = layer.NumLayers * d;
        bool lstm = layer.Kind == LayerKind.Lstm;
        string h0 = InitialState(statePrefix + "h0", states, h, batchDim);
        string? c0 = lstm ? InitialState(statePrefix + "c0", states, h, batchDim) : null;
        var hn = new List<string>();
        var cn = new List<string>();
        for (int k = 0; k < layer.NumLayers; k++)
        {
            int inputSize = k == 0 ? layer.InputSize : d * h;
            (string w, string r, string? b) = RecurrentWeights(layer, k, inputSize);
            string h0k = layer.NumLayers == 1 ? h0 : Node("Slice", [h0, Ints64(Name("start"), k * d), Ints64(Name("end"), (k + 1) * d), Ints64("zero", 0)], Name($"{statePrefix}h0_l{k}"));
            string? c0k = c0 is null ? null : layer.NumLayers == 1 ? c0 : Node("Slice", [c0, Ints64(Name("start"), k * d), Ints64(Name("end"), (k + 1) * d), Ints64("zero", 0)], Name($"{statePrefix}c0_l{k}"));
            string y = Name($"{layer.Prefix}y_l{k}");
            string yh = Name($"{layer.Prefix}hn_l{k}");
            string? yc = lstm ? Name($"{layer.Prefix}cn_l{k}") : null;
            var attributes = new List<Proto.AttributeProto> { Int("hidden_size", h) };
            if (d == 2)
            {
                attributes.Add(Str("direction", "bidirectional"));
            }

            if (layer.Kind == LayerKind.Gru)
            {
                attributes.Add(Int("linear_before_reset", 1)); // PyTorch's GRU: r * (W_hn h + b_hn)
            }

            if (layer.Kind == LayerKind.Rnn)
            {
                string f = layer.Nonlinearity == Nonlinearity.Relu ? "Relu" : "Tanh";
                attributes.Add(Strs("activations", [.. Enumerable.Repeat(f, d)]));
            }

            string op = layer.Kind switch { LayerKind.Lstm => "LSTM", LayerKind.Gru => "GRU", _ => "RNN" };
            // X, W, R, B, sequence_lens (none unless the graph takes lengths: every sequence is whole), initial_h, initial_c.
            List<string> inputs = [current, w, r, b ?? string.Empty, _lengths ? Lengths : string.Empty, h0k];
            if (lstm)
            {
                inputs.Add(c0k!);
            }

            AddNode(op, inputs, lstm ? [y, yh, yc!] : [y, yh], attributes);
            hn.Add(yh);
            if (lstm)
            {
                cn.Add(yc!);
            }

            // [T, D, B, H] -> [T, B, D, H] -> [T, B, D*H]: PyTorch's output, directions side by side.
            string tbdh = Node("Transpose", [y], Name($"{layer.Prefix}y_tbdh_l{k}"), Ints("perm", 0, 2, 1, 3));
            current = Node("Reshape", [tbdh, Ints64(Name("shape"), 0, 0, d * h)], Name($"{layer.Prefix}out_l{k}"));
        }

        FinalState(statePrefix + "hn", hn, states, h);
        if (lstm)
        {
            FinalState(statePrefix + "cn", cn, states, h);
        }

        return current;
    }

    /// <summary>
    /// <c>LastStep</c> with lengths: each sequence's row at step <c>length - 1</c> of <c>[T, B, F]</c>, by
    /// <c>GatherElements</c> on the time axis with indices <c>[1, B, F]</c>, then <c>[B, F]</c>.
    /// </summary>
    private string LastSteps(string current)
    {
        string last = Node("Sub", [Node("Cast", [Lengths], Name("lengths64"), Int("to", Int64Type)), Ints64("one", 1)], Name("last_index"));
        string index = Node("Unsqueeze", [last, Ints64("zero_two", 0, 2)], Name("last_index_1b1"));
        string shape = Node("Concat", [Ints64("one", 1), Node("Slice", [Node("Shape", [current], Name("last_shape")), Ints64("one", 1), Ints64("three", 3), Ints64("zero", 0)], Name("last_bf"))], Name("last_index_shape"), Int("axis", 0));
        string gathered = Node("GatherElements", [current, Node("Expand", [index, shape], Name("last_index_1bf"))], Name("last_steps"), Int("axis", 0));
        return Node("Squeeze", [gathered, Ints64("zero", 0)], Name("last_step"));
    }

    /// <summary>Where step <c>t</c> of sequence <c>b</c> is within its length: a boolean <c>[T, B, 1]</c> for <c>[T, B, F]</c> values.</summary>
    private string ValidSteps(string current)
    {
        string steps = Node("Gather", [Node("Shape", [current], Name("out_shape")), Scalar64("zero_scalar", 0)], Name("steps"), Int("axis", 0));
        string range = Node("Range", [Scalar64("zero_scalar", 0), steps, Scalar64("one_scalar", 1)], Name("step_index"));
        string lengths = Node("Cast", [Lengths], Name("lengths64_mask"), Int("to", Int64Type));
        string valid = Node("Less", [Node("Unsqueeze", [range, Ints64("one", 1)], Name("step_index_t1")), Node("Unsqueeze", [lengths, Ints64("zero", 0)], Name("lengths_1b"))], Name("valid_tb"));
        return Node("Unsqueeze", [valid, Ints64("two", 2)], Name("valid_tb1"));
    }

    /// <summary>A scalar float constant (shared by name).</summary>
    private string FloatScalar(string name, float value)
    {
        if (_graph.Initializer.Any(t => t.Name == name))
        {
            return name;
        }

        _names.Add(name);
        _graph.Initializer.Add(new Proto.TensorProto { Name = name, DataType = FloatType, FloatData = { value } });
        return name;
    }

    /// <summary>
    /// An optional input <c>[states, batch, hidden]</c>: a graph input with an initializer of the same name (zeros
    /// <c>[states, 1, hidden]</c>), which a runtime uses when the input is not fed, expanded to the batch.
    /// </summary>
    private string InitialState(string name, int states, int hidden, string batchDim)
    {
        Reserve(name);
        if (_unbatched)
        {
            _graph.Input.Add(ValueInfo(name, [Dim(states), Dim(hidden)]));
            _graph.Initializer.Add(FloatTensor(name, new float[states * hidden], [states, hidden],
                $"Optional: the initial states, zeros when not fed ([{states}, {hidden}], PyTorch's unbatched layout)."));
            return Node("Unsqueeze", [name, Ints64("one", 1)], Name(name + "_batch"));
        }

        _graph.Input.Add(ValueInfo(name, [Dim(states), Batch, Dim(hidden)]));
        _graph.Initializer.Add(FloatTensor(name, new float[states * hidden], [states, 1, hidden],
            $"Optional: the initial states, zeros when not fed ([{states}, batch, {hidden}], PyTorch's layout)."));
        string shape = Node("Concat", [Ints64(Name("states"), states), batchDim, Ints64(Name("hidden"), hidden)], Name(name + "_shape"), Int("axis", 0));
        return Node("Expand", [name, shape], Name(name + "_batch"));
    }

    private void FinalState(string name, List<string> parts, int states, int hidden)
    {
        Reserve(name);
        string all = parts.Count == 1 ? parts[0] : Node("Concat", parts, Name(name + "_all"), Int("axis", 0));
        if (_unbatched)
        {
            Node("Squeeze", [all, Ints64("one", 1)], name);
            _stateOutputs.Add(ValueInfo(name, [Dim(states), Dim(hidden)]));
            return;
        }

        Node("Identity", [all], name);
        _stateOutputs.Add(ValueInfo(name, [Dim(states), Batch, Dim(hidden)]));
    }

    /// <summary>ONNX's W, R and B of stacked layer <paramref name="k"/>, both directions, from PyTorch's tensors.</summary>
    private (string W, string R, string? B) RecurrentWeights(LayerDeclaration layer, int k, int inputSize)
    {
        int h = layer.HiddenSize;
        int gates = layer.Kind switch { LayerKind.Lstm => 4, LayerKind.Gru => 3, _ => 1 };
        string[] suffixes = layer.Bidirectional ? [string.Empty, "_reverse"] : [string.Empty];
        string order = layer.Kind switch
        {
            LayerKind.Lstm => "gates reordered from PyTorch's i, f, g, o to ONNX's i, o, f, c",
            LayerKind.Gru => "gates reordered from PyTorch's r, z, n to ONNX's z, r, h",
            _ => "one gate",
        };
        string Sources(string kind) => string.Join(" and ", suffixes.Select(s => $"{layer.Prefix}{kind}_l{k}{s}"));
        string directions = layer.Bidirectional ? "stacked by direction (forward, reverse)" : "with a leading direction axis";

        float[] w = [.. suffixes.SelectMany(s => Reorder(Weight($"{layer.Prefix}weight_ih_l{k}{s}", gates * h * inputSize), layer.Kind, h, inputSize))];
        float[] r = [.. suffixes.SelectMany(s => Reorder(Weight($"{layer.Prefix}weight_hh_l{k}{s}", gates * h * h), layer.Kind, h, h))];
        string wName = Reserve($"{layer.Prefix}weight_ih_l{k}");
        string rName = Reserve($"{layer.Prefix}weight_hh_l{k}");
        _graph.Initializer.Add(FloatTensor(wName, w, [layer.Directions, gates * h, inputSize], $"ONNX's W from {Sources("weight_ih")}: {order}, {directions}."));
        _graph.Initializer.Add(FloatTensor(rName, r, [layer.Directions, gates * h, h], $"ONNX's R from {Sources("weight_hh")}: {order}, {directions}."));
        if (!layer.Bias)
        {
            return (wName, rName, null);
        }

        float[] b = [.. suffixes.SelectMany(s => Reorder(Weight($"{layer.Prefix}bias_ih_l{k}{s}", gates * h), layer.Kind, h, 1)
            .Concat(Reorder(Weight($"{layer.Prefix}bias_hh_l{k}{s}", gates * h), layer.Kind, h, 1)))];
        string bName = Reserve($"{layer.Prefix}bias_l{k}");
        _graph.Initializer.Add(FloatTensor(bName, b, [layer.Directions, 2 * gates * h], $"ONNX's B from {Sources("bias_ih")} and {Sources("bias_hh")} side by side: {order}, {directions}."));
        return (wName, rName, bName);
    }

    /// <summary>
    /// A Linear layer: <c>Gemm</c> with PyTorch's own weight (<c>transB = 1</c>) on <c>[B, F]</c>; on a sequence
    /// <c>[T, B, F]</c>, reshaped to rows and back. Then the activation.
    /// </summary>
    private string Linear(LayerDeclaration layer, string current, bool sequence)
    {
        int inFeatures = layer.InputSize;
        int outFeatures = layer.HiddenSize;
        string weight = Reserve($"{layer.Prefix}weight");
        _graph.Initializer.Add(FloatTensor(weight, Weight(weight, outFeatures * inFeatures), [outFeatures, inFeatures], $"PyTorch's {weight}, [out, in] (Gemm with transB = 1)."));
        List<string> inputs = [string.Empty, weight];
        if (layer.Bias)
        {
            string bias = Reserve($"{layer.Prefix}bias");
            _graph.Initializer.Add(FloatTensor(bias, Weight(bias, outFeatures), [outFeatures], $"PyTorch's {bias}."));
            inputs.Add(bias);
        }

        string rows = current;
        string? tb = null;
        if (sequence)
        {
            // [T, B, F] -> [T*B, F], and the [T, B] part of the shape to restore afterwards.
            string shape = Node("Shape", [current], Name(layer.Prefix + "in_shape"));
            tb = Node("Slice", [shape, Ints64("zero", 0), Ints64("two", 2), Ints64("zero", 0)], Name(layer.Prefix + "tb"));
            rows = Node("Reshape", [current, Ints64(Name("shape"), -1, inFeatures)], Name(layer.Prefix + "rows"));
        }

        inputs[0] = rows;
        string y = Node("Gemm", inputs, Name(layer.Prefix + "gemm"), Int("transB", 1));
        if (tb is not null)
        {
            string shape = Node("Concat", [tb, Ints64(Name("features"), outFeatures)], Name(layer.Prefix + "out_shape"), Int("axis", 0));
            y = Node("Reshape", [y, shape], Name(layer.Prefix + "linear"));
        }

        return layer.Activation switch
        {
            Activation.None => y,
            Activation.Tanh => Node("Tanh", [y], Name(layer.Prefix + "tanh")),
            Activation.Relu => Node("Relu", [y], Name(layer.Prefix + "relu")),
            Activation.Sigmoid => Node("Sigmoid", [y], Name(layer.Prefix + "sigmoid")),
            _ => throw new NotSupportedException($"The ONNX exporter does not know activation {layer.Activation}."),
        };
    }

    private float[] Weight(string name, int length)
    {
        if (!_weights.TryGetValue(name, out Tensor? t))
        {
            throw new NotSupportedException($"The model's state dict has no {name}, which its architecture declares: it cannot be exported as declared.");
        }

        if (t.Length != length)
        {
            throw new NotSupportedException($"{name} has {t.Length} values where its declaration needs {length}.");
        }

        return t.ToArray();
    }

    /// <summary>ONNX's gate order from PyTorch's: blocks of <paramref name="hidden"/> rows of <paramref name="row"/> floats.</summary>
    private static float[] Reorder(float[] source, LayerKind kind, int hidden, int row)
    {
        int[] order = kind switch
        {
            LayerKind.Lstm => [0, 3, 1, 2], // ONNX i, o, f, c = PyTorch's blocks 0 (i), 3 (o), 1 (f), 2 (g)
            LayerKind.Gru => [1, 0, 2],     // ONNX z, r, h = PyTorch's blocks 1 (z), 0 (r), 2 (n)
            _ => [0],
        };
        int block = hidden * row;
        var result = new float[source.Length];
        for (int i = 0; i < order.Length; i++)
        {
            source.AsSpan(order[i] * block, block).CopyTo(result.AsSpan(i * block, block));
        }

        return result;
    }

    // ------------------------------------------------------------------ graph plumbing

    /// <summary>Adds a node with one output named <paramref name="output"/>; returns the output's name.</summary>
    private string Node(string op, IEnumerable<string> inputs, string output, params Proto.AttributeProto[] attributes)
    {
        AddNode(op, inputs, [output], attributes);
        return output;
    }

    private void AddNode(string op, IEnumerable<string> inputs, IEnumerable<string> outputs, IEnumerable<Proto.AttributeProto> attributes)
    {
        var node = new Proto.NodeProto { OpType = op, Name = $"{op}_{_counter++}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
    }

    /// <summary>A fresh value name from <paramref name="stem"/> (the stem itself when free).</summary>
    private string Name(string stem)
    {
        string name = stem;
        for (int i = 1; !_names.Add(name); i++)
        {
            name = $"{stem}_{Inv(i)}";
        }

        return name;
    }

    /// <summary>Claims <paramref name="name"/> exactly (an input, an output, a parameter's name).</summary>
    private string Reserve(string name)
    {
        if (!_names.Add(name))
        {
            throw new NotSupportedException($"Two values of the ONNX graph would be named {name}.");
        }

        return name;
    }

    /// <summary>A 1-D int64 constant (shared by name: the same name always holds the same values).</summary>
    private string Ints64(string name, params long[] values) => Int64Constant(name, values, scalar: false);

    /// <summary>A scalar int64 constant (shared by name).</summary>
    private string Scalar64(string name, long value) => Int64Constant(name, [value], scalar: true);

    private string Int64Constant(string name, long[] values, bool scalar)
    {
        if (_graph.Initializer.Any(t => t.Name == name))
        {
            return name;
        }

        _names.Add(name);
        var t = new Proto.TensorProto { Name = name, DataType = Int64Type };
        if (!scalar)
        {
            t.Dims.Add(values.Length);
        }

        t.Int64Data.AddRange(values);
        _graph.Initializer.Add(t);
        return name;
    }

    private static Proto.TensorProto FloatTensor(string name, float[] values, long[] dims, string doc)
    {
        var t = new Proto.TensorProto { Name = name, DataType = FloatType, DocString = doc };
        t.Dims.AddRange(dims);
        // Little-endian IEEE floats, as ONNX's raw_data is defined (every platform .NET runs on is little-endian).
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return t;
    }

    private static Proto.ValueInfoProto ValueInfo(string name, object[] dims, int elementType = FloatType)
    {
        var shape = new Proto.TensorShapeProto();
        foreach (object d in dims)
        {
            shape.Dim.Add(d is string symbol ? new Proto.TensorShapeProto.Types.Dimension { DimParam = symbol } : new Proto.TensorShapeProto.Types.Dimension { DimValue = (long)d });
        }

        return new Proto.ValueInfoProto
        {
            Name = name,
            Type = new Proto.TypeProto { TensorType = new Proto.TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } },
        };
    }

    private static object Dim(int value) => (long)value;

    private static Proto.AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = Proto.AttributeProto.Types.AttributeType.Int, I = value };

    private static Proto.AttributeProto Ints(string name, params long[] values)
    {
        var a = new Proto.AttributeProto { Name = name, Type = Proto.AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    private static Proto.AttributeProto Str(string name, string value) =>
        new() { Name = name, Type = Proto.AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private static Proto.AttributeProto Strs(string name, string[] values)
    {
        var a = new Proto.AttributeProto { Name = name, Type = Proto.AttributeProto.Types.AttributeType.Strings };
        a.Strings.AddRange(values.Select(ByteString.CopyFromUtf8));
        return a;
    }

    private static string Inv(int value) => value.ToString(CultureInfo.InvariantCulture);
}
