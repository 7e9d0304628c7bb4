using System;
using System.Collections.Generic;
using System.IO;

namespace Deepbox.Benchmarks.Onnx;

/// <summary>ONNX tensor element types (<c>TensorProto.DataType</c>) this writer uses.</summary>
public enum OnnxDataType
{
    /// <summary>float32.</summary>
    Float = 1,

    /// <summary>int32.</summary>
    Int32 = 6,

    /// <summary>int64.</summary>
    Int64 = 7,
}

/// <summary>A constant tensor (<c>TensorProto</c>): an initializer or a tensor attribute. Stored as raw little-endian data.</summary>
/// <param name="Name">The value name.</param>
/// <param name="Dims">The shape.</param>
/// <param name="Floats">float32 data, or null.</param>
/// <param name="Int64s">int64 data, or null.</param>
public sealed record OnnxTensor(string Name, long[] Dims, float[]? Floats = null, long[]? Int64s = null)
{
    /// <summary>A float32 tensor.</summary>
    public static OnnxTensor FromFloats(string name, float[] values, params long[] dims) => new(name, dims, Floats: values);

    /// <summary>An int64 tensor.</summary>
    public static OnnxTensor FromInt64s(string name, long[] values, params long[] dims) => new(name, dims, Int64s: values);

    /// <summary>The element type.</summary>
    public OnnxDataType DataType => Floats is not null ? OnnxDataType.Float : OnnxDataType.Int64;
}

/// <summary>An attribute of a node (<c>AttributeProto</c>).</summary>
public sealed record OnnxAttribute
{
    private OnnxAttribute(string name, int type)
    {
        Name = name;
        Type = type;
    }

    /// <summary>The attribute's name.</summary>
    public string Name { get; }

    /// <summary><c>AttributeProto.AttributeType</c>: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7, STRINGS 8.</summary>
    public int Type { get; }

    /// <summary>The value of a FLOAT attribute.</summary>
    public float FloatValue { get; private init; }

    /// <summary>The value of an INT attribute.</summary>
    public long IntValue { get; private init; }

    /// <summary>The value of a STRING attribute.</summary>
    public string? StringValue { get; private init; }

    /// <summary>The value of a TENSOR attribute.</summary>
    public OnnxTensor? TensorValue { get; private init; }

    /// <summary>The values of a FLOATS attribute.</summary>
    public IReadOnlyList<float> FloatValues { get; private init; } = [];

    /// <summary>The values of an INTS attribute.</summary>
    public IReadOnlyList<long> IntValues { get; private init; } = [];

    /// <summary>The values of a STRINGS attribute.</summary>
    public IReadOnlyList<string> StringValues { get; private init; } = [];

    /// <summary>A FLOAT attribute.</summary>
    public static OnnxAttribute Float(string name, float value) => new(name, 1) { FloatValue = value };

    /// <summary>An INT attribute.</summary>
    public static OnnxAttribute Int(string name, long value) => new(name, 2) { IntValue = value };

    /// <summary>A STRING attribute.</summary>
    public static OnnxAttribute String(string name, string value) => new(name, 3) { StringValue = value };

    /// <summary>A TENSOR attribute.</summary>
    public static OnnxAttribute Tensor(string name, OnnxTensor value) => new(name, 4) { TensorValue = value };

    /// <summary>A FLOATS attribute.</summary>
    public static OnnxAttribute Floats(string name, params float[] values) => new(name, 6) { FloatValues = values };

    /// <summary>An INTS attribute.</summary>
    public static OnnxAttribute Ints(string name, params long[] values) => new(name, 7) { IntValues = values };

    /// <summary>A STRINGS attribute.</summary>
    public static OnnxAttribute Strings(string name, params string[] values) => new(name, 8) { StringValues = values };
}

/// <summary>A node (<c>NodeProto</c>). An empty string in <paramref name="Inputs"/> or <paramref name="Outputs"/> skips an optional one.</summary>
/// <param name="OpType">The operator.</param>
/// <param name="Inputs">Input value names.</param>
/// <param name="Outputs">Output value names.</param>
/// <param name="Name">The node's name.</param>
/// <param name="Attributes">Its attributes.</param>
public sealed record OnnxNode(string OpType, string[] Inputs, string[] Outputs, string? Name = null, params OnnxAttribute[] Attributes);

/// <summary>A graph input or output (<c>ValueInfoProto</c> of a tensor type). A null dimension is symbolic (<c>dim_param</c>).</summary>
/// <param name="Name">The value name.</param>
/// <param name="ElementType">The element type.</param>
/// <param name="Dims">The shape: numbers, or names for symbolic dimensions.</param>
public sealed record OnnxValueInfo(string Name, OnnxDataType ElementType, params object[] Dims);

/// <summary>A graph (<c>GraphProto</c>): nodes in topological order, initializers, inputs and outputs.</summary>
public sealed class OnnxGraph
{
    /// <summary>The graph's name.</summary>
    public string Name { get; init; } = "graph";

    /// <summary>The nodes, sorted topologically.</summary>
    public List<OnnxNode> Nodes { get; } = [];

    /// <summary>Constant tensors.</summary>
    public List<OnnxTensor> Initializers { get; } = [];

    /// <summary>The graph's inputs (initializers need not be listed).</summary>
    public List<OnnxValueInfo> Inputs { get; } = [];

    /// <summary>The graph's outputs.</summary>
    public List<OnnxValueInfo> Outputs { get; } = [];
}

/// <summary>A model (<c>ModelProto</c>) of one graph against the default ONNX operator set.</summary>
public sealed class OnnxModel
{
    /// <summary>The graph.</summary>
    public required OnnxGraph Graph { get; init; }

