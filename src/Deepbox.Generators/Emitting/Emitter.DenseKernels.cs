using System;
using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>The dense kernels: a row block times packed weights, bias and activation fused, register tiles sized to the vector registers.</summary>
internal static partial class Emitter
{
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

    private static void WriteDense(SourceWriter w, VectorIsa isa, RowSource src, int n, Activation act, DenseInit init = DenseInit.Bias, int panel = 0)
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
        w.Line($"/// y[m, 0:{Inv(n)}] = {(act == Activation.None ? string.Empty : act.ToString().ToLowerInvariant() + "(")}{start}sum over {segs} of x[m, k] * w[k, 0:{Inv(n)}]{(act == Activation.None ? string.Empty : ")")}, for m in [0, rows).");
        int p = panel == 0 ? v : panel;
        w.Line($"/// w is [{Inv(src.PackedRows)}][{Inv(n)}] in panels of {Inv(p)} columns (ModelSupport.PanelIndex): each panel's {Inv(src.PackedRows)} rows one after another,");
        w.Line($"/// so a pass reads sequential streams, and each input broadcasts against {Inv(Math.Min(Chunk, vectors))} vector{(Math.Min(Chunk, vectors) == 1 ? string.Empty : "s")} of outputs.");
        w.Line("/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        using (KernelMethod(w, DenseName(src, n, act, init, panel), "global::System.ReadOnlySpan<float> x, int xStride, global::System.ReadOnlySpan<float> w, global::System.ReadOnlySpan<float> bias, global::System.Span<float> y, int rows"))
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
    private static void WriteDenseRows(SourceWriter w, int v, int p, RowSource src, int n, int count, string col, Activation act, DenseInit init)
    {
        w.Line("int m = m0;");
        if (DenseWide(w, v, p, count) && count / 2 * DenseWideRows <= 16 && src.PackedRows >= DenseWideMinK)
        {
            w.Line($"// Where Vector512 is accelerated, {Inv(DenseWideRows)} rows at a time: {Inv(count / 2 * DenseWideRows)} sums keep both multiply-add units of a core with");
            w.Line("// full-rate 512-bit units busy (the 8 sums of 4 rows only just cover their latency).");
            using (w.Block($"for (; V512.IsHardwareAccelerated && m + {Inv(DenseWideRows)} <= mEnd; m += {Inv(DenseWideRows)})"))
            {
                WriteDensePassWide(w, v, p, src, n, count, col, act, init, DenseWideRows);
            }
        }

        using (w.Block($"for (; m + {Inv(DenseRows)} <= mEnd; m += {Inv(DenseRows)})"))
        {
            if (DenseWide(w, v, p, count))
            {
                w.Line(p == v || PerVectorPanels(v, p)
                    ? $"// The pass's 8-float vectors in pairs are 16-float vectors ({(p == v ? "two panels' rows" : "each from its place in panels of " + Inv(p / v))}, loaded into one): where Vector512 is"
                    : "// The pass's 8-float vectors side by side in pairs are 16-float vectors: where Vector512 is accelerated the tile runs on");
                w.Line(p == v || PerVectorPanels(v, p)
                    ? "// accelerated the tile runs on those (on a core with full-rate 512-bit FMA units, twice the FMAs), the same bits."
                    : "// those (half the instructions; on a core with full-width 512-bit FMA units, twice the FMAs), the same bits.");
                using (w.Block("if (V512.IsHardwareAccelerated)"))
                {
                    WriteDensePassWide(w, v, p, src, n, count, col, act, init, DenseRows);
                }

                using (w.Block("else"))
                {
                    WriteRegisterTile(w, count, DenseRows, "rows", "m", guarded: false, (rows, first) => WriteDensePass(w, v, p, src, n, count, col, act, init, rows, first));
                }
            }
            else
            {
                WriteRegisterTile(w, count, DenseRows, "rows", "m", guarded: true, (rows, first) => WriteDensePass(w, v, p, src, n, count, col, act, init, rows, first));
            }
        }

        using (w.Block("for (; m < mEnd; m++)"))
        {
            WriteDensePass(w, v, p, src, n, count, col, act, init, 1);
        }
    }

    /// <summary>
    /// Whether a pass of <paramref name="count"/> vectors runs on 16-float vectors where Vector512 is accelerated: on the
    /// 256-bit kernels, when the pass's vectors pair up; each pair loads as one 16-float vector where it sits side by side in
    /// one panel row (an LSTM's input products, whose panels hold a block's gates), else as two 8-float halves. GRU's input
    /// products (panels of 3 vectors) took the 8-float path before: W4's (GRU(32, 128)) ran at half the recurrence's rate
    /// against the FMA peak of an AMD EPYC family 26 model 2 (Zen 5, full-rate 512-bit units; docs/benchmarks.md, session 17).
    /// </summary>
    private static bool DenseWide(SourceWriter w, int v, int p, int count) =>
        w.Target == KernelTarget.Vector256 && v == VectorIsa.V256.Width && p % v == 0 && count % 2 == 0;

    /// <summary>
    /// <see cref="WriteDensePass"/> on 16-float vectors (<see cref="DenseWide"/>): vectors <c>2i</c> and <c>2i + 1</c>
    /// of the pass in one, lane by lane the same operations in the same order, so the same sums.
    /// </summary>
    private static void WriteDensePassWide(SourceWriter w, int v, int p, RowSource src, int n, int count, string col, Activation act, DenseInit init, int rows)
    {
        int pairs = count / 2;
        for (int r = 0; r < rows; r++)
        {
            string mr = r == 0 ? "m" : $"(m + {Inv(r)})";
            w.Line($"ref float xm{r} = ref Unsafe.Add(ref x0, {mr} * xStride);");
            w.Line($"ref float ym{r} = ref Unsafe.Add(ref y0, {mr} * {Inv(n)});");
        }

        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < pairs; i++)
            {
                string value = init switch
                {
                    DenseInit.Bias => $"V512.LoadUnsafe(ref b0, {Offset(col, i * 2 * v)})",
                    DenseInit.Accumulate => $"V512.LoadUnsafe(ref ym{r}, {Offset(col, i * 2 * v)})",
                    _ => "global::System.Runtime.Intrinsics.Vector512<float>.Zero",
                };
                w.Line($"var a{r}{Inv(i)} = {value};");
            }
        }

