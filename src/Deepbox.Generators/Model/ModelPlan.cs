using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>The vector width the emitter writes kernels for (floats per vector and the intrinsics type).</summary>
internal sealed record VectorIsa(int Width, string TypeName)
{
    /// <summary>8-float <c>Vector256</c> blocks: AVX2, and emulated correctly wherever it is not accelerated.</summary>
    public static readonly VectorIsa V256 = new(KernelLayout.VectorWidth, "Vector256");

    /// <summary>16-float <c>Vector512</c> blocks: the streaming kernels where AVX-512 is accelerated.</summary>
    public static readonly VectorIsa V512 = new(KernelLayout.WideVectorWidth, "Vector512");

    /// <summary>Rounds <paramref name="n"/> up to whole vectors.</summary>
    public int Pad(int n) => (n + Width - 1) / Width * Width;
}

/// <summary>A buffer of time-major rows: where a stage reads its input from.</summary>
/// <param name="Buffer">The field holding the rows.</param>
/// <param name="RowStride">Floats per row.</param>
/// <param name="SegmentWidth">Features per segment.</param>
/// <param name="SegmentStride">Floats between segment starts (the padded hidden size).</param>
/// <param name="Segments">Segments per row (directions of a recurrent layer; 1 otherwise).</param>
/// <param name="LastStepOnly">The buffer holds <c>[T, B]</c> rows but only those of the last time step are read (after <c>LastStep</c>).</param>
/// <param name="Collapsed">The time dimension is gone: one row per sequence.</param>
internal sealed record RowSource(string Buffer, int RowStride, int SegmentWidth, int SegmentStride, int Segments, bool LastStepOnly = false, bool Collapsed = false)
{
    public int Width => SegmentWidth * Segments;

    /// <summary>Rows of the packed weights that read this source (padding rows between segments stay zero).</summary>
    public int PackedRows => ((Segments - 1) * SegmentStride) + SegmentWidth;

    /// <summary>A short, stable key of the layout, used in kernel names: <c>K4</c>, <c>K9x2s16</c>.</summary>
    public string Key => Segments == 1
        ? "K" + Inv(SegmentWidth)
        : "K" + Inv(SegmentWidth) + "x" + Inv(Segments) + "s" + Inv(SegmentStride);

    public static string Inv(int v) => v.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A parameter of the model: its field, PyTorch name, shape and how it is initialized.</summary>
internal sealed record ParamPlan(string Field, string Name, int[] Shape, string Init)
{
    public int Count => Shape.Aggregate(1, (a, b) => a * b);

    public string ShapeText => "[" + string.Join(", ", Shape.Select(RowSource.Inv)) + "]";
}

/// <summary>One layer attribute with everything derived from it that the emitter needs.</summary>
internal sealed class StagePlan
{
    public StagePlan(int index, LayerSpec layer, string prefix, RowSource input, VectorIsa isa)
    {
        Index = index;
        Layer = layer;
        Prefix = prefix;
        Input = input;
        Padded = layer.Kind == LayerKind.LastStep ? 0 : isa.Pad(layer.HiddenSize);
        if (layer.IsRecurrent)
        {
            Output = new RowSource($"_seq{index}_{layer.NumLayers - 1}", layer.Directions * Padded, layer.HiddenSize, Padded, layer.Directions);
        }
        else if (layer.Kind == LayerKind.Embedding)
        {
            Output = input; // the looked-up vectors are the model input's rows, _x
        }
        else if (layer.Kind == LayerKind.Linear)
        {
            Output = new RowSource($"_y{index}", Padded, layer.HiddenSize, Padded, 1, Collapsed: input.Collapsed);
        }
        else
        {
            Output = input with { LastStepOnly = true, Collapsed = true };
        }
    }

    public int Index { get; }

    public LayerSpec Layer { get; }

    /// <summary>The parameter-name prefix, with its dot (<c>lstm.</c>, <c>2.</c>) or empty.</summary>
    public string Prefix { get; }

    public RowSource Input { get; }

    public RowSource Output { get; }

    /// <summary>Hidden size (or output features) rounded up to whole vectors.</summary>
    public int Padded { get; }

    public List<ParamPlan> Parameters { get; } = [];

    /// <summary>The input of stacked layer <paramref name="l"/> of a recurrent stage.</summary>
    public RowSource LayerInput(int l) => l == 0
        ? Input
        : new RowSource($"_seq{Index}_{l - 1}", Layer.Directions * Padded, Layer.HiddenSize, Padded, Layer.Directions);

    public string CellName => Layer.Kind switch
    {
        LayerKind.Rnn => "RNN",
        LayerKind.Lstm => "LSTM",
        LayerKind.Gru => "GRU",
        LayerKind.Linear => "Linear",
        LayerKind.Embedding => "Embedding",
        _ => "LastStep",
    };

