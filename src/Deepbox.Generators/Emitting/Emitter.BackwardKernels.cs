namespace Deepbox.Generators;

/// <summary>How a dense kernel starts its accumulators.</summary>
internal enum DenseInit
{
    /// <summary>From the bias: the forward products.</summary>
    Bias,

    /// <summary>From zero: a gradient written fresh.</summary>
    Zero,

    /// <summary>From what <c>y</c> holds: a gradient added to (the second direction of a bidirectional layer).</summary>
    Accumulate,
}

/// <summary>The backward kernels: each cell back through time, and the weight-gradient product over all steps.</summary>
internal static partial class Emitter
{
    /// <summary>
    /// <c>dW[k, 0:n] += sum_m x[m, k] * dG[m, 0:n]</c>: a weight gradient, input-major and row by row (not panels), as one
    /// product over every row (time step and sequence) rather than an outer product per step.
    /// </summary>
    private static void WriteWeightGrad(SourceWriter w, VectorIsa isa, RowSource src, int n)
    {
        int v = isa.Width;
        int vectors = n / v;
        const int Chunk = 4;
        int passes = vectors / Chunk;
        int rest = vectors % Chunk;
        w.Line("/// <summary>");
        w.Line($"/// dW[k, 0:{Inv(n)}] += sum over rows m of x[m, k] * dG[m, 0:{Inv(n)}], for the {Inv(src.Width)} inputs k of the layout {src.Key}:");
        w.Line("/// a weight gradient as one product over every step, row-major [input][gate-interleaved output] (ModelSupport.UnpackGateInterleavedAdd reads it).");
        w.Line("/// The rows, in the order summed: m = t * stepStride + j for t in [0, steps), then j in [0, groupRows) (a group of sequences of");
        w.Line("/// time-major rows, step by step; steps = 1 and groupRows = rows for rows in order).");
        w.Line($"/// Tiles of {Inv(WeightGradInputs)} inputs by {Inv(Chunk)} vectors of outputs share each load of dG and of x; rows go in blocks of about {Inv(WeightGradRowBlock)}, so a");
        w.Line("/// block's slice of dG stays in cache for every tile, and the partial sums wait in dW between blocks (the order of the sum is unchanged).");
        w.Line($"/// Only columns [cFirst, cEnd) are computed (a thread's share): cFirst a multiple of {Inv(Chunk * v)}, cEnd one too or {Inv(n)}.");
        w.Line("/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        using (KernelMethod(w, WeightGradName(src, n), "global::System.ReadOnlySpan<float> x, int xStride, global::System.ReadOnlySpan<float> dG, global::System.Span<float> dW, int steps, int groupRows, int stepStride, int cFirst, int cEnd"))
        {
            w.Line("ref float x0 = ref MemoryMarshal.GetReference(x);");
            w.Line("ref float g0 = ref MemoryMarshal.GetReference(dG);");
            w.Line("ref float w0 = ref MemoryMarshal.GetReference(dW);");
            w.Line($"int stepBlock = global::System.Math.Max(1, {Inv(WeightGradRowBlock)} / global::System.Math.Max(1, groupRows)); // steps a block");
            using (w.Block("for (int t0 = 0; t0 < steps; t0 += stepBlock)"))
            {
                w.Line("int t1 = global::System.Math.Min(steps, t0 + stepBlock);");
                using (w.Block($"for (int j0 = 0; j0 < groupRows; j0 += {Inv(WeightGradRowBlock)})"))
                {
                    w.Line($"int j1 = global::System.Math.Min(groupRows, j0 + {Inv(WeightGradRowBlock)});");
                    if (passes > 0)
                    {
                        using (w.Block($"for (int c = cFirst; c < global::System.Math.Min(cEnd, {Inv(passes * Chunk * v)}); c += {Inv(Chunk * v)})"))
                        {
                            WriteWeightGradColumns(w, v, src, n, Chunk, "c");
                        }
                    }

                    if (rest > 0)
                    {
                        using (w.Block($"if (cEnd > {Inv(passes * Chunk * v)}) // columns [{Inv(passes * Chunk * v)}, {Inv(n)})"))
                        {
                            WriteWeightGradColumns(w, v, src, n, rest, Inv(passes * Chunk * v));
                        }
                    }
                }
            }
        }
    }

    /// <summary>Inputs of a weight-gradient tile: each vector of dG loaded serves this many of them.</summary>
    private const int WeightGradInputs = 4;

    /// <summary>Rows (steps times sequences) of a weight-gradient block: 128 rows of 4 vectors of dG are 16 KB.</summary>
    private const int WeightGradRowBlock = 128;

    /// <summary>Every input k, in tiles of <see cref="WeightGradInputs"/> then one at a time, for <paramref name="count"/> vectors of columns at <paramref name="col"/>.</summary>
    private static void WriteWeightGradColumns(SourceWriter w, int v, RowSource src, int n, int count, string col)
    {
        for (int seg = 0; seg < src.Segments; seg++)
        {
            int from = seg * src.SegmentStride;
            int tiles = src.SegmentWidth / WeightGradInputs;
            int end = from + (tiles * WeightGradInputs);
            if (tiles > 0 && w.Target == KernelTarget.Vector256 && v == VectorIsa.V256.Width && count % 2 == 0)
            {
                // Where Vector512 is accelerated: 16-float vectors of columns, and twice the inputs a tile (16 sums: twice what
                // the multiply-add units' latency needs on a core with full-rate 512-bit units); the same sums in the same order.
                using (w.Block("if (V512.IsHardwareAccelerated)"))
                {
                    int wideEnd = from + (src.SegmentWidth / WideWeightGradInputs * WideWeightGradInputs);
                    if (wideEnd > from)
                    {
                        using (w.Block($"for (int k = {Inv(from)}; k < {Inv(wideEnd)}; k += {Inv(WideWeightGradInputs)})"))
                        {
                            WriteWeightGradTile(w, v, n, count, col, WideWeightGradInputs, wide: true);
                        }
                    }

                    if (wideEnd < end)
                    {
                        using (w.Block($"for (int k = {Inv(wideEnd)}; k < {Inv(end)}; k += {Inv(WeightGradInputs)})"))
                        {
                            WriteWeightGradTile(w, v, n, count, col, WeightGradInputs, wide: true);
                        }
                    }
                }

                using (w.Block("else"))
                {
                    using (w.Block($"for (int k = {Inv(from)}; k < {Inv(end)}; k += {Inv(WeightGradInputs)})"))
                    {
                        WriteRegisterTile(w, count, WeightGradInputs, "inputs", "k", guarded: false, (inputs, first) => WriteWeightGradTile(w, v, n, count, col, inputs, first));
                    }
                }
            }
            else if (tiles > 0)
            {
                using (w.Block($"for (int k = {Inv(from)}; k < {Inv(end)}; k += {Inv(WeightGradInputs)})"))
                {
                    WriteRegisterTile(w, count, WeightGradInputs, "inputs", "k", guarded: true, (inputs, first) => WriteWeightGradTile(w, v, n, count, col, inputs, first));
                }
            }

            if (end < from + src.SegmentWidth)
            {
                using (w.Block($"for (int k = {Inv(end)}; k < {Inv(from + src.SegmentWidth)}; k++)"))
                {
                    WriteWeightGradTile(w, v, n, count, col, 1);
                }
            }
        }
    }

    /// <summary>
    /// The weight gradients of <paramref name="inputs"/> inputs from <c>k + first</c>, <paramref name="count"/> vectors of
    /// columns at <paramref name="col"/>, over the rows of the block: on 8-float vectors, or (<paramref name="wide"/>, where
    /// Vector512 is accelerated) on 16-float ones, vectors <c>2i</c> and <c>2i + 1</c> in one, lane by lane the same
    /// operations in the same order, so the same sums.
    /// </summary>
    private static void WriteWeightGradTile(SourceWriter w, int v, int n, int count, string col, int inputs, int first = 0, bool wide = false)
    {
        string at(int i) => col == "c" ? (i == 0 ? "(nuint)c" : $"(nuint)(c + {Inv(i * v)})") : Inv(int.Parse(col, System.Globalization.CultureInfo.InvariantCulture) + (i * v));
        int vectors = wide ? count / 2 : count;
        int step = wide ? 2 : 1;
        string vec = wide ? "var" : "Vec";
        string ops = wide ? "V512" : "V";
        for (int r = 0; r < inputs; r++)
        {
            w.Line($"ref float wk{r} = ref Unsafe.Add(ref w0, {(first + r == 0 ? "k" : $"(k + {Inv(first + r)})")} * {Inv(n)});");
        }

        for (int r = 0; r < inputs; r++)
        {
            for (int i = 0; i < vectors; i++)
            {
                w.Line($"{vec} a{r}{Inv(i)} = {ops}.LoadUnsafe(ref wk{r}, {at(step * i)});");
            }
        }

        using (w.Block("for (int t = t0; t < t1; t++)"))
        {
            using (w.Block("for (int m = (t * stepStride) + j0, mEnd = (t * stepStride) + j1; m < mEnd; m++)"))
            {
                w.Line("ref float xm = ref Unsafe.Add(ref x0, (m * xStride) + k);");
                w.Line($"ref float gm = ref Unsafe.Add(ref g0, m * {Inv(n)});");
                for (int i = 0; i < vectors; i++)
                {
                    w.Line($"{vec} gv{Inv(i)} = {ops}.LoadUnsafe(ref gm, {at(step * i)});");
                }

                for (int r = 0; r < inputs; r++)
                {
                    w.Line($"{vec} xb{r} = {ops}.Create({(first + r == 0 ? "xm" : $"Unsafe.Add(ref xm, {Inv(first + r)})")});");
                    for (int i = 0; i < vectors; i++)
                    {
                        w.Line($"a{r}{Inv(i)} = {ops}.FusedMultiplyAdd(gv{Inv(i)}, xb{r}, a{r}{Inv(i)});");
                    }
                }
            }
        }

        for (int r = 0; r < inputs; r++)
        {
            for (int i = 0; i < vectors; i++)
            {
                w.Line($"{ops}.StoreUnsafe(a{r}{Inv(i)}, ref wk{r}, {at(step * i)});");
            }
        }
    }

    /// <summary>Inputs of a weight-gradient tile on 16-float vectors (<see cref="WriteWeightGradTile"/>, wide).</summary>
    private const int WideWeightGradInputs = 8;

    /// <summary>One layer and direction back through time: the gate gradients of every step and the state gradients.</summary>
    private static void WriteSequenceBackward(SourceWriter w, VectorIsa isa, LayerSpec l, int hp)
    {
        int v = isa.Width;
        int h = l.HiddenSize;
        int g = l.Gates;
        int n = g * hp;
        bool lstm = l.Kind == LayerKind.Lstm;
        bool gru = l.Kind == LayerKind.Gru;
        string ro = "global::System.ReadOnlySpan<float>";
        string rw = "global::System.Span<float>";
        w.Line("/// <summary>");
        switch (l.Kind)
        {
            case LayerKind.Lstm:
                w.Line("/// LSTM backward through time, from the saved gates (i, f, g, o activated) and cell states. Per step, with dh the");
                w.Line("/// output's gradient plus the one carried back, and dc the cell's carried back:");
                w.Line("///   dc += dh * o * (1 - tanh(c)^2)");
                w.Line("///   d(i) = dc * g * i(1 - i)   d(f) = dc * c_prev * f(1 - f)   d(g) = dc * i * (1 - g^2)   d(o) = dh * tanh(c) * o(1 - o)");
                w.Line("///   dc_prev = dc * f           dh_prev = W_hh^T d(gates)");
                break;
            case LayerKind.Gru:
                w.Line("/// GRU backward through time, from the saved gates (r, z, n activated) and a = W_hn h + b_hn. Per step, with dh the");
                w.Line("/// output's gradient plus the one carried back:");
                w.Line("///   d(z) = dh * (h_prev - n) * z(1 - z)     dn' = dh * (1 - z) * (1 - n^2)     d(r) = dn' * a * r(1 - r)");
                w.Line("///   input side: (d(r), d(z), dn')        hidden side: (d(r), d(z), dn' * r)");
                w.Line("///   dh_prev = dh * z + W_hh^T (hidden side)");
                break;
            default:
                w.Line($"/// Elman RNN backward through time ({(l.Relu ? "relu" : "tanh")}), from the saved outputs h. Per step, with dh the output's gradient");
                w.Line("/// plus the one carried back:");
                w.Line(l.Relu ? "///   d(a) = dh * (h > 0)" : "///   d(a) = dh * (1 - h^2)");
                w.Line("///   dh_prev = W_hh^T d(a)");
                break;
        }

        w.Line($"/// Gate gradients go to dG ([T, B, {Inv(n)}], gate-interleaved as the forward gates){(gru ? " and dGh" : string.Empty)}; dh{(lstm ? " and dc" : string.Empty)} come in holding");
        w.Line($"/// the final states' gradients and leave holding the initial states'. whhT is W_hh output-major, [{Inv(n)}][{Inv(hp)}].");
        w.Line("/// Only sequences [bFirst, bEnd) are computed (a thread's share; each sequence's rows come out the same whichever");
        w.Line("/// share computes them). steps: empty, or with lengths the first row of each step (SequenceLengths.Steps), as the forward");
        w.Line("/// pass had them: a sequence's dh and dc wait untouched until its last step, and leave from its first.");
        w.Line("/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        string args = l.Kind switch
        {
            LayerKind.Lstm => $"{ro} gates, {ro} cells, {ro} c0, {ro} whhT, {ro} dSeq, int seqStride, {rw} dG, {rw} dh, {rw} dc",
            LayerKind.Gru => $"{ro} gates, {ro} hiddenProducts, {ro} h0, {ro} seq, {ro} whhT, {ro} dSeq, int seqStride, {rw} dG, {rw} dGh, {rw} dh",
            _ => $"{ro} seq, {ro} whhT, {ro} dSeq, int seqStride, {rw} dG, {rw} dh",
        };
        string dhPrev = DenseName(new RowSource(string.Empty, n, n, n, 1), hp, Activation.None, DenseInit.Zero);
        using (KernelMethod(w, BackwardName(l, h), $"{args}, int batch, int seqLen, bool reverse, int bFirst, int bEnd, global::System.ReadOnlySpan<int> steps"))
        {
            if (lstm || gru)
            {
                w.Line("ref float gates0 = ref MemoryMarshal.GetReference(gates);");
            }

            if (lstm)
            {
                w.Line("ref float cells0 = ref MemoryMarshal.GetReference(cells);");
                w.Line("ref float c00 = ref MemoryMarshal.GetReference(c0);");
                w.Line("ref float dc0 = ref MemoryMarshal.GetReference(dc);");
            }

            if (gru)
            {
                w.Line("ref float a0 = ref MemoryMarshal.GetReference(hiddenProducts);");
                w.Line("ref float h00 = ref MemoryMarshal.GetReference(h0);");
                w.Line("ref float dGh0 = ref MemoryMarshal.GetReference(dGh);");
            }

            if (!lstm)
            {
                w.Line("ref float seq0 = ref MemoryMarshal.GetReference(seq);");
            }

            w.Line("ref float dSeq0 = ref MemoryMarshal.GetReference(dSeq);");
            w.Line("ref float dG0 = ref MemoryMarshal.GetReference(dG);");
            w.Line("ref float dh0 = ref MemoryMarshal.GetReference(dh);");
            using (w.Block("for (int s = seqLen - 1; s >= 0; s--)"))
            {
                w.Line("int t = reverse ? seqLen - 1 - s : s;");
                w.Line("int tPrev = reverse ? t + 1 : t - 1;");
                WriteStepRows(w);
                using (w.Block("for (int b = bFirst; b < end; b++)"))
                {
                    w.Line("int row = row0 + b;");
                    w.Line($"ref float dhRow = ref Unsafe.Add(ref dh0, b * {Inv(hp)});");
                    w.Line("ref float dyRow = ref Unsafe.Add(ref dSeq0, row * seqStride);");
                    w.Line($"ref float dGRow = ref Unsafe.Add(ref dG0, row * {Inv(n)});");
                    if (lstm || gru)
                    {
                        w.Line($"ref float gRow = ref Unsafe.Add(ref gates0, row * {Inv(n)});");
                    }

                    if (lstm)
                    {
                        w.Line($"ref float cRow = ref Unsafe.Add(ref cells0, row * {Inv(hp)});");
                        w.Line($"ref float cPrev = ref (b >= fresh ? ref Unsafe.Add(ref c00, b * {Inv(hp)}) : ref Unsafe.Add(ref cells0, (rowPrev + b) * {Inv(hp)}));");
                        w.Line($"ref float dcRow = ref Unsafe.Add(ref dc0, b * {Inv(hp)});");
                    }
                    else if (gru)
                    {
                        w.Line($"ref float aRow = ref Unsafe.Add(ref a0, row * {Inv(hp)});");
                        w.Line($"ref float hPrev = ref (b >= fresh ? ref Unsafe.Add(ref h00, b * {Inv(hp)}) : ref Unsafe.Add(ref seq0, (rowPrev + b) * seqStride));");
                        w.Line($"ref float dGhRow = ref Unsafe.Add(ref dGh0, row * {Inv(n)});");
                    }
                    else
                    {
                        w.Line("ref float hRow = ref Unsafe.Add(ref seq0, row * seqStride);");
                    }

                    using (w.Block($"for (int j = 0; j < {Inv(hp)}; j += {Inv(v)})"))
                    {
                        w.Line(g == 1 ? "int col = j;" : $"int col = j * {Inv(g)};");
                        w.Line("Vec dhj = V.LoadUnsafe(ref dyRow, (nuint)j) + V.LoadUnsafe(ref dhRow, (nuint)j);");
                        switch (l.Kind)
                        {
                            case LayerKind.Lstm:
                                w.Line("Vec i = V.LoadUnsafe(ref gRow, (nuint)col);");
                                w.Line($"Vec f = V.LoadUnsafe(ref gRow, (nuint)(col + {Inv(v)}));");
                                w.Line($"Vec g = V.LoadUnsafe(ref gRow, (nuint)(col + {Inv(2 * v)}));");
                                w.Line($"Vec o = V.LoadUnsafe(ref gRow, (nuint)(col + {Inv(3 * v)}));");
                                w.Line("Vec tc = Act.Tanh(V.LoadUnsafe(ref cRow, (nuint)j));");
                                w.Line("Vec one = Vec.One;");
                                w.Line("Vec dcj = V.FusedMultiplyAdd(dhj * o, one - (tc * tc), V.LoadUnsafe(ref dcRow, (nuint)j));");
                                w.Line("V.StoreUnsafe(dcj * g * i * (one - i), ref dGRow, (nuint)col);");
                                w.Line($"V.StoreUnsafe(dcj * V.LoadUnsafe(ref cPrev, (nuint)j) * f * (one - f), ref dGRow, (nuint)(col + {Inv(v)}));");
                                w.Line($"V.StoreUnsafe(dcj * i * (one - (g * g)), ref dGRow, (nuint)(col + {Inv(2 * v)}));");
                                w.Line($"V.StoreUnsafe(dhj * tc * o * (one - o), ref dGRow, (nuint)(col + {Inv(3 * v)}));");
                                w.Line("V.StoreUnsafe(dcj * f, ref dcRow, (nuint)j);");
                                break;
                            case LayerKind.Gru:
                                w.Line("Vec r = V.LoadUnsafe(ref gRow, (nuint)col);");
                                w.Line($"Vec z = V.LoadUnsafe(ref gRow, (nuint)(col + {Inv(v)}));");
                                w.Line($"Vec n = V.LoadUnsafe(ref gRow, (nuint)(col + {Inv(2 * v)}));");
                                w.Line("Vec hp = V.LoadUnsafe(ref hPrev, (nuint)j);");
                                w.Line("Vec one = Vec.One;");
                                w.Line("Vec dz = dhj * (hp - n) * z * (one - z);");
                                w.Line("Vec dn = dhj * (one - z) * (one - (n * n));");
                                w.Line("Vec dr = dn * V.LoadUnsafe(ref aRow, (nuint)j) * r * (one - r);");
                                w.Line("V.StoreUnsafe(dr, ref dGRow, (nuint)col);");
                                w.Line($"V.StoreUnsafe(dz, ref dGRow, (nuint)(col + {Inv(v)}));");
                                w.Line($"V.StoreUnsafe(dn, ref dGRow, (nuint)(col + {Inv(2 * v)}));");
                                w.Line("V.StoreUnsafe(dr, ref dGhRow, (nuint)col);");
                                w.Line($"V.StoreUnsafe(dz, ref dGhRow, (nuint)(col + {Inv(v)}));");
                                w.Line($"V.StoreUnsafe(dn * r, ref dGhRow, (nuint)(col + {Inv(2 * v)}));");
                                w.Line("// The direct path h' = ... + z * h, kept in dh until the product below adds W_hh^T d(gates).");
                                w.Line("V.StoreUnsafe(dhj * z, ref dhRow, (nuint)j);");
                                break;
                            default:
                                w.Line("Vec hj = V.LoadUnsafe(ref hRow, (nuint)j);");
                                w.Line(l.Relu
                                    ? "V.StoreUnsafe(V.ConditionalSelect(V.GreaterThan(hj, Vec.Zero), dhj, Vec.Zero), ref dGRow, (nuint)j);"
                                    : "V.StoreUnsafe(dhj * (Vec.One - (hj * hj)), ref dGRow, (nuint)j);");
                                break;
                        }
                    }

                }

                // Every sequence's dh has been read: the step's gradient products can overwrite them, all rows in one call.
                string stepRows = $"(row0 + bFirst) * {Inv(n)}, (end - bFirst) * {Inv(n)}";
                if (gru)
                {
                    w.Line($"// dh_prev = dh * z + W_hh^T (r, z, r * dn).");
                    w.Line($"{DenseName(new RowSource(string.Empty, n, n, n, 1), hp, Activation.None, DenseInit.Accumulate)}(dGh.Slice({stepRows}), {Inv(n)}, whhT, default, dh.Slice(bFirst * {Inv(hp)}), end - bFirst);");
                }
                else
                {
                    w.Line("// dh_prev = W_hh^T d(gates).");
                    w.Line($"{dhPrev}(dG.Slice({stepRows}), {Inv(n)}, whhT, default, dh.Slice(bFirst * {Inv(hp)}), end - bFirst);");
                }
            }
        }

    }
}
