using System;
using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>
/// The vector kernels. Every size is a literal; loops over outputs and hidden units step by whole vectors (padded
/// weights make the last block whole), the loop over the reduction dimension stays a loop with a constant trip count
/// (fully unrolling it was measured 4-6x slower under RyuJIT), and accumulators are named locals. Each distinct
/// kernel is written once per model, keyed and sorted by name.
/// </summary>
internal static partial class Emitter
{
    /// <param name="panel">Floats per panel of the packed weights when wider than one vector (a recurrent layer's
    /// input weights: one block's gates), else 0.</param>
    private static string DenseName(RowSource src, int n, Activation act, DenseInit init = DenseInit.Bias, int panel = 0) =>
        $"Dense_{src.Key}_N{Inv(n)}" + (panel == 0 ? string.Empty : "_P" + Inv(panel)) + (act == Activation.None ? string.Empty : "_" + act) + (init == DenseInit.Bias ? string.Empty : "_" + init);

    private static string WeightGradName(RowSource src, int n) => $"WeightGrad_{src.Key}_N{Inv(n)}";

    private static string BackwardName(LayerSpec l, int h) => l.Kind switch
    {
        LayerKind.Lstm => "LstmBackward_H" + Inv(h),
        LayerKind.Gru => "GruBackward_H" + Inv(h),
        _ => (l.Relu ? "RnnReluBackward_H" : "RnnTanhBackward_H") + Inv(h),
    };

    private static string SequenceName(LayerSpec l, int h) => l.Kind switch
    {
        LayerKind.Lstm => "LstmSequence_H" + Inv(h),
        LayerKind.Gru => "GruSequence_H" + Inv(h),
        _ => (l.Relu ? "RnnReluSequence_H" : "RnnTanhSequence_H") + Inv(h),
    };

    /// <summary>The kernel families: one generated file each, parts of one class per vector width.</summary>
    public static readonly string[] KernelFamilies = ["Common", "Dense", "WeightGrad", "Rnn", "Lstm", "Gru", "Step512"];

