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
    private static string DenseName(RowSource src, int n, ActivationKind act, DenseInit init = DenseInit.Bias, int panel = 0) =>
        $"Dense_{src.Key}_N{Inv(n)}" + (panel == 0 ? string.Empty : "_P" + Inv(panel)) + (act == ActivationKind.None ? string.Empty : "_" + act) + (init == DenseInit.Bias ? string.Empty : "_" + init);

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
                    kernels[DenseName(src, n, ActivationKind.None, panel: panel)] = kw => WriteDense(kw, plan.Isa, src, n, ActivationKind.None, panel: panel);
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
                kernels[DenseName(gateRows, s.Padded, ActivationKind.None, carry)] = kw => WriteDense(kw, plan.Isa, gateRows, s.Padded, ActivationKind.None, carry);
                kernels[WeightGradName(stateRows, n)] = kw => WriteWeightGrad(kw, plan.Isa, stateRows, n);
                for (int layer = 0; layer < l.NumLayers; layer++)
                {
                    RowSource src = s.LayerInput(layer);
                    int width = plan.Isa.Pad(src.PackedRows);
                    kernels[WeightGradName(src, n)] = kw => WriteWeightGrad(kw, plan.Isa, src, n);
                    kernels[DenseName(gateRows, width, ActivationKind.None, DenseInit.Zero)] = kw => WriteDense(kw, plan.Isa, gateRows, width, ActivationKind.None, DenseInit.Zero);
                    if (l.Bidirectional)
                    {
                        kernels[DenseName(gateRows, width, ActivationKind.None, DenseInit.Accumulate)] = kw => WriteDense(kw, plan.Isa, gateRows, width, ActivationKind.None, DenseInit.Accumulate);
                    }
                }
            }
            else if (l.Kind == LayerKind.Linear)
            {
                kernels[DenseName(s.Input, s.Padded, l.Activation)] = kw => WriteDense(kw, plan.Isa, s.Input, s.Padded, l.Activation);
                var outRows = new RowSource(string.Empty, s.Padded, s.Padded, s.Padded, 1);
                int width = plan.Isa.Pad(s.Input.PackedRows);
                kernels[WeightGradName(s.Input, s.Padded)] = kw => WriteWeightGrad(kw, plan.Isa, s.Input, s.Padded);
                kernels[DenseName(outRows, width, ActivationKind.None, DenseInit.Zero)] = kw => WriteDense(kw, plan.Isa, outRows, width, ActivationKind.None, DenseInit.Zero);
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

    /// <summary>
    /// <c>y[m, 0:n] = bias + sum_k x[m, k] * w[k, 0:n]</c> (then the activation) for every row: the input
    /// products of a recurrent layer for all time steps at once, and the <c>Linear</c> layers.
    /// </summary>
    /// <summary>
    /// Floats per panel of a recurrent layer's packed input weights (one block's gates, see
    /// <c>ModelSupport.PackGateInterleaved</c>) as <see cref="DenseName"/> and <see cref="WriteDense"/> take it: 0 when a
    /// panel is a single vector (the RNN), the layout every other dense kernel reads.
    /// </summary>
    private static int InputPanel(ModelPlan plan, LayerSpec l) => l.Gates == 1 ? 0 : l.Gates * plan.Isa.Width;

    private static void WriteDense(SourceWriter w, VectorIsa isa, RowSource src, int n, ActivationKind act, DenseInit init = DenseInit.Bias, int panel = 0)
    {
        int v = isa.Width;
        int vectors = n / v;
        const int Chunk = DenseVectors;
        int passes = vectors / Chunk;
        int rest = vectors % Chunk;
        string segs = src.Segments == 1
            ? $"k in [0, {Inv(src.SegmentWidth)})"
            : string.Join(" and ", Enumerable.Range(0, src.Segments).Select(s => $"[{Inv(s * src.SegmentStride)}, {Inv((s * src.SegmentStride) + src.SegmentWidth)})"));
        w.Line("/// <summary>");
        string start = init switch { DenseInit.Bias => "bias + ", DenseInit.Accumulate => "y[m, 0:" + Inv(n) + "] + ", _ => string.Empty };
        w.Line($"/// y[m, 0:{Inv(n)}] = {(act == ActivationKind.None ? string.Empty : act.ToString().ToLowerInvariant() + "(")}{start}sum over {segs} of x[m, k] * w[k, 0:{Inv(n)}]{(act == ActivationKind.None ? string.Empty : ")")}, for m in [0, rows).");
        int p = panel == 0 ? v : panel;
        w.Line($"/// w is [{Inv(src.PackedRows)}][{Inv(n)}] in panels of {Inv(p)} columns (ModelSupport.PanelIndex): each panel's {Inv(src.PackedRows)} rows one after another,");
        w.Line($"/// so a pass reads sequential streams, and each input broadcasts against {Inv(Math.Min(Chunk, vectors))} vector{(Math.Min(Chunk, vectors) == 1 ? string.Empty : "s")} of outputs.");
        w.Line("/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        using (w.Block($"public static void {DenseName(src, n, act, init, panel)}(global::System.ReadOnlySpan<float> x, int xStride, global::System.ReadOnlySpan<float> w, global::System.ReadOnlySpan<float> bias, global::System.Span<float> y, int rows)"))
        {
            w.Line("ref float x0 = ref MemoryMarshal.GetReference(x);");
            w.Line("ref float w0 = ref MemoryMarshal.GetReference(w);");
            if (init == DenseInit.Bias)
            {
                w.Line("ref float b0 = ref MemoryMarshal.GetReference(bias);");
            }

            w.Line("ref float y0 = ref MemoryMarshal.GetReference(y);");
            w.Line($"// Rows in blocks of {Inv(DenseRowBlock)}, so a block's inputs stay in cache while every column pass reads them.");
            using (w.Block($"for (int m0 = 0; m0 < rows; m0 += {Inv(DenseRowBlock)})"))
            {
                w.Line($"int mEnd = global::System.Math.Min(rows, m0 + {Inv(DenseRowBlock)});");
                if (passes == 1)
                {
                    using (w.Block($"// Outputs [0, {Inv(Chunk * v)}): {Inv(Chunk)} vectors."))
                    {
                        WriteDenseRows(w, v, p, src, n, Chunk, "0", act, init);
                    }
                }
                else if (passes > 1)
                {
                    w.Line($"// Outputs [0, {Inv(passes * Chunk * v)}): {Inv(passes)} passes of {Inv(Chunk)} vectors; each pass's weights stay in cache across the rows.");
                    using (w.Block($"for (int n = 0; n < {Inv(passes * Chunk * v)}; n += {Inv(Chunk * v)})"))
                    {
                        WriteDenseRows(w, v, p, src, n, Chunk, "n", act, init);
                    }
                }

                if (rest > 0)
                {
                    int first = passes * Chunk * v;
                    using (w.Block($"// Outputs [{Inv(first)}, {Inv(n)}): {Inv(rest)} vector{(rest == 1 ? string.Empty : "s")}."))
                    {
                        WriteDenseRows(w, v, p, src, n, rest, Inv(first), act, init);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Rows in groups of <see cref="DenseRows"/> sharing each weight load, then one at a time. Where the group's sums,
    /// weight vectors and broadcast would not fit in the 16 vector registers of a core without AVX-512
    /// (<see cref="TileRows"/>), that core takes the group in smaller tiles (the same operations per row, so the same sums).
    /// </summary>
    private static void WriteDenseRows(SourceWriter w, int v, int p, RowSource src, int n, int count, string col, ActivationKind act, DenseInit init)
    {
        w.Line("int m = m0;");
        using (w.Block($"for (; m + {Inv(DenseRows)} <= mEnd; m += {Inv(DenseRows)})"))
        {
            WriteRegisterTile(w, count, DenseRows, "rows", "m", guarded: true, (rows, first) => WriteDensePass(w, v, p, src, n, count, col, act, init, rows, first));
        }

        using (w.Block("for (; m < mEnd; m++)"))
        {
            WriteDensePass(w, v, p, src, n, count, col, act, init, 1);
        }
    }

    /// <summary>Rows of a dense kernel whose inputs are kept in cache while every column pass reads them.</summary>
    private const int DenseRowBlock = 64;

    /// <summary>Output vectors of a dense kernel's pass: each input broadcast serves all of them.</summary>
    private const int DenseVectors = 4;

    /// <summary>Rows of a dense kernel computed together: each weight vector loaded once serves all of them.</summary>
    private const int DenseRows = 4;

    /// <summary>
    /// Rows of a tile of <paramref name="vectors"/> sums per row that a core without AVX-512 holds in registers: at most
    /// <paramref name="rows"/>, halved until the sums, the weight vectors and one broadcast fit in 16 vector registers.
    /// A tile that does not fit makes RyuJIT store and reload sums at every step of its loop (measured: twice the time
    /// of LSTM's recurrence with AVX-512 switched off, where the 4 x 4 tile fits in AVX-512's 32 registers).
    /// </summary>
    private static int TileRows(int vectors, int rows)
    {
        while (rows > 1 && (rows * vectors) + vectors + 1 > 16)
        {
            rows /= 2;
        }

        return rows;
    }

    /// <summary>
    /// One pass over <paramref name="count"/> output vectors starting at column <paramref name="col"/> (a literal or
    /// <c>n</c>) for <paramref name="rows"/> rows from <c>m + first</c>.
    /// </summary>
    private static void WriteDensePass(SourceWriter w, int v, int p, RowSource src, int n, int count, string col, ActivationKind act, DenseInit init, int rows, int first = 0)
    {
        for (int r = 0; r < rows; r++)
        {
            string mr = first + r == 0 ? "m" : $"(m + {Inv(first + r)})";
            w.Line($"ref float xm{r} = ref Unsafe.Add(ref x0, {mr} * xStride);");
            w.Line($"ref float ym{r} = ref Unsafe.Add(ref y0, {mr} * {Inv(n)});");
        }

        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < count; i++)
            {
                string value = init switch
                {
                    DenseInit.Bias => $"V.LoadUnsafe(ref b0, {Offset(col, i * v)})",
                    DenseInit.Accumulate => $"V.LoadUnsafe(ref ym{r}, {Offset(col, i * v)})",
                    _ => "Vec.Zero",
                };
                w.Line($"Vec a{r}{Inv(i)} = {value};");
            }
        }

        int k = src.PackedRows;
        // Where the pass's vectors sit: one panel per vector (their panels rows * v floats apart), the whole pass in one
        // panel (side by side), or a pass straddling panels of 3 vectors (GRU), each vector from its own panel.
        bool perVector = p != v && p != DenseVectors * v;
        if (perVector)
        {
            for (int i = 0; i < count; i++)
            {
                if (col == "n")
                {
                    string c = i == 0 ? "n" : $"(n + {Inv(i * v)})";
                    w.Line($"ref float wp{Inv(i)} = ref Unsafe.Add(ref w0, (({c} / {Inv(p)}) * {Inv(k * p)}) + ({c} % {Inv(p)}));");
                }
                else
                {
                    int c = int.Parse(col, System.Globalization.CultureInfo.InvariantCulture) + (i * v);
                    w.Line($"ref float wp{Inv(i)} = ref Unsafe.Add(ref w0, {Inv(((c / p) * k * p) + (c % p))});");
                }
            }
        }
        else
        {
            w.Line($"ref float wp = ref {PanelStart("w0", col, k)};");
        }

        for (int s = 0; s < src.Segments; s++)
        {
            int from = s * src.SegmentStride;
            using (w.Block($"for (int k = {Inv(from)}; k < {Inv(from + src.SegmentWidth)}; k++)"))
            {
                if (perVector)
                {
                    w.Line($"nuint kp = (nuint)(k * {Inv(p)});");
                }
                else
                {
                    w.Line($"ref float wk = ref Unsafe.Add(ref wp, k * {Inv(p)});");
                }

                for (int i = 0; i < count; i++)
                {
                    string load = perVector ? $"V.LoadUnsafe(ref wp{Inv(i)}, kp)"
                        : $"V.LoadUnsafe(ref wk{(i == 0 ? string.Empty : ", " + Inv(p == v ? i * k * v : i * v))})";
                    w.Line($"Vec wv{Inv(i)} = {load};");
                }

                for (int r = 0; r < rows; r++)
                {
                    w.Line($"Vec xb{r} = V.Create(Unsafe.Add(ref xm{r}, k));");
                    for (int i = 0; i < count; i++)
                    {
                        w.Line($"a{r}{Inv(i)} = V.FusedMultiplyAdd(wv{Inv(i)}, xb{r}, a{r}{Inv(i)});");
                    }
                }
            }
        }

        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < count; i++)
            {
                string a = $"a{r}{Inv(i)}";
                string value = act switch
                {
                    ActivationKind.Tanh => $"Act.Tanh({a})",
                    ActivationKind.Sigmoid => $"Act.Sigmoid({a})",
                    ActivationKind.Relu => $"V.Max({a}, Vec.Zero)",
                    _ => a,
                };
                w.Line($"V.StoreUnsafe({value}, ref ym{r}, {Offset(col, i * v)});");
            }
        }
    }

    /// <summary>
    /// The first float of the panel starting at column <paramref name="col"/> in weights packed in panels
    /// (<c>ModelSupport.PanelIndex</c>) of <paramref name="rows"/> rows: panels hold their rows one after another, so
    /// a panel starting at column c starts at <c>c * rows</c>.
    /// </summary>
    private static string PanelStart(string w0, string col, int rows) => col switch
    {
        "0" => $"{w0}",
        _ when int.TryParse(col, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int c) => $"Unsafe.Add(ref {w0}, {Inv(c * rows)})",
        _ => $"Unsafe.Add(ref {w0}, {col} * {Inv(rows)})",
    };

    private static string Offset(string col, int plus) =>
        col == "n" ? (plus == 0 ? "(nuint)n" : $"(nuint)(n + {Inv(plus)})") : Inv(int.Parse(col, System.Globalization.CultureInfo.InvariantCulture) + plus);

    /// <summary>The magnitude below which recurrent state is flushed to zero (see the emitted <c>Flush</c>).</summary>
    private const string FlushBelow = "1e-30f";

    /// <summary>
    /// The rows of <c>W_hh</c> a product pass of the sequence kernel takes at a time: all of them up to 128 (a block's
    /// LSTM weights, 128 rows of 4 gates of 8 floats, are 16 KB, half of a 32 KB L1), else equal chunks of at most 128.
    /// </summary>
    private static int SequenceChunk(int h)
    {
        const int Max = 128;
        int chunks = (h + Max - 1) / Max;
        return (h + chunks - 1) / chunks;
    }

    /// <summary>Sequences of a batch the recurrence advances together, sharing each load of the weights.</summary>
    private const int SequenceRows = 4;

    /// <summary>
    /// The products of one step for <paramref name="rows"/> sequences <c>b, b + 1, ...</c>: every gate of a block of
    /// hidden units in one pass over <c>W_hh</c> whose vectors serve all the rows. The sums go to memory
    /// (<see cref="SumSlot"/>); <see cref="WriteSequenceUpdate"/> activates them.
    /// </summary>
    private static void WriteSequenceRows(SourceWriter w, LayerSpec l, int hp, int v, int rows, bool chunked, int first = 0)
    {
        bool gru = l.Kind == LayerKind.Gru;
        string[] gates = GateSums(l, splitGruN: false);
        WriteSequenceRowRefs(w, l, hp, rows, first);
        w.Line(gru
            ? "// W_hh h for r and z from zero, added to the input products at the end; n's W_hn h + b_hn from b_hn (Step sums alike)."
            : "// W_hh h from zero, added to the input products at the end (Step sums alike, with its input products in a chain of their own).");
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < gates.Length; i++)
            {
                // The products of h start from zero and are added to the input products at the end (chunk by chunk, to the
                // partial sums): Step sums its input and recurrent products in two independent chains and adds them the
                // same way. GRU's n is the exception: W_hn h + b_hn is a sum of its own, from b_hn.
                string init = "Vec.Zero";
                if (gru && i == 2)
                {
                    init = GruNInit(l, r, v, chunked);
                }

                w.Line($"Vec {gates[i]}{r} = {init};");
            }
        }

        using (WriteProductLoop(w, l, v, chunked))
        {
            for (int i = 0; i < gates.Length; i++)
            {
                w.Line($"Vec wv{i} = V.LoadUnsafe(ref wk{(i == 0 ? string.Empty : ", " + Inv(i * v))});");
            }

            for (int r = 0; r < rows; r++)
            {
                w.Line($"Vec hk{r} = V.Create(Unsafe.Add(ref hPrev{r}, k));");
                for (int i = 0; i < gates.Length; i++)
                {
                    w.Line($"{gates[i]}{r} = V.FusedMultiplyAdd(wv{i}, hk{r}, {gates[i]}{r});");
                }
            }
        }

        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < gates.Length; i++)
            {
                string sum = gates[i] + Inv(r);
                if (!(gru && i == 2))
                {
                    // The RNN's sum goes to h: the input product is read from gx until the first chunk has put it there.
                    string input = $"V.LoadUnsafe(ref gRow{r}, {(i == 0 ? "(nuint)col" : $"(nuint)(col + {Inv(i * v)})")})";
                    string partial = l.Kind == LayerKind.Rnn
                        ? (chunked ? $"(kc == 0 ? {input} : V.LoadUnsafe({SumSlot(l, r, i, v)}))" : input)
                        : $"V.LoadUnsafe({SumSlot(l, r, i, v)})";
                    sum = $"{partial} + {sum}";
                }

                w.Line($"V.StoreUnsafe({sum}, {SumSlot(l, r, i, v)});");
            }
        }
    }

    /// <summary>
    /// The <see cref="SequenceRows"/> sequences from <c>b</c> on 8-float vectors: in one tile where its sums, weight
    /// vectors and broadcast fit in 16 vector registers (<see cref="TileRows"/>), else in smaller tiles one after the
    /// other (LSTM: 2 sequences, 8 sums and 4 weight vectors), each row with the same operations, so the same sums.
    /// </summary>
    private static void WriteSequenceTile(SourceWriter w, LayerSpec l, int hp, int v, bool chunked) =>
        WriteRegisterTile(w, l.Gates, SequenceRows, "sequences", "b", guarded: false, (rows, first) => WriteSequenceRows(w, l, hp, v, rows, chunked, first));

    /// <summary>
    /// A tile of <paramref name="rows"/> rows (sequences, inputs) of <paramref name="vectors"/> sums each, from the
    /// row index <paramref name="at"/>, written by <paramref name="write"/>(rows, first row). Where it would not fit in
    /// the 16 vector registers of a core without AVX-512 (<see cref="TileRows"/>), such a core runs it as smaller
    /// tiles one after the other, each row with the same operations, so the same sums. <paramref name="guarded"/>
    /// keeps the whole tile for cores where Vector512 is accelerated (32 registers), behind a branch the JIT folds;
    /// unguarded, the caller is such a branch already and the smaller tiles are all there is.
    /// </summary>
    private static void WriteRegisterTile(SourceWriter w, int vectors, int rows, string what, string at, bool guarded, Action<int, int> write)
    {
        int sub = TileRows(vectors, rows);
        if (sub == rows)
        {
            write(rows, 0);
            return;
        }

        if (guarded)
        {
            using (w.Block("if (V512.IsHardwareAccelerated) // AVX-512: 32 vector registers"))
            {
                write(rows, 0);
            }
        }

        using (guarded ? w.Block("else") : default(IDisposable?))
        {
            w.Line($"// 16 vector registers: {Inv(rows)} {what}' {Inv(rows * vectors)} sums would go to the stack at every step of the loop; {Inv(sub)} at a time fit.");
            for (int first = 0; first < rows; first += sub)
            {
                using (w.Block($"// {char.ToUpperInvariant(what[0])}{what.Substring(1)} {at} + {Inv(first)} to {at} + {Inv(first + sub - 1)}."))
                {
                    write(sub, first);
                }
            }
        }
    }

    /// <summary>The row references of a tile of <paramref name="rows"/> sequences from <c>b + first</c>: h of the step before, the gate sums, aux (GRU) or h's destination (RNN).</summary>
    private static void WriteSequenceRowRefs(SourceWriter w, LayerSpec l, int hp, int rows, int first = 0)
    {
        int row = l.Gates * hp;
        for (int r = 0; r < rows; r++)
        {
            string br = first + r == 0 ? "b" : $"(b + {Inv(first + r)})";
            w.Line($"ref float hPrev{r} = ref (s == 0 ? ref Unsafe.Add(ref h00, {br} * {Inv(hp)}) : ref Unsafe.Add(ref seq0, ((tPrev * batch) + {br}) * seqStride));");
            w.Line($"ref float gRow{r} = ref Unsafe.Add(ref gx0, ((t * batch) + {br}) * {Inv(row)});");
            if (l.Kind == LayerKind.Gru)
            {
                w.Line($"ref float auxRow{r} = ref Unsafe.Add(ref aux0, ((t * batch) + {br}) * {Inv(hp)});");
            }
            else if (l.Kind != LayerKind.Lstm)
            {
                w.Line($"ref float hNext{r} = ref Unsafe.Add(ref seq0, ((t * batch) + {br}) * seqStride);");
            }
        }
    }

    /// <summary>Where GRU's n sum of row <paramref name="r"/> starts: b_hn, or the partial sum of the chunks before.</summary>
    private static string GruNInit(LayerSpec l, int r, int v, bool chunked) =>
        chunked ? $"kc == 0 ? V.LoadUnsafe(ref bhn0, (nuint)j) : V.LoadUnsafe({SumSlot(l, r, 2, v)})" : "V.LoadUnsafe(ref bhn0, (nuint)j)";

    /// <summary>The loop over the rows of the block's panel of W_hh (a chunk of them, or all); its body starts with <c>wk</c>, row k.</summary>
    private static IDisposable WriteProductLoop(SourceWriter w, LayerSpec l, int v, bool chunked)
    {
        int h = l.HiddenSize;
        int p = l.Gates * v;
        w.Line($"ref float wp = ref {PanelStart("whh0", "col", h)}; // the block's panel: {Inv(h)} rows of {Inv(p)}");
        IDisposable loop = w.Block(chunked ? "for (int k = kc; k < kEnd; k++)" : $"for (int k = 0; k < {Inv(h)}; k++)");
        w.Line($"ref float wk = ref Unsafe.Add(ref wp, k * {Inv(p)});");
        return loop;
    }

    /// <summary>
    /// <see cref="WriteSequenceRows"/> on 16-float vectors, for LSTM and GRU blocks of 8 units: each 16-float vector holds
    /// two gates of the block side by side (LSTM i|f and g|o, GRU r|z; GRU's n stays an 8-float vector, the lower half of
    /// the broadcast). Lane by lane the same operations in the same order, so the same sums.
    /// </summary>
    private static void WriteSequenceRowsWide(SourceWriter w, LayerSpec l, int hp, int v, int rows, bool chunked)
    {
        bool gru = l.Kind == LayerKind.Gru;
        string[] pairs = gru ? ["arz"] : ["aif", "ago"];
        WriteSequenceRowRefs(w, l, hp, rows);
        w.Line(gru
            ? "// W_hh h for r|z from zero, added to the input products at the end; n's W_hn h + b_hn from b_hn (Step sums alike)."
            : "// W_hh h from zero, added to the input products at the end (Step sums alike, with its input products in a chain of their own).");
        for (int r = 0; r < rows; r++)
        {
            foreach (string pair in pairs)
            {
                w.Line($"var {pair}{r} = global::System.Runtime.Intrinsics.Vector512<float>.Zero;");
            }

            if (gru)
            {
                w.Line($"Vec an{r} = {GruNInit(l, r, v, chunked)};");
            }
        }

        using (WriteProductLoop(w, l, v, chunked))
        {
            for (int i = 0; i < pairs.Length; i++)
            {
                w.Line($"var wv{i} = V512.LoadUnsafe(ref wk{(i == 0 ? string.Empty : ", " + Inv(i * 2 * v))});");
            }

            if (gru)
            {
                w.Line($"Vec wvn = V.LoadUnsafe(ref wk, {Inv(2 * v)});");
            }

            for (int r = 0; r < rows; r++)
            {
                w.Line($"var hk{r} = V512.Create(Unsafe.Add(ref hPrev{r}, k));");
                for (int i = 0; i < pairs.Length; i++)
                {
                    w.Line($"{pairs[i]}{r} = V512.FusedMultiplyAdd(wv{i}, hk{r}, {pairs[i]}{r});");
                }

                if (gru)
                {
                    w.Line($"an{r} = V.FusedMultiplyAdd(wvn, V512.GetLower(hk{r}), an{r});");
                }
            }
        }

        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < pairs.Length; i++)
            {
                string slot = $"ref gRow{r}, {(i == 0 ? "(nuint)col" : $"(nuint)(col + {Inv(i * 2 * v)})")}";
                w.Line($"V512.StoreUnsafe(V512.LoadUnsafe({slot}) + {pairs[i]}{r}, {slot});");
            }

            if (gru)
            {
                w.Line($"V.StoreUnsafe(an{r}, {SumSlot(l, r, 2, v)});");
            }
        }
    }

    /// <summary>
    /// The cell update of one block of hidden units for every sequence <c>b</c>, from the sums the product passes left
    /// in memory. One loop over the batch keeps a single copy of the activation code in the kernel (four inlined copies
    /// made the method so large that the JIT kept an accumulator of the product loop on the stack).
    /// </summary>
    private static void WriteSequenceUpdate(SourceWriter w, LayerSpec l, int hp, int v)
    {
        int row = l.Gates * hp;
        bool lstm = l.Kind == LayerKind.Lstm;
        bool gru = l.Kind == LayerKind.Gru;
        w.Line("/// <summary>");
        w.Line($"/// The cell update of the block of {Inv(v)} hidden units at j, for sequences bFirst to bEnd of step t, from the sums the product");
        w.Line("/// passes left in memory. A method of its own: inlined, its activation constants (hoisted out of every loop by the");
        w.Line("/// JIT) crowded the product loop's registers and an accumulator went to the stack.");
        w.Line("/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]");
        string args = "ref float gx0, " + (lstm || gru ? "ref float aux0, " : string.Empty) + "ref float seq0, " + (gru ? "ref float h00, " : lstm ? "ref float c00, " : string.Empty) + "int seqStride, int batch, int t, int tPrev, bool first, int j, int bFirst, int bEnd";
        using (w.Block($"private static void {UpdateName(l)}({args})"))
        {
            w.Line(l.Gates == 1 ? "int col = j;" : $"int col = j * {Inv(l.Gates)};");
            WriteSequenceUpdateLoop(w, l, hp, v, row);
        }
    }

    private static string UpdateName(LayerSpec l) => SequenceName(l, l.HiddenSize).Replace("Sequence", "Update");

    /// <summary>The call of <see cref="WriteSequenceUpdate"/>'s method from the sequence kernel.</summary>
    private static string UpdateCall(LayerSpec l)
    {
        bool lstm = l.Kind == LayerKind.Lstm;
        bool gru = l.Kind == LayerKind.Gru;
        return $"{UpdateName(l)}(ref gx0, " + (lstm || gru ? "ref aux0, " : string.Empty) + "ref seq0, " + (gru ? "ref h00, " : lstm ? "ref c00, " : string.Empty) + "seqStride, batch, t, tPrev, s == 0, j, bFirst, bEnd);";
    }

    private static void WriteSequenceUpdateLoop(SourceWriter w, LayerSpec l, int hp, int v, int row)
    {
        const int r = 0;
        string gRow = $"ref float gRow{r} = ref Unsafe.Add(ref gx0, ((t * batch) + b) * {Inv(row)});";
        if (l.Kind != LayerKind.Rnn)
        {
            // First the gates that need nothing else, activated in place (Backward reads them there), in a loop of short
            // independent iterations the core runs several at a time; then the rest of each cell's update.
            bool pair = v == VectorIsa.V256.Width;
            w.Line(l.Kind == LayerKind.Lstm
                ? "// The gates, activated in place: i, f and o through the sigmoid, g through tanh."
                : "// The gates r and z, activated in place.");
            if (pair)
            {
                w.Line($"// {(l.Kind == LayerKind.Lstm ? "i and f" : "r and z")} sit side by side: where Vector512 is accelerated they take one 16-float sigmoid (half the");
                w.Line("// instructions of two 8-float ones, which is what bounds this loop; the same bits).");
            }

            using (w.Block("for (int b = bFirst; b < bEnd; b++)"))
            {
                w.Line(gRow);
                int first = 0;
                if (pair)
                {
                    using (w.Block("if (V512.IsHardwareAccelerated)"))
                    {
                        w.Line($"V512.StoreUnsafe(Act.Sigmoid(V512.LoadUnsafe({SumSlot(l, r, 0, v)})), {SumSlot(l, r, 0, v)});");
                    }

                    using (w.Block("else"))
                    {
                        for (int i = 0; i < 2; i++)
                        {
                            w.Line($"V.StoreUnsafe(Act.Sigmoid(V.LoadUnsafe({SumSlot(l, r, i, v)})), {SumSlot(l, r, i, v)});");
                        }
                    }

                    first = 2;
                }

                for (int i = first; i < (l.Kind == LayerKind.Lstm ? 4 : 2); i++)
                {
                    string act = l.Kind == LayerKind.Lstm && i == 2 ? "Tanh" : "Sigmoid";
                    w.Line($"V.StoreUnsafe(Act.{act}(V.LoadUnsafe({SumSlot(l, r, i, v)})), {SumSlot(l, r, i, v)});");
                }
            }
        }

        using (w.Block("for (int b = bFirst; b < bEnd; b++)"))
        {
            w.Line($"ref float hNext{r} = ref Unsafe.Add(ref seq0, ((t * batch) + b) * seqStride);");
            if (l.Kind != LayerKind.Rnn)
            {
                w.Line(gRow);
                w.Line($"ref float auxRow{r} = ref Unsafe.Add(ref aux0, ((t * batch) + b) * {Inv(hp)});");
            }

            if (l.Kind == LayerKind.Lstm)
            {
                w.Line($"ref float cPrev{r} = ref (first ? ref Unsafe.Add(ref c00, b * {Inv(hp)}) : ref Unsafe.Add(ref aux0, ((tPrev * batch) + b) * {Inv(hp)}));");
            }
            else if (l.Kind == LayerKind.Gru)
            {
                w.Line($"ref float hPrev{r} = ref (first ? ref Unsafe.Add(ref h00, b * {Inv(hp)}) : ref Unsafe.Add(ref seq0, ((tPrev * batch) + b) * seqStride));");
            }

            switch (l.Kind)
            {
                case LayerKind.Lstm:
                    w.Line($"Vec cNext{r} = Flush(V.FusedMultiplyAdd(V.LoadUnsafe({SumSlot(l, r, 1, v)}), V.LoadUnsafe(ref cPrev{r}, (nuint)j), V.LoadUnsafe({SumSlot(l, r, 0, v)}) * V.LoadUnsafe({SumSlot(l, r, 2, v)})));");
                    w.Line($"V.StoreUnsafe(cNext{r}, ref auxRow{r}, (nuint)j);");
                    w.Line($"V.StoreUnsafe(Flush(V.LoadUnsafe({SumSlot(l, r, 3, v)}) * Act.Tanh(cNext{r})), ref hNext{r}, (nuint)j);");
                    break;
                case LayerKind.Gru:
                    w.Line($"Vec n{r} = Act.Tanh(V.FusedMultiplyAdd(V.LoadUnsafe({SumSlot(l, r, 0, v)}), V.LoadUnsafe({SumSlot(l, r, 2, v)}), V.LoadUnsafe(ref gRow{r}, (nuint)(col + {Inv(2 * v)}))));");
                    w.Line($"V.StoreUnsafe(Flush(V.FusedMultiplyAdd(V.LoadUnsafe({SumSlot(l, r, 1, v)}), V.LoadUnsafe(ref hPrev{r}, (nuint)j) - n{r}, n{r})), ref hNext{r}, (nuint)j);");
                    w.Line($"// n replaces its input product; aux keeps W_hn h + b_hn. Backward reads them.");
                    w.Line($"V.StoreUnsafe(n{r}, ref gRow{r}, (nuint)(col + {Inv(2 * v)}));");
                    break;
                default:
                    w.Line($"V.StoreUnsafe(Flush({(l.Relu ? "V.Max" : "Act.Tanh")}(V.LoadUnsafe({SumSlot(l, r, 0, v)}){(l.Relu ? ", Vec.Zero" : string.Empty)})), ref hNext{r}, (nuint)j);");
                    break;
            }
        }
    }

    /// <summary>
    /// The names of the accumulators of one block's gate sums. The sequence kernels keep GRU's n as one sum,
    /// W_hn h + b_hn (its input part waits in gx); the step kernels, which add the input part themselves, keep it as two.
    /// </summary>
    private static string[] GateSums(LayerSpec l, bool splitGruN) => l.Kind switch
    {
        LayerKind.Lstm => ["ai", "af", "ag", "ao"],
        LayerKind.Gru => splitGruN ? ["ar", "az", "anx", "anh"] : ["ar", "az", "an"],
        _ => ["a"],
    };

    /// <summary>
    /// Where row <paramref name="r"/>'s sum for gate <paramref name="gate"/> waits between the product and the
    /// activations: over the gate's input products in gx (which the activations overwrite anyway), except GRU's n,
    /// whose sum W_hn h + b_hn goes to aux (Backward reads it there) because its input product is still needed, and the
    /// RNN's, which goes straight to h.
    /// </summary>
    private static string SumSlot(LayerSpec l, int r, int gate, int v) => l.Kind switch
    {
        LayerKind.Gru when gate == 2 => $"ref auxRow{r}, (nuint)j",
        LayerKind.Lstm or LayerKind.Gru => $"ref gRow{r}, {(gate == 0 ? "(nuint)col" : $"(nuint)(col + {Inv(gate * v)})")}",
        _ => $"ref hNext{r}, (nuint)j",
    };

    /// <summary>The recurrence of one layer and direction over a whole sequence, the gates fused in one pass over <c>W_hh</c>.</summary>
    private static void WriteSequence(SourceWriter w, VectorIsa isa, LayerSpec l, int hp)
    {
        int v = isa.Width;
        int h = l.HiddenSize;
        int g = l.Gates;
        int row = g * hp;
        bool gru = l.Kind == LayerKind.Gru;
        bool lstm = l.Kind == LayerKind.Lstm;
        w.Line("/// <summary>");
        switch (l.Kind)
        {
            case LayerKind.Lstm:
                w.Line("/// LSTM recurrence (PyTorch's nn.LSTM), for every step t of the sequence:");
                w.Line("///   i = sigmoid(W_ii x_t + b_ii + W_hi h + b_hi)     f = sigmoid(W_if x_t + b_if + W_hf h + b_hf)");
                w.Line("///   g = tanh(W_ig x_t + b_ig + W_hg h + b_hg)        o = sigmoid(W_io x_t + b_io + W_ho h + b_ho)");
                w.Line("///   c' = f * c + i * g                               h' = o * tanh(c')");
                break;
            case LayerKind.Gru:
                w.Line("/// GRU recurrence (PyTorch's nn.GRU), for every step t of the sequence:");
                w.Line("///   r = sigmoid(W_ir x_t + b_ir + W_hr h + b_hr)     z = sigmoid(W_iz x_t + b_iz + W_hz h + b_hz)");
                w.Line("///   n = tanh(W_in x_t + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h = n + z * (h - n)");
                break;
            default:
                w.Line($"/// Elman RNN recurrence (PyTorch's nn.RNN, nonlinearity '{(l.Relu ? "relu" : "tanh")}'), for every step t of the sequence:");
                w.Line($"///   h' = {(l.Relu ? "relu" : "tanh")}(W_ih x_t + b_ih + W_hh h + b_hh)");
                break;
        }

        w.Line($"/// gx holds the input products (W_i* x_t plus the foldable biases) of every step, [T, B, {Inv(row)}]; whh is W_hh");
        w.Line($"/// [{Inv(h)}][{Inv(row)}] in vector panels, with the {Inv(g)} gate{(g == 1 ? string.Empty : "s")} of each block of {Inv(v)} hidden units side by side, so one pass");
        w.Line($"/// over h computes every gate of a block. Hidden size {Inv(h)} runs as {Inv(hp / v)} block{(hp / v == 1 ? string.Empty : "s")} of {Inv(v)}{(h == hp ? string.Empty : $" (the last one padded: {Inv(hp - h)} lanes of zero weights, never read back)")}.");
        w.Line("/// Steps sFirst to sEnd (of seqLen, counted in the direction of the recurrence) only: the forward pass computes the input");
        w.Line("/// products a few steps ahead, while they are still in cache. Sequences bFirst to bEnd (of batch) only: other threads can");
        w.Line("/// run the others at the same time.");
        w.Line($"/// Row (t, b) of seq (stride seqStride) receives h at t; h0{(lstm ? " and c0" : string.Empty)} hold{(lstm ? string.Empty : "s")} one row of {Inv(hp)} per sequence{(lstm ? "; aux receives c at every step" : gru ? "; aux receives W_hn h + b_hn at every step" : string.Empty)}.");
        w.Line("/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        string ro = "global::System.ReadOnlySpan<float>";
        string rw = "global::System.Span<float>";
        string args = $"{rw} gx, {ro} whh, " + (gru ? $"{ro} bhn, " : string.Empty) + $"{ro} h0, " + (lstm ? $"{ro} c0, " : string.Empty) + (lstm || gru ? $"{rw} aux, " : string.Empty) + $"{rw} seq, int seqStride, int batch, int seqLen, bool reverse, int sFirst, int sEnd, int bFirst, int bEnd";
        using (w.Block($"public static void {SequenceName(l, h)}({args})"))
        {
            w.Line("ref float gx0 = ref MemoryMarshal.GetReference(gx);");
            w.Line("ref float whh0 = ref MemoryMarshal.GetReference(whh);");
            if (gru)
            {
                w.Line("ref float bhn0 = ref MemoryMarshal.GetReference(bhn);");
            }

            w.Line("ref float h00 = ref MemoryMarshal.GetReference(h0);");
            if (lstm)
            {
                w.Line("ref float c00 = ref MemoryMarshal.GetReference(c0);");
            }

            if (lstm || gru)
            {
                w.Line("ref float aux0 = ref MemoryMarshal.GetReference(aux);");
            }

            w.Line("ref float seq0 = ref MemoryMarshal.GetReference(seq);");
            using (w.Block("for (int s = sFirst; s < sEnd; s++)"))
            {
                w.Line("int t = reverse ? seqLen - 1 - s : s;");
                w.Line("int tPrev = reverse ? t + 1 : t - 1;");
                w.Line($"// Block by block of {Inv(v)} hidden units, so the block's slice of W_hh stays in cache across the batch;");
                w.Line($"// {Inv(SequenceRows)} sequences at a time share each load of it, then one at a time.");
                using (w.Block($"for (int j = 0; j < {Inv(hp)}; j += {Inv(v)})"))
                {
                    w.Line(l.Gates == 1 ? "int col = j;" : $"int col = j * {Inv(l.Gates)}; // this block's {Inv(l.Gates)} gates start here in gx and whh rows");
                    int chunk = SequenceChunk(h);
                    if (chunk < h)
                    {
                        w.Line($"// h in chunks of {Inv(chunk)}: a chunk of the block's weights ({Inv(chunk * g * v * 4 / 1024)} KB) stays in L1 across the batch, and the");
                        w.Line("// chunk's sums are added to the partial sums waiting in memory.");
                    }

                    using (chunk < h ? w.Block($"for (int kc = 0; kc < {Inv(h)}; kc += {Inv(chunk)})") : default(IDisposable?))
                    {
                        if (chunk < h)
                        {
                            w.Line($"int kEnd = global::System.Math.Min(kc + {Inv(chunk)}, {Inv(h)});");
                        }

                        using (w.Block($"for (int b = bFirst; b + {Inv(SequenceRows)} <= bEnd; b += {Inv(SequenceRows)})"))
                        {
                            if (l.Kind != LayerKind.Rnn && v == VectorIsa.V256.Width)
                            {
                                w.Line($"// Two gates' 8-float vectors side by side are one 16-float vector: where Vector512 is accelerated the tile");
                                w.Line("// runs on those (half the instructions; on a core with full-width 512-bit FMA units, twice the FMAs), the same bits.");
                                using (w.Block("if (V512.IsHardwareAccelerated)"))
                                {
                                    WriteSequenceRowsWide(w, l, hp, v, SequenceRows, chunk < h);
                                }

                                using (w.Block("else"))
                                {
                                    WriteSequenceTile(w, l, hp, v, chunk < h);
                                }
                            }
                            else
                            {
                                WriteSequenceTile(w, l, hp, v, chunk < h);
                            }
                        }

                        using (w.Block($"for (int b = bEnd - ((bEnd - bFirst) % {Inv(SequenceRows)}); b < bEnd; b++)"))
                        {
                            WriteSequenceRows(w, l, hp, v, 1, chunk < h);
                        }
                    }

                    w.Line(UpdateCall(l));
                }
            }
        }
    }
}