    /// <summary>deepbox's <c>toString()</c> of this layer.</summary>
    public string Describe() => Layer.Kind switch
    {
        LayerKind.Linear => $"Linear(in_features={Layer.InputSize}, out_features={Layer.HiddenSize}, bias={(Layer.Bias ? "true" : "false")}"
            + (Layer.Activation == Activation.None ? ")" : $", activation={Layer.Activation})"),
        LayerKind.LastStep => "LastStep()",
        LayerKind.Embedding => $"Embedding({Layer.InputSize}, {Layer.HiddenSize}{(Layer.PaddingIdx >= 0 ? $", padding_idx={Layer.PaddingIdx}" : string.Empty)})",
        _ => $"{CellName}({Layer.InputSize}, {Layer.HiddenSize}, num_layers={Layer.NumLayers})",
    };
}

/// <summary>The whole model as the emitter sees it: stages in data-flow order and the parameters in PyTorch's order.</summary>
internal sealed class ModelPlan
{
    public ModelPlan(ModelSpec spec, VectorIsa isa, string kernelNamespace = Emitter.DefaultKernelNamespace)
    {
        Spec = spec;
        Isa = isa;
        KernelNamespace = kernelNamespace;
        int first = spec.Layers.Count == 0 ? 0 : spec.Layers[0].Kind == LayerKind.Embedding ? spec.Layers[0].HiddenSize : spec.Layers[0].InputSize;
        var source = new RowSource("_x", first, first, first, 1);
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            LayerSpec layer = spec.Layers[i];
            string prefix = spec.Layers.Count == 1
                ? (layer.Name is null ? string.Empty : layer.Name + ".")
                : (layer.Name ?? RowSource.Inv(i)) + ".";
            var stage = new StagePlan(i, layer, prefix, source, isa);
            AddParameters(stage);
            Stages.Add(stage);
            source = stage.Output;
        }

        Output = source;
    }

    public ModelSpec Spec { get; }

    public VectorIsa Isa { get; }

    /// <summary>The namespace of the compilation's shared kernel classes (see <see cref="Emitter.KernelNamespace"/>).</summary>
    public string KernelNamespace { get; }

    public List<StagePlan> Stages { get; } = [];

    public RowSource Output { get; }

    public IEnumerable<ParamPlan> Parameters => Stages.SelectMany(s => s.Parameters);

    /// <summary>Floats per step of the first stage's rows (<c>_x</c>): the input's features, or an <c>[Embedding]</c>'s vector width.</summary>
    public int InputSize => Embedding is { } e ? e.Layer.HiddenSize : Spec.Layers[0].InputSize;

    /// <summary>The <c>[Embedding]</c> stage when the model takes token ids (it is then the first), else null.</summary>
    public StagePlan? Embedding => Stages.Count > 0 && Stages[0].Layer.Kind == LayerKind.Embedding ? Stages[0] : null;

    public int OutputSize => Output.Width;

    public bool HasLastStep => Stages.Any(s => s.Layer.Kind == LayerKind.LastStep);

    /// <summary>The recurrent stage whose states <c>ForwardWithState</c> takes and returns: the only one, or none.</summary>
    public StagePlan? StateStage
    {
        get
        {
            List<StagePlan> recurrent = Stages.Where(s => s.Layer.IsRecurrent).ToList();
            return recurrent.Count == 1 ? recurrent[0] : null;
        }
    }

    public StagePlan? FirstRecurrent => Stages.FirstOrDefault(s => s.Layer.IsRecurrent);

    private static void AddParameters(StagePlan stage)
    {
        LayerSpec l = stage.Layer;
        if (l.IsRecurrent)
        {
            int rows = l.Gates * l.HiddenSize;
            for (int layer = 0; layer < l.NumLayers; layer++)
            {
                int inSize = layer == 0 ? l.InputSize : l.Directions * l.HiddenSize;
                for (int d = 0; d < l.Directions; d++)
                {
                    string sfx = RowSource.Inv(layer) + (d == 1 ? "_reverse" : string.Empty);
                    string init = $"UniformInverseSqrt({RowSource.Inv(l.HiddenSize)})";
                    Add(stage, "weight_ih_l" + sfx, [rows, inSize], init);
                    Add(stage, "weight_hh_l" + sfx, [rows, l.HiddenSize], init);
                    if (l.Bias)
                    {
                        Add(stage, "bias_ih_l" + sfx, [rows], init);
                        Add(stage, "bias_hh_l" + sfx, [rows], init);
                    }
                }
            }
        }
        else if (l.Kind == LayerKind.Embedding)
        {
            Add(stage, "weight", [l.InputSize, l.HiddenSize], "Normal(0, 1)"); // nn.Embedding: N(0, 1), then the padding row zeroed
        }
        else if (l.Kind == LayerKind.Linear)
        {
            Add(stage, "weight", [l.HiddenSize, l.InputSize], $"KaimingUniformLinear({RowSource.Inv(l.InputSize)})");
            if (l.Bias)
            {
                Add(stage, "bias", [l.HiddenSize], $"UniformInverseSqrt({RowSource.Inv(l.InputSize)})");
            }
        }
    }

    private static void Add(StagePlan stage, string name, int[] shape, string init) =>
        stage.Parameters.Add(new ParamPlan($"_p{stage.Index}_{name}", stage.Prefix + name, shape, init));
}