    /// <summary>
    /// Every kernel a model calls, rendered: (family, name, text). A kernel's name says everything that specializes it
    /// (cell, sizes, layout, tile, width), so two models that need one name need the same text, and the compilation's
    /// kernel files hold it once (<see cref="EmitKernelFile"/>).
    /// </summary>
    public static EquatableArray<KernelSource> Kernels(ModelSpec spec)
    {
        var plan = new ModelPlan(spec, VectorIsa.V256);
        var kernels = new SortedDictionary<string, Action<SourceWriter>>(StringComparer.Ordinal);
        foreach (StagePlan s in plan.Stages)
        {
            LayerSpec l = s.Layer;
            if (l.IsRecurrent)
            {
                int n = l.Gates * s.Padded;
                for (int layer = 0; layer < l.NumLayers; layer++)
                {
                    RowSource src = s.LayerInput(layer);
                    int panel = InputPanel(plan, l);
                    kernels[DenseName(src, n, Activation.None, panel: panel)] = kw => WriteDense(kw, plan.Isa, src, n, Activation.None, panel: panel);
                }

                kernels[SequenceName(l, l.HiddenSize)] = kw => WriteSequence(kw, plan.Isa, l, s.Padded);
                kernels[UpdateName(l)] = kw => WriteSequenceUpdate(kw, l, s.Padded, plan.Isa.Width);
                if (CanStream(plan))
                {
                    for (int layer = 0; layer < l.NumLayers; layer++)
                    {
                        RowSource src = s.LayerInput(layer);
                        kernels[StepName(l, src)] = kw => WriteStepKernel(kw, plan.Isa, l, src, s.Padded);
                    }
                }

                // Backward: the cell back through time, the weight-gradient products, the input-gradient products.
                kernels[BackwardName(l, l.HiddenSize)] = kw => WriteSequenceBackward(kw, plan.Isa, l, s.Padded);
                var gateRows = new RowSource(string.Empty, n, n, n, 1);
                var stateRows = new RowSource(string.Empty, s.Padded, l.HiddenSize, s.Padded, 1);
                DenseInit carry = l.Kind == LayerKind.Gru ? DenseInit.Accumulate : DenseInit.Zero;
                kernels[DenseName(gateRows, s.Padded, Activation.None, carry)] = kw => WriteDense(kw, plan.Isa, gateRows, s.Padded, Activation.None, carry);
                kernels[WeightGradName(stateRows, n)] = kw => WriteWeightGrad(kw, plan.Isa, stateRows, n);
                for (int layer = 0; layer < l.NumLayers; layer++)
                {
                    RowSource src = s.LayerInput(layer);
                    int width = plan.Isa.Pad(src.PackedRows);
                    kernels[WeightGradName(src, n)] = kw => WriteWeightGrad(kw, plan.Isa, src, n);
                    kernels[DenseName(gateRows, width, Activation.None, DenseInit.Zero)] = kw => WriteDense(kw, plan.Isa, gateRows, width, Activation.None, DenseInit.Zero);
                    if (l.Bidirectional)
                    {
                        kernels[DenseName(gateRows, width, Activation.None, DenseInit.Accumulate)] = kw => WriteDense(kw, plan.Isa, gateRows, width, Activation.None, DenseInit.Accumulate);
                    }
                }
            }
            else if (l.Kind == LayerKind.Linear)
            {
                kernels[DenseName(s.Input, s.Padded, l.Activation)] = kw => WriteDense(kw, plan.Isa, s.Input, s.Padded, l.Activation);
                var outRows = new RowSource(string.Empty, s.Padded, s.Padded, s.Padded, 1);
                int width = plan.Isa.Pad(s.Input.PackedRows);
                kernels[WeightGradName(s.Input, s.Padded)] = kw => WriteWeightGrad(kw, plan.Isa, s.Input, s.Padded);
                kernels[DenseName(outRows, width, Activation.None, DenseInit.Zero)] = kw => WriteDense(kw, plan.Isa, outRows, width, Activation.None, DenseInit.Zero);
            }
        }

        var result = new List<KernelSource>();
        foreach (KeyValuePair<string, Action<SourceWriter>> kernel in kernels)
        {
            result.Add(new KernelSource(FamilyOf(kernel.Key), kernel.Key, Render(kernel.Value)));
        }

        if (WideStep(plan))
        {
            // Step's kernels again in 16-float blocks, for machines where Vector512 is accelerated.
            foreach (StagePlan s in plan.Stages.Where(s => s.Layer.IsRecurrent))
            {
                for (int layer = 0; layer < s.Layer.NumLayers; layer++)
                {
                    RowSource src = s.LayerInput(layer);
                    string name = StepName(s.Layer, src);
                    result.Add(new KernelSource("Step512", name, Render(kw => WriteStepKernel(kw, VectorIsa.V512, s.Layer, src, s.Padded))));
                }
            }
        }

        return new EquatableArray<KernelSource>(result);
    }

    private static string FamilyOf(string name) =>
        name.StartsWith("Dense_", StringComparison.Ordinal) ? "Dense"
        : name.StartsWith("WeightGrad_", StringComparison.Ordinal) ? "WeightGrad"
        : name.StartsWith("Lstm", StringComparison.Ordinal) ? "Lstm"
        : name.StartsWith("Gru", StringComparison.Ordinal) ? "Gru"
        : "Rnn";

    private static string Render(Action<SourceWriter> write)
    {
        var w = new SourceWriter();
        write(w);
        return w.ToString();
    }

    /// <summary>The hint name of a family's file.</summary>
    public static string KernelHintName(string family) => $"Deepbox.Kernels.{family}.g.cs";

