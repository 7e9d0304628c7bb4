using System;

namespace Deepbox.Generators;

/// <summary>
/// The streaming kernels: one time step of one sequence with the input product and the recurrent product in one
/// pass (no buffer of input products), the gates fused, the state updated in place. The sums run in the same order
/// as the sequence kernels', so a step gives exactly what <c>Forward</c> gives at that step.
/// </summary>
internal static partial class Emitter
{
    private static string StepName(LayerSpec l, RowSource src) => l.Kind switch
    {
        LayerKind.Lstm => "LstmStep_",
        LayerKind.Gru => "GruStep_",
        _ => l.Relu ? "RnnReluStep_" : "RnnTanhStep_",
    } + src.Key + "_H" + Inv(l.HiddenSize);

    private static void WriteStepKernel(SourceWriter w, VectorIsa isa, LayerSpec l, RowSource src, int hp)
    {
        int v = isa.Width;
        int h = l.HiddenSize;
        int g = l.Gates;
        int n = g * hp;
        bool lstm = l.Kind == LayerKind.Lstm;
        bool gru = l.Kind == LayerKind.Gru;
        bool oneBlock = hp == v;
        string[] acc = GateSums(l, splitGruN: true);
        string ro = "global::System.ReadOnlySpan<float>";
        string rw = "global::System.Span<float>";
        w.Line("/// <summary>");
        w.Line($"/// One step of {(lstm ? "the LSTM" : gru ? "the GRU" : "the RNN")} for one sequence: the {Inv(src.Width)} inputs and the {Inv(h)} hidden units of the previous step");
        w.Line($"/// in one pass over W_ih and W_hh ({Inv(g)} gate{(g == 1 ? string.Empty : "s")} per block of {Inv(v)} units), then the cell's update of h{(lstm ? " and c" : string.Empty)} in place.");
        w.Line(oneBlock
            ? "/// One block: every read of h comes before the write, so h is updated directly."
            : "/// The products of every block go to scratch first (every block reads all of the old h), then the updates run.");
        w.Line("/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]");
        string args = $"{ro} x, {ro} wih, {ro} whh, {ro} bias, " + (gru ? $"{ro} bhn, " : string.Empty) + $"{rw} h, " + (lstm ? $"{rw} c, " : string.Empty) + $"{rw} scratch";
        using (KernelMethod(w, StepName(l, src), args))
        {
            w.Line("ref float x0 = ref MemoryMarshal.GetReference(x);");
            w.Line("ref float wih0 = ref MemoryMarshal.GetReference(wih);");
            w.Line("ref float whh0 = ref MemoryMarshal.GetReference(whh);");
            w.Line("ref float b0 = ref MemoryMarshal.GetReference(bias);");
            if (gru)
            {
                w.Line("ref float bhn0 = ref MemoryMarshal.GetReference(bhn);");
            }

            w.Line("ref float h0 = ref MemoryMarshal.GetReference(h);");
            if (lstm)
            {
                w.Line("ref float c0 = ref MemoryMarshal.GetReference(c);");
            }

            int blocks = hp / v;
            if (oneBlock)
            {
                w.Line("ref float out0 = ref MemoryMarshal.GetReference(h);");
                using (w.Block($"// The one block, 0 to {Inv(hp)}."))
                {
                    w.Line("const int j = 0;");
                    WriteStepBlocks(w, l, src, hp, v, 1, fused: true);
                }
            }
            else
            {
                int group = Math.Min(blocks, StepAccumulators / acc.Length);
                int groups = blocks / group;
                w.Line("ref float sums0 = ref MemoryMarshal.GetReference(scratch);");
                w.Line($"// The products, {Inv(group)} blocks at a time ({Inv(group * acc.Length)} independent chains of FMAs), their sums to scratch: h is read to the end.");
                using (w.Block($"for (int j = 0; j < {Inv(groups * group * v)}; j += {Inv(group * v)})"))
                {
                    WriteStepBlocks(w, l, src, hp, v, group, fused: false);
                }

                if (blocks % group != 0)
                {
                    using (w.Block($"// The last {Inv(blocks % group)} block{(blocks % group == 1 ? string.Empty : "s")}, {Inv(groups * group * v)} to {Inv(hp)}."))
                    {
                        w.Line($"const int j = {Inv(groups * group * v)};");
                        WriteStepBlocks(w, l, src, hp, v, blocks % group, fused: false);
                    }
                }

                WriteStepUpdate(w, l, hp, v, acc.Length);
            }
        }
    }