    /// <summary>The IR version (8: ONNX 1.10 and later readers, ONNX Runtime 1.10 and later).</summary>
    public long IrVersion { get; init; } = 8;

    /// <summary>The version of the default (<c>ai.onnx</c>) operator set.</summary>
    public long OpsetVersion { get; init; } = 14;

    /// <summary>The producer's name.</summary>
    public string ProducerName { get; init; } = "Deepbox";

    /// <summary>The producer's version.</summary>
    public string ProducerVersion { get; init; } = "0.1.0";

    /// <summary>A description.</summary>
    public string? DocString { get; init; }
}

/// <summary>
/// Serializes <see cref="OnnxModel"/> to the ONNX protobuf format, with the field numbers of <c>onnx/onnx.proto</c>.
/// Hand-rolled on <see cref="ProtoWriter"/>: no protobuf or ONNX package needed.
/// </summary>
public static class OnnxWriter
{
    /// <summary>The model as bytes, as <c>onnx.save</c> would write it.</summary>
    public static byte[] ToBytes(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var w = new ProtoWriter();
        WriteModel(w, model);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Writes the model to a file.</summary>
    public static void Save(OnnxModel model, string path) => File.WriteAllBytes(path, ToBytes(model));

    private static void WriteModel(ProtoWriter w, OnnxModel m)
    {
        // ModelProto: ir_version 1, producer_name 2, producer_version 3, doc_string 6, graph 7, opset_import 8.
        w.Int64(1, m.IrVersion);
        w.String(2, m.ProducerName);
        w.String(3, m.ProducerVersion);
        w.String(6, m.DocString);
        w.Message(7, g => WriteGraph(g, m.Graph));
        // OperatorSetIdProto: domain 1 (empty: ai.onnx), version 2.
        w.Message(8, o =>
        {
            o.String(1, "");
            o.Int64(2, m.OpsetVersion);
        });
    }

    private static void WriteGraph(ProtoWriter w, OnnxGraph g)
    {
        // GraphProto: node 1, name 2, initializer 5, input 11, output 12.
        foreach (OnnxNode node in g.Nodes)
        {
            w.Message(1, n => WriteNode(n, node));
        }

        w.String(2, g.Name);
        foreach (OnnxTensor t in g.Initializers)
        {
            w.Message(5, x => WriteTensor(x, t));
        }

        foreach (OnnxValueInfo v in g.Inputs)
        {
            w.Message(11, x => WriteValueInfo(x, v));
        }

        foreach (OnnxValueInfo v in g.Outputs)
        {
            w.Message(12, x => WriteValueInfo(x, v));
        }
    }

    private static void WriteNode(ProtoWriter w, OnnxNode n)
    {
        // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, domain 7.
        foreach (string input in n.Inputs)
        {
            w.String(1, input);
        }

        foreach (string output in n.Outputs)
        {
            w.String(2, output);
        }

        w.String(3, n.Name);
        w.String(4, n.OpType);
        foreach (OnnxAttribute a in n.Attributes)
        {
            w.Message(5, x => WriteAttribute(x, a));
        }
    }

    private static void WriteAttribute(ProtoWriter w, OnnxAttribute a)
    {
        // AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, strings 9, type 20.
        w.String(1, a.Name);
        switch (a.Type)
        {
            case 1: w.Float(2, a.FloatValue); break;
            case 2: w.Int64(3, a.IntValue); break;
            case 3: w.String(4, a.StringValue); break;
            case 4: w.Message(5, x => WriteTensor(x, a.TensorValue!)); break;
            case 6:
                foreach (float f in a.FloatValues)
                {
                    w.Float(7, f); // unpacked: proto2 `repeated float floats = 7` is not declared packed
                }

                break;
            case 7:
                foreach (long i in a.IntValues)
                {
                    w.Int64(8, i);
                }

                break;
            case 8:
                foreach (string s in a.StringValues)
                {
                    w.String(9, s);
                }

                break;
            default:
                throw new NotSupportedException($"Attribute type {a.Type}");
        }

        w.Int64(20, a.Type);
    }

    private static void WriteTensor(ProtoWriter w, OnnxTensor t)
    {
        // TensorProto: dims 1 (repeated int64), data_type 2, name 8, raw_data 9 (little-endian).
        foreach (long d in t.Dims)
        {
            w.Int64(1, d);
        }

        w.Int64(2, (long)t.DataType);
        w.String(8, t.Name);
        if (t.Floats is not null)
        {
            w.PackedFloats(9, t.Floats); // raw_data: the same bytes as a packed float array
        }
        else
        {
            long[] values = t.Int64s ?? [];
            var raw = new byte[values.Length * 8];
            for (int i = 0; i < values.Length; i++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
            }

            w.Bytes(9, raw);
        }
    }

    private static void WriteValueInfo(ProtoWriter w, OnnxValueInfo v)
    {
        // ValueInfoProto: name 1, type 2. TypeProto: tensor_type 1. TypeProto.Tensor: elem_type 1, shape 2.
        // TensorShapeProto: dim 1. Dimension: dim_value 1, dim_param 2.
        w.String(1, v.Name);
        w.Message(2, type => type.Message(1, tensor =>
        {
            tensor.Int64(1, (long)v.ElementType);
            tensor.Message(2, shape =>
            {
                foreach (object d in v.Dims)
                {
                    shape.Message(1, dim =>
                    {
                        if (d is string symbol)
                        {
                            dim.String(2, symbol);
                        }
                        else
                        {
                            dim.Int64(1, Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture));
                        }
                    });
                }
            });
        }));
    }
}