    /// <summary>
    /// One family's file: a part of the compilation's <c>Kernels</c> class (<c>Kernels512</c> for the 512-bit streaming
    /// kernels) with every kernel of the family that any model calls, once, ordered by name; "Common" holds what the
    /// recurrent families share (the state flush). Empty when there is nothing to hold.
    /// </summary>
    public static string EmitKernelFile(string kernelNamespace, string family, IEnumerable<KernelSource> kernels)
    {
        bool common = family == "Common";
        List<KernelSource> all = kernels.ToList();
        List<KernelSource> chosen = all
            .Where(k => k.Family == family)
            .GroupBy(k => k.Name, StringComparer.Ordinal)
            .Select(g => g.Distinct().Count() == 1
                ? g.First()
                // A name must say everything that specializes a kernel; two texts under one name would be a generator bug,
                // and failing loudly (no generated code, a CS8785 warning naming this) beats calling the wrong kernel.
                : throw new InvalidOperationException($"Deepbox generator bug: two different kernels are named {g.Key}."))
            .OrderBy(k => k.Name, StringComparer.Ordinal)
            .ToList();
        if (common ? all.Count == 0 : chosen.Count == 0)
        {
            return string.Empty;
        }

        bool wide = family == "Step512";
        bool flush = (common && all.Any(k => k.Family is "Rnn" or "Lstm" or "Gru")) || wide;
        VectorIsa isa = wide ? VectorIsa.V512 : VectorIsa.V256;
        string vec = isa.TypeName;
        var w = new SourceWriter();
        w.Line("// <auto-generated/>");
        w.Line(common
            ? "// Deepbox kernels: the class every kernel family's file is a part of, and what the recurrent families share."
            : $"// Deepbox kernels, {family} family: shared by every model of this project that needs them, each specialized to its sizes.");
        w.Line("#nullable enable");
        w.Line();
        w.Line($"namespace {kernelNamespace}");
        w.Line("{");
        w.Line("    using Act = global::Deepbox.Activations;");
        w.Line("    using MemoryMarshal = global::System.Runtime.InteropServices.MemoryMarshal;");
        w.Line("    using MethodImpl = global::System.Runtime.CompilerServices.MethodImplAttribute;");
        w.Line("    using MethodImplOptions = global::System.Runtime.CompilerServices.MethodImplOptions;");
        w.Line("    using Unsafe = global::System.Runtime.CompilerServices.Unsafe;");
        w.Line($"    using V = global::System.Runtime.Intrinsics.{vec};");
        w.Line($"    using Vec = global::System.Runtime.Intrinsics.{vec}<float>;");
        if (!wide)
        {
            w.Line("    using V512 = global::System.Runtime.Intrinsics.Vector512;");
        }

        w.Line();
        if (wide || common)
        {
            // The class's documentation and attributes, once: on the common part, and on the one part of Kernels512.
            w.Line(wide
                ? $"    /// <summary>Streaming kernels in {Inv(isa.Width)}-float blocks: Step runs them where {vec} is accelerated (the same bits as the 8-float ones).</summary>"
                : $"    /// <summary>The generated models' kernels, specialized to their sizes ({Inv(isa.Width)}-float vector blocks); one file per family.</summary>");
            w.Line("    " + GeneratedCode);
        }

        w.Line($"    internal static partial class Kernels{(wide ? "512" : string.Empty)}");
        w.Line("    {");
        var body = new SourceWriter();
        bool first = true;
        if (flush)
        {
            WriteFlush(body);
            first = false;
        }

        foreach (KernelSource kernel in chosen)
        {
            if (!first)
            {
                body.Line();
            }

            first = false;
            foreach (string line in kernel.Text.TrimEnd('\n').Split('\n'))
            {
                body.Line(line);
            }
        }

        foreach (string line in body.ToString().TrimEnd('\n').Split('\n'))
        {
            w.Line(line.Length == 0 ? string.Empty : "        " + line);
        }

        w.Line("    }");
        w.Line("}");
        return w.ToString();
    }

    /// <summary>The state flush the recurrent kernels call (once per class: in the common part, and in the 512-bit class).</summary>
    private static void WriteFlush(SourceWriter body)
    {
        body.Line("/// <summary>");
        body.Line($"/// Sets state values smaller than {FlushBelow} in magnitude to zero. A state that decays (input going quiet for");
        body.Line("/// thousands of steps) would otherwise sink into subnormal floats, which slow x86 cores many times over, and .NET has");
        body.Line("/// no flush-to-zero switch; values this small change nothing a float can show downstream. NaN is kept (its comparison is false).");
        body.Line("/// </summary>");
        body.Line("[MethodImpl(MethodImplOptions.AggressiveInlining)]");
        body.Line($"private static Vec Flush(Vec x) => V.AndNot(x, V.LessThan(V.Abs(x), V.Create({FlushBelow})));");
    }
}