    /// <summary>Accumulators a product pass of the step kernel keeps in flight (16 of the 32 vector registers).</summary>
    private const int StepAccumulators = 16;

    /// <summary>
    /// The cell updates from the sums the product passes left in scratch (<paramref name="slots"/> vectors a block), h
    /// and c in place. The gates' activations come first, for every block, in a loop of their own: its iterations are
    /// independent and short, so the core runs several at once, where one loop doing a block's whole update (sigmoid,
    /// then c, then tanh of c) waited on that chain block after block.
    /// </summary>
    private static void WriteStepUpdate(SourceWriter w, LayerSpec l, int hp, int v, int slots)
    {
        string at(int i) => i == 0 ? $"(nuint)(j * {Inv(slots)})" : $"(nuint)((j * {Inv(slots)}) + {Inv(i * v)})";
        string sum(int i) => $"V.LoadUnsafe(ref sums0, {at(i)})";
        switch (l.Kind)
        {
            case LayerKind.Lstm:
                w.Line("// The gates, activated in place: i, f and o through the gates' sigmoid (Act.GateSigmoid), g through tanh.");
                using (w.Block($"for (int j = 0; j < {Inv(hp)}; j += {Inv(v)})"))
                {
                    w.Line($"V.StoreUnsafe(Act.GateSigmoid({sum(0)}), ref sums0, {at(0)});");
                    w.Line($"V.StoreUnsafe(Act.GateSigmoid({sum(1)}), ref sums0, {at(1)});");
                    w.Line($"V.StoreUnsafe(Act.Tanh({sum(2)}), ref sums0, {at(2)});");
                    w.Line($"V.StoreUnsafe(Act.GateSigmoid({sum(3)}), ref sums0, {at(3)});");
                }

                w.Line("// c' = f * c + i * g and h' = o * tanh(c'), in place.");
                using (w.Block($"for (int j = 0; j < {Inv(hp)}; j += {Inv(v)})"))
                {
                    w.Line($"Vec cNext = Flush(V.FusedMultiplyAdd({sum(1)}, V.LoadUnsafe(ref c0, (nuint)j), {sum(0)} * {sum(2)}));");
                    w.Line("V.StoreUnsafe(cNext, ref c0, (nuint)j);");
                    w.Line($"V.StoreUnsafe(Flush({sum(3)} * Act.Tanh(cNext)), ref h0, (nuint)j);");
                }

                break;
            case LayerKind.Gru:
                w.Line("// The gates r and z, activated in place.");
                using (w.Block($"for (int j = 0; j < {Inv(hp)}; j += {Inv(v)})"))
                {
                    w.Line($"V.StoreUnsafe(Act.GateSigmoid({sum(0)}), ref sums0, {at(0)});");
                    w.Line($"V.StoreUnsafe(Act.GateSigmoid({sum(1)}), ref sums0, {at(1)});");
                }

                w.Line("// n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) and h' = n + z * (h - n), in place.");
                using (w.Block($"for (int j = 0; j < {Inv(hp)}; j += {Inv(v)})"))
                {
                    w.Line($"Vec n = Act.Tanh(V.FusedMultiplyAdd({sum(0)}, {sum(3)}, {sum(2)}));");
                    w.Line($"V.StoreUnsafe(Flush(V.FusedMultiplyAdd({sum(1)}, V.LoadUnsafe(ref h0, (nuint)j) - n, n)), ref h0, (nuint)j);");
                }

                break;
            default:
                using (w.Block($"for (int j = 0; j < {Inv(hp)}; j += {Inv(v)})"))
                {
                    w.Line($"V.StoreUnsafe(Flush({(l.Relu ? $"V.Max({sum(0)}, Vec.Zero)" : $"Act.Tanh({sum(0)})")}), ref h0, (nuint)j);");
                }

                break;
        }
    }