        int k = src.PackedRows;
        bool perVector = PerVectorPanels(v, p);
        WritePanelPointers(w, v, p, k, count, col);
        for (int s = 0; s < src.Segments; s++)
        {
            int from = s * src.SegmentStride;
            using (w.Block($"for (int k = {Inv(from)}; k < {Inv(from + src.SegmentWidth)}; k++)"))
            {
                w.Line(perVector ? $"nuint kp = (nuint)(k * {Inv(p)});" : $"ref float wk = ref Unsafe.Add(ref wp, k * {Inv(p)});");
                for (int i = 0; i < pairs; i++)
                {
                    // Side by side in one panel (a recurrent layer's gates), two panels of one vector each, k * v floats apart,
                    // or each vector from its own place in panels of 3 (GRU's gates).
                    w.Line(perVector
                        ? $"var wv{Inv(i)} = V512.Create(V.LoadUnsafe(ref wp{Inv(2 * i)}, kp), V.LoadUnsafe(ref wp{Inv((2 * i) + 1)}, kp));"
                        : p == v
                        ? $"var wv{Inv(i)} = V512.Create(V.LoadUnsafe(ref wk{(i == 0 ? string.Empty : ", " + Inv(2 * i * k * v))}), V.LoadUnsafe(ref wk, {Inv(((2 * i) + 1) * k * v)}));"
                        : $"var wv{Inv(i)} = V512.LoadUnsafe(ref wk{(i == 0 ? string.Empty : ", " + Inv(i * 2 * v))});");
                }

                for (int r = 0; r < rows; r++)
                {
                    w.Line($"var xb{r} = V512.Create(Unsafe.Add(ref xm{r}, k));");
                    for (int i = 0; i < pairs; i++)
                    {
                        w.Line($"a{r}{Inv(i)} = V512.FusedMultiplyAdd(wv{Inv(i)}, xb{r}, a{r}{Inv(i)});");
                    }
                }
            }
        }

        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < pairs; i++)
            {
                w.Line($"V512.StoreUnsafe({DenseActivation(act, $"a{r}{Inv(i)}", wide: true)}, ref ym{r}, {Offset(col, i * 2 * v)});");
            }
        }
    }

    /// <summary>A dense kernel's activation of the sum <paramref name="a"/>, an 8-float vector or (<paramref name="wide"/>) a 16-float one.</summary>
    private static string DenseActivation(Activation act, string a, bool wide) => act switch
    {
        Activation.Tanh => $"Act.Tanh({a})",
        Activation.Sigmoid => $"Act.Sigmoid({a})",
        Activation.Relu => wide ? $"V512.Max({a}, global::System.Runtime.Intrinsics.Vector512<float>.Zero)" : $"V.Max({a}, Vec.Zero)",
        _ => a,
    };

    /// <summary>
    /// The register budget, in 8-float vectors, that sizes the tiles of a core without AVX-512: 16 ymm registers for the
    /// 256-bit kernels. The 128-bit ladder keeps the whole tiles (a budget of 32, so that nothing is split): on Arm64's
    /// 32 registers of 4 floats a 2-row tile fits and a 4-row one spills a few sums; on x86-64-v2's 16, whole tiles
    /// still measured fastest (benchmarks/aot's 600 training steps of an LSTM(1, 32), NativeAOT for x86-64-v2, on an AMD
    /// EPYC of family 25, Zen 4, FMA peak 117 GFLOP/s: 0.69-0.71 s with 4-row tiles, 0.74-0.78 s with 2-row ones,
    /// 0.84-0.87 s with 1-row ones: each weight vector loaded is used by every row).
    /// </summary>
    private static int Registers(SourceWriter w) => w.Target == KernelTarget.Vector128 ? 32 : 16;

    /// <summary>Rows of a dense kernel whose inputs are kept in cache while every column pass reads them.</summary>
    private const int DenseRowBlock = 64;

    /// <summary>Output vectors of a dense kernel's pass: each input broadcast serves all of them.</summary>
    private const int DenseVectors = 4;

    /// <summary>Rows of a dense kernel computed together: each weight vector loaded once serves all of them.</summary>
    private const int DenseRows = KernelLayout.RowTile;

    /// <summary>
    /// Rows per tile of the 16-float passes (<see cref="WriteDensePassWide"/>) before the tiles of <see cref="DenseRows"/>,
    /// over at least <see cref="DenseWideMinK"/> inputs: 16 sums where 4 rows hold 8, which only just cover the latency of
    /// two full-rate 512-bit FMA units. W2's input products (K = 128, N = 1024) took 11% less time against the recurrence
    /// kernel's beside them (perf samples, 0.53 against 0.60 of its own, two `loop 6` runs of each), on an AMD EPYC family
    /// 26 model 2 (Zen 5, FMA peak 224-231 GFLOP/s); W1's (K = 16) took 8% more, its short k loop not paying for the larger
    /// tile's loads and stores of sums (docs/benchmarks.md, session 17).
    /// </summary>
    private const int DenseWideRows = 8;

    /// <summary>The fewest inputs (k) for the 8-row tiles of <see cref="DenseWideRows"/>.</summary>
    private const int DenseWideMinK = 64;

    /// <summary>
    /// Rows of a tile of <paramref name="vectors"/> sums per row that a core without AVX-512 holds in registers: at most
    /// <paramref name="rows"/>, halved until the sums, the weight vectors and one broadcast fit in
    /// <paramref name="registers"/> vectors. A tile that does not fit makes RyuJIT store and reload sums at every step of
    /// its loop (measured: twice the time of LSTM's recurrence with AVX-512 switched off, where the 4 x 4 tile fits in
    /// AVX-512's 32 registers).
    /// </summary>
    private static int TileRows(int vectors, int rows, int registers)
    {
        while (rows > 1 && (rows * vectors) + vectors + 1 > registers)
        {
            rows /= 2;
        }

        return rows;
    }

    /// <summary>
    /// One pass over <paramref name="count"/> output vectors starting at column <paramref name="col"/> (a literal or
    /// <c>n</c>) for <paramref name="rows"/> rows from <c>m + first</c>.
    /// </summary>
    private static void WriteDensePass(SourceWriter w, int v, int p, RowSource src, int n, int count, string col, Activation act, DenseInit init, int rows, int first = 0)
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
        bool perVector = PerVectorPanels(v, p);
        WritePanelPointers(w, v, p, k, count, col);

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
                w.Line($"V.StoreUnsafe({DenseActivation(act, $"a{r}{Inv(i)}", wide: false)}, ref ym{r}, {Offset(col, i * v)});");
            }
        }
    }

    /// <summary>
    /// Where a pass's vectors sit: one panel per vector (their panels rows * v floats apart), the whole pass in one panel
    /// (side by side), or, when this is true, a pass straddling panels of 3 vectors (GRU), each vector from its own panel.
    /// </summary>
    private static bool PerVectorPanels(int v, int p) => p != v && p != DenseVectors * v;

    /// <summary>
    /// The pass's weight pointers: <c>wp</c> at its panel, or (<see cref="PerVectorPanels"/>) <c>wp0</c> to
    /// <c>wp{count - 1}</c> at each vector's place in its own panel.
    /// </summary>
    private static void WritePanelPointers(SourceWriter w, int v, int p, int k, int count, string col)
    {
        if (!PerVectorPanels(v, p))
        {
            w.Line($"ref float wp = ref {PanelStart("w0", col, k)};");
            return;
        }

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
}
