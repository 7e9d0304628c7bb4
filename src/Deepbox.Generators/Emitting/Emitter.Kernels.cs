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
            result.Add(new KernelSource(FamilyOf(kernel.Key), kernel.Key, Render(kernel.Value, KernelTarget.Vector256), Render(kernel.Value, KernelTarget.Vector128)));
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
                    result.Add(new KernelSource("Step512", name, Render(kw => WriteStepKernel(kw, VectorIsa.V512, s.Layer, src, s.Padded), KernelTarget.Vector512), string.Empty));
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

    private static string Render(Action<SourceWriter> write, KernelTarget target)
    {
        var w = new SourceWriter { Target = target };
        write(w);
        return w.ToString();
    }

    /// <summary>
    /// A public kernel's signature and the scope of its body. In the 256-bit class the body starts by handing the call
    /// to the same kernel in the 128-bit ladder where <c>Vector256</c> is not accelerated (a core without AVX2, an
    /// Arm64 core, a NativeAOT binary for x86-64-v2), so that no kernel ever runs emulated 256-bit vectors; the JIT
    /// folds the test where it is.
    /// </summary>
    /// <param name="w">The writer.</param>
    /// <param name="name">The kernel's name.</param>
    /// <param name="parameters">Its parameter list, <c>type name</c> pairs separated by commas.</param>
    private static SourceWriter.Scope KernelMethod(SourceWriter w, string name, string parameters)
    {
        SourceWriter.Scope body = w.Block($"public static void {name}({parameters})");
        if (w.Target == KernelTarget.Vector256)
        {
            string arguments = string.Join(", ", parameters.Split(',').Select(p => p.Trim()).Select(p => p.Substring(p.LastIndexOf(' ') + 1)));
            using (w.Block("if (!V.IsHardwareAccelerated || KernelPaths.Vector128Only)"))
            {
                w.Line("// No AVX2 (or an Arm64 core): the same kernel on 128-bit halves, rather than emulated 256-bit vectors.");
                w.Line($"Kernels128.{name}({arguments});");
                w.Line("return;");
            }

            w.Line();
        }

        return body;
    }

    /// <summary>The hint name of a family's file.</summary>
    public static string KernelHintName(string family) => $"Deepbox.Kernels.{family}.g.cs";

    /// <summary>
    /// One family's file: parts of the compilation's <c>Kernels</c> and <c>Kernels128</c> classes (<c>Kernels512</c> for
    /// the 512-bit streaming kernels) with every kernel of the family that any model calls, once, ordered by name;
    /// "Common" holds what the recurrent families share (the state flush). Empty when there is nothing to hold.
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
        var w = new SourceWriter();
        w.Line("// <auto-generated/>");
        w.Line(common
            ? "// Deepbox kernels: the classes every kernel family's file is a part of, and what the recurrent families share."
            : wide
                ? $"// Deepbox kernels, {family} family: shared by every model of this project that needs them, each specialized to its sizes."
                : $"// Deepbox kernels, {family} family: shared by every model of this project that needs them, each specialized to its sizes;\n// in Kernels (Vector256), then again in Kernels128, the ladder they hand a call to where Vector256 is not accelerated.");
        w.Line("#nullable enable");
        if (wide)
        {
            WriteKernelClass(w, kernelNamespace, KernelTarget.Vector512, common, flush, chosen.Select(k => k.Text));
        }
        else
        {
            WriteKernelClass(w, kernelNamespace, KernelTarget.Vector256, common, flush, chosen.Select(k => k.Text));
            WriteKernelClass(w, kernelNamespace, KernelTarget.Vector128, common, flush, chosen.Select(k => k.LadderText));
        }

        return w.ToString();
    }

    /// <summary>
    /// One class's part in a family file, in a namespace block of its own (each target has its own vector aliases):
    /// <c>Kernels</c>, <c>Kernels128</c> or <c>Kernels512</c>. The class's documentation and attributes go on its part in
    /// the common file (Kernels512 has one part only).
    /// </summary>
    private static void WriteKernelClass(SourceWriter w, string kernelNamespace, KernelTarget target, bool common, bool flush, IEnumerable<string> kernels)
    {
        (string className, string v, string vec) = target switch
        {
            KernelTarget.Vector512 => ("Kernels512", "global::System.Runtime.Intrinsics.Vector512", "global::System.Runtime.Intrinsics.Vector512<float>"),
            KernelTarget.Vector128 => ("Kernels128", "global::Deepbox.CompilerServices.Vector128x2", "global::Deepbox.CompilerServices.Vector128x2<float>"),
            _ => ("Kernels", "global::System.Runtime.Intrinsics.Vector256", "global::System.Runtime.Intrinsics.Vector256<float>"),
        };
        w.Line();
        w.Line($"namespace {kernelNamespace}");
        w.Line("{");
        w.Line("    using Act = global::Deepbox.Activations;");
        if (target == KernelTarget.Vector256)
        {
            if (kernels.Any(k => k.Contains("Avx512F.")))
            {
                w.Line("    using Avx512F = global::System.Runtime.Intrinsics.X86.Avx512F;");
            }

            w.Line("    using KernelPaths = global::Deepbox.CompilerServices.KernelPaths;");
        }

        w.Line("    using MemoryMarshal = global::System.Runtime.InteropServices.MemoryMarshal;");
        w.Line("    using MethodImpl = global::System.Runtime.CompilerServices.MethodImplAttribute;");
        w.Line("    using MethodImplOptions = global::System.Runtime.CompilerServices.MethodImplOptions;");
        w.Line("    using Unsafe = global::System.Runtime.CompilerServices.Unsafe;");
        w.Line($"    using V = {v};");
        w.Line($"    using Vec = {vec};");
        if (target == KernelTarget.Vector256)
        {
            w.Line("    using V512 = global::System.Runtime.Intrinsics.Vector512;");
        }

        w.Line();
        if (target == KernelTarget.Vector512 || common)
        {
            w.Line(target switch
            {
                KernelTarget.Vector512 => "    /// <summary>Streaming kernels in 16-float blocks: Step runs them where Vector512 is accelerated (the same bits as the 8-float ones).</summary>",
                KernelTarget.Vector128 => "    /// <summary>The 128-bit ladder: the kernels of <see cref=\"Kernels\"/> on 8 floats as two 128-bit halves, where Vector256 is not accelerated (the same bits where the core has FMA).</summary>",
                _ => "    /// <summary>The generated models' kernels, specialized to their sizes (8-float vector blocks); one file per family.</summary>",
            });
            w.Line("    " + GeneratedCode);
        }

        w.Line($"    internal static partial class {className}");
        w.Line("    {");
        var body = new SourceWriter();
        bool first = true;
        if (flush)
        {
            WriteFlush(body, target);
            first = false;
        }

        foreach (string kernel in kernels)
        {
            if (!first)
            {
                body.Line();
            }

            first = false;
            foreach (string line in kernel.TrimEnd('\n').Split('\n'))
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
    }

    /// <summary>The state flush the recurrent kernels call (once per class: in the common part, and in the 512-bit class).</summary>
    private static void WriteFlush(SourceWriter body, KernelTarget target)
    {
        body.Line("/// <summary>");
        body.Line($"/// Sets state values smaller than {FlushBelow} in magnitude to zero. A state that decays (input going quiet for");
        body.Line("/// thousands of steps) would otherwise sink into subnormal floats, which slow x86 cores many times over, and .NET has");
        body.Line("/// no flush-to-zero switch; values this small change nothing a float can show downstream. NaN is kept (its comparison is false).");
        body.Line("/// </summary>");
        body.Line("[MethodImpl(MethodImplOptions.AggressiveInlining)]");
        body.Line($"private static Vec Flush(Vec x) => V.AndNot(x, V.LessThan(V.Abs(x), V.Create({FlushBelow})));");
        if (target == KernelTarget.Vector256)
        {
            body.Line();
            body.Line("/// <summary>The same flush on 16 floats, for the Vector512 paths of the 8-float kernels.</summary>");
            body.Line("[MethodImpl(MethodImplOptions.AggressiveInlining)]");
            body.Line($"private static global::System.Runtime.Intrinsics.Vector512<float> Flush(global::System.Runtime.Intrinsics.Vector512<float> x) => V512.AndNot(x, V512.LessThan(V512.Abs(x), V512.Create({FlushBelow})));");
        }
    }
}