    /// <summary>
    /// The body of the step kernel for <paramref name="count"/> adjacent blocks of hidden units from <c>j</c>: the input
    /// products, the recurrent products and the cell update, each block's sums in its own named accumulators.
    /// </summary>
    private static void WriteStepBlocks(SourceWriter w, LayerSpec l, RowSource src, int hp, int v, int count, bool fused)
    {
        int h = l.HiddenSize;
        int g = l.Gates;
        bool gru = l.Kind == LayerKind.Gru;
        string[] acc = GateSums(l, splitGruN: true);
        string jAt(int u) => u == 0 ? "j" : $"(j + {Inv(u * v)})";
        for (int u = 0; u < count; u++)
        {
            w.Line(g == 1 ? $"int col{u} = {jAt(u)};" : $"int col{u} = {jAt(u)} * {Inv(g)};");
        }

        for (int u = 0; u < count; u++)
        {
            for (int i = 0; i < acc.Length; i++)
            {
                string init = gru && i == 3 ? $"V.LoadUnsafe(ref bhn0, (nuint){jAt(u)})" : $"V.LoadUnsafe(ref b0, {(i == 0 ? $"(nuint)col{u}" : $"(nuint)(col{u} + {Inv(i * v)})")})";
                w.Line($"Vec {acc[i]}{u} = {init};");
            }
        }

        // The input part (GRU: n's input part kept apart from its hidden part).
        string[] xAcc = gru ? ["ar", "az", "anx"] : acc;
        int kx = src.PackedRows;
        for (int u = 0; u < count; u++)
        {
            w.Line($"ref float wxp{u} = ref {PanelStart("wih0", "col" + Inv(u), kx)};");
        }

        for (int s = 0; s < src.Segments; s++)
        {
            int from = s * src.SegmentStride;
            using (w.Block($"for (int k = {Inv(from)}; k < {Inv(from + src.SegmentWidth)}; k++)"))
            {
                w.Line("Vec xk = V.Create(Unsafe.Add(ref x0, k));");
                for (int u = 0; u < count; u++)
                {
                    w.Line($"ref float wk{u} = ref Unsafe.Add(ref wxp{u}, k * {Inv(g * v)});");
                    for (int i = 0; i < xAcc.Length; i++)
                    {
                        w.Line($"{xAcc[i]}{u} = V.FusedMultiplyAdd(V.LoadUnsafe(ref wk{u}{(i == 0 ? string.Empty : ", " + Inv(i * v))}), xk, {xAcc[i]}{u});");
                    }
                }
            }
        }

        // The products of h, in chains of their own from zero (GRU's W_hn h from b_hn), added to the input products chunk
        // by chunk as the sequence kernel does: the two chains run side by side. In a group of blocks the input sums wait
        // in scratch (two sets of accumulators would not fit the registers).
        string[] hAcc = gru ? ["pr", "pz", "anh"] : l.Kind == LayerKind.Lstm ? ["pi", "pf", "pg", "po"] : ["p"];
        string[] hSum = gru ? ["ar", "az", null!] : acc;
        string slot(int u, int i) => i == 0 ? $"(nuint)({jAt(u)} * {Inv(acc.Length)})" : $"(nuint)(({jAt(u)} * {Inv(acc.Length)}) + {Inv(i * v)})";
        if (!fused)
        {
            for (int u = 0; u < count; u++)
            {
                for (int i = 0; i < xAcc.Length; i++)
                {
                    w.Line($"V.StoreUnsafe({xAcc[i]}{u}, ref sums0, {slot(u, i)});");
                }
            }
        }

        for (int u = 0; u < count; u++)
        {
            w.Line($"ref float whp{u} = ref {PanelStart("whh0", "col" + Inv(u), h)};");
        }

        int chunk = SequenceChunk(h);
        w.Line(fused
            ? "// W_hh h in chains of their own from zero, beside the input chains, then added to them: the sequence kernel's order."
            : "// W_hh h in chains of their own from zero, then added to the input sums in scratch: the sequence kernel's order.");
        if (chunk < h)
        {
            w.Line($"// h in chunks of {Inv(chunk)} rows, as the sequence kernel sums them.");
        }

        using (chunk < h ? w.Block($"for (int kc = 0; kc < {Inv(h)}; kc += {Inv(chunk)})") : default(IDisposable?))
        {
            if (chunk < h)
            {
                w.Line($"int kEnd = global::System.Math.Min(kc + {Inv(chunk)}, {Inv(h)});");
            }

            for (int u = 0; u < count; u++)
            {
                for (int i = 0; i < hAcc.Length; i++)
                {
                    if (hSum[i] != null)
                    {
                        w.Line($"Vec {hAcc[i]}{u} = Vec.Zero;");
                    }
                }
            }

            using (w.Block(chunk < h ? "for (int k = kc; k < kEnd; k++)" : $"for (int k = 0; k < {Inv(h)}; k++)"))
            {
                w.Line("Vec hk = V.Create(Unsafe.Add(ref h0, k));");
                for (int u = 0; u < count; u++)
                {
                    w.Line($"ref float wk{u} = ref Unsafe.Add(ref whp{u}, k * {Inv(g * v)});");
                    for (int i = 0; i < hAcc.Length; i++)
                    {
                        w.Line($"{hAcc[i]}{u} = V.FusedMultiplyAdd(V.LoadUnsafe(ref wk{u}{(i == 0 ? string.Empty : ", " + Inv(i * v))}), hk, {hAcc[i]}{u});");
                    }
                }
            }

            for (int u = 0; u < count; u++)
            {
                for (int i = 0; i < hAcc.Length; i++)
                {
                    if (hSum[i] == null)
                    {
                        continue;
                    }

                    w.Line(fused
                        ? $"{hSum[i]}{u} += {hAcc[i]}{u};"
                        : $"V.StoreUnsafe(V.LoadUnsafe(ref sums0, {slot(u, i)}) + {hAcc[i]}{u}, ref sums0, {slot(u, i)});");
                }
            }
        }

        if (gru && !fused)
        {
            for (int u = 0; u < count; u++)
            {
                w.Line($"V.StoreUnsafe(anh{u}, ref sums0, {slot(u, 3)});");
            }
        }

        if (!fused)
        {
            return;
        }

        for (int u = 0; u < count; u++)
        {
            string j = $"(nuint){jAt(u)}";
            switch (l.Kind)
            {
                case LayerKind.Lstm:
                    w.Line($"Vec cNext{u} = Flush(V.FusedMultiplyAdd(Act.GateSigmoid(af{u}), V.LoadUnsafe(ref c0, {j}), Act.GateSigmoid(ai{u}) * Act.Tanh(ag{u})));");
                    w.Line($"V.StoreUnsafe(cNext{u}, ref c0, {j});");
                    w.Line($"V.StoreUnsafe(Flush(Act.GateSigmoid(ao{u}) * Act.Tanh(cNext{u})), ref out0, {j});");
                    break;
                case LayerKind.Gru:
                    w.Line($"Vec r{u} = Act.GateSigmoid(ar{u});");
                    w.Line($"Vec z{u} = Act.GateSigmoid(az{u});");
                    w.Line($"Vec n{u} = Act.Tanh(V.FusedMultiplyAdd(r{u}, anh{u}, anx{u}));");
                    w.Line($"V.StoreUnsafe(Flush(V.FusedMultiplyAdd(z{u}, V.LoadUnsafe(ref h0, {j}) - n{u}, n{u})), ref out0, {j});");
                    break;
                default:
                    w.Line($"V.StoreUnsafe(Flush({(l.Relu ? $"V.Max(a{u}, Vec.Zero)" : $"Act.Tanh(a{u})")}), ref out0, {j});");
                    break;
            }
        }
    }
}
